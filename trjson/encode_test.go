package trjson

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestAppendMsgGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Msg
		want string
	}{
		{"login", Msg{ID: 1, Domain: DomainLogin, Key: Key{Name: "user", Elements: Raw(`{"ApplicationId":"256","Position":"127.0.0.1"}`)}},
			`{"ID":1,"Domain":"Login","Key":{"Name":"user","Elements":{"ApplicationId":"256","Position":"127.0.0.1"}}}`},
		{"login reissue", Msg{ID: 1, Domain: DomainLogin, NoRefresh: true, Key: Key{NameType: "AuthnToken", Elements: Raw(`{"AuthenticationToken":"x"}`)}},
			`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"x"}},"Refresh":false}`},
		{"request", Msg{ID: 2, Key: Key{Name: "TRI.N"}},
			`{"ID":2,"Key":{"Name":"TRI.N"}}`},
		{"snapshot view", Msg{ID: 3, Domain: DomainMarketByPrice, Key: Key{Name: "A", Service: "ELEKTRON_DD"}, NoStreaming: true, View: []string{"BID", "ASK"}},
			`{"ID":3,"Domain":"MarketByPrice","Key":{"Name":"A","Service":"ELEKTRON_DD"},"Streaming":false,"View":["BID","ASK"]}`},
		{"batch", Msg{ID: 4, Key: Key{Names: []string{"A", "B"}}, ViewFIDs: []int64{22, 25}},
			`{"ID":4,"Key":{"Name":["A","B"]},"View":[22,25]}`},
		{"refresh", Msg{ID: 2, Type: TypeRefresh, HasKey: true, Key: Key{Name: "TRI.N", ServiceID: 257, HasServiceID: true},
			HasState: true, State: State{Stream: StreamOpen, Data: DataOk, Text: "All is well"},
			Qos: &Qos{Timeliness: "Realtime", Rate: "TickByTick"}, PermData: "AwEBEBU8", SeqNumber: 5, HasSeqNumber: true,
			Fields: []Field{Float("BID", 39.72), Int("BIDSIZE", 10), Null("ASK"), String("DSPLY_NAME", "TR \"X\"")}},
			`{"ID":2,"Type":"Refresh","Key":{"Name":"TRI.N","Service":257},"State":{"Stream":"Open","Data":"Ok","Text":"All is well"},"SeqNumber":5,"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"},"PermData":"AwEBEBU8","Fields":{"BID":39.72,"BIDSIZE":10,"ASK":null,"DSPLY_NAME":"TR \"X\""}}`},
		{"update", Msg{ID: 2, Type: TypeUpdate, UpdateType: UpdateQuote, DoNotConflate: true,
			Fields: []Field{Float("BID", 40), Float("X", math.NaN()), Float("Y", math.Inf(1)), Float("Z", math.Inf(-1)), Float("S", 1e-7), Float("G", 1e21)}},
			`{"ID":2,"Type":"Update","UpdateType":"Quote","DoNotConflate":true,"Fields":{"BID":40.0,"X":"NaN","Y":"Inf","Z":"-Inf","S":1e-7,"G":1e+21}}`},
		{"status", Msg{ID: 5, Type: TypeStatus, HasState: true, State: State{Stream: StreamClosed, Data: DataSuspect, Code: CodeNotFound, Text: "**The record could not be found"}},
			`{"ID":5,"Type":"Status","State":{"Stream":"Closed","Data":"Suspect","Code":"NotFound","Text":"**The record could not be found"}}`},
		{"close", Msg{ID: 2, Type: TypeClose}, `{"ID":2,"Type":"Close"}`},
		{"batch close", Msg{IDs: []int64{3, 4}, Type: TypeClose, Domain: DomainLogin}, `{"ID":[3,4],"Type":"Close","Domain":"Login"}`},
		{"post", Msg{ID: 1, Type: TypePost, Domain: DomainMarketPrice, Ack: true, PostID: 7, HasPostID: true,
			Key: Key{Name: "TRI.N", Service: "DIST_CACHE"}, PostUserInfo: Raw(`{"Address":"127.0.0.1","UserID":42}`),
			Message: Raw(`{"ID":0,"Type":"Update","Fields":{"BID":45.55}}`)},
			`{"ID":1,"Type":"Post","Key":{"Name":"TRI.N","Service":"DIST_CACHE"},"Ack":true,"PostID":7,"PostUserInfo":{"Address":"127.0.0.1","UserID":42},"Message":{"ID":0,"Type":"Update","Fields":{"BID":45.55}}}`},
		{"ack", Msg{ID: 1, Type: TypeAck, AckID: 7}, `{"ID":1,"Type":"Ack","AckID":7}`},
		{"nak", Msg{ID: 1, Type: TypeAck, AckID: 7, NakCode: NakSymbolUnknown, Text: "Symbol unknown"},
			`{"ID":1,"Type":"Ack","AckID":7,"NakCode":"SymbolUnknown","Text":"Symbol unknown"}`},
		{"error", Msg{ID: 0, Type: TypeError, Text: "JSON Missing required key 'ID'", Debug: Raw(`{"File":"Converter/jsonToRwfSimple.C","Line":965}`)},
			`{"ID":0,"Type":"Error","Text":"JSON Missing required key 'ID'","Debug":{"File":"Converter/jsonToRwfSimple.C","Line":965}}`},
		{"ping", Msg{Type: TypePing}, `{"Type":"Ping"}`},
		{"pong", Msg{Type: TypePong}, `{"Type":"Pong"}`},
		{"other", Msg{ID: 1, Type: TypeGeneric, Domain: Domain(200), Other: Raw(` { "X" : 1 } `)}, `{"ID":1,"Type":"Generic","Domain":200,"X" : 1}`},
	} {
		got := string(AppendMsg([]byte("pre"), &tc.m))
		if got != "pre"+tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got[3:], tc.want)
		}
		if !json.Valid([]byte(got[3:])) {
			t.Errorf("%s: invalid JSON", tc.name)
		}
	}
}

