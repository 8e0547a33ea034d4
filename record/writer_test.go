package record

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
)

// lossless is a queue long enough for a whole test's messages: tests feed
// faster than any disk, which the Writer answers by dropping.
const lossless = 1 << 12

func TestRoundTrip(t *testing.T) {
	names := []string{"TRI.N", "EUR=", `ODD"NAME\X`, "ÉCU.PA", "0#.FTSE"}
	msgs := synthMsgs(20000, names, time.Unix(1_700_000_000, 0), time.Millisecond)
	path := writeRecording(t, msgs, Options{BlockSize: 16 << 10, QueueBlocks: lossless, Items: names, Source: "test"})
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if !rd.Indexed() || rd.Damage() != nil {
		t.Fatalf("indexed %v, damage %v", rd.Indexed(), rd.Damage())
	}
	h := rd.Header()
	if h.Format != "ertrec" || h.Version != Version || h.Source != "test" || len(h.Items) != len(names) || h.Segment != 0 {
		t.Fatalf("header %+v", h)
	}
	if len(rd.Blocks()) < 10 || rd.Records() != int64(len(msgs)) {
		t.Fatalf("%d blocks, %d records", len(rd.Blocks()), rd.Records())
	}
	got, err := readAll(t, rd, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameMsgs(t, got, msgs)
}

func TestStateAndMadeMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.ert.zst")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	it := &consumer.Item{Name: "TRI.N"}
	st := trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataSuspect, Code: trjson.CodeNone, Text: `lost "conn"`}
	w.Event(consumer.Event{Kind: consumer.EventItemState, Item: it, State: st, Time: time.Unix(5, 0)})
	w.Event(consumer.Event{Kind: consumer.EventConnected}) // ignored
	// A message without Raw (one the SDK made) is encoded from its fields.
	w.Handle(&consumer.Msg{Type: trjson.TypeStatus, Name: "TRI.N", HasState: true, State: st, Received: time.Unix(6, 0)})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var recs []Record
	iter := rd.Iter(0)
	for iter.Next() {
		r := *iter.Record()
		r.Msg = append(trjson.Raw(nil), r.Msg...)
		recs = append(recs, r)
	}
	if iter.Err() != nil || len(recs) != 2 {
		t.Fatalf("%d records, err %v", len(recs), iter.Err())
	}
	if recs[0].Kind != KindState || recs[0].State != st || recs[0].Name != "TRI.N" || recs[0].Time != 5e9 {
		t.Fatalf("state record %+v", recs[0])
	}
	var d trjson.Decoder
	ms, err := d.Decode(recs[1].Msg)
	if err != nil || len(ms) != 1 || ms[0].Type != trjson.TypeStatus || ms[0].State.Text != st.Text {
		t.Fatalf("made message %s: %v", recs[1].Msg, err)
	}
}

func TestRotation(t *testing.T) {
	msgs := synthMsgs(30000, []string{"A", "B", "C"}, time.Unix(1_700_000_000, 0), time.Millisecond)
	path := filepath.Join(t.TempDir(), "rot.ert.zst")
	w, err := Create(path, Options{BlockSize: 8 << 10, QueueBlocks: lossless, MaxBytes: 20 << 10})
	if err != nil {
		t.Fatal(err)
	}
	feed(w, msgs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := w.Stats().Files
	if len(files) < 3 || files[1] != filepath.Join(filepath.Dir(path), "rot.0001.ert.zst") {
		t.Fatalf("files %v", files)
	}
	var got []testMsg
	var start time.Time
	for i, f := range files {
		rd, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		h := rd.Header()
		if h.Segment != i || !rd.Indexed() {
			t.Fatalf("%s: segment %d indexed %v", f, h.Segment, rd.Indexed())
		}
		if i == 0 {
			start = h.Start
		} else if !h.Start.Equal(start) {
			t.Fatalf("%s: start %v, first file %v", f, h.Start, start)
		}
		part, err := readAll(t, rd, 0)
		rd.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, part...)
	}
	sameMsgs(t, got, msgs)
}

func TestRotationByAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "age.ert.zst")
	w, err := Create(path, Options{MaxAge: 20 * time.Millisecond, FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	msgs := synthMsgs(1, []string{"A"}, time.Now(), 0)
	deadline := time.Now().Add(10 * time.Second)
	for len(w.Stats().Files) < 3 && time.Now().Before(deadline) {
		feed(w, msgs)
		time.Sleep(time.Millisecond) // pacing the feed, not waiting for an event
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if len(st.Files) < 3 {
		t.Fatalf("files %v after 10 s", st.Files)
	}
	var n int64
	for _, f := range st.Files {
		rd, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		n += rd.Records()
		rd.Close()
	}
	if n != st.Records {
		t.Fatalf("files hold %d records, writer took %d", n, st.Records)
	}
}

// slowDisk is a file whose writes wait for release (after the header).
type slowDisk struct {
	f       *os.File
	release chan struct{}
	writes  int
}

func (s *slowDisk) Write(p []byte) (int, error) {
	s.writes++
	if s.writes > 1 {
		<-s.release
	}
	return s.f.Write(p)
}
func (s *slowDisk) Close() error { return s.f.Close() }

func TestSlowDiskDropsNeverBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slow.ert.zst")
	disk := &slowDisk{release: make(chan struct{})}
	opts := Options{BlockSize: 4 << 10, QueueBlocks: 4, Create: func(name string) (io.WriteCloser, error) {
		f, err := os.Create(name)
		disk.f = f
		return disk, err
	}}
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Far more than the queue holds: with the disk stuck, Handle must
	// still return for every message.
	msgs := synthMsgs(20000, []string{"A", "B"}, time.Unix(1_700_000_000, 0), time.Microsecond)
	fed := make(chan struct{})
	go func() { feed(w, msgs[:10000]); close(fed) }()
	select {
	case <-fed:
	case <-time.After(30 * time.Second):
		close(disk.release)
		t.Fatal("Handle blocked while the disk was stuck")
	}
	if st := w.Stats(); st.Dropped == 0 || st.Records+st.Dropped != 10000 {
		t.Fatalf("stats while stuck: %+v", st)
	}
	close(disk.release)
	feed(w, msgs[10000:]) // the disk is back: a gap record, then data
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var kept, gapped int64
	it := rd.Iter(0)
	for it.Next() {
		switch r := it.Record(); r.Kind {
		case KindMessage:
			kept++
		case KindGap:
			gapped += r.Dropped
		}
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	if kept+gapped != int64(len(msgs)) || gapped != st.Dropped || st.Gaps == 0 {
		t.Fatalf("kept %d + gap records %d != %d messages (stats %+v)", kept, gapped, len(msgs), st)
	}
}

type failingDisk struct{ n int }

func (f *failingDisk) Write(p []byte) (int, error) {
	f.n++
	if f.n > 1 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}
func (f *failingDisk) Close() error { return nil }

func TestWriteErrorReported(t *testing.T) {
	w, err := Create("x", Options{BlockSize: 1024, Create: func(string) (io.WriteCloser, error) { return &failingDisk{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	feed(w, synthMsgs(1000, []string{"A"}, time.Now(), 0))
	err = w.Close()
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close: %v", err)
	}
	if st := w.Stats(); st.Dropped == 0 || st.Err == nil {
		t.Fatalf("stats %+v", st)
	}
}

func TestCreateBadPath(t *testing.T) {
	_, err := Create(filepath.Join(t.TempDir(), "no", "such", "dir", "r.ert.zst"), Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v", err)
	}
}

func TestConcurrentHandlers(t *testing.T) {
	// Two connections (hot standby) call Handle from two goroutines.
	msgs := synthMsgs(4000, []string{"A", "B", "C", "D"}, time.Unix(1_700_000_000, 0), time.Microsecond)
	path := filepath.Join(t.TempDir(), "c.ert.zst")
	w, err := Create(path, Options{BlockSize: 8 << 10, QueueBlocks: lossless})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, part := range [][]testMsg{msgs[:2000], msgs[2000:]} {
		wg.Add(1)
		go func() { defer wg.Done(); feed(w, part) }()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if rd.Records() != 4000 {
		t.Fatalf("%d records", rd.Records())
	}
}

func TestSegmentName(t *testing.T) {
	for _, c := range []struct {
		path string
		n    int
		want string
	}{
		{"rec.ert.zst", 0, "rec.ert.zst"},
		{"rec.ert.zst", 1, "rec.0001.ert.zst"},
		{"/d.x/rec", 12, "/d.x/rec.0012"},
		{".hidden", 2, ".hidden.0002"},
	} {
		if got := SegmentName(c.path, c.n); got != c.want {
			t.Errorf("SegmentName(%q, %d) = %q, want %q", c.path, c.n, got, c.want)
		}
	}
}

func TestLosslessWriteErrorDoesNotHang(t *testing.T) {
	// A Lossless Handle waits for the disk; a failing disk must not
	// deadlock it with the writing goroutine.
	w, err := Create("x", Options{BlockSize: 1024, QueueBlocks: 1, Lossless: true,
		Create: func(string) (io.WriteCloser, error) { return &failingDisk{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { feed(w, synthMsgs(5000, []string{"A"}, time.Now(), 0)); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Handle hung on a failing disk in Lossless mode")
	}
	if err := w.Close(); err == nil {
		t.Fatal("no error from Close")
	}
	if st := w.Stats(); st.Dropped == 0 || st.Records != 5000 {
		t.Fatalf("stats %+v", st)
	}
}
