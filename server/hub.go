package server

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// ErrConfig is wrapped by errors about an unusable Config.
var ErrConfig = errors.New("server: invalid config")

// ErrUnknownItem is returned by item faults naming an item nobody watches.
var ErrUnknownItem = errors.New("server: no open stream for item")

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
	// loadSubs are the load-mode streams (they bypass items): item
	// faults and posts reach them through this set.
	loadSubs map[*sub]struct{}

	refuseLogins atomic.Int64
	stopPings    atomic.Bool
	ignorePongs  atomic.Bool

	// ticks recycles fixed-rate ticks (see tickpool.go).
	ticks tickPool
	// srcOps runs Config.Source's Open and Close calls (published.go).
	srcOps sourceOps

	unsubscribe func()
	stop        chan struct{}
	closeOnce   sync.Once
	wg          sync.WaitGroup
	timers      map[*time.Timer]struct{}
}

type hubKey struct {
	domain trjson.Domain
	inst   Instrument
	chain  string // SymbolList: the chain's name without "/"
	name   string // an item of Config.Source: its name as requested
}

type hubItem struct {
	key     hubKey
	name    string // as first requested (stats, ordering)
	subs    map[*sub]struct{}
	suspect bool
	stat    *ItemStats

	// trade-safe conflation
	pending      []trjson.Field
	pendingSeq   int64
	pendingCount int64     // quotes merged into pending
	pendingSince time.Time // when the first of them arrived
	flushArmed   bool      // a timer will flush pending
	lastQuoteAt  time.Time

	chain *chainState // SymbolList

	src *srcItem // an item of Config.Source (published.go)
}

// tick is one generated event of an item, shared read-only by every
// subscriber's queue. Ticks of the scheduler and of conflation come from
// Hub.ticks and are reference counted (tickpool.go); posts build their own
// (pool nil).
type tick struct {
	item        *hubItem
	updateType  trjson.UpdateType
	fields      []trjson.Field
	mapRaw      trjson.Raw // book updates
	seq         int64
	doNotRipple bool
	conflated   bool
	// confInfo is the ConflationInfo member of a conflated update, as a
	// JSON object for Msg.Other ({"ConflationInfo":{…}}).
	confInfo trjson.Raw
	// postUserInfo is the PostUserInfo of the post that caused the update.
	postUserInfo trjson.Raw

	pool    *tickPool    // nil: not pooled
	refs    atomic.Int32 // producer + queue entries still to write it
	mapBuf  []byte       // backing of mapRaw, kept across reuses
	strBuf  []byte       // backing of published fields' values, kept across reuses
	confBuf []byte       // backing of confInfo, kept across reuses
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

	// seqBuf backs Seqs, which slides over it; when it is full the
	// window is copied back to its start (amortised O(1), no allocation
	// per update once it has grown).
	seqBuf []int64
}

const maxSeqHistory = 256

