package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/trjson"
)

// upstream is the server.Source of a gateway: the hub opens an item here
// once, whatever the number of downstream streams, and this opens it on
// the upstream session; the session's messages come back through handle.
type upstream struct {
	g      *Gateway
	client atomic.Pointer[consumer.Client]

	// mu serialises forwarding (handle and event), so that an item's
	// Suspect event and the Refresh of its recovery reach the hub in the
	// order the session saw them (see event).
	mu    sync.Mutex
	items map[itemKey]*upstreamItem // by domain and name, as requested

	unmatched atomic.Int64
	// closing: the gateway is shutting down; items are not closed one by
	// one upstream (the session closes with them).
	closing atomic.Bool
}

// itemKey names an upstream item: the same RIC in two domains (a quote
// and its order book) is two items.
type itemKey struct {
	domain trjson.Domain
	name   string
}

func keyOf(it *server.Item) itemKey { return itemKey{it.Domain(), it.Name()} }

type upstreamItem struct {
	it  *server.Item
	sub *consumer.Subscription
}

// upstreamCallTimeout bounds Subscribe and Subscription.Close, which
// only queue requests.
const upstreamCallTimeout = 10 * time.Second

func newUpstream(g *Gateway) *upstream {
	return &upstream{g: g, items: map[itemKey]*upstreamItem{}}
}

func (u *upstream) setClient(c *consumer.Client) { u.client.Store(c) }

// Open subscribes to the item upstream. The item is registered before
// the request goes out: its Refresh may come back before Subscribe
// returns.
func (u *upstream) Open(it *server.Item) error {
	c := u.client.Load()
	if c == nil {
		return fmt.Errorf("gateway: upstream session not ready")
	}
	ui := &upstreamItem{it: it}
	k := keyOf(it)
	u.mu.Lock()
	u.items[k] = ui
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), upstreamCallTimeout)
	defer cancel()
	sub, err := c.Subscribe(ctx, []string{it.Name()}, consumer.WithService(u.g.cfg.Service), consumer.WithDomain(it.Domain()))
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		if u.items[k] == ui {
			delete(u.items, k)
		}
		return fmt.Errorf("gateway: upstream request: %w", err)
	}
	ui.sub = sub
	// With no upstream connection logged in, the request waits for the
	// reconnect: say so downstream at once, as an ADS does, rather than
	// leaving the client without an answer. The Refresh follows.
	if !loggedIn(c) && ui.it.Streams() > 0 {
		ui.it.Status(trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataSuspect, Text: "upstream connection down; waiting for it to recover"})
	}
	return nil
}

// loggedIn reports whether some upstream connection is logged in.
func loggedIn(c *consumer.Client) bool {
	for _, cs := range c.Stats().Conns {
		if cs.State == consumer.ConnLoggedIn {
			return true
		}
	}
	return false
}

// Close closes the item upstream.
func (u *upstream) Close(it *server.Item) {
	k := keyOf(it)
	u.mu.Lock()
	ui := u.items[k]
	if ui == nil || ui.it != it {
		u.mu.Unlock()
		return
	}
	delete(u.items, k)
	u.mu.Unlock()
	if ui.sub == nil || u.closing.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), upstreamCallTimeout)
	defer cancel()
	if err := ui.sub.Close(ctx); err != nil {
		u.g.log.Debug("upstream close", "item", it.Name(), "err", err)
	}
}

// Post forwards a downstream post upstream (off-stream, on the Login
// stream); the upstream Ack or Nak is the answer.
func (u *upstream) Post(ctx context.Context, p server.Post) error {
	c := u.client.Load()
	if c == nil {
		return fmt.Errorf("gateway: upstream session not ready")
	}
	return c.Post(ctx, consumer.Post{Name: p.Name, Service: u.g.cfg.Service, Domain: p.Domain, Fields: p.Fields, Refresh: p.Refresh})
}

// handle is the upstream session's Handler: every message goes to the
// sinks, and item messages to the hub.
func (u *upstream) handle(m *consumer.Msg) {
	for _, sink := range u.g.cfg.Sinks {
		sink(m)
	}
	if m.Item == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	ui := u.items[itemKey{m.Item.Domain, m.Item.Name}]
	if ui == nil {
		u.unmatched.Add(1)
		return
	}
	switch m.Type {
	case trjson.TypeRefresh:
		ui.it.Refresh(server.Image{State: m.State, Fields: m.Fields, SeqNumber: m.SeqNumber, HasSeq: m.HasSeq,
			ClearCache: m.PartNumber == 0, Map: m.Map, More: !m.Complete, PermData: m.PermData})
	case trjson.TypeUpdate:
		ui.it.Update(server.Update{UpdateType: m.UpdateType, Fields: m.Fields, SeqNumber: m.SeqNumber, HasSeq: m.HasSeq, Map: m.Map})
	case trjson.TypeStatus:
		if m.HasState {
			ui.it.Status(m.State)
		}
	}
}

// event passes on the item states the session derives itself: Suspect
// when a connection is lost (no message carries it). Events run on
// another goroutine than messages, so the item's current state decides:
// a Suspect event that arrives after the Refresh of its recovery is
// stale. handle and event share mu, and the session updates an item's
// state before it delivers the message that changed it, so every
// interleaving ends in the item's true state.
func (u *upstream) event(e consumer.Event) {
	if e.Kind != consumer.EventItemState || e.Item == nil {
		return
	}
	if e.State.Stream != trjson.StreamOpen || e.State.Data != trjson.DataSuspect {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	ui := u.items[itemKey{e.Item.Domain, e.Item.Name}]
	if ui == nil {
		return
	}
	if cur := e.Item.State(); cur.Data != trjson.DataSuspect {
		return
	}
	ui.it.Status(e.State)
}
