package trjson

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func decode1(t *testing.T, frame string) *Msg {
	t.Helper()
	var d Decoder
	ms, err := d.Decode([]byte(frame))
	if err != nil {
		t.Fatalf("Decode(%s): %v", frame, err)
	}
	if len(ms) != 1 {
		t.Fatalf("Decode(%s): %d messages, want 1", frame, len(ms))
	}
	return &ms[0]
}

func TestDecodeDefaults(t *testing.T) {
	m := decode1(t, `{"ID":2,"Key":{"Name":"TRI.N"}}`)
	if m.Type != TypeRequest || m.Domain != DomainMarketPrice || m.ID != 2 || m.Key.Name != "TRI.N" || !m.HasKey {
		t.Fatalf("got %+v", m)
	}
	if !m.Streaming() || !m.WantsRefresh() || !m.KeyInUpdates() || m.Err != nil || m.HasFields || m.Fields != nil {
		t.Fatalf("defaults wrong: %+v", m)
	}
	r := decode1(t, `[{"ID":2,"Type":"Refresh","State":{"Stream":"Open","Data":"Ok"}}]`)
	if !r.Complete() || !r.Solicited() || !r.ClearsCache() || r.Domain != DomainMarketPrice {
		t.Fatalf("refresh defaults wrong: %+v", r)
	}
	st := decode1(t, `[{"ID":2,"Type":"Status"}]`)
	if st.ClearsCache() {
		t.Fatal("Status must not clear the cache by default")
	}
}

func TestDecodeFrameShapes(t *testing.T) {
	var d Decoder
	for _, tc := range []struct {
		frame string
		n     int
	}{
		{`[]`, 0},
		{` [ ] `, 0},
		{`{"Type":"Ping"}`, 1},
		{"\n[{\"Type\":\"Ping\"} ,\t{\"Type\":\"Pong\"}]\r\n", 2},
		{`[{"ID":3,"Key":{"Name":"IBM.N"}},{"ID":2,"Key":{"Name":"TRI.N"}}]`, 2},
	} {
		ms, err := d.Decode([]byte(tc.frame))
		if err != nil || len(ms) != tc.n {
			t.Errorf("Decode(%q) = %d msgs, %v; want %d", tc.frame, len(ms), err, tc.n)
		}
	}
	ms, _ := d.Decode([]byte(`[{"Type":"Ping"},{"Type":"Pong"}]`))
	if ms[0].Type != TypePing || ms[1].Type != TypePong || ms[0].Err != nil || ms[1].Err != nil {
		t.Fatalf("ping/pong: %+v", ms)
	}
	if string(ms[1].Raw) != `{"Type":"Pong"}` {
		t.Fatalf("Raw = %q", ms[1].Raw)
	}
}

func TestDecodeSyntaxErrors(t *testing.T) {
	bad := []string{
		``, ` `, `[`, `]`, `{`, `[{}`, `[{},]`, `[,{}]`, `{"ID":1,}`, `{"ID":1 "Type":"Ping"}`,
		`{"ID":01}`, `{"ID":1.}`, `{"ID":.5}`, `{"ID":1e}`, `{"ID":-}`, `{"ID":+1}`, `{"ID":0x1}`,
		`{"ID":1}x`, `{"ID":1}{}`, `[{"ID":1}]]`, `{'ID':1}`, `{ID:1}`, `{"ID":tru}`, `{"ID":nul}`,
		`{"ID":True}`, "{\"K\":\"a\x01b\"}", `{"K":"\x"}`, `{"K":"\u12G4"}`, `{"K":"\u12"}`, `{"K":"abc}`,
		`{"K":[1,2}`, `{"K":{"a"}}`, `{"K":{"a":}}`, `{"K":{1:2}}`, `{"Fields":{"A":1,}}`,
		`{"Fields":{"A":[1,]}}`, `{"ID":NaN}`, `{"ID":Infinity}`, "\ufeff{}", `[1]`, `["x"]`, `[[]]`,
		`[{},1]`, `"x"`, `1`, `null`, `true`,
	}
	var d Decoder
	for _, f := range bad {
		ms, err := d.Decode([]byte(f))
		var se *SyntaxError
		if !errors.As(err, &se) || ms != nil {
			t.Errorf("Decode(%q) = %v, %v; want *SyntaxError", f, ms, err)
			continue
		}
		if se.Offset < 0 || se.Offset > len(f) {
			t.Errorf("Decode(%q): offset %d out of range", f, se.Offset)
		}
	}
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := d.Decode([]byte(`{"X":` + deep + `}`)); err == nil {
		t.Error("nesting beyond encoding/json's limit accepted")
	}
	ok := strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1)
	if _, err := d.Decode([]byte(`{"X":` + ok + `,"Type":"Ping"}`)); err != nil {
		t.Errorf("nesting at the limit rejected: %v", err)
	}
	if json.Valid([]byte(`{"X":`+deep+`}`)) || !json.Valid([]byte(`{"X":`+ok+`}`)) {
		t.Error("depth limit differs from encoding/json")
	}
}

