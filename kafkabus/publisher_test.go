package kafkabus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// refImages is the test's own last-value bookkeeping: field name → value
// as JSON text, per key.
type refImages map[string]map[string]string

func (r refImages) apply(m *consumer.Msg) {
	k := string(AppendKey(nil, ItemKey{Service: m.Service, Name: m.Name, Domain: m.Domain}))
	if m.Type == trjson.TypeRefresh || r[k] == nil {
		r[k] = map[string]string{}
	}
	for _, f := range m.Fields {
		r[k][f.Name] = fieldText(f)
	}
}

func fieldText(f trjson.Field) string {
	return string(trjson.AppendMsg(nil, &trjson.Msg{Type: trjson.TypeUpdate, Fields: []trjson.Field{f}, HasFields: true}))
}

// lastImages decodes the last image record of each key.
func lastImages(t testing.TB, recs []*kgo.Record) map[string]*trjson.Msg {
	t.Helper()
	out := map[string]*trjson.Msg{}
	var d trjson.Decoder
	for _, r := range recs {
		msgs, err := d.Decode(r.Value)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("image %s: %v", r.Key, err)
		}
		m := msgs[0]
		m.Fields = append([]trjson.Field(nil), m.Fields...)
		for i := range m.Fields {
			m.Fields[i] = m.Fields[i].Clone()
		}
		m.State.Text = strings.Clone(m.State.Text)
		out[string(r.Key)] = &m
	}
	return out
}

func checkImages(t testing.TB, ref refImages, imgs map[string]*trjson.Msg) {
	t.Helper()
	if len(imgs) != len(ref) {
		t.Errorf("%d images, %d items", len(imgs), len(ref))
	}
	for k, want := range ref {
		im := imgs[k]
		if im == nil {
			t.Errorf("%s: no image", k)
			continue
		}
		if len(im.Fields) != len(want) {
			t.Errorf("%s: image has %d fields, want %d", k, len(im.Fields), len(want))
		}
		for _, f := range im.Fields {
			if got := fieldText(f); got != want[f.Name] {
				t.Errorf("%s: %s = %s, want %s", k, f.Name, got, want[f.Name])
			}
		}
	}
}

