package trjson

import (
	"strings"
	"testing"
)

// boolKeys are the boolean attributes of tr_json2 with the Msg field
// each sets: get returns the attribute's value as the peer meant it.
var boolKeys = []struct {
	key string
	get func(m *Msg) bool
}{
	{"Streaming", func(m *Msg) bool { return !m.NoStreaming }},
	{"Refresh", func(m *Msg) bool { return !m.NoRefresh }},
	{"Pause", func(m *Msg) bool { return m.Pause }},
	{"Private", func(m *Msg) bool { return m.Private }},
	{"Qualified", func(m *Msg) bool { return m.Qualified }},
	{"Ack", func(m *Msg) bool { return m.Ack }},
	{"KeyInUpdates", func(m *Msg) bool { return !m.NoKeyInUpdates }},
	{"ConfInfoInUpdates", func(m *Msg) bool { return m.ConfInfoInUpdate }},
	{"Solicited", func(m *Msg) bool { return !m.NotSolicited }},
	{"Complete", func(m *Msg) bool { return !m.NotComplete }},
	{"ClearCache", func(m *Msg) bool { return m.ClearCache }},
	{"DoNotCache", func(m *Msg) bool { return m.DoNotCache }},
	{"DoNotConflate", func(m *Msg) bool { return m.DoNotConflate }},
	{"DoNotRipple", func(m *Msg) bool { return m.DoNotRipple }},
	{"Discardable", func(m *Msg) bool { return m.Discardable }},
	{"Qos.Dynamic", func(m *Msg) bool { return m.Qos != nil && m.Qos.Dynamic }},
	{"WorstQos.Dynamic", func(m *Msg) bool { return m.WorstQos != nil && m.WorstQos.Dynamic }},
}

// boolFrame is a request whose attribute key (or Qos member) is v.
func boolFrame(key, v string) string {
	if obj, member, ok := strings.Cut(key, "."); ok {
		return `{"ID":4,"Key":{"Name":"A"},"` + obj + `":{"Timeliness":"Realtime","Rate":"TickByTick","` + member + `":` + v + `}}`
	}
	return `{"ID":4,"Key":{"Name":"A"},"` + key + `":` + v + `}`
}

// TestBoolPrimitives: like LSEG's JSON converter, every boolean key takes
// any JSON primitive; exactly `true` and `1` are true, all other
// primitives are false, and strings, objects and arrays are type errors.
func TestBoolPrimitives(t *testing.T) {
	values := []struct {
		v    string
		want bool
	}{
		{"true", true}, {"1", true},
		{"false", false}, {"0", false}, {"null", false}, {"2", false}, {"-1", false},
		{"10", false}, {"1.0", false}, {"1e0", false}, {"-0", false}, {"0.5", false},
	}
	var d Decoder
	for _, k := range boolKeys {
		for _, v := range values {
			frame := boolFrame(k.key, v.v)
			ms, err := d.Decode([]byte(frame))
			if err != nil {
				t.Fatalf("%s: %v", frame, err)
			}
			m := &ms[0]
			if m.Err != nil {
				t.Errorf("%s: %v", frame, m.Err)
				continue
			}
			if got := k.get(m); got != v.want {
				t.Errorf("%s: %s = %v, want %v", frame, k.key, got, v.want)
			}
		}
		name := k.key[strings.LastIndexByte(k.key, '.')+1:]
		for _, bad := range []struct{ v, tok string }{{`"true"`, "STRING"}, {`"1"`, "STRING"}, {`{}`, "OBJECT"}, {`[true]`, "ARRAY"}} {
			frame := boolFrame(k.key, bad.v)
			ms, err := d.Decode([]byte(frame))
			if err != nil {
				t.Fatalf("%s: %v", frame, err)
			}
			e := ms[0].Err
			want := "JSON Converter Token Type error: Expected 'PRIMITIVE' for key '" + name + "' Received '" + bad.tok + "'"
			if e == nil || e.Text != want || e.ID != 4 || e.Offset != strings.LastIndex(frame, bad.v) {
				t.Errorf("%s: got %+v, want %q at %d", frame, e, want, strings.LastIndex(frame, bad.v))
			}
		}
	}
}

// TestBoolPrimitivesReencoded: a message decoded from 1/0 is written back
// with true/false (the SDK and the emulator always send the JSON literals).
func TestBoolPrimitivesReencoded(t *testing.T) {
	var d Decoder
	ms, err := d.Decode([]byte(`{"ID":4,"Key":{"Name":"A"},"Streaming":0,"Pause":1,"Private":1,"Qos":{"Timeliness":"Realtime","Rate":"TickByTick","Dynamic":1}}`))
	if err != nil || ms[0].Err != nil {
		t.Fatal(err, ms)
	}
	out := string(AppendMsg(nil, &ms[0]))
	for _, want := range []string{`"Streaming":false`, `"Pause":true`, `"Private":true`, `"Dynamic":true`} {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
	if strings.Contains(out, `":1`) || strings.Contains(out, `":0`) {
		t.Errorf("numeric boolean written back: %s", out)
	}
}

// TestBoolPrimitivesNoAllocs: numeric booleans keep the decoder at zero
// allocations per frame in steady state.
func TestBoolPrimitivesNoAllocs(t *testing.T) {
	var b strings.Builder
	b.WriteString(`[`)
	for i, k := range boolKeys {
		if strings.Contains(k.key, ".") {
			continue
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(boolFrame(k.key, []string{"1", "0", "true", "null"}[i%4]))
	}
	b.WriteString(`,` + boolFrame("Qos.Dynamic", "1") + `]`)
	frame := []byte(b.String())
	var d Decoder
	if _, err := d.Decode(frame); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(50, func() {
		ms, err := d.Decode(frame)
		if err != nil || ms[0].Err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%.1f allocs per frame", n)
	}
}
