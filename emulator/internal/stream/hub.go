package stream

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// ErrConfig is wrapped by errors about an unusable Config.
var ErrConfig = errors.New("stream: invalid config")

// ErrUnknownItem is returned by item faults naming an item nobody watches.
var ErrUnknownItem = errors.New("stream: no open stream for item")

// Hub owns the market data of one emulator and fans every tick out to the
// subscriptions of every endpoint. Create with NewHub, stop with Close.
type Hub struct {
	cfg Config

	mu     sync.Mutex
	items  map[hubKey]*hubItem
	active []*hubItem // sorted by name: deterministic tick order
	stats  map[string]*ItemStats
	conns  map[*conn]struct{}
	byTok  map[string]map[*conn]struct{}

	refuseLogins atomic.Int64
	stopPings    atomic.Bool
	ignorePongs  atomic.Bool

	unsubscribe func()
	stop        chan struct{}
	closeOnce   sync.Once
	wg          sync.WaitGroup
	timers      map[*time.Timer]struct{}
}

type hubKey struct {
	domain trjson.Domain
	inst   Instrument
}

type hubItem struct {
	key     hubKey
	name    string // as first requested (stats, ordering)
	subs    map[*sub]struct{}
	suspect bool
	stat    *ItemStats

	// trade-safe conflation
	pending     []trjson.Field
	pendingSeq  int64
	lastQuoteAt time.Time
}

// tick is one generated event of an item, shared read-only by every
// subscriber's queue.
type tick struct {
	item        *hubItem
	updateType  trjson.UpdateType
	fields      []trjson.Field
	mapRaw      trjson.Raw // book updates
	seq         int64
	doNotRipple bool
	conflated   bool
}

// ItemStats counts what the hub generated for one item.
type ItemStats struct {
	Name        string `json:"name"`
	Domain      string `json:"domain"`
	Subscribers int    `json:"subscribers"`
	// Updates is the number of updates fanned out; LastSeq the last
	// SeqNumber sent (refresh or update).
	Updates int64 `json:"updates"`
	LastSeq int64 `json:"last_seq"`
	// Seqs holds the last SeqNumbers sent (at most 256), oldest first.
	Seqs []int64 `json:"seqs,omitempty"`
}

const maxSeqHistory = 256

// NewHub checks cfg, applies defaults and starts the tick scheduler.
func NewHub(cfg Config) (*Hub, error) {
	if cfg.Universe == nil || cfg.Dictionary == nil {
		return nil, fmt.Errorf("%w: Universe and Dictionary are required", ErrConfig)
	}
	if cfg.Store == nil && !cfg.ADSMode {
		return nil, fmt.Errorf("%w: Store is required unless ADSMode", ErrConfig)
	}
	cfg.applyDefaults()
	h := &Hub{
		cfg:    cfg,
		items:  map[hubKey]*hubItem{},
		stats:  map[string]*ItemStats{},
		conns:  map[*conn]struct{}{},
		byTok:  map[string]map[*conn]struct{}{},
		stop:   make(chan struct{}),
		timers: map[*time.Timer]struct{}{},
	}
	if cfg.Store != nil {
		h.unsubscribe = cfg.Store.Subscribe(h.tokenInvalidated)
	}
	if !cfg.LoadMode {
		h.wg.Add(1)
		go h.run()
	}
	return h, nil
}

// Config returns the hub's configuration with defaults applied.
func (h *Hub) Config() Config { return h.cfg }

// Close stops the scheduler and pending fault timers. Servers must be
// closed first.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		if h.unsubscribe != nil {
			h.unsubscribe()
		}
		close(h.stop)
		h.mu.Lock()
		for t := range h.timers {
			if t.Stop() {
				h.wg.Done()
			}
		}
		h.timers = map[*time.Timer]struct{}{}
		h.mu.Unlock()
	})
	h.wg.Wait()
}

// afterLocked runs f after d unless the hub is closed first. Hub.mu held.
func (h *Hub) afterLocked(d time.Duration, f func()) {
	select {
	case <-h.stop:
		return
	default:
	}
	h.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer h.wg.Done()
		h.mu.Lock()
		_, live := h.timers[t]
		delete(h.timers, t)
		h.mu.Unlock()
		if live {
			f()
		}
	})
	h.timers[t] = struct{}{}
}

func (h *Hub) run() {
	defer h.wg.Done()
	period := time.Duration(float64(time.Second) / h.cfg.Rate)
	if period < 100*time.Microsecond {
		period = 100 * time.Microsecond
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			h.tickAll(now)
		}
	}
}

