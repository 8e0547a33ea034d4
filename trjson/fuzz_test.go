package trjson

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"unicode/utf8"
)

// addSeeds adds the spec samples and the benchmark frames to a fuzzer's
// corpus (besides testdata/fuzz/<FuzzName>).
func addSeeds(f *testing.F) {
	for _, b := range specSamples(f) {
		f.Add(b)
	}
	for _, c := range benchCases() {
		f.Add(c.frame)
	}
}

// frameShape reports whether v (decoded by encoding/json) is an object or
// an array of objects.
func frameShape(data []byte) bool {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 1e400 is valid JSON, but not a float64
	if err := dec.Decode(&v); err != nil {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		return true
	case []any:
		for _, e := range v {
			if _, ok := e.(map[string]any); !ok {
				return false
			}
		}
		return true
	}
	return false
}

// FuzzDecode: Decode never panics and accepts exactly the frames that
// encoding/json accepts and that are an object or an array of objects.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		ms, err := d.Decode(data)
		valid := json.Valid(data)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error type %T", err)
			}
			if valid && frameShape(data) {
				t.Fatalf("rejected a valid frame: %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted invalid JSON (%d msgs)", len(ms))
		}
		if !frameShape(data) {
			t.Fatal("accepted a frame that is not an object or an array of objects")
		}
		for i := range ms {
			if !json.Valid(ms[i].Raw) {
				t.Fatalf("Raw of msg %d is not JSON: %q", i, ms[i].Raw)
			}
			if out := AppendMsg(nil, &ms[i]); !json.Valid(out) {
				t.Fatalf("AppendMsg gave invalid JSON: %s", out)
			}
			if e := ms[i].Err; e != nil && (e.Offset < -1 || e.Offset >= len(data)) {
				t.Fatalf("error offset %d out of range", e.Offset)
			}
		}
	})
}

func hasNonFinite(fs []Field) bool {
	for _, f := range fs {
		if f.Kind == KindFloat && (math.IsInf(f.Float, 0) || math.IsNaN(f.Float)) {
			return true
		}
	}
	return false
}

// FuzzRoundTrip: decode → AppendMsg → decode gives the same Msg (for
// messages without Err; non-finite floats become the §10 strings and
// invalid UTF-8 becomes U+FFFD, so inputs with those are skipped).
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return
		}
		var d1, d2 Decoder
		ms, err := d1.Decode(data)
		if err != nil {
			return
		}
		for i := range ms {
			m := &ms[i]
			if m.Err != nil || hasNonFinite(m.Fields) {
				continue
			}
			out := AppendMsg(nil, m)
			back, err := d2.Decode(out)
			if err != nil {
				t.Fatalf("re-decode: %v\n%s", err, out)
			}
			if back[0].Err != nil {
				t.Fatalf("re-decoded message has error %v\n%s", back[0].Err, out)
			}
			if !msgEqual(m, &back[0]) {
				t.Fatalf("round trip differs\n in: %s\nout: %s\n got %+v\nwant %+v", m.Raw, out, back[0], *m)
			}
		}
	})
}

func normMap(mp *Map) {
	if len(mp.Summary) == 0 {
		mp.Summary = nil
	}
	if len(mp.Entries) == 0 {
		mp.Entries = nil
	}
	for i := range mp.Entries {
		e := &mp.Entries[i]
		if len(e.Fields) == 0 || e.Action == MapDelete {
			e.Fields = nil
		}
		if e.Action == MapDelete {
			e.Elements = false
		}
	}
}

func mapNonFinite(mp *Map) bool {
	if hasNonFinite(mp.Summary) {
		return true
	}
	for _, e := range mp.Entries {
		if hasNonFinite(e.Fields) {
			return true
		}
	}
	return false
}

// FuzzDecodeMap: DecodeMap never panics, and what it accepts survives
// AppendMap → DecodeMap.
func FuzzDecodeMap(f *testing.F) {
	var d Decoder
	for _, b := range specSamples(f) {
		ms, _ := d.Decode(b)
		for i := range ms {
			if ms[i].Map != nil {
				f.Add([]byte(ms[i].Map))
			}
		}
	}
	f.Add([]byte(`{"KeyType":"Buffer","Summary":{"Fields":{"CURRENCY":"CAD"}},"CountHint":2,"Entries":[{"Action":"Add","Key":"NTAuNTEwMDAwQQ==","Fields":{"ORDER_PRC":50.51,"ORDER_SIDE":"ASK","NO_ORD":1,"ACC_SIZE":100}},{"Action":"Delete","Key":"NjEuMDAwMDAwQQ=="}]}`))
	f.Add([]byte(`{"KeyType":"UInt","Summary":{"Elements":{"A":{"Type":"Real","Data":1.5}}},"Entries":[{"Action":"Update","Key":4,"Elements":{"Name":"x"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		mp, err := DecodeMap(data)
		if err != nil || isNull(data) { // null or empty input: an empty map, documented
			return
		}
		if !json.Valid(data) {
			t.Fatal("accepted invalid JSON")
		}
		if !utf8.Valid(data) || mapNonFinite(mp) {
			return
		}
		out := AppendMap(nil, mp)
		if !json.Valid(out) {
			t.Fatalf("AppendMap gave invalid JSON: %s", out)
		}
		back, err := DecodeMap(out)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, out)
		}
		normMap(mp)
		normMap(back)
		if !reflect.DeepEqual(mp, back) {
			t.Fatalf("round trip differs\n in: %s\nout: %s\n got %+v\nwant %+v", data, out, back, mp)
		}
	})
}