func newTestPublisher(t testing.TB, c *kfake.Cluster, prefix string, mod func(*Options)) *Publisher {
	t.Helper()
	opts := Options{Connection: Connection{Brokers: c.ListenAddrs(), TopicPrefix: prefix, Logger: quietLogger()}}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := NewPublisher(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func closePublisher(t testing.TB, p *Publisher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v (stats %+v)", err, p.Stats())
	}
}

// Every message lands once, in order per item, and the last image of
// each item is its Refresh with every Update merged (a second Refresh
// starts a new image).
func TestPublishOrderAndImages(t *testing.T) {
	c := startCluster(t, 1, "t", 4)
	p := newTestPublisher(t, c, "t", nil)
	s := newSynth()
	var sent sentLog
	ref := refImages{}
	hand := func(m *consumer.Msg) { sent.add(m); ref.apply(m); p.Handle(m) }
	const items = 100
	for i := 0; i < items; i++ {
		hand(s.refresh(s.ric(i)))
	}
	for round := 0; round < 30; round++ {
		for i := 0; i < items; i++ {
			if round == 15 && i%7 == 0 {
				hand(s.refresh(s.ric(i))) // a new image mid-stream
				continue
			}
			hand(s.update(s.ric(i)))
		}
	}
	// A message that is not about an item is skipped, not published.
	p.Handle(&consumer.Msg{Type: trjson.TypeRefresh, Domain: trjson.DomainLogin})
	closePublisher(t, p)
	st := p.Stats()
	if st.Ticks != int64(sent.n) || st.Dropped != 0 || st.Skipped != 1 || st.TickFailed != 0 || st.Items != items {
		t.Errorf("stats %+v, want %d ticks, 1 skipped, %d items", st, sent.n, items)
	}
	if st.BufBytes != 0 {
		t.Errorf("BufBytes %d after Close, want 0", st.BufBytes)
	}
	sameSeqs(t, sent.seqs, seqsByKey(t, readAll(t, c, TickTopic("t"))))
	imgRecs := readAll(t, c, ImageTopic("t"))
	checkImages(t, ref, lastImages(t, imgRecs))
	// Coalescing: far fewer images than messages.
	if len(imgRecs) >= sent.n/4 {
		t.Errorf("%d image records for %d messages: not coalesced", len(imgRecs), sent.n)
	}
}

// The tick record is the message as received, with its headers.
func TestTickRecordLayout(t *testing.T) {
	c := startCluster(t, 1, "lay", 1)
	p := newTestPublisher(t, c, "lay", nil)
	s := newSynth()
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC)
	m := s.refresh("TRI.N")
	m.Received = at
	raw := string(m.Raw)
	p.Handle(m)
	u := s.update("TRI.N")
	u.Received = at.Add(time.Millisecond)
	p.Handle(u)
	mbp := &consumer.Msg{Type: trjson.TypeRefresh, Domain: trjson.DomainMarketByPrice, Name: "VOD.L", Service: "ELEKTRON_DD",
		Raw: trjson.Raw(`{"ID":6,"Type":"Refresh","Domain":"MarketByPrice","Map":{}}`), Complete: true, Received: at}
	p.Handle(mbp)
	closePublisher(t, p)
	recs := readAll(t, c, TickTopic("lay"))
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if string(r.Key) != "ELEKTRON_DD|TRI.N" || string(r.Value) != raw {
		t.Errorf("key %q value %q, want the message as received %q", r.Key, r.Value, raw)
	}
	if !r.Timestamp.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("timestamp %v, want %v", r.Timestamp, at)
	}
	meta, err := parseHeaders(r.Headers)
	if err != nil || meta.typ != "Refresh" || meta.received != at.UnixNano() || !meta.hasSeq || meta.seq != 10 ||
		meta.state != (trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk}) {
		t.Errorf("headers %+v (%v)", meta, err)
	}
	meta, _ = parseHeaders(recs[1].Headers)
	if meta.typ != "Update" || !meta.hasState || meta.state.Stream != trjson.StreamOpen || meta.seq != 11 {
		t.Errorf("update headers %+v: the item's state goes with every tick", meta)
	}
	if string(recs[2].Key) != "ELEKTRON_DD|VOD.L|MarketByPrice" {
		t.Errorf("MarketByPrice key %q", recs[2].Key)
	}
	// Only the field-list item has an image.
	imgs := readAll(t, c, ImageTopic("lay"))
	for _, r := range imgs {
		if string(r.Key) != "ELEKTRON_DD|TRI.N" {
			t.Fatalf("image record of %s", r.Key)
		}
	}
	meta, _ = parseHeaders(imgs[len(imgs)-1].Headers)
	if meta.typ != "Image" || meta.seq != 11 || meta.received != u.Received.UnixNano() {
		t.Errorf("image headers %+v", meta)
	}
}

// With the buffer full (Kafka not answering), Handle drops without
// waiting, counts each drop, reports it and marks the item's image
// Suspect; what it took is delivered once Kafka is back.
func TestBufferFullPolicy(t *testing.T) {
	c := startCluster(t, 1, "bp", 1)
	var logs testLogger
	p := newTestPublisher(t, c, "bp", func(o *Options) {
		o.Buffer = 50
		o.Logger = logs.logger()
	})
	s := newSynth()
	var sent sentLog
	p.Handle(s.refresh("A.N"))
	sent.add(&consumer.Msg{Service: s.service, Name: "A.N", Domain: trjson.DomainMarketPrice, SeqNumber: 10})
	// Hold every produce request until released.
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	const n = 2000
	start := time.Now()
	for i := 0; i < n; i++ {
		p.Handle(s.update("A.N"))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("2000 Handle calls took %v with Kafka stalled", d) // a blocking Handle would hang, not be slow
	}
	st := p.Stats()
	if st.Dropped == 0 {
		t.Fatalf("nothing dropped with a 50-message buffer and Kafka stalled: %+v", st)
	}
	close(release)
	closePublisher(t, p)
	st = p.Stats()
	ticks := readAll(t, c, TickTopic("bp"))
	if int64(len(ticks)) != st.Ticks || st.Ticks+st.Dropped != n+1 {
		t.Errorf("%d records, stats %+v: taken + dropped must be every message", len(ticks), st)
	}
	// The records are in order with gaps exactly where drops were.
	seqs := seqsByKey(t, ticks)["ELEKTRON_DD|A.N"]
	missing := int64(0)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("out of order: %d after %d", seqs[i], seqs[i-1])
		}
		missing += seqs[i] - seqs[i-1] - 1
	}
	missing += s.seq["A.N"] - seqs[len(seqs)-1]
	if missing != st.Dropped {
		t.Errorf("%d SeqNumbers missing, %d dropped", missing, st.Dropped)
	}
	imgs := lastImages(t, readAll(t, c, ImageTopic("bp")))
	im := imgs["ELEKTRON_DD|A.N"]
	if im == nil || im.State.Data != trjson.DataSuspect || !strings.Contains(im.State.Text, "dropped") {
		t.Errorf("image after drops: %+v", im)
	}
	if !strings.Contains(strings.Join(logs.all(), ""), "buffer full") {
		t.Errorf("drops not reported in the log: %q", logs.all())
	}
}

