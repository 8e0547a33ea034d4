package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// A Server serves one of two kinds of source (Config.Universe or
// Config.Source):
//
//   - a Universe of generated instruments, which the Hub's scheduler ticks
//     at Config.Rate (the emulator's synthetic market; load mode needs it);
//   - a Source that publishes its items' events itself: the gateway's
//     upstream session, a recording being replayed.
//
// For a Source the Hub is a cache and a merger: the first request for an
// item (domain and name) opens it at the Source, every later request for
// it is served from the Hub's last-value image (a Refresh at once, then
// the Updates), and the item is closed at the Source when its last stream
// closes (after Config.Linger). The Source never sees downstream
// connections, views or stream IDs: views are applied per stream by the
// server, so one upstream item serves every view (the union of all views
// is the whole item).

// ErrNotFound is wrapped by Source.Open errors for items the source does
// not have: the request gets a Status Closed/Suspect NotFound.
var ErrNotFound = errors.New("server: item not found")

// ErrNotEntitled is wrapped by Source.Open errors for items the user may
// not see: Status Closed/Suspect NotEntitled.
var ErrNotEntitled = errors.New("server: not entitled to item")

// Source publishes the events of items on demand.
type Source interface {
	// Open starts delivering it: the source calls it.Refresh with the
	// item's image, then it.Update and it.Status as events arrive, until
	// Close. Open and Close are called in order from one goroutine of the
	// Hub, never with the Hub's locks held; they must not block for long
	// (start a request and return). An error ends every waiting request
	// with a Status Closed (NotFound for ErrNotFound, NotEntitled for
	// ErrNotEntitled, otherwise the error's text) and Close is not called.
	Open(it *Item) error
	// Close stops it: no stream of the item is left. Calls on it after
	// Close are ignored.
	Close(it *Item)
}

// Poster is implemented by a Source that accepts posts (contributions).
// Post is called on the posting connection's goroutine; a nil error Acks
// the post, an error Naks it with the error's text.
type Poster interface {
	Post(ctx context.Context, p Post) error
}

// Post is a contribution to an item of a Source.
type Post struct {
	Domain trjson.Domain
	Name   string
	// Fields are owned by the callee.
	Fields []trjson.Field
	// Refresh: the post was a Refresh (replace the image), not an Update.
	Refresh bool
	// PostUserInfo as the poster sent it (raw JSON), may be nil.
	PostUserInfo trjson.Raw
	// User is the Login name of the posting session.
	User string
}

// Image is the image of an item published with Item.Refresh.
type Image struct {
	// State of the item; the zero value means Open/Ok "All is well".
	State trjson.State
	// Fields of the image, in order. Copied: the caller keeps them.
	Fields []trjson.Field
	// SeqNumber, when HasSeq.
	SeqNumber int64
	HasSeq    bool
	// PermData (base64) and Qos, passed on to clients when set.
	PermData string
	Qos      *trjson.Qos
	// ClearCache: the fields replace the cached image (true for a
	// solicited Refresh); false merges them into it (a multi-part or a
	// partial unsolicited Refresh).
	ClearCache bool
	// Map is the payload of a Map-domain item (MarketByPrice,
	// MarketByOrder, MarketMaker, SymbolList): one part of its Refresh.
	// Copied.
	Map trjson.Raw
	// More: more parts of this Refresh follow (Complete:false); the
	// image goes to clients with the last part.
	More bool
}

// Update is one update published with Item.Update.
type Update struct {
	UpdateType trjson.UpdateType
	// Fields that changed. Copied: the caller keeps them.
	Fields      []trjson.Field
	SeqNumber   int64
	HasSeq      bool
	DoNotRipple bool
	// PostUserInfo of the post that caused the update, if any.
	PostUserInfo trjson.Raw
	// Map is the payload of a Map-domain item's update. Copied.
	Map trjson.Raw
}

// Item is the Hub's handle of one item opened at a Source.
type Item struct {
	h      *Hub
	domain trjson.Domain
	name   string
	// hi is the hub item while the item is open; nil once closed.
	// Guarded by Hub.mu.
	hi *hubItem
}

// Domain is the item's domain.
func (it *Item) Domain() trjson.Domain { return it.domain }

// Name is the item's name as requested (a leading "/" asks for delayed
// data).
func (it *Item) Name() string { return it.name }

