package record

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/trjson"
)

// e2eDuration is how long TestRecordPlayRecord records: 5 s by default
// to keep CI short (record/replay's TestRecordReplayRecord is the
// acceptance test through a server), ERT_RECORD_E2E_SECONDS=60 for a
// full minute.
func e2eDuration(t *testing.T) time.Duration {
	if s := os.Getenv("ERT_RECORD_E2E_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 600 {
			t.Fatalf("ERT_RECORD_E2E_SECONDS=%q: want 1 to 600", s)
		}
		return time.Duration(n) * time.Second
	}
	return 5 * time.Second
}

func itemNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("SYN%d.X", i)
	}
	return out
}

// dialEmulator connects an SDK client to emu with handler and onEvent.
func dialEmulator(t testing.TB, emu *emulator.Emulator, handler func(*consumer.Msg), onEvent func(consumer.Event)) *consumer.Client {
	t.Helper()
	info := emu.Info()
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{TokenURL: info.AuthURLV2,
		ClientID: info.ClientID, ClientSecret: info.ClientSecret}), auth.Options{TLSConfig: testutil.TLS(t, info)})
	t.Cleanup(func() { tokens.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: testutil.Endpoints(info), TokenSource: tokens,
		TLS: consumer.TLS{CAPEM: info.CAPEM}, Handler: handler, OnEvent: onEvent})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return c
}

// canonical is what must survive a replay: type, update type, SeqNumber
// and the fields with their values, in order.
func canonical(t *testing.T, d *trjson.Decoder, raw []byte) string {
	t.Helper()
	ms, err := d.Decode(raw)
	if err != nil || len(ms) != 1 {
		t.Fatalf("recorded message %s: %v", raw, err)
	}
	m := &ms[0]
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s/%v:%d", m.Type, m.UpdateType, m.HasSeqNumber, m.SeqNumber)
	for _, f := range m.Fields {
		fmt.Fprintf(&b, " %s=%s:%d:%v:%s", f.Name, f.Kind, f.Int, f.Float, f.Str)
	}
	return b.String()
}

// perItem reads a recording into each item's canonical messages, in
// order, and returns the time span of the data.
func perItem(t *testing.T, path string) (map[string][]string, time.Duration) {
	t.Helper()
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var d trjson.Decoder
	out := map[string][]string{}
	it := rd.Iter(0)
	var first, last int64
	for it.Next() {
		r := it.Record()
		if r.Kind == KindState { // the SDK's view, not the server's data
			continue
		}
		if r.Kind != KindMessage {
			t.Fatalf("unexpected %s record", r.Kind)
		}
		if first == 0 {
			first = r.Time
		}
		last = r.Time
		out[r.Name] = append(out[r.Name], canonical(t, &d, r.Msg))
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	return out, time.Duration(last - first)
}

// TestRecordPlayRecord records 1,000 emulator items, plays the recording
// at speed 1 into a second Writer (as a replaying server's client would
// hand it the messages) and checks that both recordings hold the same
// messages per item and the same timing within 5 %.
func TestRecordPlayRecord(t *testing.T) {
	dur := e2eDuration(t)
	dir := t.TempDir()
	names := itemNames(1000)
	emu := testutil.StartEmulator(t, emulator.Config{Rate: 1, RateSet: true})
	w1, err := Create(filepath.Join(dir, "first.ert.zst"), Options{Items: names, Source: "emulator"})
	if err != nil {
		t.Fatal(err)
	}
	c := dialEmulator(t, emu, w1.Handle, w1.Event)
	ctx, cancel := context.WithTimeout(context.Background(), dur+30*time.Second)
	defer cancel()
	if _, err := c.Subscribe(ctx, names); err != nil {
		t.Fatal(err)
	}
	select {
	case <-time.After(dur): // the recording's length, not a wait for an event
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	c.Close()
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w1.Stats(); st.Dropped != 0 || st.Records < int64(len(names)) {
		t.Fatalf("first recording: %+v", st)
	}

	rd, err := Open(filepath.Join(dir, "first.ert.zst"))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	p, err := NewPlayer([]*Reader{rd}, PlayOptions{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := Create(filepath.Join(dir, "second.ert.zst"), Options{Items: names, Source: "replay"})
	if err != nil {
		t.Fatal(err)
	}
	var m consumer.Msg
	for {
		r, err := p.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != KindMessage {
			continue
		}
		m = consumer.Msg{Name: r.Name, Raw: r.Msg, Received: time.Now()}
		w2.Handle(&m)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}

	a, spanA := perItem(t, filepath.Join(dir, "first.ert.zst"))
	b, spanB := perItem(t, filepath.Join(dir, "second.ert.zst"))
	if len(a) != len(names) || len(b) != len(a) {
		t.Fatalf("items: %d recorded, %d replayed, %d subscribed", len(a), len(b), len(names))
	}
	total := 0
	for name, ma := range a {
		mb := b[name]
		if len(ma) != len(mb) {
			t.Fatalf("%s: %d messages recorded, %d replayed", name, len(ma), len(mb))
		}
		for i := range ma {
			if ma[i] != mb[i] {
				t.Fatalf("%s message %d:\nrecorded %s\nreplayed %s", name, i, ma[i], mb[i])
			}
		}
		total += len(ma)
	}
	diff := spanB - spanA
	if diff < 0 {
		diff = -diff
	}
	t.Logf("%d messages of %d items over %v; replayed over %v", total, len(a), spanA, spanB)
	if diff > spanA/20 {
		t.Fatalf("replay took %v for %v recorded (more than 5 %% off)", spanB, spanA)
	}
}

// TestSlowDiskNeverStallsTheSDK records the emulator's full rate with the
// disk stuck: the SDK must keep delivering (the Handler returns), the
// Writer counts what it drops and says so in the file.
func TestSlowDiskNeverStallsTheSDK(t *testing.T) {
	dir := t.TempDir()
	emu := testutil.StartEmulator(t, emulator.Config{Rate: 200, RateSet: true})
	disk := &slowDisk{release: make(chan struct{})}
	released := false
	defer func() {
		if !released {
			close(disk.release)
		}
	}()
	w, err := Create(filepath.Join(dir, "slow.ert.zst"), Options{BlockSize: 4 << 10, QueueBlocks: 2,
		Create: func(name string) (io.WriteCloser, error) {
			f, err := os.Create(name)
			disk.f = f
			return disk, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	var delivered atomic.Int64
	reached := make(chan struct{})
	// The queue holds at most 4 blocks of 4 KiB (some 100 messages): the
	// SDK delivering 20,000 with the disk stuck proves Handle never waits.
	const enough = 20000
	c := dialEmulator(t, emu, func(m *consumer.Msg) {
		w.Handle(m)
		if delivered.Add(1) == enough {
			close(reached)
		}
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Subscribe(ctx, itemNames(200)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatalf("the SDK delivered only %d messages with the disk stuck", delivered.Load())
	}
	st := w.Stats()
	if st.Dropped == 0 {
		t.Fatalf("nothing dropped with the disk stuck: %+v", st)
	}
	close(disk.release)
	released = true
	c.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st = w.Stats()
	rd, err := Open(filepath.Join(dir, "slow.ert.zst"))
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
	if n := delivered.Load(); kept+gapped != n || gapped != st.Dropped {
		t.Fatalf("delivered %d, file holds %d messages and gaps of %d (stats %+v)", n, kept, gapped, st)
	}
	t.Logf("delivered %d, kept %d, dropped %d in %d gaps", delivered.Load(), kept, gapped, st.Gaps)
}