// Close with Kafka unreachable gives up when its context ends, and says
// how much was lost.
func TestCloseUndelivered(t *testing.T) {
	c := startCluster(t, 1, "cu", 1)
	p := newTestPublisher(t, c, "cu", nil)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, errors.New("broker down"), true
	})
	s := newSynth()
	for i := 0; i < 100; i++ {
		p.Handle(s.update("B.N"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := p.Close(ctx)
	if !errors.Is(err, ErrUndelivered) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want ErrUndelivered and the deadline", err)
	}
	st := p.Stats()
	if st.TickFailed != 100 || st.Ticks != 0 {
		t.Errorf("stats %+v: every tick must be counted failed", st)
	}
	if err := p.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	p.Handle(s.update("B.N"))
	if p.Stats().Dropped != 1 {
		t.Errorf("Handle after Close not counted as dropped")
	}
}

func TestOptionsErrors(t *testing.T) {
	ctx := context.Background()
	for _, o := range []Options{
		{},
		{Connection: Connection{Brokers: []string{" "}}},
		{Connection: Connection{Brokers: []string{"127.0.0.1:1"}, SASL: SASL{Mechanism: "GSSAPI"}}},
		{Connection: Connection{Brokers: []string{"127.0.0.1:1"}}, Compression: "brotli"},
		{Connection: Connection{Brokers: []string{"127.0.0.1:1"}, TopicPrefix: "a/b"}},
	} {
		if _, err := NewPublisher(ctx, o); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", o, err)
		}
	}
	// Nothing listening: NewPublisher fails within its context.
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := NewPublisher(cctx, Options{Connection: Connection{Brokers: []string{"127.0.0.1:1"}}}); err == nil {
		t.Error("NewPublisher to a closed port succeeded")
	}
}

// A Refresh that waits in the queue while later Updates of its item are
// dropped must not clear those drops: the image after it is Suspect. The
// loop is held in a Produce (franz-go's record buffer full, Kafka
// stalled) so that the Refresh is taken only after the drops.
func TestDropsAfterQueuedRefresh(t *testing.T) {
	c := startCluster(t, 1, "dq", 1)
	p := newTestPublisher(t, c, "dq", func(o *Options) { o.Buffer = 20 })
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	s := newSynth()
	// Fill franz-go's buffer (20 records): the loop blocks in Produce,
	// with at most a few B entries still queued.
	p.Handle(s.refresh("B.N"))
	for range 21 {
		p.Handle(s.update("B.N"))
	}
	// franz-go offers no signal for a full buffer: poll it, bounded.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for p.client.BufferedProduceRecords() < 20 {
		select {
		case <-deadline:
			t.Fatalf("the loop did not block: buffered %d, queued %d", p.client.BufferedProduceRecords(), len(p.q))
		case <-tick.C:
		}
	}
	p.Handle(s.refresh("A.N")) // queued
	for range 30 {
		p.Handle(s.update("A.N")) // 19 queued after it, 11 dropped
	}
	if st := p.Stats(); st.Dropped == 0 {
		t.Fatalf("nothing dropped: %+v", st)
	}
	close(release)
	closePublisher(t, p)
	im := lastImages(t, readAll(t, c, ImageTopic("dq")))["ELEKTRON_DD|A.N"]
	if im == nil || im.State.Data != trjson.DataSuspect || !strings.Contains(im.State.Text, "dropped") {
		t.Fatalf("image of A.N after drops behind its queued Refresh: %+v", im)
	}
}
