package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
)

// startServer starts an embedded JetStream server that the test's
// cleanup closes, and connects to it.
func startServer(t testing.TB) (*Server, *nats.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv, err := StartServer(ctx, ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	nc, err := Connect(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return srv, nc
}

// feed makes the SDK-like messages of items: a Refresh, then Updates
// whose SeqNumbers follow it; each Update sets BID and one of five
// rotating fields to its SeqNumber, so that merging matters.
type feed struct {
	key  Key
	seq  int64
	want map[string]float64 // the merged image so far
}

func newFeed(k Key) *feed { return &feed{key: k, want: map[string]float64{}} }

func (f *feed) refresh() *consumer.Msg {
	f.seq = 100
	clear(f.want)
	fs := []trjson.Field{trjson.Float("BID", 1), trjson.Float("ASK", 2), trjson.String("DSPLY_NAME", f.key.Name)}
	f.want["BID"], f.want["ASK"] = 1, 2
	return f.msg(trjson.TypeRefresh, fs)
}

func (f *feed) update() *consumer.Msg {
	f.seq++
	v := float64(f.seq)
	rot := fmt.Sprintf("F%d", f.seq%5)
	f.want["BID"], f.want[rot] = v, v
	return f.msg(trjson.TypeUpdate, []trjson.Field{trjson.Float("BID", v), trjson.Float(rot, v)})
}

func (f *feed) msg(typ trjson.MsgType, fs []trjson.Field) *consumer.Msg {
	tm := trjson.Msg{Type: typ, ID: 5, Domain: f.key.Domain, SeqNumber: f.seq, HasSeqNumber: true, Fields: fs, HasFields: true}
	if typ == trjson.TypeRefresh {
		tm.Key, tm.HasKey = trjson.Key{Name: f.key.Name, Service: f.key.Service}, true
		tm.State, tm.HasState = trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "All is well"}, true
	}
	return &consumer.Msg{Type: typ, Domain: f.key.Domain, Name: f.key.Name, Service: f.key.Service,
		SeqNumber: f.seq, HasSeq: true, State: tm.State, HasState: tm.HasState, Fields: fs,
		Raw: trjson.AppendMsg(nil, &tm), Received: time.Now()}
}

// view is what a subscriber test sees of one item: the image's
// SeqNumber, the SeqNumbers after it, and the merged numeric fields.
type view struct {
	imageSeq int64
	images   int
	seqs     []int64
	fields   map[string]float64
}

// recorder is a SubscriberConfig Handler/OnEvent pair that records views
// and events and signals when an item reaches a SeqNumber.
type recorder struct {
	// diag, if set, is logged when a wait fails.
	diag   func() string
	mu     sync.Mutex
	views  map[string]*view
	events []Event
	waitK  string
	waitS  int64
	reach  chan struct{}
}

func newRecorder() *recorder { return &recorder{views: map[string]*view{}} }

func (r *recorder) handle(m *consumer.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.views[m.Name]
	if v == nil {
		v = &view{fields: map[string]float64{}}
		r.views[m.Name] = v
	}
	if m.Type == trjson.TypeRefresh {
		clear(v.fields)
		if len(v.seqs) == 0 && v.images == 0 {
			v.imageSeq = m.SeqNumber
		}
		v.images++
	}
	if m.Type == trjson.TypeUpdate || len(v.seqs) > 0 || v.images > 1 {
		v.seqs = append(v.seqs, m.SeqNumber)
	}
	for _, f := range m.Fields {
		if x, ok := f.AsFloat(); ok && f.Kind == trjson.KindFloat {
			v.fields[f.Name] = x
		}
	}
	if r.reach != nil && m.Name == r.waitK && m.SeqNumber >= r.waitS {
		close(r.reach)
		r.reach = nil
	}
}

func (r *recorder) event(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// waitFor waits (bounded) until item name has delivered SeqNumber seq.
func (r *recorder) waitFor(t testing.TB, name string, seq int64, d time.Duration) {
	t.Helper()
	r.mu.Lock()
	v := r.views[name]
	if v != nil && (len(v.seqs) > 0 && v.seqs[len(v.seqs)-1] >= seq || len(v.seqs) == 0 && v.imageSeq >= seq) {
		r.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	r.waitK, r.waitS, r.reach = name, seq, ch
	r.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(d):
		r.mu.Lock()
		got := r.views[name]
		evs := fmt.Sprint(r.events)
		r.mu.Unlock()
		extra := ""
		if r.diag != nil {
			extra = r.diag()
		}
		t.Fatalf("%s did not reach SeqNumber %d within %s (view %+v; events %s) %s", name, seq, d, got, evs, extra)
	}
}

// check verifies that v is contiguous after its image and equals want.
func (v *view) check(t testing.TB, name string, last int64, want map[string]float64) {
	t.Helper()
	prev := v.imageSeq
	for _, s := range v.seqs {
		if s != prev+1 {
			later := false
			for _, x := range v.seqs {
				later = later || x == prev+1
			}
			t.Fatalf("%s: SeqNumber %d after %d (image %d, %d updates; %d delivered later: %v)", name, s, prev, v.imageSeq, len(v.seqs), prev+1, later)
		}
		prev = s
	}
	if prev != last {
		t.Fatalf("%s: last SeqNumber %d, want %d", name, prev, last)
	}
	if fmt.Sprint(v.fields) != fmt.Sprint(want) {
		t.Fatalf("%s: image\n got %v\nwant %v", name, v.fields, want)
	}
}

func keys(names ...string) []Key {
	var ks []Key
	for _, n := range names {
		ks = append(ks, Key{Service: "ELEKTRON_DD", Domain: trjson.DomainMarketPrice, Name: n})
	}
	return ks
}

func TestPublishThenSubscribe(t *testing.T) {
	_, nc := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, err := NewPublisher(ctx, PublisherConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	ks := keys("EUR=", "0#.FTSE", "/TRI.N", ".DJI")
	feeds := map[string]*feed{}
	for _, k := range ks {
		f := newFeed(k)
		feeds[k.Name] = f
		pub.Handle(f.refresh())
		for range 50 {
			pub.Handle(f.update())
		}
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := pub.Stats()
	if st.Received != 204 || st.Published != 204 || st.Dropped != 0 || st.Errors != 0 || st.Images < 4 {
		t.Fatalf("publisher stats %+v", st)
	}

	rec := newRecorder()
	sub, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: rec.handle, OnEvent: rec.event}, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// Images are delivered by Subscribe; then live updates follow.
	pub2, err := NewPublisher(ctx, PublisherConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		for range 10 {
			pub2.Handle(feeds[k.Name].update())
		}
	}
	if err := pub2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := pub2.Stats(); st.Published != 40 || st.Queued != 0 {
		t.Fatalf("after Flush: %+v", st)
	}
	for _, k := range ks {
		rec.waitFor(t, k.Name, 160, 10*time.Second)
	}
	if err := pub2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, k := range ks {
		v := rec.views[k.Name]
		if v.imageSeq != 150 || v.images != 1 {
			t.Fatalf("%s: image SeqNumber %d (%d images), want 150", k.Name, v.imageSeq, v.images)
		}
		v.check(t, k.Name, 160, feeds[k.Name].want)
	}
	if len(rec.events) != 0 {
		t.Fatalf("events: %v", rec.events)
	}
	if s := sub.Stats(); s.Images != 4 || s.Messages != 40 || s.Gaps != 0 {
		t.Fatalf("subscriber stats %+v", s)
	}
}

// TestJoinRacingImage starts subscribers while the publisher is busy, so
// that image reads race image writes and updates: each subscriber must
// see its image, then every later update exactly once.
func TestJoinRacingImage(t *testing.T) {
	_, nc := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A short image interval and small batches: many image writes, so
	// images are often older than the updates already stored.
	pub, err := NewPublisher(ctx, PublisherConfig{Conn: nc, ImageInterval: 2 * time.Millisecond, Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	ks := keys("A.N", "B.N", "C.N")
	feeds := make([]*feed, len(ks))
	for i, k := range ks {
		feeds[i] = newFeed(k)
		pub.Handle(feeds[i].refresh())
	}
	const rounds, perRound = 8, 150
	var subs []*Subscription
	var recs []*recorder
	defer func() {
		for _, s := range subs {
			s.Close()
		}
	}()
	for r := range rounds {
		for range perRound {
			for _, f := range feeds {
				pub.Handle(f.update())
			}
		}
		if r == rounds-1 {
			break
		}
		rec := newRecorder()
		sub, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: rec.handle, OnEvent: rec.event}, ks)
		if err != nil {
			t.Fatal(err)
		}
		subs, recs = append(subs, sub), append(recs, rec)
	}
	last := int64(100 + rounds*perRound)
	for i, rec := range recs {
		for _, f := range feeds {
			rec.waitFor(t, f.key.Name, last, 15*time.Second)
		}
		rec.mu.Lock()
		for _, f := range feeds {
			rec.views[f.key.Name].check(t, fmt.Sprintf("subscriber %d %s", i, f.key.Name), last, f.want)
		}
		for _, e := range rec.events {
			// The first subscriber may start before the first images
			// are written: it then reads the item from its Refresh.
			if e.Kind != EventNoImage {
				t.Fatalf("subscriber %d events: %v", i, rec.events)
			}
		}
		rec.mu.Unlock()
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var skipped int64
	for _, s := range subs {
		skipped += s.Stats().InImage
	}
	t.Logf("publisher %+v; updates skipped as already in the image: %d", pub.Stats(), skipped)
}

func TestSubscribeBadInput(t *testing.T) {
	srv, nc := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := func(*consumer.Msg) {}
	if _, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: h}, keys("X.N")); !errors.Is(err, ErrNoStream) {
		t.Fatalf("no streams: err = %v, want ErrNoStream", err)
	}
	pub, err := NewPublisher(ctx, PublisherConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	if _, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: h}, []Key{{Service: "S", Domain: trjson.DomainMarketPrice}}); !errors.Is(err, ErrName) {
		t.Fatalf("empty RIC: err = %v, want ErrName", err)
	}
	if _, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: h}, nil); !errors.Is(err, ErrName) {
		t.Fatalf("no items: err = %v, want ErrName", err)
	}

	// An unknown RIC: no image, reported; malformed payloads on a RIC's
	// subject: reported and skipped; the valid messages around them
	// are delivered.
	rec := newRecorder()
	ks := keys("NO.SUCH", "TRI.N")
	sub, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: rec.handle, OnEvent: rec.event}, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	js, _ := jetstream.New(nc)
	subj, _ := (&Streams{}).UpdateSubject(ks[1])
	f := newFeed(ks[1])
	pub.Handle(f.refresh())
	pub.Handle(f.update())
	rec.waitFor(t, "TRI.N", 101, 10*time.Second)
	for _, bad := range []string{"not json", `{"Type":"Update"`, `[{"Type":"Update"},{"Type":"Update"}]`, `{"Type":"Ping"}`, `{"Type":"Update","Key":{"Name":"IBM.N"}}`} {
		if _, err := js.Publish(ctx, subj, []byte(bad)); err != nil {
			t.Fatal(err)
		}
	}
	pub.Handle(f.update())
	rec.waitFor(t, "TRI.N", 102, 10*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	kinds := map[EventKind]int{}
	for _, e := range rec.events {
		kinds[e.Kind]++
	}
	if kinds[EventNoImage] != 2 || kinds[EventMalformed] != 5 || len(rec.events) != 7 {
		t.Fatalf("events %v", rec.events)
	}
	if rec.views["NO.SUCH"] != nil {
		t.Fatal("messages for an unknown RIC")
	}
	_ = srv
}

func TestConnectServerDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv, err := StartServer(ctx, ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.URL()
	srv.Close()
	_, err = Connect(ctx, url)
	if !errors.Is(err, nats.ErrNoServers) {
		t.Fatalf("Connect to a stopped server: %v, want nats.ErrNoServers", err)
	}
	t.Log(err)
}

// TestQueuePolicy: with NATS gone, Handle never blocks; what does not fit
// the queue is dropped and counted, and Close within its deadline drops
// the rest, counted.
func TestQueuePolicy(t *testing.T) {
	srv, nc := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Batch 1: one message in flight, so at most 5 are accepted.
	pub, err := NewPublisher(ctx, PublisherConfig{Conn: nc, QueueSize: 4, Batch: 1, AckTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	f := newFeed(keys("TRI.N")[0])
	pub.Handle(f.refresh())
	for range 20 {
		pub.Handle(f.update())
	}
	st := pub.Stats()
	// At most the queue plus the one message in flight are accepted.
	if st.Received != 21 || st.Dropped < 21-4-1 {
		t.Fatalf("stats after 21 messages, queue 4: %+v", st)
	}
	cctx, ccancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer ccancel()
	if err := pub.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with NATS down: %v", err)
	}
	st = pub.Stats()
	if st.Published != 0 || st.Dropped != 21 || st.Queued != 0 {
		t.Fatalf("stats after Close: %+v", st)
	}
	pub.Handle(f.update())
	if st := pub.Stats(); st.Dropped != 22 {
		t.Fatalf("Handle after Close not counted as dropped: %+v", st)
	}
}

// TestDropsMarkImageStale: messages dropped by the queue policy are
// reported on the item's image (EventStaleImage with their number) until
// the item's next Refresh, and as gaps to a subscriber reading the updates.
func TestDropsMarkImageStale(t *testing.T) {
	_, nc := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, err := NewPublisher(ctx, PublisherConfig{Conn: nc, QueueSize: 1, Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	f := newFeed(keys("TRI.N")[0])
	early := newRecorder()
	pub.Handle(f.refresh())
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	subEarly, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: early.handle, OnEvent: early.event, ReorderWindow: 100 * time.Millisecond}, keys("TRI.N"))
	if err != nil {
		t.Fatal(err)
	}
	defer subEarly.Close()
	// Handle outruns a one-slot queue drained one publish at a time.
	for i := 0; i < 10000 && pub.Stats().Dropped == 0; i++ {
		pub.Handle(f.update())
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	pub.Handle(f.update()) // the queue is empty: kept, and after a gap
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st := pub.Stats()
	if st.Dropped == 0 {
		t.Skip("no drop happened (the publisher kept up)")
	}
	early.waitFor(t, "TRI.N", f.seq, 10*time.Second)

	check := func(wantStale int64) {
		t.Helper()
		rec := newRecorder()
		sub, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: rec.handle, OnEvent: rec.event}, keys("TRI.N"))
		if err != nil {
			t.Fatal(err)
		}
		sub.Close()
		var got int64
		for _, e := range rec.events {
			if e.Kind == EventStaleImage {
				got = e.Got
			}
		}
		if got != wantStale {
			t.Fatalf("stale count %d, want %d (events %v)", got, wantStale, rec.events)
		}
	}
	check(st.Dropped)
	early.mu.Lock()
	gaps := 0
	for _, e := range early.events {
		if e.Kind == EventGap {
			gaps++
		}
	}
	early.mu.Unlock()
	if gaps == 0 || subEarly.Stats().Gaps != int64(gaps) {
		t.Fatalf("%d messages dropped but %d gaps reported", st.Dropped, gaps)
	}
	pub.Handle(f.refresh())
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check(0)
	t.Logf("publisher %+v, gaps %d", st, gaps)
}