// srcItem is the cache of a published item. Guarded by Hub.mu.
type srcItem struct {
	handle *Item
	ready  bool // an image arrived
	fields []trjson.Field
	arena  []byte // backing of fields' Str values
	seq    int64
	hasSeq bool
	state  trjson.State
	perm   string
	qos    *trjson.Qos
	// linger is armed when the last stream closed.
	linger *time.Timer
	// dropped counts updates received before the first image.
	dropped int64
	// snap is an immutable copy of the image, shared by the Refreshes of
	// every stream opened until the next change (nil: stale).
	snap []trjson.Field
	// book is the image of a Map-domain item.
	book bookCache
	// badMaps counts Map payloads that could not be decoded (dropped).
	badMaps int64
}

// srcOp is an Open or Close for the Hub's source goroutine.
type srcOp struct {
	it   *Item
	open bool
	// done, when set, marks a barrier: it is closed when every earlier
	// op ran (tests).
	done chan struct{}
}

// sourceOps runs Source.Open and Source.Close calls in order, without
// the Hub's locks.
type sourceOps struct {
	mu     sync.Mutex
	q      []srcOp
	notify chan struct{}
}

func (h *Hub) enqueueSrcOp(op srcOp) {
	h.srcOps.mu.Lock()
	h.srcOps.q = append(h.srcOps.q, op)
	h.srcOps.mu.Unlock()
	select {
	case h.srcOps.notify <- struct{}{}:
	default:
	}
}

func (h *Hub) runSourceOps() {
	defer h.wg.Done()
	for {
		select {
		case <-h.stop:
			// Close what is still open so that the source can release it.
			h.mu.Lock()
			var open []*Item
			for _, it := range h.items {
				if it.src != nil {
					if it.src.linger != nil {
						it.src.linger.Stop()
					}
					open = append(open, it.src.handle)
					h.detachLocked(it)
				}
			}
			h.mu.Unlock()
			h.drainSrcOps()
			for _, it := range open {
				h.cfg.Source.Close(it)
			}
			return
		case <-h.srcOps.notify:
			h.drainSrcOps()
		}
	}
}

func (h *Hub) drainSrcOps() {
	for {
		h.srcOps.mu.Lock()
		ops := h.srcOps.q
		h.srcOps.q = nil
		h.srcOps.mu.Unlock()
		if len(ops) == 0 {
			return
		}
		for _, op := range ops {
			if op.done != nil {
				close(op.done)
				continue
			}
			if !op.open {
				h.cfg.Source.Close(op.it)
				continue
			}
			h.mu.Lock()
			live := op.it.hi != nil
			h.mu.Unlock()
			if !live {
				continue // closed before it was opened: its Close follows
			}
			if err := h.cfg.Source.Open(op.it); err != nil {
				h.openFailed(op.it, err)
			}
		}
	}
}

// openFailed ends every stream of it after a failed Source.Open.
func (h *Hub) openFailed(it *Item, err error) {
	code, text := trjson.CodeNone, err.Error()
	switch {
	case errors.Is(err, ErrNotFound):
		code, text = trjson.CodeNotFound, h.cfg.NotFoundText
	case errors.Is(err, ErrNotEntitled):
		code = trjson.CodeNotEntitled
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	hi := it.hi
	if hi == nil {
		return
	}
	h.closeStreamsLocked(hi, trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataSuspect, Code: code, Text: text})
	h.detachLocked(hi)
	if hi.src.linger != nil {
		hi.src.linger.Stop()
	}
}

// sourceItemLocked returns the hub item of a published item, creating it
// and queueing its Open. Hub.mu held.
func (h *Hub) sourceItemLocked(d trjson.Domain, name string) *hubItem {
	k := hubKey{domain: d, name: name}
	if it := h.items[k]; it != nil {
		if it.src.linger != nil {
			it.src.linger.Stop()
			it.src.linger = nil
		}
		return it
	}
	it := h.newItemLocked(k, name, d)
	it.src = &srcItem{handle: &Item{h: h, domain: d, name: name, hi: it}}
	h.enqueueSrcOp(srcOp{it: it.src.handle, open: true})
	return it
}

// detachLocked forgets a published item: later calls on its handle are
// ignored. Hub.mu held.
func (h *Hub) detachLocked(it *hubItem) {
	if h.items[it.key] == it {
		delete(h.items, it.key)
	}
	if i := slices.Index(h.active, it); i >= 0 {
		h.active = slices.Delete(h.active, i, i+1)
	}
	it.src.handle.hi = nil
}

