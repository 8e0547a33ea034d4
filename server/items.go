package server

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/ertkit/ertkit/trjson"
)

// sub is one open item stream of a connection.
type sub struct {
	c            *conn
	id           int64
	domain       trjson.Domain
	name         string // as requested, e.g. "/TRI.N"
	service      string // the service it is open on; "" is Config.Service
	inst         Instrument
	chain        []string // SymbolList
	keyInUpdates bool
	confInfo     bool // ConfInfoInUpdates: ConflationInfo on conflated updates
	streaming    bool
	view         atomic.Pointer[view]
	paused       atomic.Bool
	closed       atomic.Bool
	item         *hubItem // guarded by Hub.mu
	load         *loadState
	// held: an item fault holds a load-mode stream's updates (Suspect).
	held atomic.Bool
	// gotImage: the stream's first Refresh was queued (a published item
	// may have no image yet). Guarded by Hub.mu.
	gotImage bool
}

type view struct {
	names []string
	set   map[string]struct{}
}

func (s *sub) statusMsg(ss trjson.StreamState, ds trjson.DataState, code trjson.StateCode, text string) *trjson.Msg {
	name := ""
	if s.keyInUpdates || ss != trjson.StreamOpen {
		name = s.name
	}
	return onService(s.c.statusFor(s.id, s.domain, name, ss, ds, code, text), s.service)
}

func (c *conn) stream(id int64) *sub {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.streams[id]
}

func (c *conn) allSubs() []*sub {
	c.smu.Lock()
	defer c.smu.Unlock()
	out := make([]*sub, 0, len(c.streams)+len(c.snaps))
	for _, s := range c.streams {
		out = append(out, s)
	}
	return append(out, c.snaps...)
}

// forget removes s from the stream table (its ID becomes free).
func (c *conn) forget(s *sub) {
	c.smu.Lock()
	if c.streams[s.id] == s {
		delete(c.streams, s.id)
	}
	if i := slices.Index(c.snaps, s); i >= 0 {
		c.snaps = slices.Delete(c.snaps, i, i+1)
	}
	if i := slices.Index(c.loadSubs, s); i >= 0 {
		c.loadSubs = slices.Delete(c.loadSubs, i, i+1)
	}
	c.smu.Unlock()
}

func (c *conn) hasLoadSubs() bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	return len(c.loadSubs) > 0
}

// closeStream ends stream id silently; false if it was not open.
func (c *conn) closeStream(id int64) bool {
	s := c.stream(id)
	if s == nil {
		return false
	}
	s.closed.Store(true)
	c.forget(s)
	c.h.mu.Lock()
	c.h.removeSubLocked(s)
	c.h.mu.Unlock()
	return true
}

func (c *conn) handleClose(m *trjson.Msg) {
	if len(m.IDs) == 0 {
		c.closeStream(m.ID) // no reply (§3.3.6); unknown IDs ignored
		return
	}
	ok := 0
	for _, id := range m.IDs {
		if c.closeStream(id) {
			ok++
		}
	}
	n := len(m.IDs)
	text := fmt.Sprintf("Processed %d total stream ids from Batch Close Request. %d Ok. ", n, ok)
	if ok < n {
		text += fmt.Sprintf("%d Failed. ", n-ok)
	}
	c.push(out{m: &trjson.Msg{Type: trjson.TypeStatus, ID: m.IDs[0], Domain: m.Domain,
		State: trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataOk, Text: text}, HasState: true}})
}

func (c *conn) handleRequest(m *trjson.Msg) {
	if len(m.Key.Names) > 0 {
		if c.cfg.DisableBatch {
			// NoBatchViewSupportInReq ("the provider does not support batch
			// and/or view functionality", §26.2) rather than
			// UnableToRequestAsBatch, which says that this particular
			// request cannot be batched: here the provider refuses every
			// batch.
			c.push(out{m: &trjson.Msg{Type: trjson.TypeStatus, ID: m.ID, Domain: m.Domain,
				State: trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataSuspect, Code: trjson.CodeNoBatchViewSupportInReq,
					Text: "Batch requests are not supported by this provider"}, HasState: true}})
			return
		}
		k := len(m.Key.Names)
		c.push(out{m: &trjson.Msg{Type: trjson.TypeStatus, ID: m.ID, Domain: m.Domain,
			State: trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataOk,
				Text: fmt.Sprintf("Processed %d total items from Batch Request. %d Ok.", k, k)}, HasState: true}})
		for i, name := range m.Key.Names {
			c.openItem(m.ID+1+int64(i), m, name, true)
		}
		return
	}
	c.openItem(m.ID, m, m.Key.Name, false)
}

