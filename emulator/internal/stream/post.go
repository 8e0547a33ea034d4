package stream

import (
	"bytes"

	"github.com/ertkit/ertkit/trjson"
)

// handlePost handles on-stream posts (on an open item ID) and off-stream
// posts (on the Login ID with a Key) (§25, checklist §10).
func (c *conn) handlePost(m *trjson.Msg) {
	nak := func(code trjson.NakCode, text string) {
		if m.Ack {
			c.push(out{m: &trjson.Msg{Type: trjson.TypeAck, ID: m.ID, Domain: m.Domain, AckID: m.PostID,
				NakCode: code, HasNakCode: true, Text: text}})
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
	fields := make([]trjson.Field, 0, len(pm.Fields))
	for _, f := range pm.Fields {
		if _, ok := c.cfg.Dictionary.FID(f.Name); !ok {
			off := bytes.Index(m.Raw, []byte(`"`+f.Name+`"`))
			c.push(out{m: convError(m.ID, "JSON Unexpected FID. Received '"+f.Name+"' for key 'Fields'", off, m.Raw)})
			return
		}
		fields = append(fields, f.Clone())
	}
	if len(fields) == 0 {
		nak(trjson.NakInvalidContent, "Post Message has no Fields")
		return
	}
	inst, ok := c.cfg.Universe.Lookup(name)
	if !ok {
		nak(trjson.NakSymbolUnknown, "Item "+name+" is not in the cache")
		return
	}
	if err := c.h.post(inst, fields); err != nil {
		nak(trjson.NakInvalidContent, err.Error())
		return
	}
	c.srv.posts.Add(1)
	if m.Ack {
		c.push(out{m: &trjson.Msg{Type: trjson.TypeAck, ID: m.ID, Domain: m.Domain, AckID: m.PostID, Text: "All is well"}})
	}
}

// post applies posted fields to the instrument and fans the resulting
// Update out to every subscriber of the item on every endpoint.
func (h *Hub) post(inst Instrument, fields []trjson.Field) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	changed, seq, err := inst.ApplyPost(fields)
	if err != nil {
		return err
	}
	if it := h.items[hubKey{trjson.DomainMarketPrice, inst}]; it != nil && len(changed) > 0 {
		h.fanOutLocked(&tick{item: it, updateType: trjson.UpdateUnspecified, fields: changed, seq: seq})
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