// TestReorderWindow: Updates stored out of SeqNumber order (as a retry
// after a server loss can store them) are delivered in order when the hole
// fills within the window; a hole that does not fill is reported as a gap
// when the window ends, and the held messages are then delivered.
func TestReorderWindow(t *testing.T) {
	_, nc := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, err := NewPublisher(ctx, PublisherConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	k := keys("TRI.N")[0]
	f := newFeed(k)
	pub.Handle(f.refresh())
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	sub, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: rec.handle, OnEvent: rec.event, ReorderWindow: 300 * time.Millisecond}, []Key{k})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	js, _ := jetstream.New(nc)
	subj, _ := (&Streams{}).UpdateSubject(k)
	ups := map[int64][]byte{}
	for range 8 {
		m := f.update() // 101..108
		ups[m.SeqNumber] = m.Raw
	}
	for _, seq := range []int64{101, 103, 104, 102, 105, 106, 108} { // 107 never comes
		if _, err := js.Publish(ctx, subj, ups[seq]); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, "TRI.N", 108, 10*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := fmt.Sprint(rec.views["TRI.N"].seqs); got != "[101 102 103 104 105 106 108]" {
		t.Fatalf("delivered %s", got)
	}
	if len(rec.events) != 1 || rec.events[0].Kind != EventGap || rec.events[0].Expected != 107 || rec.events[0].Got != 108 {
		t.Fatalf("events %v", rec.events)
	}
	if st := sub.Stats(); st.Reordered != 2 || st.Gaps != 1 {
		t.Fatalf("stats %+v", st)
	}
}
