package server

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// Multi-part posts (§25.2 Complete/PartNumber, checklist P10.5): parts
// with Complete:false are validated and buffered per PostID (each Acked
// when it asks) until the part that completes the post; then the fields
// of every part, later parts winning, are applied as one post. A part
// that fails validation discards the buffered post.

// maxPendingPosts bounds the incomplete multi-part posts of a connection.
const maxPendingPosts = 256

type pendingPost struct {
	streamID int64
	name     string
	refresh  bool
	fields   []trjson.Field
	pui      trjson.Raw
	parts    int
}

// handlePost handles on-stream posts (on an open item ID) and off-stream
// posts (on the Login ID with a Key) (§25, checklist §10).
func (c *conn) handlePost(m *trjson.Msg) {
	ack := func(a *trjson.Msg) {
		if m.HasSeqNumber { // tells the parts of one PostID apart
			a.SeqNumber, a.HasSeqNumber = m.SeqNumber, true
		}
		c.push(out{m: a})
	}
	var pp *pendingPost
	if m.HasPostID {
		pp = c.posts[m.PostID]
	}
	nak := func(code trjson.NakCode, text string) {
		if pp != nil {
			delete(c.posts, m.PostID)
		}
		if m.Ack {
			ack(&trjson.Msg{Type: trjson.TypeAck, ID: m.ID, Domain: m.Domain, AckID: m.PostID,
				NakCode: code, HasNakCode: true, Text: text})
		}
	}
	if !c.loggedIn.Load() {
		nak(trjson.NakNotOpen, "Login required")
		return
	}
	if c.cfg.DisablePost {
		nak(trjson.NakAccessDenied, "Posting is not permitted for this user")
		return
	}
	name, domain := "", m.Domain
	offStream := m.ID == c.loginID.Load()
	if offStream {
		if m.HasKey {
			if !c.serviceKnown(&m.Key) {
				nak(trjson.NakSourceUnknown, "Service not found")
				return
			}
			name = m.Key.Name
		}
	} else {
		s := c.stream(m.ID)
		if s == nil {
			nak(trjson.NakNotOpen, "Stream is not open")
			return
		}
		name, domain = s.name, s.domain
	}
	if len(m.Message) == 0 {
		nak(trjson.NakInvalidContent, "Post carries no Message")
		return
	}
	var d trjson.Decoder
	inner, err := d.Decode(m.Message)
	if err != nil || len(inner) != 1 || inner[0].Err != nil {
		nak(trjson.NakInvalidContent, "Post Message is not a valid message")
		return
	}
	pm := &inner[0]
	if pm.Type != trjson.TypeUpdate && pm.Type != trjson.TypeRefresh {
		nak(trjson.NakInvalidContent, "Post Message must be an Update or a Refresh")
		return
	}
	if name == "" && pm.HasKey {
		name = pm.Key.Name
	}
	if name == "" {
		nak(trjson.NakInvalidContent, "Off-stream post needs a Key")
		return
	}
	if domain != trjson.DomainMarketPrice {
		nak(trjson.NakInvalidContent, "Only MarketPrice content can be posted")
		return
	}
	if len(pm.Fields) == 0 && pp == nil {
		nak(trjson.NakInvalidContent, "Post Message has no Fields")
		return
	}
	fields := make([]trjson.Field, 0, len(pm.Fields))
	for _, f := range pm.Fields {
		if _, ok := c.cfg.Dictionary.FID(f.Name); !ok {
			if c.cfg.AllowUnknownFIDs {
				continue // no FID to convert it to: dropped
			}
			if pp != nil {
				delete(c.posts, m.PostID)
			}
			off := bytes.Index(m.Raw, []byte(`"`+f.Name+`"`))
			c.push(out{m: convError(m.ID, "JSON Unexpected FID. Received '"+f.Name+"' for key 'Fields'", off, m.Raw)})
			return
		}
		fields = append(fields, f.Clone())
	}
	var inst Instrument
	if c.cfg.Source == nil {
		var ok bool
		if inst, ok = c.cfg.Universe.Lookup(name); !ok {
			nak(trjson.NakSymbolUnknown, "Item "+name+" is not in the cache")
			return
		}
	} else if _, ok := c.cfg.Source.(Poster); !ok {
		nak(trjson.NakAccessDenied, "Posting is not supported by this service")
		return
	}
	pui := m.PostUserInfo.Clone()
	refresh := pm.Type == trjson.TypeRefresh
	if pp != nil {
		if pp.streamID != m.ID || pp.name != name {
			nak(trjson.NakInvalidContent, "Part of post "+strconv.FormatInt(m.PostID, 10)+" names another stream or item")
			return
		}
		pp.parts++
		fields = mergeFields(pp.fields, fields)
		refresh = pp.refresh || refresh
		if pui == nil {
			pui = pp.pui
		}
	}
	if !m.Complete() {
		if !m.HasPostID {
			nak(trjson.NakInvalidContent, "A multi-part post needs a PostID")
			return
		}
		if pp == nil {
			if len(c.posts) >= maxPendingPosts {
				nak(trjson.NakNoResources, "Too many incomplete multi-part posts")
				return
			}
			if c.posts == nil {
				c.posts = map[int64]*pendingPost{}
			}
			pp = &pendingPost{streamID: m.ID, name: name, parts: 1}
			c.posts[m.PostID] = pp
		}
		pp.fields, pp.refresh, pp.pui = fields, refresh, pui
		if m.Ack {
			ack(&trjson.Msg{Type: trjson.TypeAck, ID: m.ID, Domain: m.Domain, AckID: m.PostID, Text: "All is well"})
		}
		return
	}
	if pp != nil {
		delete(c.posts, m.PostID)
	}
	if len(fields) > 0 {
		var err error
		if inst != nil {
			err = c.h.post(inst, fields, refresh, pui)
		} else {
			err = c.postToSource(Post{Domain: domain, Name: name, Fields: fields, Refresh: refresh, PostUserInfo: pui, User: c.loginName})
		}
		if err != nil {
			nak(trjson.NakInvalidContent, err.Error())
			return
		}
	}
	c.srv.posts.Add(1)
	if m.Ack {
		ack(&trjson.Msg{Type: trjson.TypeAck, ID: m.ID, Domain: m.Domain, AckID: m.PostID, Text: "All is well"})
	}
}