func TestAppendFloatLikeEncodingJSON(t *testing.T) {
	for _, f := range []float64{39.72, 0.1, 1.5, -2.25, 123456.789, 1e-6, 1e-7, 1e20, 1e21, 1.234e-10, 5e-324, math.MaxFloat64, 0.30000000000000004} {
		want, _ := json.Marshal(f)
		got := appendFloat(nil, f)
		w := string(want)
		if !strings.ContainsAny(w, ".e") {
			w += ".0"
		}
		if string(got) != w {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, w)
		}
	}
	if got := string(appendFloat(nil, math.Copysign(0, -1))); got != "-0.0" {
		t.Errorf("-0 = %s", got)
	}
}

func TestAppendStringLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\n\r\t\x00\x1f", "é€😀", "\xff\xfe", "\u2028\u2029", "a\x7fb"} {
		got := appendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q: %s invalid: %v", s, got, err)
			continue
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: decodes to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func TestAppendMsgNoAlloc(t *testing.T) {
	m := Msg{ID: 2, Type: TypeUpdate, UpdateType: UpdateTrade, Key: Key{Name: "TRI.N", Service: "ELEKTRON_DD"},
		PermData: "AwEB", Fields: []Field{Float("BID", 39.72), Int("BIDSIZE", 10), String("X", "é\"x"), Null("N")},
		Qos: &Qos{Timeliness: "Realtime", Rate: "TickByTick"}}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendMsg(buf[:0], &m) }); n != 0 {
		t.Fatalf("AppendMsg allocates %v times", n)
	}
}

