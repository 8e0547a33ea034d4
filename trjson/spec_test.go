package trjson

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// specSamples returns the JSON samples of the protocol specification,
// extracted verbatim (page breaks and "..." elisions removed) into
// testdata/spec, keyed by file name: <line>_<section>_<title>.json.
func specSamples(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/spec/*.json")
	if err != nil || len(files) < 50 {
		t.Fatalf("spec samples missing: %v (%d files)", err, len(files))
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func specSample(t *testing.T, prefix string) []byte {
	t.Helper()
	for name, b := range specSamples(t) {
		if strings.HasPrefix(name, prefix) {
			return b
		}
	}
	t.Fatalf("no spec sample %s", prefix)
	return nil
}

func TestSpecSamplesDecode(t *testing.T) {
	var d Decoder
	for name, b := range specSamples(t) {
		if !json.Valid(b) {
			t.Fatalf("%s: sample is not valid JSON", name)
		}
		ms, err := d.Decode(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for i := range ms {
			if ms[i].Err != nil {
				t.Logf("%s[%d]: %v", name, i, ms[i].Err)
			}
		}
	}
}

func decodeSample(t *testing.T, prefix string) []Msg {
	t.Helper()
	var d Decoder
	ms, err := d.Decode(specSample(t, prefix))
	if err != nil {
		t.Fatalf("%s: %v", prefix, err)
	}
	return ms
}

// TestSpecSamplesValid: every complete message sample of the spec is
// valid tr_json2 except the §22 error triggers.
func TestSpecSamplesValid(t *testing.T) {
	var d Decoder
	for name, b := range specSamples(t) {
		ms, err := d.Decode(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(name, "_22.") && !strings.Contains(name, "22.6") {
			continue
		}
		for i := range ms {
			if ms[i].Err != nil {
				t.Errorf("%s[%d]: %v", name, i, ms[i].Err)
			}
		}
	}
	// Fragments (map/vector entries shown alone) are valid JSON objects.
	frags, _ := filepath.Glob("testdata/spec-fragments/*.json")
	for _, f := range frags {
		b, _ := os.ReadFile(f)
		if _, err := d.Decode(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSpecLoginResponse(t *testing.T) {
	ms := decodeSample(t, "0879_4.3.2")
	m := &ms[0]
	if m.Type != TypeRefresh || m.Domain != DomainLogin || m.ID != 1 || m.Key.Name != "user" ||
		m.State != (State{StreamOpen, DataOk, CodeNone, "Login accepted by host."}) {
		t.Fatalf("%+v", m)
	}
	els, err := DecodeElements(m.Elements)
	if err != nil || len(els) != 2 || els[0].Name != "MaxMsgSize" || els[0].Int != 61440 || els[1].Name != "PingTimeout" || els[1].Int != 30 {
		t.Fatalf("Elements %v %+v", err, els)
	}
	kels, err := DecodeElements(m.Key.Elements)
	if err != nil || len(kels) != 14 || kels[7].Name != "SupportBatchRequests" || kels[7].Int != 7 || string(kels[1].Str) != "256" {
		t.Fatalf("Key.Elements %v %+v", err, kels)
	}
}

func TestSpecItemResponseQOS(t *testing.T) {
	// §3.3.4 spells the key "QOS" (errata §19): accepted.
	m := &decodeSample(t, "0624_3.3.4")[0]
	if m.Qos == nil || m.Qos.Timeliness != "Realtime" || m.Qos.Rate != "TickByTick" {
		t.Fatalf("Qos %+v", m.Qos)
	}
	if f := m.Field("BID_TICK_1"); f == nil || string(f.Str) != "⇩" {
		t.Fatalf("BID_TICK_1 %+v", f)
	}
	if f := m.Field("BID"); f == nil || f.Kind != KindFloat || f.Float != 0.01 {
		t.Fatalf("BID %+v", f)
	}
	if f := m.Field("ASK"); f == nil || f.Kind != KindInt || f.Int != 9000 {
		t.Fatalf("ASK %+v", f)
	}
	if f := m.Field("BID_NET_CH"); f == nil || !f.IsBlank() {
		t.Fatalf("BID_NET_CH %+v", f)
	}
	// Re-encoded, the key is "Qos".
	out := string(AppendMsg(nil, m))
	if !strings.Contains(out, `"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"}`) || strings.Contains(out, "QOS") {
		t.Fatalf("%s", out)
	}
}

func TestSpecBatch(t *testing.T) {
	req := &decodeSample(t, "1463_6.3.3")[0]
	if req.ID != 2 || len(req.Key.Names) != 3 || req.Key.Names[0] != "TRI.N" || req.Err != nil {
		t.Fatalf("batch request %+v", req)
	}
	st := &decodeSample(t, "1485_6.3.4")[0]
	if st.Type != TypeStatus || st.ID != 2 || st.State.Stream != StreamClosed || st.State.Data != DataOk {
		t.Fatalf("batch status %+v", st)
	}
	cl := &decodeSample(t, "1868_6.3.9")[0]
	if cl.Type != TypeClose || len(cl.IDs) != 3 || cl.IDs[0] != 3 || cl.ID != 3 || cl.Err != nil {
		t.Fatalf("batch close %+v", cl)
	}
	if st := &decodeSample(t, "1888_6.3.10")[0]; st.ID != 3 || st.Type != TypeStatus {
		t.Fatalf("batch close response %+v", st)
	}
}

func TestSpecPostAndAck(t *testing.T) {
	p := &decodeSample(t, "2420_7.3.10")[0]
	if p.Type != TypePost || !p.Ack || p.PostID != 1 || !p.HasPostID || p.ID != 2 || p.Err != nil {
		t.Fatalf("post %+v", p)
	}
	var d Decoder
	inner, err := d.Decode(p.Message)
	if err != nil || inner[0].Type != TypeUpdate || inner[0].Field("BID").Float != 45.55 {
		t.Fatalf("inner %v %+v", err, inner)
	}
	a := &decodeSample(t, "2455_7.3.11")[0]
	if a.Type != TypeAck || a.AckID != 1 || a.ID != 2 || a.Text != "All is well" {
		t.Fatalf("ack %+v", a)
	}
}

func TestSpecView(t *testing.T) {
	m := &decodeSample(t, "2587_8.3.3")[0]
	if len(m.View) != 3 || m.View[2] != "BIDSIZE" {
		t.Fatalf("%+v", m.View)
	}
}

func TestSpecMarketByPrice(t *testing.T) {
	m := &decodeSample(t, "5905_31.2.2")[0]
	if m.Domain != DomainMarketByPrice || m.Qos == nil || m.Qos.RateInfo != 1000 || m.PermData != "AwO9META" || m.SeqNumber != 63888 {
		t.Fatalf("%+v", m)
	}
	mp, err := DecodeMap(m.Map)
	if err != nil {
		t.Fatal(err)
	}
	if mp.KeyType != "Buffer" || mp.CountHint != 148 || !mp.HasSummary || len(mp.Entries) < 2 {
		t.Fatalf("%+v", mp)
	}
	if mp.Entries[0].Key != "50.510000A" || mp.Entries[0].Action != MapAdd || mp.Entries[0].Fields[0].Float != 50.51 {
		t.Fatalf("entry 0 %+v", mp.Entries[0])
	}
	// Re-encoding gives the same map back.
	back, err := DecodeMap(AppendMap(nil, mp))
	if err != nil || len(back.Entries) != len(mp.Entries) || back.Entries[1].Key != mp.Entries[1].Key {
		t.Fatalf("%v %+v", err, back)
	}
	u := &decodeSample(t, "8042_35.2.3")[0]
	smp, err := DecodeMap(u.Map)
	if err != nil || u.UpdateType != UpdateMarketDigest || len(smp.Summary) != 3 || smp.Entries != nil {
		t.Fatalf("%v %+v", err, smp)
	}
}

func TestSpecYieldCurveNulStripped(t *testing.T) {
	m := &decodeSample(t, "7392_34.2.2")[0]
	if m.State.Text != "Item Refresh Completed" || !m.Qos.Dynamic || !m.HasClearCache || m.ClearsCache() {
		t.Fatalf("%q %+v", m.State.Text, m)
	}
	// Vectors inside Fields stay raw.
	for _, f := range m.Fields {
		if f.Kind == KindRaw && !json.Valid(f.Str) {
			t.Fatalf("%s: %s", f.Name, f.Str)
		}
	}
}

// TestSpecErrors decodes the SENT messages of §22 and checks the error
// the ADS answers with (checklist §13).
func TestSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		sample string
		frame  string
		id     int64
		text   string
		token  string // the offending token, for Offset; "" = none (-1)
	}{
		{sample: "3554_22.3", id: 0, text: "JSON Converter Token Type error: Expected 'PRIMITIVE' for key 'ID' Received 'STRING'", token: `"2"`},
		{sample: "3592_22.4", id: 2, text: "JSON Unexpected Value. Received 'ExtraInfo' for key 'Type'", token: `"ExtraInfo"`},
		{sample: "3631_22.5", id: 0, text: "JSON Missing required key 'ID'"},
		// §22.8 with the commas the sample lacks (errata §19).
		{frame: `{"ID":2,"Key":{"Name":"TRI.N"},"Map":{"Entries":[{"Action":"Add","Fields":{"ORDER_PRC":326.3,"ORDER_SIDE":1,
			"ORDER_SIZE":100,"QUOTIM_MS":78398067},"Key":{"Type":"Int","Length":3,"Data":[1,2,"3"]}}],"KeyType":"Array"}}`,
			id: 2, text: "JSON Mixed Types in OMM Array: Received 'PRIMITIVE' and 'STRING' for key 'Data'", token: `"3"`},
		{frame: `{"ID":5,"Type":"Refresh"}`, id: 5},
		{frame: `{"ID":5}`, id: 5, text: "JSON Missing required key 'Key'"},
		{frame: `{"ID":5,"Type":"Close"}`, id: 5},
		{frame: `[{"Type":"Ping"}]`, id: 0},
		{frame: `{"ID":4,"Key":"TRI.N"}`, id: 4, text: "JSON Converter Token Type error: Expected 'OBJECT' for key 'Key' Received 'STRING'", token: `"TRI.N"`},
		{frame: `{"ID":4,"Key":{"Name":5}}`, id: 4, text: "JSON Converter Token Type error: Expected 'STRING' for key 'Name' Received 'PRIMITIVE'", token: `5`},
		{frame: `{"ID":4,"Key":{"Name":"A"},"Streaming":"false"}`, id: 4, text: "JSON Converter Token Type error: Expected 'PRIMITIVE' for key 'Streaming' Received 'STRING'", token: `"false"`},
		// A numeric boolean is not an error: 1 is true, other primitives false (TestBoolPrimitives).
		{frame: `{"ID":4,"Key":{"Name":"A"},"Streaming":1}`, id: 4},
		{frame: `{"ID":4,"Domain":"Nope","Key":{"Name":"A"}}`, id: 4, text: "JSON Unexpected Value. Received 'Nope' for key 'Domain'", token: `"Nope"`},
		{frame: `{"ID":4,"Domain":99,"Key":{"Name":"A"}}`, id: 4, text: "JSON Unexpected Value. Received '99' for key 'Domain'", token: `99`},
		{frame: `{"ID":4,"Type":"Update","UpdateType":["x"]}`, id: 4, text: "JSON Converter Token Type error: Expected 'STRING' for key 'UpdateType' Received 'ARRAY'", token: `["x"]`},
		{frame: `{"ID":[4,5],"Key":{"Name":"A"}}`, id: 0, text: "JSON Converter Token Type error: Expected 'PRIMITIVE' for key 'ID' Received 'ARRAY'", token: `[4,5]`},
		{frame: `{"ID":2.5,"Type":"Close"}`, id: 0, text: "JSON Unexpected Value. Received '2.5' for key 'ID'", token: `2.5`},
		{frame: `{"ID":{},"Type":"Close"}`, id: 0, text: "JSON Converter Token Type error: Expected 'PRIMITIVE' for key 'ID' Received 'OBJECT'", token: `{}`},
		{frame: `{"ID":3,"Type":"Refresh","State":{"Stream":"Opened","Data":"Ok"}}`, id: 3, text: "JSON Unexpected Value. Received 'Opened' for key 'Stream'", token: `"Opened"`},
		{frame: `{"ID":3,"Type":"Refresh","Fields":[1]}`, id: 3, text: "JSON Converter Token Type error: Expected 'OBJECT' for key 'Fields' Received 'ARRAY'", token: `[1]`},
		{frame: `{"ID":3,"Type":"Update","Fields":{"A":{"Type":"Real","Data":[1.5,"x"]}}}`, id: 3, text: "JSON Mixed Types in OMM Array: Received 'PRIMITIVE' and 'STRING' for key 'Data'", token: `"x"`},
		// Arbitrary JSON in a Json container is not checked as an OMM Array.
		{frame: `{"ID":3,"Type":"Generic","Json":{"Data":[1,"x"]}}`, id: 3},
	} {
		frame := []byte(tc.frame)
		if tc.sample != "" {
			frame = specSample(t, tc.sample)
		}
		var d Decoder
		ms, err := d.Decode(frame)
		if err != nil {
			t.Errorf("%s%s: %v", tc.sample, tc.frame, err)
			continue
		}
		e := ms[0].Err
		if tc.text == "" {
			if e != nil {
				t.Errorf("%s%s: unexpected %v", tc.sample, tc.frame, e)
			}
			continue
		}
		if e == nil {
			t.Errorf("%s%s: no error, want %q", tc.sample, tc.frame, tc.text)
			continue
		}
		wantOff := -1
		if tc.token != "" {
			wantOff = strings.LastIndex(string(frame), tc.token)
		}
		if e.Text != tc.text || e.ID != tc.id || e.Offset != wantOff {
			t.Errorf("%s%s:\n got %d %q @%d\nwant %d %q @%d", tc.sample, tc.frame, e.ID, e.Text, e.Offset, tc.id, tc.text, wantOff)
		}
	}
}

// TestSpecUnknownKeyKept: §22.6's unknown key is not an error by default
// and is kept in Other, and written back by AppendMsg.
func TestSpecUnknownKeyKept(t *testing.T) {
	m := &decodeSample(t, "3669_22.6")[0]
	if m.Err != nil || string(m.Other) != `{"PlaceHolder":"1"}` {
		t.Fatalf("%v %q", m.Err, m.Other)
	}
	if out := string(AppendMsg(nil, m)); out != `{"ID":2,"Key":{"Name":"TRI.N"},"PlaceHolder":"1"}` {
		t.Fatal(out)
	}
}

// TestSpecRoundTrip re-encodes every spec message and decodes it again.
func TestSpecRoundTrip(t *testing.T) {
	var d1, d2 Decoder
	for name, b := range specSamples(t) {
		ms, err := d1.Decode(b)
		if err != nil {
			t.Fatal(name, err)
		}
		var fb FrameBuilder
		for i := range ms {
			fb.Add(&ms[i], 0)
		}
		back, err := d2.Decode(fb.Frame())
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, fb.Frame())
		}
		for i := range ms {
			if ms[i].Err != nil {
				continue
			}
			if !msgEqual(&ms[i], &back[i]) {
				t.Errorf("%s[%d]:\n got %+v\nwant %+v", name, i, back[i], ms[i])
			}
		}
	}
}