func (c *conn) parseView(m *trjson.Msg) (*view, bool) {
	if !m.HasView {
		return nil, true
	}
	v := &view{set: map[string]struct{}{}}
	addName := func(n string) {
		if _, dup := v.set[n]; !dup {
			v.set[n] = struct{}{}
			v.names = append(v.names, n)
		}
	}
	for _, n := range m.View {
		if _, ok := c.cfg.Dictionary.FID(n); ok {
			addName(n)
		}
	}
	for _, fid := range m.ViewFIDs {
		if n, ok := c.cfg.Dictionary.Name(fid); ok {
			addName(n)
		}
	}
	if len(v.names) == 0 {
		return nil, false
	}
	return v, true
}

func (c *conn) openItem(id int64, m *trjson.Msg, name string, batch bool) {
	d := m.Domain
	if c.loggedIn.Load() && id == c.loginID.Load() {
		// The Login stream's ID is taken; answering on it with the item's
		// domain leaves the Login stream itself untouched.
		c.push(out{m: c.statusFor(id, d, name, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeUsageError,
			"Stream "+fmt.Sprint(id)+" is the Login stream")})
		return
	}
	if old := c.stream(id); old != nil {
		if batch {
			c.push(out{m: c.statusFor(id, d, name, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeAlreadyOpen, "Stream "+fmt.Sprint(id)+" is already open")})
			return
		}
		c.reissue(old, m, name)
		return
	}
	svc, known := c.resolveService(&m.Key)
	if !known {
		c.push(out{m: c.statusFor(id, d, name, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeSourceUnknown, "Service not found")})
		return
	}
	if svc == c.cfg.Service {
		svc = "" // the default: Config.Service
	}
	refuse := func(code trjson.StateCode, text string) {
		c.push(out{m: onService(c.statusFor(id, d, name, trjson.StreamClosed, trjson.DataSuspect, code, text), svc)})
	}
	if m.HasView && c.cfg.DisableView {
		refuse(trjson.CodeNoBatchViewSupportInReq, viewUnsupportedText)
		return
	}
	v, ok := c.parseView(m)
	if !ok {
		refuse(trjson.CodeInvalidView, "View contains no valid field")
		return
	}
	if d == trjson.DomainSource {
		c.push(out{m: c.directoryRefresh(id, m)})
		return
	}
	if qosChecked(d) && !qosAcceptable(c.qos(name), m.Qos, m.WorstQos) {
		refuse(trjson.CodeNotEntitled, qosUnavailableText)
		return
	}
	if c.cfg.Entitled != nil && !c.cfg.Entitled(c.loginName, d, name) {
		refuse(trjson.CodeNotEntitled, notEntitledText)
		return
	}
	s := &sub{c: c, id: id, domain: d, name: name, service: svc, keyInUpdates: m.KeyInUpdates(), confInfo: m.ConfInfoInUpdate, streaming: m.Streaming()}
	s.view.Store(v)
	s.paused.Store(m.Pause)
	if c.cfg.Source != nil {
		c.openPublished(s)
		return
	}
	if text := c.domainRefusal(d, s.serviceName()); text != "" {
		refuse(trjson.CodeUsageError, text)
		return
	}
	switch d {
	case trjson.DomainMarketPrice, trjson.DomainMarketByPrice, trjson.DomainMarketByOrder, trjson.DomainMarketMaker:
		inst, found := c.cfg.Universe.Lookup(name)
		if !found {
			refuse(trjson.CodeNotFound, c.cfg.NotFoundText)
			return
		}
		s.inst = inst
	case trjson.DomainYieldCurve:
		inst, found := c.cfg.Universe.(CurveUniverse).Curve(name) // domainRefusal checked it is one
		if !found {
			refuse(trjson.CodeNotFound, c.cfg.NotFoundText)
			return
		}
		s.inst = inst
	case trjson.DomainSymbolList:
		chain, found := c.cfg.Universe.Chain(strings.TrimPrefix(name, "/"))
		if !found {
			refuse(trjson.CodeNotFound, c.cfg.NotFoundText)
			return
		}
		s.chain = chain
	default:
		refuse(trjson.CodeUsageError, "Domain "+d.String()+" is not supported by this service")
		return
	}
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if d == trjson.DomainMarketMaker {
		// Market makers quote some instruments only (Nasdaq's): the item
		// of the others does not exist.
		if _, _, ok := s.inst.BookImage(d); !ok {
			refuse(trjson.CodeNotFound, c.cfg.NotFoundText)
			return
		}
	}
	if !s.streaming {
		if it := h.items[s.hubKey()]; it != nil && it.chain != nil {
			s.chain = it.chain.members // the list as it is now
		}
		c.pushImageLocked(s, true, nil)
		return
	}
	if c.cfg.LoadMode && d == trjson.DomainMarketPrice {
		s.load = newLoadState(s.inst)
		h.loadSubs[s] = struct{}{}
	} else {
		it := h.itemLocked(d, s.inst, name)
		if it.chain == nil && d == trjson.DomainSymbolList {
			it.chain = newChainState(h.cfg.Seed, it.key.chain, s.chain)
		}
		it.subs[s] = struct{}{}
		it.stat.Subscribers = len(it.subs)
		s.item = it
	}
	c.smu.Lock()
	c.streams[id] = s
	if s.load != nil {
		c.loadSubs = append(c.loadSubs, s)
	}
	c.smu.Unlock()
	c.pushImageLocked(s, true, nil)
}

