package kafkabus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runSubscriber starts sub.Run on a goroutine, collecting what it
// delivers; stop ends it.
type subRun struct {
	mu    sync.Mutex
	msgs  []consumer.Msg
	gaps  []Gap
	done  chan error
	stop  context.CancelFunc
	sub   *Subscriber
	count int
}

func startSubscriber(t *testing.T, c *kfake.Cluster, prefix string, mod func(*SubscriberOptions)) *subRun {
	t.Helper()
	r := &subRun{done: make(chan error, 1)}
	var logs testLogger
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("subscriber log: %q", logs.all())
		}
	})
	opts := SubscriberOptions{Connection: Connection{Brokers: c.ListenAddrs(), TopicPrefix: prefix, Logger: logs.logger()},
		OnGap: func(g Gap) { r.mu.Lock(); r.gaps = append(r.gaps, g); r.mu.Unlock() }}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	sub, err := NewSubscriber(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.sub, r.stop = sub, cancel
	go func() {
		r.done <- sub.Run(ctx, func(m *consumer.Msg) {
			c := m.Clone()
			r.mu.Lock()
			r.msgs = append(r.msgs, *c)
			r.count++
			r.mu.Unlock()
		})
	}()
	t.Cleanup(func() { r.stop(); <-r.done; sub.Close() })
	return r
}

func (r *subRun) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// checkRebuilt compares the subscriber's images with the reference.
func checkRebuilt(t *testing.T, sub *Subscriber, ref refImages) {
	t.Helper()
	imgs := map[string]*trjson.Msg{}
	for _, im := range sub.Images() {
		imgs[string(AppendKey(nil, im.ItemKey))] = &trjson.Msg{Fields: im.Fields}
	}
	checkImages(t, ref, imgs)
}

// A subscriber that starts while images lag behind the ticks (coalescing)
// loads the images, skips the ticks they hold, applies the rest and
// follows live ticks: its images equal the reference, with every tick
// delivered once and no gap.
func TestSubscriberRebuildsAndFollows(t *testing.T) {
	c := startCluster(t, 1, "sf", 3)
	// Images only on Refresh (and at Close): the image topic lags.
	p := newTestPublisher(t, c, "sf", func(o *Options) { o.ImageInterval = time.Hour })
	s := newSynth()
	ref := refImages{}
	hand := func(m *consumer.Msg) { ref.apply(m); p.Handle(m) }
	const items = 20
	for i := 0; i < items; i++ {
		hand(s.refresh(s.ric(i)))
	}
	for round := 0; round < 10; round++ {
		for i := 0; i < items; i++ {
			hand(s.update(s.ric(i)))
		}
	}
	waitFor(t, 30*time.Second, "phase 1 in Kafka", func() bool { return p.Stats().Ticks == items*11 })
	r := startSubscriber(t, c, "sf", nil)
	// Images (items) + the updates after them (items*10).
	waitFor(t, 30*time.Second, "the backlog", func() bool { return r.delivered() == items+items*10 })
	// Live: more updates and a new image for one item.
	hand(s.refresh(s.ric(3)))
	for round := 0; round < 5; round++ {
		for i := 0; i < items; i++ {
			hand(s.update(s.ric(i)))
		}
	}
	waitFor(t, 30*time.Second, "the live ticks", func() bool { return r.delivered() == items+items*10+1+items*5 })
	closePublisher(t, p)
	checkRebuilt(t, r.sub, ref)
	st := r.sub.Stats()
	if st.Images != items || st.Covered != items || st.Gaps != 0 || st.Duplicates != 0 || st.Malformed != 0 {
		t.Errorf("stats %+v: want %d images, %d ticks covered by them, no gap", st, items, items)
	}
	r.mu.Lock()
	first := r.msgs[0]
	r.mu.Unlock()
	if first.Type != trjson.TypeRefresh || first.Name != "SYN0.X" || first.SeqNumber != 10 || first.State.Data != trjson.DataOk {
		t.Errorf("first delivery %+v, want SYN0.X's image as a Refresh", first)
	}
	// A second subscriber after Close starts from the final images alone.
	r2 := startSubscriber(t, c, "sf", func(o *SubscriberOptions) { o.Items = []string{"SYN3.X", "ELEKTRON_DD|SYN4.X"} })
	waitFor(t, 30*time.Second, "the second subscriber", func() bool { return len(r2.sub.Images()) == 2 && r2.sub.Stats().Covered > 0 })
	im, ok := r2.sub.Image(ItemKey{Service: "ELEKTRON_DD", Name: "SYN3.X"})
	if !ok || im.Seq != s.seq["SYN3.X"] {
		t.Errorf("SYN3.X image %+v, want seq %d", im, s.seq["SYN3.X"])
	}
}

