package stream

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
			`"QoS":{"Type":"Qos","Data":[{"Timeliness":"Realtime","Rate":"TickByTick"}]},"SupportsQosRange":0}}`...)
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