const viewUnsupportedText = "View requests are not supported by this provider"

// notEntitledText is the State.Text for a request that Config.Entitled
// refuses.
const notEntitledText = "Access denied: user is not entitled to this item"

// openPublished opens stream s on an item of Config.Source: from the
// cache when the item is open and has an image, otherwise when the
// source publishes it.
func (c *conn) openPublished(s *sub) {
	if s.domain != trjson.DomainMarketPrice && !mapDomain(s.domain) {
		c.push(out{m: c.statusFor(s.id, s.domain, s.name, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeUsageError, "Domain "+s.domain.String()+" is not supported by this service")})
		return
	}
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	it := h.sourceItemLocked(s.domain, s.name)
	it.subs[s] = struct{}{}
	it.stat.Subscribers = len(it.subs)
	s.item = it
	c.smu.Lock()
	if s.streaming {
		c.streams[s.id] = s
	} else {
		c.snaps = append(c.snaps, s)
	}
	c.smu.Unlock()
	if it.src.ready {
		c.pushImageLocked(s, true, nil)
	}
}

// qosChecked: Symbol Lists do not use Qos (§35.3), Source Directory
// requests carry none of an item's.
func qosChecked(d trjson.Domain) bool {
	return d != trjson.DomainSymbolList && d != trjson.DomainSource
}

// hubKey is the key of the hub item s subscribes to.
func (s *sub) hubKey() hubKey {
	if s.domain == trjson.DomainSymbolList {
		return hubKey{domain: s.domain, chain: strings.TrimPrefix(s.name, "/")}
	}
	return hubKey{domain: s.domain, inst: s.inst}
}

// reissue applies a Request on an open stream ID (§27.1).
func (c *conn) reissue(s *sub, m *trjson.Msg, name string) {
	changed := name != s.name || m.Domain != s.domain
	if m.Key.Service != "" || m.Key.HasServiceID {
		// A reissue that names a service must name the stream's; one that
		// names none keeps it (a curve stream is not moved to the
		// default service).
		svc, ok := c.resolveService(&m.Key)
		changed = changed || !ok || svc != s.serviceName()
	}
	if changed {
		c.closeStream(s.id)
		c.push(out{m: s.statusMsg(trjson.StreamClosed, trjson.DataSuspect, trjson.CodeUsageError, "Key or domain change on reissue is not allowed")})
		return
	}
	if m.HasView && c.cfg.DisableView {
		c.closeStream(s.id)
		c.push(out{m: c.statusFor(s.id, s.domain, s.name, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeNoBatchViewSupportInReq, viewUnsupportedText)})
		return
	}
	if qosChecked(s.domain) && !qosAcceptable(c.qos(s.name), m.Qos, m.WorstQos) {
		c.closeStream(s.id)
		c.push(out{m: c.statusFor(s.id, s.domain, s.name, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeNotEntitled, qosUnavailableText)})
		return
	}
	if m.HasView {
		v, ok := c.parseView(m)
		if !ok {
			c.closeStream(s.id)
			c.push(out{m: c.statusFor(s.id, s.domain, s.name, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeInvalidView, "View contains no valid field")})
			return
		}
		s.view.Store(v)
	}
	s.paused.Store(m.Pause)
	if m.WantsRefresh() {
		c.h.mu.Lock()
		c.pushImageLocked(s, true, nil)
		c.h.mu.Unlock()
	} else if s.load != nil {
		c.push(out{}) // wake an idle load-mode writer
	}
}