// TestRoundTripAllTypes encodes every message type, decodes it, and
// compares with the original.
func TestRoundTripAllTypes(t *testing.T) {
	msgs := []Msg{
		{Type: TypeRequest, Domain: DomainLogin, ID: 1, HasKey: true, Key: Key{Name: "user", NameType: "Name", Elements: Raw(`{"ApplicationId":"256"}`)}},
		{Type: TypeRequest, Domain: DomainMarketPrice, ID: 2, HasKey: true, Key: Key{Names: []string{"A", "B"}, Service: "S"}, HasView: true, View: []string{"BID"}, NoStreaming: true, Priority: Raw(`{"Class":1,"Count":2}`)},
		{Type: TypeRefresh, Domain: DomainMarketByPrice, ID: 3, HasKey: true, Key: Key{Name: "X", ServiceID: 1, HasServiceID: true},
			HasState: true, State: State{StreamOpen, DataOk, CodeNone, "ok"}, Qos: &Qos{Timeliness: "Realtime", Rate: "TickByTick"},
			NotComplete: true, PartNumber: 1, Map: Raw(`{"KeyType":"Buffer","Entries":[]}`), HasClearCache: true, ClearCache: true},
		{Type: TypeUpdate, Domain: DomainMarketPrice, ID: 4, UpdateType: UpdateTrade, SeqNumber: 9, HasSeqNumber: true, HasFields: true,
			Fields: []Field{Float("BID", 1), Int("B", -3), String("S", "a\"\u00e9"), Null("N"), {Name: "T", Kind: KindBool, Int: 1}, RawField("R", Raw(`[1,2]`))}},
		{Type: TypeStatus, Domain: DomainMarketPrice, ID: 5, HasState: true, State: State{StreamClosedRecover, DataSuspect, CodeTimeout, "t"}},
		{Type: TypeClose, Domain: DomainMarketPrice, ID: 6, IDs: []int64{6, 7}},
		{Type: TypePost, Domain: DomainMarketPrice, ID: 1, Ack: true, PostID: 3, HasPostID: true, Message: Raw(`{"ID":0,"Type":"Update"}`), PostUserInfo: Raw(`{"Address":"1.2.3.4","UserID":1}`)},
		{Type: TypeAck, Domain: DomainMarketPrice, ID: 1, AckID: 3, NakCode: NakDeniedBySrc, HasNakCode: true, Text: "no"},
		{Type: TypeGeneric, Domain: DomainLogin, ID: 1, SecSeqNumber: 4, Elements: Raw(`{"X":1}`), Other: Raw(`{"Unknown":[1]}`)},
		{Type: TypeError, Domain: DomainMarketPrice, ID: 0, Text: "JSON parser error: 3", Debug: Raw(`{"File":"x"}`)},
		{Type: TypePing, Domain: DomainMarketPrice},
		{Type: TypePong, Domain: DomainMarketPrice},
	}
	var fb FrameBuilder
	for i := range msgs {
		if !fb.Add(&msgs[i], 0) {
			t.Fatal("Add refused without limit")
		}
	}
	var d Decoder
	got, err := d.Decode(fb.Frame())
	if err != nil {
		t.Fatalf("%v\n%s", err, fb.Frame())
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d msgs", len(got))
	}
	for i := range msgs {
		g := got[i]
		g.Raw = nil
		if !msgEqual(&g, &msgs[i]) {
			t.Errorf("msg %d:\n got %+v\nwant %+v", i, g, msgs[i])
		}
	}
}

// msgEqual compares messages treating nil and empty slices alike.
func msgEqual(a, b *Msg) bool {
	norm := func(m Msg) Msg {
		m.Raw = nil
		if len(m.Fields) == 0 {
			m.Fields = nil
		}
		if len(m.IDs) == 0 {
			m.IDs = nil
		}
		if len(m.View) == 0 {
			m.View = nil
		}
		if len(m.ViewFIDs) == 0 {
			m.ViewFIDs = nil
		}
		if len(m.Key.Names) == 0 {
			m.Key.Names = nil
		}
		for i := range m.Fields {
			if m.Fields[i].Str == nil && (m.Fields[i].Kind == KindString) {
				m.Fields[i].Str = []byte{}
			}
		}
		return m
	}
	x, y := norm(*a), norm(*b)
	return reflect.DeepEqual(x, y)
}

func TestFrameBuilder(t *testing.T) {
	var fb FrameBuilder
	if string(fb.Frame()) != "[]" || fb.Count() != 0 {
		t.Fatal("empty builder")
	}
	ping := Msg{Type: TypePing}
	if !fb.Add(&ping, 5) { // bigger than max, but the first message always fits
		t.Fatal("first message refused")
	}
	if fb.Add(&ping, 20) {
		t.Fatal("second message over the limit accepted")
	}
	if got := string(fb.Frame()); got != `[{"Type":"Ping"}]` {
		t.Fatalf("frame %s", got)
	}
	if !fb.Add(&ping, 33) || string(fb.Frame()) != `[{"Type":"Ping"},{"Type":"Ping"}]` || len(fb.Frame()) != 33 {
		t.Fatalf("frame %s", fb.Frame())
	}
	fb.Reset()
	pong := Msg{Type: TypePong}
	fb.Add(&pong, 0)
	if string(fb.Frame()) != `[{"Type":"Pong"}]` || fb.Count() != 1 {
		t.Fatalf("after reset %s", fb.Frame())
	}
}

// An empty (non-nil) Raw payload is left out: written, "Map": with no
// value would make the frame invalid JSON.
func TestAppendMsgEmptyRawOmitted(t *testing.T) {
	m := Msg{ID: 3, Type: TypeUpdate, Domain: DomainMarketByPrice, Key: Key{Name: "TRI.N"}, Map: Raw{}, Elements: Raw{}}
	b := AppendMsg(nil, &m)
	if !json.Valid(b) || bytes.Contains(b, []byte(`"Map"`)) || bytes.Contains(b, []byte(`"Elements"`)) {
		t.Fatalf("encoded %s", b)
	}
}
