package record

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testMsg is one message of a synthetic recording.
type testMsg struct {
	t    int64
	name string
	raw  []byte
}

// synthMsgs makes n Market Price updates over names, step apart in time.
func synthMsgs(n int, names []string, t0 time.Time, step time.Duration) []testMsg {
	out := make([]testMsg, n)
	for i := range out {
		name := names[i%len(names)]
		m := trjson.Msg{Type: trjson.TypeUpdate, ID: int64(2 + i%len(names)), UpdateType: trjson.UpdateQuote,
			SeqNumber: int64(i/len(names)*16 + 16), HasSeqNumber: true, HasFields: true,
			Fields: []trjson.Field{trjson.Float("BID", 100+float64(i%977)/100), trjson.Float("ASK", 100.5+float64(i%613)/100),
				trjson.Int("BIDSIZE", int64(i%50)), trjson.String("ASK_TIME", fmt.Sprintf("12:%02d:%02d.%03d", i/60000%60, i/1000%60, i%1000))}}
		if i%len(names) == 0 {
			m.HasKey, m.Key = true, trjson.Key{Name: name, Service: "ELEKTRON_DD"}
		}
		out[i] = testMsg{t: t0.Add(time.Duration(i) * step).UnixNano(), name: name, raw: trjson.AppendMsg(nil, &m)}
	}
	return out
}

// feed hands msgs to w as the SDK would, reusing one Msg.
func feed(w *Writer, msgs []testMsg) {
	var m consumer.Msg
	for i := range msgs {
		m = consumer.Msg{Type: trjson.TypeUpdate, Name: msgs[i].name, Raw: msgs[i].raw, Received: time.Unix(0, msgs[i].t)}
		w.Handle(&m)
	}
}

// writeRecording records msgs to a new file and returns its path.
func writeRecording(t testing.TB, msgs []testMsg, opts Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.ert.zst")
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	feed(w, msgs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll returns the records of a file and the error that ended reading.
func readAll(t testing.TB, rd *Reader, from int64) ([]testMsg, error) {
	t.Helper()
	var out []testMsg
	it := rd.Iter(from)
	for it.Next() {
		r := it.Record()
		if r.Kind != KindMessage {
			continue
		}
		out = append(out, testMsg{t: r.Time, name: r.Name, raw: append([]byte(nil), r.Msg...)})
	}
	return out, it.Err()
}

func sameMsgs(t *testing.T, got, want []testMsg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, wrote %d", len(got), len(want))
	}
	for i := range got {
		if got[i].t != want[i].t || got[i].name != want[i].name || string(got[i].raw) != string(want[i].raw) {
			t.Fatalf("record %d: got %d %q %s, want %d %q %s", i, got[i].t, got[i].name, got[i].raw, want[i].t, want[i].name, want[i].raw)
		}
	}
}