// pushImageLocked queues the refresh (several parts for big books) of s;
// pui is the PostUserInfo of a post that caused it, nil otherwise.
// Called with Hub.mu held so that no tick of the item overtakes it.
func (c *conn) pushImageLocked(s *sub, solicited bool, pui trjson.Raw) {
	state := trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "All is well"}
	if !s.streaming {
		state.Stream = trjson.StreamNonStreaming
	}
	base := trjson.Msg{Type: trjson.TypeRefresh, ID: s.id, Domain: s.domain,
		Key: trjson.Key{Name: s.name, Service: s.serviceName()}, HasKey: true,
		State: state, HasState: true, NotSolicited: !solicited, PostUserInfo: pui}
	if s.item != nil && s.item.src != nil && !s.item.src.ready {
		// A published item without its image yet (a reissue, a fault
		// recovery before the source answered): the Refresh goes out
		// when the source publishes it.
		return
	}
	s.gotImage = true
	if s.item != nil && s.item.src != nil {
		if mapDomain(s.domain) {
			c.sourceBookLocked(s, base)
		} else {
			m := base
			c.sourceImageLocked(s, &m)
			c.push(out{m: &m})
		}
		if !s.streaming {
			// A snapshot is answered once; the item may close.
			c.forget(s)
			c.h.removeSubLocked(s)
		}
		return
	}
	switch s.domain {
	case trjson.DomainMarketPrice, trjson.DomainYieldCurve:
		fields, seq := s.inst.Image(nil)
		m := base
		m.Qos = c.qos(s.name)
		m.PermData = s.inst.PermData()
		m.SeqNumber, m.HasSeqNumber = seq, true
		m.Fields, m.HasFields = viewFields(fields, s.view.Load()), true
		if s.item != nil {
			s.item.stat.recordSeq(seq)
		}
		c.push(out{m: &m})
	case trjson.DomainMarketByPrice, trjson.DomainMarketByOrder, trjson.DomainMarketMaker:
		mp, seq, ok := s.inst.BookImage(s.domain)
		if !ok || mp == nil {
			mp = &trjson.Map{KeyType: "Buffer"}
		}
		base.Qos = c.qos(s.name)
		base.PermData = s.inst.PermData()
		base.SeqNumber, base.HasSeqNumber = seq, true
		c.pushParts(base, mp)
	case trjson.DomainSymbolList:
		mp := &trjson.Map{KeyType: "Buffer"}
		chain := s.chain
		if s.item != nil && s.item.chain != nil {
			chain = s.item.chain.members
			base.SeqNumber, base.HasSeqNumber = s.item.chain.seq, true
		}
		for _, n := range chain {
			mp.Entries = append(mp.Entries, trjson.MapEntry{Action: trjson.MapAdd, Key: n})
		}
		c.pushParts(base, mp)
	}
}

// pushParts sends a Map payload as a multi-part refresh: Complete:false
// on every part but the last, PartNumber 0..n, Key on every part, each
// part within MaxMsgSize.
func (c *conn) pushParts(base trjson.Msg, mp *trjson.Map) {
	limit := c.cfg.MaxMsgSize - 1024
	whole := trjson.AppendMap(nil, mp)
	if len(whole) <= limit || len(mp.Entries) <= 1 {
		m := base
		m.Map = whole
		c.push(out{m: &m})
		return
	}
	per := max(1, len(mp.Entries)*limit/len(whole)*9/10)
	var parts []trjson.Raw
	for {
		parts = parts[:0]
		fits := true
		for i := 0; i < len(mp.Entries); i += per {
			p := &trjson.Map{KeyType: mp.KeyType, KeyFieldID: mp.KeyFieldID, Entries: mp.Entries[i:min(i+per, len(mp.Entries))]}
			if i == 0 {
				p.Summary, p.HasSummary, p.CountHint = mp.Summary, mp.HasSummary, mp.CountHint
			}
			raw := trjson.AppendMap(nil, p)
			if len(raw) > limit && per > 1 {
				fits = false
				break
			}
			parts = append(parts, raw)
		}
		if fits {
			break
		}
		per = max(1, per/2)
	}
	for i, raw := range parts {
		m := base
		m.Map = raw
		m.PartNumber = int64(i)
		m.NotComplete = i < len(parts)-1
		if i > 0 {
			m.Qos, m.PermData = nil, ""
		}
		c.push(out{m: &m})
	}
}

// viewFields filters an image to view v (nil: every field), listing every
// viewed field, blank ones as null (§30.4).
func viewFields(fields []trjson.Field, v *view) []trjson.Field {
	if v == nil {
		return fields
	}
	vf := make([]trjson.Field, 0, len(v.names))
	for _, n := range v.names {
		if i := slices.IndexFunc(fields, func(f trjson.Field) bool { return f.Name == n }); i >= 0 {
			vf = append(vf, fields[i])
		} else {
			vf = append(vf, trjson.Null(n))
		}
	}
	return vf
}