func TestDecodeEnumsAsStringsOrNumbers(t *testing.T) {
	a := decode1(t, `{"ID":5,"Type":"Update","Domain":"MarketByPrice","UpdateType":"Quote"}`)
	b := decode1(t, `{"ID":5,"Type":4,"Domain":8,"UpdateType":1}`)
	if a.Type != TypeUpdate || a.Domain != DomainMarketByPrice || a.UpdateType != UpdateQuote || a.Err != nil {
		t.Fatalf("strings: %+v", a)
	}
	if b.Type != a.Type || b.Domain != a.Domain || b.UpdateType != a.UpdateType || b.Err != nil {
		t.Fatalf("numbers: %v %v %v %v", b.Type, b.Domain, b.UpdateType, b.Err)
	}
	s := decode1(t, `{"ID":1,"Type":3,"State":{"Stream":4,"Data":2,"Code":13,"Text":"x"}}`)
	if s.Type != TypeStatus || s.State != (State{StreamClosed, DataSuspect, CodeTooManyItems, "x"}) {
		t.Fatalf("state numbers: %v %+v", s.Type, s.State)
	}
	for n, want := range map[string]MsgType{"1": TypeRequest, "2": TypeRefresh, "5": TypeClose, "6": TypeAck, "7": TypeGeneric, "8": TypePost} {
		if m := decode1(t, `{"ID":1,"Key":{},"Type":`+n+`}`); m.Type != want {
			t.Errorf("Type %s = %v, want %v", n, m.Type, want)
		}
	}
	ack := decode1(t, `{"ID":1,"Type":"Ack","NakCode":10}`)
	if ack.NakCode != NakSymbolUnknown || !ack.HasNakCode {
		t.Errorf("NakCode 10 = %v", ack.NakCode)
	}
	q := decode1(t, `{"ID":1,"Key":{"Name":"A","NameType":1},"Qos":{"Timeliness":1,"Rate":3,"RateInfo":1000}}`)
	if q.Key.NameType != "Ric" || *q.Qos != (Qos{Timeliness: "Realtime", Rate: "TimeConflated", RateInfo: 1000}) {
		t.Errorf("numeric Qos/NameType: %+v %+v", q.Key, q.Qos)
	}
	l := decode1(t, `{"ID":1,"Domain":1,"Key":{"Name":"tok","NameType":5}}`)
	if l.Domain != DomainLogin || l.Key.NameType != "AuthnToken" {
		t.Errorf("login NameType 5 = %q", l.Key.NameType)
	}
}

func TestDecodeQosSpellings(t *testing.T) {
	for _, k := range []string{"Qos", "QOS"} {
		m := decode1(t, `[{"ID":2,"Type":"Refresh","`+k+`":{"Timeliness":"Realtime","Rate":"TickByTick","Dynamic":true},"WorstQos":{"Timeliness":"Delayed","TimeInfo":5}}]`)
		if m.Qos == nil || *m.Qos != (Qos{Timeliness: "Realtime", Rate: "TickByTick", Dynamic: true}) {
			t.Errorf("%s: %+v", k, m.Qos)
		}
		if m.WorstQos == nil || *m.WorstQos != (Qos{Timeliness: "Delayed", TimeInfo: 5}) {
			t.Errorf("%s WorstQos: %+v", k, m.WorstQos)
		}
	}
}

