package kafkabus

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ParseKey accepts what AppendKey writes and rejects the rest with
// ErrRecord; a parsed key writes back to a key that parses the same.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte("ELEKTRON_DD|TRI.N"))
	f.Add([]byte("ELEKTRON_DD|VOD.L|MarketByPrice"))
	f.Add([]byte("S|A|B|MarketByOrder"))
	f.Add([]byte("nopipe"))
	f.Add([]byte("S|"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error %v does not wrap ErrRecord", err)
			}
			return
		}
		k2, err := ParseKey(AppendKey(nil, k))
		if err != nil || k2 != k {
			t.Fatalf("%q: parsed %+v, round trip %+v (%v)", b, k, k2, err)
		}
	})
}

// A tick record of any content is applied or counted malformed; it never
// panics and the subscriber stays usable.
func FuzzTickRecord(f *testing.F) {
	f.Add([]byte("ELEKTRON_DD|TRI.N"), []byte(`{"ID":5,"Type":"Refresh","Key":{"Name":"TRI.N"},"State":{"Stream":"Open","Data":"Ok"},"SeqNumber":10,"Fields":{"BID":1.5}}`), []byte("Open/Ok/None"), []byte("10"), []byte("1700000000000000000"))
	f.Add([]byte("ELEKTRON_DD|TRI.N"), []byte(`{"ID":5,"Type":"Update","SeqNumber":12,"Fields":{"BID":1.75,"DSPLY_NAME":"X"}}`), []byte("Open/Ok/None"), []byte("12"), []byte("1"))
	f.Add([]byte("S|X|MarketByPrice"), []byte(`{"ID":5,"Type":"Status","State":{"Stream":"Closed","Data":"Suspect"}}`), []byte("Closed/Suspect/NotFound"), []byte(""), []byte("-1"))
	f.Add([]byte("S|X"), []byte(`[{"Type":"Ping"}]`), []byte("Open/x"), []byte("x"), []byte("x"))
	f.Fuzz(func(t *testing.T, key, value, state, seq, recv []byte) {
		s := &Subscriber{items: map[ItemKey]*subItem{}, log: logger{quietLogger(), new(atomic.Int64)}}
		var hs []kgo.RecordHeader
		for _, h := range []kgo.RecordHeader{{Key: HeaderState, Value: state}, {Key: HeaderSeq, Value: seq}, {Key: HeaderReceived, Value: recv}} {
			if len(h.Value) > 0 {
				hs = append(hs, h)
			}
		}
		for i := 0; i < 2; i++ { // twice: the second meets the first's state
			r := &kgo.Record{Key: key, Value: value, Headers: hs}
			m := s.applyTick(r)
			st := s.Stats()
			if m == nil && st.Malformed == 0 && st.Duplicates == 0 && st.Covered == 0 {
				t.Fatalf("record neither delivered nor counted: %+v", st)
			}
		}
		_ = s.Images()
	})
}