func (h *Hub) tickAll(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range h.active {
		if it.suspect {
			continue
		}
		switch it.key.domain {
		case trjson.DomainMarketPrice:
			ut, fields, seq := it.key.inst.Tick(nil)
			tk := &tick{item: it, updateType: ut, fields: fields, seq: seq,
				doNotRipple: ut == trjson.UpdateCorrection || ut == trjson.UpdateVerify}
			if h.cfg.Conflate {
				h.conflate(it, tk, now)
				continue
			}
			h.fanOutLocked(tk)
		case trjson.DomainMarketByPrice, trjson.DomainMarketByOrder:
			mp, seq, ok := it.key.inst.BookTick(it.key.domain)
			if !ok || mp == nil || len(mp.Entries) == 0 && !mp.HasSummary {
				continue
			}
			h.fanOutLocked(&tick{item: it, mapRaw: trjson.AppendMap(nil, mp), seq: seq})
		}
	}
}

// conflate implements trade-safe conflation: quotes merge into a pending
// update sent at most every 333 ms; a trade flushes the pending quote and
// passes at once.
func (h *Hub) conflate(it *hubItem, tk *tick, now time.Time) {
	const quoteEvery = time.Second / 3
	if tk.updateType == trjson.UpdateTrade {
		h.flushConflated(it, now)
		h.fanOutLocked(tk)
		return
	}
	for _, f := range tk.fields {
		i := slices.IndexFunc(it.pending, func(p trjson.Field) bool { return p.Name == f.Name })
		if i >= 0 {
			it.pending[i] = f
		} else {
			it.pending = append(it.pending, f)
		}
	}
	it.pendingSeq = tk.seq
	if now.Sub(it.lastQuoteAt) >= quoteEvery {
		h.flushConflated(it, now)
	}
}

func (h *Hub) flushConflated(it *hubItem, now time.Time) {
	if len(it.pending) == 0 {
		return
	}
	h.fanOutLocked(&tick{item: it, updateType: trjson.UpdateQuote, fields: it.pending, seq: it.pendingSeq, conflated: true})
	it.pending = nil
	it.lastQuoteAt = now
}

func (h *Hub) fanOutLocked(tk *tick) {
	it := tk.item
	it.stat.Updates++
	it.stat.recordSeq(tk.seq)
	for s := range it.subs {
		s.c.push(out{s: s, t: tk})
	}
}

func (st *ItemStats) recordSeq(seq int64) {
	st.LastSeq = seq
	if len(st.Seqs) >= maxSeqHistory {
		copy(st.Seqs, st.Seqs[1:])
		st.Seqs = st.Seqs[:len(st.Seqs)-1]
	}
	st.Seqs = append(st.Seqs, seq)
}

// itemLocked returns the hub item for (domain, inst), creating it.
func (h *Hub) itemLocked(d trjson.Domain, inst Instrument, name string) *hubItem {
	k := hubKey{d, inst}
	it := h.items[k]
	if it != nil {
		return it
	}
	sname := name
	if d != trjson.DomainMarketPrice {
		sname = d.String() + ":" + sname
	}
	st := h.stats[sname]
	if st == nil {
		st = &ItemStats{Name: sname, Domain: d.String()}
		h.stats[sname] = st
	}
	it = &hubItem{key: k, name: sname, subs: map[*sub]struct{}{}, stat: st}
	h.items[k] = it
	i, _ := slices.BinarySearchFunc(h.active, it, func(a, b *hubItem) int { return cmp.Compare(a.name, b.name) })
	h.active = slices.Insert(h.active, i, it)
	return it
}

func (h *Hub) removeSubLocked(s *sub) {
	it := s.item
	if it == nil {
		return
	}
	delete(it.subs, s)
	it.stat.Subscribers = len(it.subs)
	if len(it.subs) == 0 {
		delete(h.items, it.key)
		if i := slices.Index(h.active, it); i >= 0 {
			h.active = slices.Delete(h.active, i, i+1)
		}
	}
}

// ItemStats returns a snapshot of per-item counters, sorted by name.
func (h *Hub) ItemStats() []ItemStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]ItemStats, 0, len(h.stats))
	for _, st := range h.stats {
		c := *st
		c.Seqs = slices.Clone(st.Seqs)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b ItemStats) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// registerConn / unregisterConn track live connections and the tokens