// sourcePostTimeout bounds a post forwarded to a Source.
const sourcePostTimeout = 15 * time.Second

// postToSource forwards a complete post to the Source. It runs on the
// connection's read loop: the Ack or Nak follows the source's answer, as
// an ADS answers after its provider.
func (c *conn) postToSource(p Post) error {
	ctx, cancel := context.WithTimeout(context.Background(), sourcePostTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return c.cfg.Source.(Poster).Post(ctx, p)
}

// mergeFields adds later to earlier, a later value replacing an earlier
// one of the same field.
func mergeFields(earlier, later []trjson.Field) []trjson.Field {
	for _, f := range later {
		if i := slices.IndexFunc(earlier, func(e trjson.Field) bool { return e.Name == f.Name }); i >= 0 {
			earlier[i] = f
		} else {
			earlier = append(earlier, f)
		}
	}
	return earlier
}

// post applies posted fields to the instrument and fans the result out to
// every subscriber of the item on every endpoint, load-mode streams
// included: an Update of the changed fields for a posted Update, an
// unsolicited Refresh of the whole image for a posted Refresh. Both carry
// the post's PostUserInfo (pui, may be nil) (§26.2, §29.2, checklist
// P10.6).
func (h *Hub) post(inst Instrument, fields []trjson.Field, refresh bool, pui trjson.Raw) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	changed, seq, err := inst.ApplyPost(fields)
	if err != nil {
		return err
	}
	if len(changed) == 0 {
		return nil
	}
	it := h.items[hubKey{domain: trjson.DomainMarketPrice, inst: inst}]
	if refresh {
		if it != nil {
			for s := range it.subs {
				s.c.pushImageLocked(s, false, pui)
			}
		}
	} else if it != nil {
		h.fanOutLocked(&tick{item: it, updateType: trjson.UpdateUnspecified, fields: changed, seq: seq, postUserInfo: pui})
	}
	var tk *tick
	for s := range h.loadSubs {
		if s.inst != inst || s.domain != trjson.DomainMarketPrice {
			continue
		}
		if tk == nil {
			// Load-mode streams get an Update either way: their writer
			// numbers it in the stream's own SeqNumber series.
			tk = &tick{updateType: trjson.UpdateUnspecified, fields: changed, seq: seq, postUserInfo: pui}
		}
		s.c.push(out{s: s, t: tk})
	}
	return nil
}

// handleGeneric echoes Generic messages on domains that allow them (a
// test hook) and ignores them on the market data domains (§30.1…§35.1).
func (c *conn) handleGeneric(m *trjson.Msg) {
	switch m.Domain {
	case trjson.DomainMarketPrice, trjson.DomainMarketByPrice, trjson.DomainMarketByOrder,
		trjson.DomainMarketMaker, trjson.DomainYieldCurve, trjson.DomainSymbolList:
		return
	}
	e := &trjson.Msg{Type: trjson.TypeGeneric, ID: m.ID, Domain: m.Domain,
		HasKey: m.HasKey, SeqNumber: m.SeqNumber, HasSeqNumber: m.HasSeqNumber,
		SecSeqNumber: m.SecSeqNumber, NotComplete: m.NotComplete, PartNumber: m.PartNumber,
		PermData: m.PermData, Elements: m.Elements.Clone(), Map: m.Map.Clone(), Vector: m.Vector.Clone(),
		Series: m.Series.Clone(), FilterList: m.FilterList.Clone(), JSON: m.JSON.Clone(),
		Opaque: m.Opaque.Clone(), XML: m.XML.Clone(), HasFields: m.HasFields}
	if m.HasKey {
		e.Key = trjson.Key{Name: m.Key.Name, Service: m.Key.Service, ServiceID: m.Key.ServiceID,
			HasServiceID: m.Key.HasServiceID, NameType: m.Key.NameType, Filter: m.Key.Filter,
			Elements: m.Key.Elements.Clone()}
	}
	for _, f := range m.Fields {
		e.Fields = append(e.Fields, f.Clone())
	}
	e.PermData = string([]byte(m.PermData))
	c.push(out{m: e})
}
