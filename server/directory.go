package server

import (
	"strconv"

	"github.com/ertkit/ertkit/trjson"
)

// directoryRefresh answers a Source Directory request: one service with
// its Info (filter 1) and State (filter 2) entries [OMM].
func (c *conn) directoryRefresh(id int64, m *trjson.Msg) *trjson.Msg {
	filter := m.Key.Filter
	if filter == 0 {
		filter = 3
	}
	svc := strconv.Quote(c.cfg.Service)
	b := []byte(`{"KeyType":"UInt","Entries":[{"Action":"Add","Key":` + strconv.Itoa(DefaultServiceID) + `,"FilterList":{"Entries":[`)
	n := 0
	if filter&1 != 0 {
		b = append(b, `{"ID":1,"Action":"Set","Elements":{"Name":`+svc+`,"Vendor":"LSEG","IsSource":1,`+
			`"Capabilities":{"Type":"UInt","Data":[6,7,8,10]},`+
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
	b = append(b, `]}}]}`...)
	return &trjson.Msg{Type: trjson.TypeRefresh, ID: id, Domain: trjson.DomainSource,
		Key: trjson.Key{Filter: filter}, HasKey: true,
		State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "All is well"}, HasState: true,
		Map: b}
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