// they logged in with, for revocation.
func (h *Hub) registerConn(c *conn) {
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
}

func (h *Hub) unregisterConn(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.setTokenLocked(c, "")
	for _, s := range c.allSubs() {
		h.removeSubLocked(s)
	}
	h.mu.Unlock()
}

func (h *Hub) setToken(c *conn, tok string) {
	h.mu.Lock()
	h.setTokenLocked(c, tok)
	h.mu.Unlock()
}

func (h *Hub) setTokenLocked(c *conn, tok string) {
	if c.token != "" {
		if m := h.byTok[c.token]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(h.byTok, c.token)
			}
		}
	}
	c.token = tok
	if tok != "" {
		m := h.byTok[tok]
		if m == nil {
			m = map[*conn]struct{}{}
			h.byTok[tok] = m
		}
		m[c] = struct{}{}
	}
}

func (h *Hub) tokenInvalidated(e tokensEvent) {
	h.mu.Lock()
	var victims []*conn
	for c := range h.byTok[e.Access] {
		victims = append(victims, c)
	}
	h.mu.Unlock()
	for _, c := range victims {
		c.endSession(e.Reason)
	}
}

// Fault controls shared by every endpoint.

// RefuseLogins makes the next k Logins (on any endpoint) fail with
// "Login rejected. Already pending login.".
func (h *Hub) RefuseLogins(k int) { h.refuseLogins.Store(int64(k)) }

// SetPings switches the endpoints' Pings off (false) or on.
func (h *Hub) SetPings(on bool) { h.stopPings.Store(!on) }

// SetIgnorePongs makes the endpoints ignore inbound Pongs for liveness.
func (h *Hub) SetIgnorePongs(on bool) { h.ignorePongs.Store(on) }

func (h *Hub) takeRefusal() bool {
	for {
		n := h.refuseLogins.Load()
		if n <= 0 {
			return false
		}
		if h.refuseLogins.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// ItemFault is the kind of item state change ItemStatus injects.
type ItemFault string

// Item faults.
const (
	// FaultClosed closes the streams: Status Closed/Suspect.
	FaultClosed ItemFault = "Closed"
	// FaultClosedRecover closes the streams: Status ClosedRecover/Suspect.
	FaultClosedRecover ItemFault = "ClosedRecover"
	// FaultSuspect sends Status Open/Suspect, pauses updates, and after
	// the recovery delay an unsolicited Refresh Open/Ok.
	FaultSuspect ItemFault = "Suspect"
)

// ItemStatus injects an item state change on every open stream of the
// item name ("X" covers its delayed twin "/X"; "" = every item). recoverAfter applies to
// FaultSuspect (default 1 s). It returns the number of streams affected.
func (h *Hub) ItemStatus(name string, f ItemFault, recoverAfter time.Duration) (int, error) {
	if recoverAfter <= 0 {
		recoverAfter = time.Second
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var items []*hubItem
	for _, it := range h.active {
		if name == "" || it.name == name || it.name == "/"+name {
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return 0, fmt.Errorf("%w %q", ErrUnknownItem, name)
	}
	n := 0
	for _, it := range items {
		switch f {
		case FaultClosed, FaultClosedRecover:
			ss := trjson.StreamClosed
			text := "Item closed by the source (emulator fault)"
			if f == FaultClosedRecover {
				ss = trjson.StreamClosedRecover
				text = "Item temporarily unavailable, recover later (emulator fault)"
			}
			for s := range it.subs {
				s.closed.Store(true)
				s.c.forget(s)
				s.c.push(out{m: s.statusMsg(ss, trjson.DataSuspect, trjson.CodeNone, text)})
				n++
			}
			subs := slices.Collect(maps.Keys(it.subs))
			for _, s := range subs {
				h.removeSubLocked(s)
			}
		case FaultSuspect:
			it.suspect = true
			for s := range it.subs {
				s.c.push(out{m: s.statusMsg(trjson.StreamOpen, trjson.DataSuspect, trjson.CodeNone, "Source temporarily unavailable (emulator fault)")})
				n++
			}
			h.afterLocked(recoverAfter, func() { h.recoverItem(it) })
		default:
			return n, fmt.Errorf("%w: unknown item fault %q", ErrConfig, f)
		}
	}
	return n, nil
}

func (h *Hub) recoverItem(it *hubItem) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !it.suspect {
		return
	}
	it.suspect = false
	for s := range it.subs {
		s.c.pushImageLocked(s, false)
	}
}