// lastSubGoneLocked closes a published item whose last stream closed,
// now or after Config.Linger. Hub.mu held.
func (h *Hub) lastSubGoneLocked(it *hubItem) {
	if h.cfg.Linger <= 0 {
		h.detachLocked(it)
		h.enqueueSrcOp(srcOp{it: it.src.handle})
		return
	}
	if it.src.linger != nil {
		return
	}
	it.src.linger = time.AfterFunc(h.cfg.Linger, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if it.src.handle.hi != it || len(it.subs) > 0 {
			return
		}
		it.src.linger = nil
		h.detachLocked(it)
		h.enqueueSrcOp(srcOp{it: it.src.handle})
	})
}

// closeStreamsLocked ends every stream of it with a Status of state.
func (h *Hub) closeStreamsLocked(it *hubItem, st trjson.State) {
	for s := range it.subs {
		s.closed.Store(true)
		s.c.forget(s)
		s.c.push(out{m: s.statusMsg(st.Stream, st.Data, st.Code, st.Text)})
		delete(it.subs, s)
		s.item = nil
	}
	it.stat.Subscribers = 0
}

// Refresh publishes the item's image: streams waiting for their first
// image get it as their (solicited) Refresh, the others an unsolicited
// Refresh (a recovery, or a change of the whole image).
func (it *Item) Refresh(img Image) {
	h := it.h
	h.mu.Lock()
	defer h.mu.Unlock()
	hi := it.hi
	if hi == nil {
		return
	}
	src := hi.src
	if mapDomain(it.domain) {
		mp, err := trjson.DecodeMap(img.Map)
		if err != nil {
			src.badMaps++
			return
		}
		if img.ClearCache {
			src.book.reset()
		}
		src.book.apply(mp)
		if img.More {
			return // the image goes out with the last part
		}
	}
	if img.ClearCache || !src.ready {
		src.fields, src.arena = src.fields[:0], src.arena[:0]
	}
	src.fields, src.arena = mergeOwned(src.fields, src.arena, img.Fields)
	src.snap = nil
	src.seq, src.hasSeq = img.SeqNumber, img.HasSeq
	src.state = img.State
	if src.state.Stream == trjson.StreamUnspecified {
		src.state = trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "All is well"}
	}
	if img.PermData != "" {
		src.perm = img.PermData
	}
	if img.Qos != nil {
		q := *img.Qos
		src.qos = &q
	}
	src.ready = true
	hi.suspect = src.state.Data == trjson.DataSuspect
	hi.stat.recordSeq(src.seq)
	for s := range hi.subs {
		solicited := !s.gotImage
		s.c.pushImageLocked(s, solicited, nil)
	}
}

// Update publishes an update of the item to every stream that has its
// image. Updates before the first image are dropped (and counted): the
// image that follows includes them.
func (it *Item) Update(u Update) {
	h := it.h
	h.mu.Lock()
	defer h.mu.Unlock()
	hi := it.hi
	if hi == nil {
		return
	}
	src := hi.src
	if !src.ready {
		src.dropped++
		return
	}
	if mapDomain(it.domain) {
		if len(u.Map) == 0 {
			src.badMaps++ // an Update of a book with no Map changes nothing
			return
		}
		mp, err := trjson.DecodeMap(u.Map)
		if err != nil {
			src.badMaps++
			return
		}
		src.book.apply(mp)
	} else {
		src.fields, src.arena = mergeOwned(src.fields, src.arena, u.Fields)
		src.snap = nil
	}
	if u.HasSeq {
		src.seq, src.hasSeq = u.SeqNumber, true
	}
	tk := h.ticks.get()
	tk.item, tk.updateType, tk.seq, tk.doNotRipple = hi, u.UpdateType, u.SeqNumber, u.DoNotRipple
	if mapDomain(it.domain) {
		tk.mapBuf = append(tk.mapBuf[:0], u.Map...)
		tk.mapRaw = tk.mapBuf
	}
	tk.fields, tk.strBuf = copyFields(tk.fields[:0], tk.strBuf[:0], u.Fields)
	if len(u.PostUserInfo) > 0 {
		tk.postUserInfo = u.PostUserInfo.Clone()
	}
	h.fanOutLocked(tk)
}

// Status publishes a change of the item's state. An open state (Open or
// NonStreaming) is passed on to every stream; any other (Closed,
// ClosedRecover, Redirected) ends every stream of the item with that
// Status, and the item is closed at the source.
func (it *Item) Status(st trjson.State) {
	h := it.h
	h.mu.Lock()
	defer h.mu.Unlock()
	hi := it.hi
	if hi == nil {
		return
	}
	if st.Stream == trjson.StreamOpen || st.Stream == trjson.StreamUnspecified {
		st.Stream = trjson.StreamOpen
		hi.src.state = st
		hi.suspect = st.Data == trjson.DataSuspect
		for s := range hi.subs {
			s.c.push(out{m: s.statusMsg(st.Stream, st.Data, st.Code, st.Text)})
		}
		return
	}
	h.closeStreamsLocked(hi, st)
	h.detachLocked(hi)
	if hi.src.linger != nil {
		hi.src.linger.Stop()
	}
	h.enqueueSrcOp(srcOp{it: it})
}

