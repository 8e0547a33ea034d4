package replay

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/record"
	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/trjson"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// duration is how long TestRecordReplayRecord records: 10 s by default
// to keep CI short; ERT_RECORD_E2E_SECONDS=60 runs the full
// minute.
func duration(t *testing.T) time.Duration {
	if s := os.Getenv("ERT_RECORD_E2E_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 600 {
			t.Fatalf("ERT_RECORD_E2E_SECONDS=%q: want 1 to 600", s)
		}
		return time.Duration(n) * time.Second
	}
	return 10 * time.Second
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("SYN%d.X", i)
	}
	return out
}

// canonical is what a replay must keep: type, update type, SeqNumber and
// the fields with their values, in order.
func canonical(t *testing.T, d *trjson.Decoder, raw []byte) (trjson.MsgType, string) {
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
	return m.Type, b.String()
}

type itemLog struct{ msgs []string }

// read returns each item's messages (Refreshes and Updates) in order.
func read(t *testing.T, path string) (map[string]*itemLog, int, time.Duration) {
	t.Helper()
	rd, err := record.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var d trjson.Decoder
	out := map[string]*itemLog{}
	it := rd.Iter(0)
	updates := 0
	var first, last int64
	for it.Next() {
		r := it.Record()
		if r.Kind != record.KindMessage {
			continue
		}
		typ, c := canonical(t, &d, r.Msg)
		l := out[r.Name]
		if l == nil {
			l = &itemLog{}
			out[r.Name] = l
		}
		l.msgs = append(l.msgs, c)
		if typ == trjson.TypeUpdate {
			updates++
			if first == 0 {
				first = r.Time
			}
			last = r.Time
		}
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	return out, updates, time.Duration(last - first)
}

// recordFrom subscribes items at a client made from cfg and records them
// to path until stop returns; reached is closed when target Updates have
// arrived (target 0: never).
func recordFrom(t *testing.T, path string, items []string, cfg consumer.Config, target int64, stop func(reached <-chan struct{}, updates *atomic.Int64) error) {
	t.Helper()
	w, err := record.Create(path, record.Options{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	var updates atomic.Int64
	reached := make(chan struct{})
	cfg.Handler = func(m *consumer.Msg) {
		w.Handle(m)
		if m.Type == trjson.TypeUpdate && updates.Add(1) == target {
			close(reached)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := consumer.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if _, err := c.Subscribe(ctx, items); err != nil {
		t.Fatal(err)
	}
	serr := stop(reached, &updates)
	c.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	if st := w.Stats(); st.Dropped != 0 {
		t.Fatalf("%s: dropped %d", path, st.Dropped)
	}
}

// TestRecordReplayRecord is issue #11's acceptance test: record 1,000
// emulator items, serve the recording with a replay Source at speed 1,
// record what an SDK client receives from it, and compare: the same
// messages per item (fields, SeqNumbers, order) and the same timing
// within 5 %.
func TestRecordReplayRecord(t *testing.T) {
	dur := duration(t)
	dir := t.TempDir()
	items := names(1000)
	first, second := filepath.Join(dir, "first.ert.zst"), filepath.Join(dir, "second.ert.zst")

	emu := testutil.StartEmulator(t, emulator.Config{Rate: 1, RateSet: true})
	info := emu.Info()
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{TokenURL: info.AuthURLV2,
		ClientID: info.ClientID, ClientSecret: info.ClientSecret}), auth.Options{TLSConfig: testutil.TLS(t, info)})
	defer tokens.Close()
	recordFrom(t, first, items, consumer.Config{Endpoints: testutil.Endpoints(info), TokenSource: tokens,
		TLS: consumer.TLS{CAPEM: info.CAPEM}}, 0, func(<-chan struct{}, *atomic.Int64) error {
		time.Sleep(dur) // the length of the recording, not a wait for an event
		return nil
	})
	want, wantUpdates, wantSpan := read(t, first)

	// Serve it: an ADS-style endpoint (Login by name) on loopback.
	rd, err := record.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	p, err := record.NewPlayer([]*record.Reader{rd}, record.PlayOptions{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(p, Options{Items: rd.Header().Items})
	hub, err := server.NewHub(server.Config{Source: src, ADSMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer(hub, "0", ln, nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), dur+60*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- src.Run(ctx) }()

	recordFrom(t, second, items, consumer.Config{Endpoints: []string{"ws://" + ln.Addr().String() + server.Path}, UserName: "replay-test"},
		int64(wantUpdates), func(reached <-chan struct{}, updates *atomic.Int64) error {
			if err := <-runErr; err != nil { // the end of the recording
				return err
			}
			// The last updates may still be on their way to the client.
			select {
			case <-reached:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("replayed %d updates of %d", updates.Load(), wantUpdates)
			}
		})
	got, gotUpdates, gotSpan := read(t, second)

	if len(want) != len(items) || len(got) != len(want) || gotUpdates != wantUpdates {
		t.Fatalf("items: %d recorded, %d replayed; updates %d recorded, %d replayed", len(want), len(got), wantUpdates, gotUpdates)
	}
	for name, w := range want {
		g := got[name]
		if len(g.msgs) != len(w.msgs) {
			t.Fatalf("%s: %d messages recorded, %d replayed", name, len(w.msgs), len(g.msgs))
		}
		for i := range w.msgs {
			if w.msgs[i] != g.msgs[i] {
				t.Fatalf("%s message %d:\nrecorded %s\nreplayed %s", name, i, w.msgs[i], g.msgs[i])
			}
		}
	}
	diff := gotSpan - wantSpan
	if diff < 0 {
		diff = -diff
	}
	t.Logf("%d updates of %d items over %v; replayed over %v", wantUpdates, len(want), wantSpan, gotSpan)
	if diff > wantSpan/20 {
		t.Fatalf("replay took %v for %v recorded (more than 5 %% off)", gotSpan, wantSpan)
	}
}

func TestUnknownItemNotFound(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.ert.zst")
	w, err := record.Create(path, record.Options{Items: []string{"A"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Handle(&consumer.Msg{Name: "A", Raw: []byte(`{"ID":2,"Type":"Refresh","Key":{"Name":"A"},"State":{"Stream":"Open","Data":"Ok"},"Fields":{"BID":1.5}}`), Received: time.Unix(1, 0)})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := record.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	p, err := record.NewPlayer([]*record.Reader{rd}, record.PlayOptions{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(p, Options{Items: rd.Header().Items, StartAtOnce: true})
	hub, err := server.NewHub(server.Config{Source: src, ADSMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer(hub, "0", ln, nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := src.Run(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{"ws://" + ln.Addr().String() + server.Path}, UserName: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	imgs, err := c.Snapshot(ctx, []string{"A", "NOPE"})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		switch im.Name {
		case "A":
			if im.State.Data != trjson.DataOk || len(im.Fields) != 1 {
				t.Fatalf("A: %+v", im)
			}
		case "NOPE":
			if im.State.Stream != trjson.StreamClosed || im.State.Code != trjson.CodeNotFound {
				t.Fatalf("NOPE: %+v", im.State)
			}
		}
	}
}
