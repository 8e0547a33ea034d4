package consumer

import (
	"context"
	"sync"

	"github.com/ertkit/ertkit/trjson"
)

// Item is one requested item (a RIC in one domain and service). Its state
// is visible at any time; with hot standby it is the best state of the two
// connections.
type Item struct {
	Name    string
	Service string
	Domain  trjson.Domain

	c   *Client
	sub *Subscription

	// Request parameters: written by the application under c.mu, read by
	// connection loops under c.mu.
	view     []string
	viewFIDs []int64
	paused   bool
	snapshot bool
	filter   int64 // Key.Filter (Source Directory)
	gone     bool  // closed by the application or finally closed by the server

	mu        sync.Mutex
	state     trjson.State
	connState [2]trjson.State
	complete  bool // a complete Refresh has arrived
	ready     chan struct{}
	readyOnce sync.Once
	image     fieldCache // last-value fields (Config.Cache, snapshots)
	book      *book
	rawMap    trjson.Raw // Source directory: the last Map as received
	dir       directory  // Source directory: services, accumulated
	dd        dedupState // guarded by Client.stage
	pending   *Msg       // ConflatePerItem: the queued update of this item
}

func newItem(c *Client, sub *Subscription, name, service string, dom trjson.Domain, o *options) *Item {
	it := &Item{Name: name, Service: service, Domain: dom, c: c, sub: sub,
		view: o.view, viewFIDs: o.viewFIDs, snapshot: o.snapshot, ready: make(chan struct{})}
	it.state = trjson.State{Stream: trjson.StreamUnspecified, Text: "request pending"}
	for i := range it.connState {
		it.connState[i] = it.state
	}
	return it
}

// State returns the item's current state: Stream Open/Closed/ClosedRecover/
// NonStreaming, Data Ok/Suspect, and the server's Code and Text.
func (it *Item) State() trjson.State {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.state
}

// Ready is closed when the first complete Refresh arrived or the item
// was closed.
func (it *Item) Ready() <-chan struct{} { return it.ready }

func (it *Item) markReady() { it.readyOnce.Do(func() { close(it.ready) }) }

// snapshotDone reports whether a snapshot item got its final answer (an
// image, or a Closed state from the server), not a connection loss.
func (it *Item) snapshotDone() bool {
	select {
	case <-it.ready:
	default:
		return false
	}
	return it.State().Stream != trjson.StreamClosedRecover
}

// again returns a fresh copy of a snapshot item, to request it anew.
func (it *Item) again() *Item {
	o := options{view: it.view, viewFIDs: it.viewFIDs, snapshot: true}
	n := newItem(it.c, it.sub, it.Name, it.Service, it.Domain, &o)
	n.filter = it.filter
	return n
}

// Image returns the item's last-value image (Config.Cache, or a snapshot).
func (it *Item) Image() Image {
	it.mu.Lock()
	defer it.mu.Unlock()
	img := Image{Name: it.Name, Service: it.Service, Domain: it.Domain, State: it.state,
		Fields: it.image.fields()}
	if it.book != nil {
		img.Book = it.book.image()
	}
	img.Map = it.rawMap.Clone()
	if it.dir != nil {
		img.Services = it.dir.services()
	}
	return img
}

// Image is an item's image: its state, fields and (for Map domains) book.
type Image struct {
	Name    string
	Service string
	Domain  trjson.Domain
	State   trjson.State
	Fields  map[string]trjson.Field
	Book    *BookImage // MarketByPrice, MarketByOrder, MarketMaker, SymbolList
	// Map is the raw Map of a Source Directory refresh (entries hold
	// FilterLists): the last one received, as received.
	Map trjson.Raw
	// Services is the Source Directory decoded (all refresh parts and
	// updates applied), sorted by service ID; nil for other domains.
	Services []ServiceInfo
}

