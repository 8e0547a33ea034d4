package server

import (
	"strconv"

	"github.com/ertkit/ertkit/trjson"
)

// directoryRefresh answers a Source Directory request: the default
// service and, when yield curves are served, the curve service, each
// with its Info (filter 1) and State (filter 2) entries [OMM]. A request
// naming one service (Key.Name or Key.ServiceID) gets that one only.
func (c *conn) directoryRefresh(id int64, m *trjson.Msg) *trjson.Msg {
	filter := m.Key.Filter
	if filter == 0 {
		filter = 3
	}
	type service struct {
		id   int
		name string
		caps string // Capabilities: the domains served
	}
	caps := "6,7,8,9,10" // MarketPrice, MarketByOrder, MarketByPrice, MarketMaker, SymbolList
	if c.cfg.Source != nil {
		caps = "6,7,8,10"
	}
	services := []service{{DefaultServiceID, c.cfg.Service, caps}}
	if c.curvesServed() {
		services = append(services, service{DefaultCurveServiceID, c.cfg.CurveService, "22"})
	}
	b := []byte(`{"KeyType":"UInt","Entries":[`)
	first := true
	for _, sv := range services {
		if m.Key.HasServiceID && m.Key.ServiceID != int64(sv.id) || m.Key.Name != "" && m.Key.Name != sv.name {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = c.appendService(b, sv.id, sv.name, sv.caps, filter)
	}
	b = append(b, `]}`...)
	return &trjson.Msg{Type: trjson.TypeRefresh, ID: id, Domain: trjson.DomainSource,
		Key: trjson.Key{Filter: filter}, HasKey: true,
		State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "All is well"}, HasState: true,
		Map: b}
}

// appendService appends the Map entry of one service.
func (c *conn) appendService(b []byte, id int, name, caps string, filter int64) []byte {
	b = append(b, `{"Action":"Add","Key":`+strconv.Itoa(id)+`,"FilterList":{"Entries":[`...)
	n := 0
	if filter&1 != 0 {
		b = append(b, `{"ID":1,"Action":"Set","Elements":{"Name":`+strconv.Quote(name)+`,"Vendor":"LSEG","IsSource":1,`+
			`"Capabilities":{"Type":"UInt","Data":[`+caps+`]},`+
			`"DictionariesProvided":{"Type":"AsciiString","Data":[]},`+
			`"DictionariesUsed":{"Type":"AsciiString","Data":["RWFFld","RWFEnum"]},`+
			`"QoS":{"Type":"Qos","Data":[`+qosJSON(c.qos("X"))+`,`+qosJSON(c.qos("/X"))+`]},"SupportsQosRange":1}}`...)
		n++
	}
	if filter&2 != 0 {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ID":2,"Action":"Set","Elements":{"ServiceState":1,"AcceptingRequests":1}}`...)
	}
	return append(b, `]}}`...)
}

// qosJSON encodes a Qos for the directory's QoS array: the real-time and
// the delayed ("/" names) QoS the service offers.
func qosJSON(q *trjson.Qos) string {
	s := `{"Timeliness":"` + q.Timeliness + `","Rate":"` + q.Rate + `"`
	if q.RateInfo != 0 {
		s += `,"RateInfo":` + strconv.FormatInt(q.RateInfo, 10)
	}
	if q.TimeInfo != 0 {
		s += `,"TimeInfo":` + strconv.FormatInt(q.TimeInfo, 10)
	}
	return s + "}"
}