// NewHub checks cfg, applies defaults and starts the tick scheduler.
func NewHub(cfg Config) (*Hub, error) {
	if (cfg.Universe == nil) == (cfg.Source == nil) {
		return nil, fmt.Errorf("%w: exactly one of Universe and Source is required", ErrConfig)
	}
	if cfg.Source != nil && cfg.LoadMode {
		return nil, fmt.Errorf("%w: load mode generates from a Universe, not a Source", ErrConfig)
	}
	if cfg.Store == nil && !cfg.ADSMode {
		return nil, fmt.Errorf("%w: Store is required unless ADSMode", ErrConfig)
	}
	cfg.applyDefaults()
	h := &Hub{
		cfg:      cfg,
		items:    map[hubKey]*hubItem{},
		stats:    map[string]*ItemStats{},
		conns:    map[*conn]struct{}{},
		byTok:    map[string]map[*conn]struct{}{},
		stop:     make(chan struct{}),
		loadSubs: map[*sub]struct{}{},
		timers:   map[*time.Timer]struct{}{},
		srcOps:   sourceOps{notify: make(chan struct{}, 1)},
	}
	if cfg.Store != nil {
		h.unsubscribe = cfg.Store.Subscribe(h.tokenInvalidated)
	}
	switch {
	case cfg.Source != nil:
		h.wg.Add(1)
		go h.runSourceOps()
	case !cfg.LoadMode:
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

// tickItemLocked generates one tick of it and fans it out (through
// trade-safe conflation when configured). Hub.mu held.
func (h *Hub) tickItemLocked(it *hubItem, now time.Time) {
	if it.suspect || it.src != nil {
		return
	}
	switch it.key.domain {
	case trjson.DomainMarketPrice:
		tk := h.ticks.get()
		ut, fields, seq := it.key.inst.Tick(tk.fields[:0])
		if h.cfg.SendTimestamps {
			// Stamped when generated: a tick generated late (the
			// scheduler caught up) is not stamped as if it were early.
			fields = append(fields, trjson.Int(SendTimeField, time.Now().UnixNano()))
		}
		tk.item, tk.updateType, tk.fields, tk.seq = it, ut, fields, seq
		tk.doNotRipple = ut == trjson.UpdateCorrection || ut == trjson.UpdateVerify
		if h.cfg.Conflate {
			h.conflate(it, tk, now)
			return
		}
		h.fanOutLocked(tk)
	case trjson.DomainYieldCurve:
		// No conflation: a curve update's Vectors are partial (Update
		// entries), so two of them cannot be merged field by field.
		tk := h.ticks.get()
		ut, fields, seq := it.key.inst.Tick(tk.fields[:0])
		tk.item, tk.updateType, tk.fields, tk.seq = it, ut, fields, seq
		h.fanOutLocked(tk)
	case trjson.DomainMarketByPrice, trjson.DomainMarketByOrder, trjson.DomainMarketMaker:
		mp, seq, ok := it.key.inst.BookTick(it.key.domain)
		if !ok || mp == nil || len(mp.Entries) == 0 && !mp.HasSummary {
			return
		}
		tk := h.ticks.get()
		tk.item, tk.seq = it, seq
		tk.setMap(mp)
		h.fanOutLocked(tk)
	case trjson.DomainSymbolList:
		if it.chain == nil {
			return
		}
		if mp := it.chain.tick(h.cfg.SymbolListChangeEvery); mp != nil {
			// UpdateType as in the §35.2.3 sample (the §35 table says
			// "not used").
			tk := h.ticks.get()
			tk.item, tk.updateType, tk.seq = it, trjson.UpdateMarketDigest, it.chain.seq
			tk.setMap(mp)
			h.fanOutLocked(tk)
		}
	}
}

// quoteEvery is the conflation interval of quotes.
const quoteEvery = time.Second / 3

// conflate implements trade-safe conflation: quotes merge into a pending
// update sent at most every 333 ms, by a timer if no later tick comes; a
// trade flushes the pending quote and passes at once. It takes over the
// caller's reference to tk.
func (h *Hub) conflate(it *hubItem, tk *tick, now time.Time) {
	if tk.updateType == trjson.UpdateTrade {
		h.flushConflated(it, now)
		h.fanOutLocked(tk)
		return
	}
	if it.pendingCount == 0 {
		it.pendingSince = now
	}
	it.pendingCount++
	for _, f := range tk.fields {
		i := slices.IndexFunc(it.pending, func(p trjson.Field) bool { return p.Name == f.Name })
		if i >= 0 {
			it.pending[i] = f
		} else {
			it.pending = append(it.pending, f)
		}
	}
	it.pendingSeq = tk.seq
	// pending holds copies of the fields (their Str bytes are the
	// instrument's immutable texts), so the tick can be reused now.
	tk.release()
	if wait := quoteEvery - now.Sub(it.lastQuoteAt); wait <= 0 {
		h.flushConflated(it, now)
	} else if !it.flushArmed {
		it.flushArmed = true
		h.afterLocked(wait, func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			it.flushArmed = false
			if !it.suspect {
				h.flushConflated(it, time.Now())
			}
		})
	}
}

func (h *Hub) flushConflated(it *hubItem, now time.Time) {
	if len(it.pending) == 0 {
		return
	}
	// ConflationInfo (§29.2): Count is the number of updates merged, Time
	// the interval in ms they were merged over.
	ms := max(now.Sub(it.pendingSince).Milliseconds(), 0)
	tk := h.ticks.get()
	tk.item, tk.updateType, tk.seq, tk.conflated = it, trjson.UpdateQuote, it.pendingSeq, true
	tk.fields = append(tk.fields[:0], it.pending...)
	tk.setConfInfo(it.pendingCount, ms)
	h.fanOutLocked(tk)
	clear(it.pending)
	it.pending = it.pending[:0]
	it.pendingCount = 0
	it.lastQuoteAt = now
}

// fanOutLocked queues tk on every subscription of its item, then
// releases the caller's reference to it (see tickpool.go). Hub.mu held.
func (h *Hub) fanOutLocked(tk *tick) {
	it := tk.item
	it.stat.Updates++
	it.stat.recordSeq(tk.seq)
	for s := range it.subs {
		// The queue entry's reference is taken before the push: the
		// writer may encode and release it before push returns.
		tk.retain()
		if !s.c.push(out{s: s, t: tk}) {
			tk.release()
		}
	}
	tk.release()
}

func (st *ItemStats) recordSeq(seq int64) {
	st.LastSeq = seq
	if len(st.seqBuf) == 2*maxSeqHistory {
		st.seqBuf = st.seqBuf[:copy(st.seqBuf, st.seqBuf[len(st.seqBuf)-(maxSeqHistory-1):])]
	}
	st.seqBuf = append(st.seqBuf, seq)
	st.Seqs = st.seqBuf[max(0, len(st.seqBuf)-maxSeqHistory):]
}

// itemLocked returns the hub item for (domain, inst), creating it.
func (h *Hub) itemLocked(d trjson.Domain, inst Instrument, name string) *hubItem {
	k := hubKey{domain: d, inst: inst}
	if d == trjson.DomainSymbolList {
		k = hubKey{domain: d, chain: strings.TrimPrefix(name, "/")}
	}
	if it := h.items[k]; it != nil {
		return it
	}
	return h.newItemLocked(k, name, d)
}

// newItemLocked adds an item with no stream yet. Hub.mu held.
func (h *Hub) newItemLocked(k hubKey, name string, d trjson.Domain) *hubItem {
	sname := name
	if d != trjson.DomainMarketPrice {
		sname = d.String() + ":" + sname
	}
	st := h.stats[sname]
	if st == nil {
		st = &ItemStats{Name: sname, Domain: d.String()}
		h.stats[sname] = st
	}
	it := &hubItem{key: k, name: sname, subs: map[*sub]struct{}{}, stat: st}
	h.items[k] = it
	i, _ := slices.BinarySearchFunc(h.active, it, func(a, b *hubItem) int { return cmp.Compare(a.name, b.name) })
	h.active = slices.Insert(h.active, i, it)
	return it
}

func (h *Hub) removeSubLocked(s *sub) {
	if s.load != nil {
		delete(h.loadSubs, s)
	}
	it := s.item
	if it == nil {
		return
	}
	delete(it.subs, s)
	s.item = nil
	it.stat.Subscribers = len(it.subs)
	if len(it.subs) == 0 && it.src != nil {
		if it.src.handle.hi == it {
			h.lastSubGoneLocked(it)
		}
		return
	}
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
		c.Seqs, c.seqBuf = slices.Clone(st.Seqs), nil
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
	if e.Expired && !sessionEndsAtExpiry(&h.cfg, e.Principal) {
		return // e.g. v2 sessions outlive their token unless configured otherwise
	}
	if e.Exclusive {
		// LSEG's v1 clients answer the end of a refresh session with a new
		// password grant (exclusive sign-on) and then reissue their Login
		// with the new token: signing their own session out at once would
		// break that documented flow. Sessions still on the old token after
		// the grace are signed out.
		grace := min(max(time.Until(e.Expiry), 0), h.cfg.ExclusiveSignOnGrace)
		h.mu.Lock()
		h.afterLocked(grace, func() { h.endSessionsOn(e) })
		h.mu.Unlock()
		return
	}
	h.endSessionsOn(e)
}

// sessionEndsAtExpiry is the per-auth-version policy: v1 sessions must
// reissue their Login before the token expires; v2 sessions need not;
// sessions on an ADS authentication token (/getToken) are not RTO
// sessions and stay open (an ADS does not end them, and LSEG's ADS
// example never reissues).
func sessionEndsAtExpiry(cfg *Config, p tokensPrincipal) bool {
	if p.ADS {
		return cfg.CloseADSSessionsAtExpiry
	}
	if p.Version == 2 {
		return cfg.CloseV2SessionsAtExpiry
	}
	return !cfg.KeepV1SessionsAfterExpiry
}

// endSessionsOn ends every session still logged in with e's token.
func (h *Hub) endSessionsOn(e tokensEvent) {
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
	// FaultRedirected closes the streams with Status Redirected/Suspect
	// whose Key names FaultOptions.RedirectTo (§26.2, §28.2: re-request
	// with the new Key).
	FaultRedirected ItemFault = "Redirected"
)

// FaultOptions qualify an item fault.
type FaultOptions struct {
	// RecoverAfter is how long FaultSuspect lasts. Default 1 s.
	RecoverAfter time.Duration
	// RedirectTo is the item name FaultRedirected points to. Required
	// for FaultRedirected.
	RedirectTo string
}

// ItemStatus injects an item state change on every open stream of the
// item name ("X" covers its delayed twin "/X"; "" = every item), see
// ItemFault. It returns the number of streams affected.
func (h *Hub) ItemStatus(name string, f ItemFault, recoverAfter time.Duration) (int, error) {
	return h.ItemStatusWith(name, f, FaultOptions{RecoverAfter: recoverAfter})
}

// ItemStatusWith is ItemStatus with every option. Load-mode streams are
// affected too: their updates stop while Suspect.
func (h *Hub) ItemStatusWith(name string, f ItemFault, o FaultOptions) (int, error) {
	if o.RecoverAfter <= 0 {
		o.RecoverAfter = time.Second
	}
	switch f {
	case FaultClosed, FaultClosedRecover, FaultSuspect:
	case FaultRedirected:
		if o.RedirectTo == "" {
			return 0, fmt.Errorf("%w: a Redirected item fault needs a target name", ErrConfig)
		}
	default:
		return 0, fmt.Errorf("%w: unknown item fault %q", ErrConfig, f)
	}
	match := func(n string) bool { return name == "" || n == name || n == "/"+name }
	h.mu.Lock()
	defer h.mu.Unlock()
	var items []*hubItem
	for _, it := range h.active {
		if match(it.name) {
			items = append(items, it)
		}
	}
	var loads []*sub
	for s := range h.loadSubs {
		if match(s.name) {
			loads = append(loads, s)
		}
	}
	if len(items) == 0 && len(loads) == 0 {
		return 0, fmt.Errorf("%w %q", ErrUnknownItem, name)
	}
	n := 0
	switch f {
	case FaultClosed, FaultClosedRecover, FaultRedirected:
		var subs []*sub
		for _, it := range items {
			subs = append(subs, slices.Collect(maps.Keys(it.subs))...)
		}
		subs = append(subs, loads...)
		for _, s := range subs {
			s.closed.Store(true)
			s.c.forget(s)
			s.c.push(out{m: faultStatus(s, f, o.RedirectTo)})
			h.removeSubLocked(s)
			n++
		}
	case FaultSuspect:
		const text = "Source temporarily unavailable (emulator fault)"
		for _, it := range items {
			it.suspect = true
			for s := range it.subs {
				s.c.push(out{m: s.statusMsg(trjson.StreamOpen, trjson.DataSuspect, trjson.CodeNone, text)})
				n++
			}
			h.afterLocked(o.RecoverAfter, func() { h.recoverItem(it) })
		}
		for _, s := range loads {
			s.held.Store(true)
			s.c.push(out{m: s.statusMsg(trjson.StreamOpen, trjson.DataSuspect, trjson.CodeNone, text)})
			n++
			h.afterLocked(o.RecoverAfter, func() { h.recoverLoad(s) })
		}
	}
	return n, nil
}

// faultStatus is the Status that ends stream s for a closing fault.
func faultStatus(s *sub, f ItemFault, target string) *trjson.Msg {
	switch f {
	case FaultClosedRecover:
		return s.statusMsg(trjson.StreamClosedRecover, trjson.DataSuspect, trjson.CodeNone, "Item temporarily unavailable, recover later (emulator fault)")
	case FaultRedirected:
		// The Key of a Redirected Status is where to re-request (§26.2).
		m := s.statusMsg(trjson.StreamRedirected, trjson.DataSuspect, trjson.CodeNone, "Item redirected to "+target+" (emulator fault)")
		m.Key, m.HasKey = trjson.Key{Name: target, Service: s.serviceName()}, true
		return m
	}
	return s.statusMsg(trjson.StreamClosed, trjson.DataSuspect, trjson.CodeNone, "Item closed by the source (emulator fault)")
}

func (h *Hub) recoverItem(it *hubItem) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !it.suspect {
		return
	}
	it.suspect = false
	for s := range it.subs {
		s.c.pushImageLocked(s, false, nil)
	}
}

// recoverLoad ends a Suspect fault on a load-mode stream: the writer
// sends an unsolicited Refresh (see conn.loadRefresh), then updates flow.
func (h *Hub) recoverLoad(s *sub) {
	if s.closed.Load() || !s.held.Load() {
		return
	}
	s.c.push(out{s: s, ctl: ctlLoadRefresh})
}