func TestDecodeBatchAndClose(t *testing.T) {
	m := decode1(t, `{"ID":2,"Key":{"Name":["TRI.N","IBM.N","T.N"]}}`)
	if m.Key.Name != "" || !reflect.DeepEqual(m.Key.Names, []string{"TRI.N", "IBM.N", "T.N"}) {
		t.Fatalf("batch: %+v", m.Key)
	}
	c := decode1(t, `{"ID":[3,4,5],"Type":"Close"}`)
	if c.Type != TypeClose || c.ID != 3 || !reflect.DeepEqual(c.IDs, []int64{3, 4, 5}) || c.Err != nil {
		t.Fatalf("batch close: %+v", c)
	}
	c = decode1(t, `{"ID":7,"Type":"Close","Domain":"MarketByPrice"}`)
	if c.ID != 7 || c.IDs != nil || c.Domain != DomainMarketByPrice {
		t.Fatalf("close: %+v", c)
	}
}

func TestDecodeView(t *testing.T) {
	m := decode1(t, `{"ID":2,"Key":{"Name":"TRI.N"},"View":["BID","ASK","BIDSIZE"]}`)
	if !m.HasView || !reflect.DeepEqual(m.View, []string{"BID", "ASK", "BIDSIZE"}) || m.ViewFIDs != nil {
		t.Fatalf("names: %+v %+v", m.View, m.ViewFIDs)
	}
	m = decode1(t, `{"ID":2,"Key":{"Name":"TRI.N"},"View":[22,25]}`)
	if !reflect.DeepEqual(m.ViewFIDs, []int64{22, 25}) || m.View != nil {
		t.Fatalf("fids: %+v %+v", m.View, m.ViewFIDs)
	}
	m = decode1(t, `{"ID":2,"Key":{"Name":"TRI.N"},"View":["BID",22]}`)
	if m.Err == nil {
		t.Fatal("mixed view accepted")
	}
}

// TestDecodeAllAttributes sets every attribute of Msg from the wire.
func TestDecodeAllAttributes(t *testing.T) {
	frame := `[{"ID":9,"Type":"Refresh","Domain":"MarketByOrder",
	"Key":{"Name":"TRI.N","Service":257,"NameType":"Ric","Filter":3,"Elements":{"A":1},"Identifier":4},
	"State":{"Stream":"NonStreaming","Data":"Suspect","Code":"NotFound","Text":"gone"},
	"UpdateType":"Trade","SeqNumber":12,"SecSeqNumber":13,
	"Streaming":false,"Refresh":false,"Pause":true,"KeyInUpdates":false,"ConfInfoInUpdates":true,
	"Private":true,"Qualified":true,"View":["BID"],"Priority":{"Class":1,"Count":2},
	"WorstQos":{"Rate":"JitConflated"},"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"},
	"Solicited":false,"Complete":false,"ClearCache":false,"PartNumber":2,"PermData":"AwO9ZmI=",
	"DoNotCache":true,"DoNotConflate":true,"DoNotRipple":true,"Discardable":true,
	"Ack":true,"PostID":6,"AckID":7,"NakCode":"DeniedBySrc","PostUserInfo":{"Address":"127.0.0.1","UserID":1},
	"Message":{"Type":"Update","Fields":{"BID":1}},"Text":"t\"x",
	"Fields":{"BID":1.5},"Elements":{"E":1},"Map":{"KeyType":"Buffer","Entries":[]},"Vector":{"Entries":[]},
	"Series":{"Entries":[]},"FilterList":{"Entries":[]},"Json":{"a":[1,"x"]},"Opaque":"AQI=","Xml":"<a/>",
	"Debug":{"File":"f"},"ExtHdr":"AA==","Zzz":[true],"Yyy":null}]`
	m := decode1(t, frame)
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	want := Msg{
		Type: TypeRefresh, Domain: DomainMarketByOrder, ID: 9,
		Key: Key{Name: "TRI.N", ServiceID: 257, HasServiceID: true, NameType: "Ric", Filter: 3,
			Elements: Raw(`{"A":1}`), Other: Raw(`{"Identifier":4}`)}, HasKey: true,
		State: State{StreamNonStreaming, DataSuspect, CodeNotFound, "gone"}, HasState: true,
		UpdateType: UpdateTrade, SeqNumber: 12, HasSeqNumber: true, SecSeqNumber: 13,
		NoStreaming: true, NoRefresh: true, Pause: true, NoKeyInUpdates: true, ConfInfoInUpdate: true,
		Private: true, Qualified: true, View: []string{"BID"}, HasView: true,
		Priority: Raw(`{"Class":1,"Count":2}`), WorstQos: &Qos{Rate: "JitConflated"},
		Qos: &Qos{Timeliness: "Realtime", Rate: "TickByTick"}, NotSolicited: true, NotComplete: true,
		ClearCache: false, HasClearCache: true, PartNumber: 2, PermData: "AwO9ZmI=",
		DoNotCache: true, DoNotConflate: true, DoNotRipple: true, Discardable: true,
		Ack: true, PostID: 6, HasPostID: true, AckID: 7, NakCode: NakDeniedBySrc, HasNakCode: true,
		PostUserInfo: Raw(`{"Address":"127.0.0.1","UserID":1}`), Message: Raw(`{"Type":"Update","Fields":{"BID":1}}`),
		Text: `t"x`, Fields: []Field{Float("BID", 1.5)}, HasFields: true,
		Elements: Raw(`{"E":1}`), Map: Raw(`{"KeyType":"Buffer","Entries":[]}`), Vector: Raw(`{"Entries":[]}`),
		Series: Raw(`{"Entries":[]}`), FilterList: Raw(`{"Entries":[]}`), JSON: Raw(`{"a":[1,"x"]}`),
		Opaque: Raw(`"AQI="`), XML: Raw(`"<a/>"`), Debug: Raw(`{"File":"f"}`), ExtHdr: Raw(`"AA=="`),
		Other: Raw(`{"Zzz":[true],"Yyy":null}`),
	}
	want.Raw = m.Raw
	if !reflect.DeepEqual(*m, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", *m, want)
	}
	if m.ClearsCache() {
		t.Error("explicit ClearCache:false ignored")
	}
	if !strings.HasPrefix(string(m.Raw), `{"ID":9`) || !strings.HasSuffix(string(m.Raw), `"Yyy":null}`) {
		t.Errorf("Raw = %q", m.Raw)
	}
}

