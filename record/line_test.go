package record

import (
	"bytes"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

func TestLineRoundTrip(t *testing.T) {
	st := trjson.State{Stream: trjson.StreamClosedRecover, Data: trjson.DataSuspect, Code: trjson.CodeNone, Text: "a\nb"}
	for _, line := range [][]byte{
		appendMessageLine(nil, 12, "TRI.N", []byte(`{"ID":2,"Type":"Update"}`)),
		appendMessageLine(nil, -5, "quo\"te\\ é", []byte(`{}`)),
		appendStateLine(nil, 7, "X", st),
		appendGapLine(nil, 9, 1234),
	} {
		var r Record
		if err := parseLine(bytes.TrimSuffix(line, []byte("\n")), &r, map[string]string{}); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var again []byte
		switch r.Kind {
		case KindMessage:
			again = appendMessageLine(nil, r.Time, r.Name, r.Msg)
		case KindState:
			if r.State != st {
				t.Fatalf("state %+v", r.State)
			}
			again = appendStateLine(nil, r.Time, r.Name, r.State)
		case KindGap:
			again = appendGapLine(nil, r.Time, r.Dropped)
		}
		if !bytes.Equal(again, line) {
			t.Fatalf("re-encoded %s as %s", line, again)
		}
	}
}

func TestBadLines(t *testing.T) {
	for _, l := range []string{``, `{}`, `{"t":1}`, `{"t":x,"r":"A","m":{}}`, `{"t":1,"r":"A","m":[1]}`, `{"t":1,"r":"A","m":{"a":}`,
		`{"t":1,"r":"A,"m":{}}`, `{"t":1,"gap":-1}`, `{"t":1,"r":"A","s":{"Stream":"Nope","Data":"Ok","Code":"None"}}`, `{"t":1,"r":"A","q":1}`} {
		var r Record
		if err := parseLine([]byte(l), &r, map[string]string{}); err == nil {
			t.Errorf("%s: accepted as %+v", l, r)
		}
	}
}

// FuzzParseLine: any line either parses into a record that encodes back
// to an equivalent line, or is refused; never a panic.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"t":1,"r":"TRI.N","m":{"ID":2,"Fields":{"BID":1.5}}}`))
	f.Add([]byte(`{"t":1,"r":"A\"B","s":{"Stream":"Open","Data":"Suspect","Code":"None","Text":"x"}}`))
	f.Add([]byte(`{"t":1,"gap":3}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var r Record
		if parseLine(line, &r, map[string]string{}) != nil {
			return
		}
		var again []byte
		switch r.Kind {
		case KindMessage:
			again = appendMessageLine(nil, r.Time, r.Name, r.Msg)
		case KindState:
			again = appendStateLine(nil, r.Time, r.Name, r.State)
		case KindGap:
			again = appendGapLine(nil, r.Time, r.Dropped)
		default:
			t.Fatalf("kind %v", r.Kind)
		}
		var r2 Record
		if err := parseLine(bytes.TrimSuffix(again, []byte("\n")), &r2, map[string]string{}); err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", again, err)
		}
		if r2.Kind != r.Kind || r2.Time != r.Time || r2.Name != r.Name || !bytes.Equal(r2.Msg, r.Msg) || r2.State != r.State || r2.Dropped != r.Dropped {
			t.Fatalf("%q → %+v → %q → %+v", line, r, again, r2)
		}
	})
}