// setConnState records a connection's state for the item and recomputes
// the visible state; it reports the new visible state and whether it changed.
func (it *Item) setConnState(conn int, st trjson.State) (trjson.State, bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if st.Data == trjson.DataNoChange {
		st.Data = it.connState[conn].Data
	}
	it.connState[conn] = st
	vis := st
	switch st.Stream {
	case trjson.StreamClosed, trjson.StreamRedirected, trjson.StreamNonStreaming:
		// final for the item whichever connection says it
	default:
		for i, cs := range it.connState {
			if i != conn && cs.Stream == trjson.StreamOpen && cs.Data == trjson.DataOk {
				vis = cs
			}
		}
	}
	changed := vis.Stream != it.state.Stream || vis.Data != it.state.Data || vis.Text != it.state.Text
	it.state = vis
	return vis, changed
}

// apply merges a message into the image and book (under it.mu).
func (it *Item) apply(m *trjson.Msg, cache bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	clear := m.ClearsCache() && (m.Type != trjson.TypeRefresh || m.PartNumber == 0)
	if clear {
		it.image.reset()
		if it.book != nil {
			it.book.reset()
		}
		it.dir = nil
	}
	if (cache || it.snapshot) && m.HasFields && !m.DoNotCache {
		it.image.merge(m.Fields)
	}
	if len(m.Map) > 0 && it.Domain == trjson.DomainSource {
		it.rawMap = m.Map.Clone()
		if it.dir == nil {
			it.dir = directory{}
		}
		if err := it.dir.apply(m.Map); err != nil {
			it.c.errorEvent(-1, err)
		}
	} else if len(m.Map) > 0 {
		if it.book == nil {
			it.book = newBook()
		}
		if err := it.book.apply(m.Map); err != nil {
			it.c.errorEvent(-1, err)
		}
	}
	if m.Type == trjson.TypeRefresh && m.Complete() {
		it.complete = true
		if it.book != nil {
			it.book.complete = true
		}
	}
}

// Subscription is a group of items requested together.
type Subscription struct {
	c     *Client
	items []*Item
}

// Items returns the subscription's items in request order.
func (s *Subscription) Items() []*Item { return s.items }

// Item returns the first item (convenient for a one-RIC subscription).
func (s *Subscription) Item() *Item { return s.items[0] }

// Wait waits until every item is ready (first complete Refresh, or closed).
func (s *Subscription) Wait(ctx context.Context) error {
	for _, it := range s.items {
		select {
		case <-it.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close closes the subscription's streams (one batch Close where supported).
func (s *Subscription) Close(ctx context.Context) error { return s.c.closeItems(ctx, s.items) }

// SetView changes the view of every item (a reissue with the new View).
// Give names or FIDs, not both; both nil removes the view.
func (s *Subscription) SetView(ctx context.Context, names []string, fids []int64) error {
	return s.c.reissue(ctx, s.items, func(it *Item) { it.view, it.viewFIDs = names, fids }, true)
}

// Pause pauses every item (reissue with Pause:true, Refresh:false).
func (s *Subscription) Pause(ctx context.Context) error {
	return s.c.reissue(ctx, s.items, func(it *Item) { it.paused = true }, false)
}

// Resume resumes every item (reissue without Pause; a refresh follows).
func (s *Subscription) Resume(ctx context.Context) error {
	return s.c.reissue(ctx, s.items, func(it *Item) { it.paused = false }, true)
}

// Post posts an on-stream Update on the item's stream and waits for its
// Ack. Like Client.Post it is never re-sent after a connection loss: the
// error then wraps ErrDisconnected and the server may have applied it.
func (it *Item) Post(ctx context.Context, fields []trjson.Field) error {
	return it.c.post(ctx, Post{Name: it.Name, Service: it.Service, Domain: it.Domain, Fields: fields}, it)
}

// SendGeneric sends a Generic message on the item's stream (not allowed
// on MarketPrice-family domains by the spec; the server decides).
func (it *Item) SendGeneric(ctx context.Context, g Generic) error {
	return it.c.sendGeneric(ctx, g, it)
}