func TestDecodeFieldKinds(t *testing.T) {
	m := decode1(t, `[{"ID":1,"Type":"Update","Fields":{"I":-42,"Z":0,"F":39.72,"E":1e3,"E2":-2.5E-3,"S":"plain",
	"ESC":"q\"b\\s\/n\nt\tu\u00e9\u20ac\ud83d\ude00","LONE":"\ud800x","N":null,"T":true,"FA":false,
	"ARR":{"Type":"Int","Data":[1,2]},"A2":[1,2],"BIG":123456789012345678901,"MIN":-9223372036854775808,
	"P":0.1,"L":1.7976931348623157e308,"INF":1e400,"S2":""}}]`)
	want := []Field{
		Int("I", -42), Int("Z", 0), Float("F", 39.72), Float("E", 1000), Float("E2", -0.0025), String("S", "plain"),
		String("ESC", "q\"b\\s/n\nt\tu\u00e9\u20ac\U0001F600"), String("LONE", "\uFFFDx"), Null("N"),
		{Name: "T", Kind: KindBool, Int: 1}, {Name: "FA", Kind: KindBool},
		RawField("ARR", Raw(`{"Type":"Int","Data":[1,2]}`)), RawField("A2", Raw(`[1,2]`)),
		Float("BIG", 123456789012345678901), Int("MIN", math.MinInt64), Float("P", 0.1),
		Float("L", math.MaxFloat64), Float("INF", math.Inf(1)), String("S2", ""),
	}
	if len(m.Fields) != len(want) {
		t.Fatalf("%d fields, want %d", len(m.Fields), len(want))
	}
	for i := range want {
		g, w := m.Fields[i], want[i]
		if g.Name != w.Name || g.Kind != w.Kind || g.Int != w.Int || g.Float != w.Float || string(g.Str) != string(w.Str) {
			t.Errorf("field %d: got %+v (%q) want %+v (%q)", i, g, g.Str, w, w.Str)
		}
	}
	if f := m.Field("F"); f == nil || f.Float != 39.72 {
		t.Error("Field lookup")
	}
	e := decode1(t, `{"ID":1,"Type":"Refresh","Fields":null}`)
	if !e.HasFields || e.Fields == nil || len(e.Fields) != 0 {
		t.Errorf("Fields:null = %#v", e.Fields)
	}
}