// Streams is the number of open streams (on every connection) of the
// item.
func (it *Item) Streams() int {
	it.h.mu.Lock()
	defer it.h.mu.Unlock()
	if it.hi == nil {
		return 0
	}
	return len(it.hi.subs)
}

// mergeOwned merges fields into the owned image dst (values copied into
// arena), a field of the same name replacing the earlier value. Earlier
// values stay in the arena until the next ClearCache: a bounded waste,
// since an image is rebuilt on every solicited Refresh… and compacted
// here when the arena grows past four times its live size.
func mergeOwned(dst []trjson.Field, arena []byte, fields []trjson.Field) ([]trjson.Field, []byte) {
	for _, f := range fields {
		i := -1
		for j := range dst {
			if dst[j].Name == f.Name {
				i = j
				break
			}
		}
		var c trjson.Field
		c, arena = ownField(f, arena)
		if i >= 0 {
			dst[i] = c
		} else {
			dst = append(dst, c)
		}
	}
	live := 0
	for i := range dst {
		live += len(dst[i].Str)
	}
	if len(arena) > 4096 && len(arena) > 4*live {
		fresh := make([]byte, 0, 2*live)
		for i := range dst {
			if dst[i].Str != nil {
				n := len(fresh)
				fresh = append(fresh, dst[i].Str...)
				dst[i].Str = fresh[n:len(fresh):len(fresh)]
			}
		}
		arena = fresh
	}
	return dst, arena
}

// copyFields copies fields into dst with their Str values in buf.
func copyFields(dst []trjson.Field, buf []byte, fields []trjson.Field) ([]trjson.Field, []byte) {
	for _, f := range fields {
		var c trjson.Field
		c, buf = ownField(f, buf)
		dst = append(dst, c)
	}
	return dst, buf
}

// ownField copies f's Str into arena. When arena has to grow, earlier
// slices keep pointing at the old backing array, which stays valid.
func ownField(f trjson.Field, arena []byte) (trjson.Field, []byte) {
	if f.Str == nil {
		return f, arena
	}
	n := len(arena)
	arena = append(arena, f.Str...)
	f.Str = arena[n:len(arena):len(arena)]
	return f, arena
}

// sourceImageLocked fills a Refresh of s from the item's cache. Hub.mu
// held.
func (c *conn) sourceImageLocked(s *sub, m *trjson.Msg) {
	src := s.item.src
	m.State = src.state
	if !s.streaming && m.State.Stream == trjson.StreamOpen {
		m.State.Stream = trjson.StreamNonStreaming
	}
	m.Qos = src.qos
	if m.Qos == nil {
		m.Qos = c.qos(s.name)
	}
	m.PermData = src.perm
	m.SeqNumber, m.HasSeqNumber = src.seq, src.hasSeq
	// The cache changes under later updates: queued messages share an
	// immutable copy of the image, made once per change of the image
	// (a burst of new streams does not copy it once per stream).
	if src.snap == nil {
		src.snap, _ = copyFields(make([]trjson.Field, 0, len(src.fields)), nil, src.fields)
	}
	m.Fields, m.HasFields = viewFields(src.snap, s.view.Load()), true
}

// SourceItem describes an item open at a Source.
type SourceItem struct {
	Domain  string `json:"domain"`
	Name    string `json:"name"`
	Streams int    `json:"streams"`
	Ready   bool   `json:"ready"`
	State   string `json:"state"`
	Seq     int64  `json:"seq"`
	// Lingering: no stream is left; it closes after Config.Linger.
	Lingering bool  `json:"lingering,omitempty"`
	Updates   int64 `json:"updates"`
}

// SourceItems lists the items open at the Source, sorted by name.
func (h *Hub) SourceItems() []SourceItem {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []SourceItem
	for _, it := range h.active {
		if it.src == nil {
			continue
		}
		out = append(out, SourceItem{Domain: it.key.domain.String(), Name: it.key.name, Streams: len(it.subs),
			Ready: it.src.ready, State: fmt.Sprintf("%s/%s", it.src.state.Stream, it.src.state.Data), Seq: it.src.seq,
			Lingering: it.src.linger != nil, Updates: it.stat.Updates})
	}
	return out
}