// Gaps, duplicates, an Update with no image and malformed records are
// counted and reported; nothing stops the follow.
func TestSubscriberGapsAndBadRecords(t *testing.T) {
	c := startCluster(t, 1, "gp", 1)
	r := startSubscriber(t, c, "gp", func(o *SubscriberOptions) { o.Lookback = time.Minute })
	// The subscriber must find no image: publish only once it follows the
	// ticks (otherwise the images written at Close may cover the ticks).
	select {
	case <-r.sub.following:
	case <-time.After(30 * time.Second):
		t.Fatal("the subscriber did not start following within 30s")
	}
	p := newTestPublisher(t, c, "gp", nil)
	s := newSynth()
	p.Handle(s.refresh("G.N")) // seq 10
	p.Handle(s.update("G.N"))  // 11
	s.seq["G.N"] += 3
	p.Handle(s.update("G.N")) // 15: 12..14 missing
	s.seq["G.N"] = 13
	p.Handle(s.update("G.N")) // 14: old, a duplicate
	s.seq["G.N"] = 15
	p.Handle(s.update("G.N")) // 16
	s.seq["H.N"] = 100
	p.Handle(s.update("H.N")) // an Update with no image
	closePublisher(t, p)

	// Records that are not ours.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bad := []*kgo.Record{
		{Topic: TickTopic("gp"), Key: []byte("nopipe"), Value: []byte(`{"Type":"Update"}`)},
		{Topic: TickTopic("gp"), Key: []byte("S|X.N"), Value: []byte(`{not json`)},
		{Topic: TickTopic("gp"), Key: []byte("S|X.N"), Value: []byte(`{"Type":"Ping"}`)},
		{Topic: TickTopic("gp"), Key: []byte("S|X.N"), Value: []byte(`{"ID":1,"Type":"Update"}`),
			Headers: []kgo.RecordHeader{{Key: HeaderSeq, Value: []byte("x")}}},
		{Topic: TickTopic("gp"), Key: []byte("S|X.N")},
	}
	if err := cl.ProduceSync(ctx, bad...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("stats %+v", r.sub.Stats())
		}
	}()
	waitFor(t, 30*time.Second, "every record read", func() bool {
		st := r.sub.Stats()
		return st.Ticks+st.Duplicates+st.Malformed == int64(6+len(bad))
	})
	st := r.sub.Stats()
	if st.Gaps != 2 || st.Missing != 3 || st.Duplicates != 1 || st.Malformed != int64(len(bad)) || st.Ticks != 5 {
		t.Errorf("stats %+v", st)
	}
	r.mu.Lock()
	gaps := append([]Gap(nil), r.gaps...)
	r.mu.Unlock()
	if len(gaps) != 2 || gaps[0] != (Gap{ItemKey: ItemKey{"ELEKTRON_DD", "G.N", trjson.DomainMarketPrice}, Expected: 12, Got: 15, Missing: 3}) ||
		!gaps[1].NoImage || gaps[1].Name != "H.N" {
		t.Errorf("gaps %+v", gaps)
	}
	im, _ := r.sub.Image(ItemKey{Service: "ELEKTRON_DD", Name: "G.N"})
	if im.Seq != 16 {
		t.Errorf("G.N seq %d, want 16", im.Seq)
	}
}

func TestSubscriberOptionsErrors(t *testing.T) {
	if _, err := NewSubscriber(context.Background(), SubscriberOptions{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no brokers: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := NewSubscriber(ctx, SubscriberOptions{Connection: Connection{Brokers: []string{"127.0.0.1:1"}}}); err == nil {
		t.Error("NewSubscriber to a closed port succeeded")
	}
}

// A multi-part Refresh: the image is written once it completes and holds
// every part's fields; the Subscriber's rebuild from the ticks does too.
func TestMultiPartRefresh(t *testing.T) {
	c := startCluster(t, 1, "mp", 1)
	r := startSubscriber(t, c, "mp", func(o *SubscriberOptions) { o.Lookback = time.Minute })
	p := newTestPublisher(t, c, "mp", func(o *Options) { o.ImageInterval = 10 * time.Millisecond })
	part := func(n int64, last bool, fs ...trjson.Field) *consumer.Msg {
		tm := trjson.Msg{Type: trjson.TypeRefresh, ID: 5, PartNumber: n, NotComplete: !last, SeqNumber: 7, HasSeqNumber: true,
			Fields: fs, HasFields: true, State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk}, HasState: true}
		return &consumer.Msg{Type: trjson.TypeRefresh, Name: "BIG.N", Service: "S", Domain: trjson.DomainMarketPrice,
			PartNumber: n, Complete: last, State: tm.State, HasState: true, SeqNumber: 7, HasSeq: true, Fields: fs,
			Raw: trjson.AppendMsg(nil, &tm), Received: time.Now()}
	}
	p.Handle(part(0, false, trjson.Float("BID", 1), trjson.Float("ASK", 2)))
	waitFor(t, 10*time.Second, "part 0 in Kafka", func() bool { return p.Stats().Ticks == 1 })
	if imgs := p.Stats().Images; imgs != 0 {
		t.Errorf("%d images written before the Refresh completed", imgs)
	}
	p.Handle(part(1, true, trjson.String("DSPLY_NAME", "BIG")))
	closePublisher(t, p)
	imgs := lastImages(t, readAll(t, c, ImageTopic("mp")))
	checkImages(t, refImages{"S|BIG.N": {"BID": fieldText(trjson.Float("BID", 1)), "ASK": fieldText(trjson.Float("ASK", 2)),
		"DSPLY_NAME": fieldText(trjson.String("DSPLY_NAME", "BIG"))}}, imgs)
	waitFor(t, 10*time.Second, "both parts followed", func() bool { return r.sub.Stats().Ticks == 2 })
	im, _ := r.sub.Image(ItemKey{Service: "S", Name: "BIG.N"})
	if len(im.Fields) != 3 {
		t.Errorf("rebuilt image %+v, want the fields of both parts", im.Fields)
	}
}