// TestParseFloatMatchesStrconv checks the Clinger fast path against strconv.
func TestParseFloatMatchesStrconv(t *testing.T) {
	for _, s := range []string{"0.1", "39.72", "-0.0", "0.0000001", "123456789012345.6", "9007199254740993.0",
		"1.5e10", "4.9e-324", "1234567890123456789.0", "0.30000000000000004", "99.99", "100.0000000000000000001",
		"1e22", "1e23", "0.000000000000000000000123"} {
		want := slowFloat([]byte(s))
		if got := parseFloat([]byte(s)); got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("parseFloat(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestDecodeReuseAcrossFrames(t *testing.T) {
	var d Decoder
	ms, err := d.Decode([]byte(`[{"ID":1,"Type":"Update","Fields":{"A":"x\ty","B":1}},{"ID":2,"Type":"Update","Fields":{"C":2}}]`))
	if err != nil || len(ms) != 2 || len(ms[0].Fields) != 2 || len(ms[1].Fields) != 1 || ms[1].Fields[0].Name != "C" {
		t.Fatalf("first: %v %+v", err, ms)
	}
	ms, err = d.Decode([]byte(`[{"ID":3,"Type":"Update"}]`))
	if err != nil || len(ms) != 1 || ms[0].ID != 3 || ms[0].Fields != nil || ms[0].HasFields {
		t.Fatalf("second frame leaked state: %+v", ms)
	}
	// After a syntax error the decoder must still work.
	if _, err := d.Decode([]byte(`[{"ID":3,`)); err == nil {
		t.Fatal("truncated frame accepted")
	}
	if ms, err := d.Decode([]byte(`{"Type":"Ping"}`)); err != nil || ms[0].Type != TypePing {
		t.Fatalf("after error: %v %+v", err, ms)
	}
}

func TestDecodeBinaryUTF8Passthrough(t *testing.T) {
	// encoding/json accepts invalid UTF-8 inside strings; so do we (bytes kept).
	m := decode1(t, "{\"ID\":1,\"Type\":\"Update\",\"Fields\":{\"X\":\"\xff\"}}")
	if string(m.Fields[0].Str) != "\xff" {
		t.Fatalf("%q", m.Fields[0].Str)
	}
}

func TestInternTableBounded(t *testing.T) {
	tab := newInternTable(4, 8)
	a := tab.get([]byte("BID"))
	if b := tab.get([]byte("BID")); b != a {
		t.Fatal("not interned")
	}
	for i := 0; i < 10000; i++ {
		tab.get([]byte{byte(i), byte(i >> 8), 'x'})
	}
	if len(tab.slots) != 4*ways {
		t.Fatalf("table grew to %d", len(tab.slots))
	}
	if s := tab.get([]byte("much-longer-than-eight")); s != "much-longer-than-eight" {
		t.Fatal(s)
	}
}

// TestNumberFastPathMatchesStrconv checks the one-pass float path of the
// scanner (used for Fields) against strconv, and integer overflow.
func TestNumberFastPathMatchesStrconv(t *testing.T) {
	for _, lit := range []string{"0.1", "39.72", "-0.0", "0.0000001", "123456789012345.6", "9007199254740993.0",
		"1.5e10", "0.30000000000000004", "99.99", "100.0000000000000000001", "0.000000000000000000000123",
		"1234567890123456789.5", "12345678901234567890.5", "0.1234567890123456789", "18446744073709551616.0",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "18446744073709551616", "99999999999999999999", "10000000000000000000"} {
		m := decode1(t, `{"ID":1,"Type":"Update","Fields":{"X":`+lit+`}}`)
		f := m.Fields[0]
		want := slowFloat([]byte(lit))
		switch f.Kind {
		case KindFloat:
			if f.Float != want || math.Signbit(f.Float) != math.Signbit(want) {
				t.Errorf("%s = %v, want %v", lit, f.Float, want)
			}
		case KindInt:
			if float64(f.Int) != want || strings.ContainsAny(lit, ".eE") {
				t.Errorf("%s = int %d", lit, f.Int)
			}
			if _, err := strconv.ParseInt(lit, 10, 64); err != nil {
				t.Errorf("%s: out of int64 range but KindInt", lit)
			}
		default:
			t.Errorf("%s: kind %v", lit, f.Kind)
		}
	}
}
