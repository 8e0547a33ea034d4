package natsbus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ertkit/ertkit/trjson"
)

// benchImage is a realistic image payload: a MarketPrice Refresh of 30
// fields (about 700 bytes).
func benchImage() []byte {
	im := newImage(Key{Service: "ELEKTRON_DD", Domain: trjson.DomainMarketPrice, Name: "TRI.N"})
	var fs []trjson.Field
	for i := range 30 {
		fs = append(fs, trjson.Float(fmt.Sprintf("FIELD_%02d", i), 123.25+float64(i)))
	}
	im.apply(&trjson.Msg{Type: trjson.TypeRefresh, HasState: true, State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk},
		SeqNumber: 1, HasSeqNumber: true, Fields: fs, HasFields: true}, 1)
	return im.encode(nil)
}

// BenchmarkLastValue compares the two ways of keeping one image per item
// in JetStream, on an embedded file-backed server over loopback: a KV
// bucket (Put, or an async publish to its $KV subject) and a stream with
// MaxMsgsPerSubject 1 (sync or async publish). 1000 items in rotation.
// Async variants keep up to 256 publishes in flight, as the Publisher does.
func BenchmarkLastValue(b *testing.B) {
	_, nc := startServer(b)
	ctx := context.Background()
	js, _ := jetstream.New(nc)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "BENCH_KV", History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_LAST", Subjects: []string{"bench_last.>"},
		MaxMsgsPerSubject: 1, Storage: jetstream.FileStorage, AllowDirect: true}); err != nil {
		b.Fatal(err)
	}
	payload := benchImage()
	const items = 1000
	keys := make([]string, items)
	for i := range keys {
		keys[i] = fmt.Sprintf("ELEKTRON_DD.MarketPrice.RIC%04d_2EN", i)
	}
	hdr := func() nats.Header {
		h := nats.Header{}
		h.Set(HeaderUpdatesSeq, "123456")
		h.Set(HeaderSeq, "42")
		h.Set(HeaderState, "Open/Ok/None")
		return h
	}
	async := func(b *testing.B, subject func(i int) string, withHeaders bool) {
		b.SetBytes(int64(len(payload)))
		futs := make([]jetstream.PubAckFuture, 0, 256)
		i := 0
		flush := func() {
			for _, f := range futs {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Fatal(err)
				case <-time.After(10 * time.Second):
					b.Fatal("ack timeout")
				}
			}
			futs = futs[:0]
		}
		for b.Loop() {
			m := &nats.Msg{Subject: subject(i), Data: payload}
			if withHeaders {
				m.Header = hdr()
			}
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			futs = append(futs, f)
			if len(futs) == cap(futs) {
				flush()
			}
			i++
		}
		flush()
	}
	b.Run("kv-put-sync", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		i := 0
		for b.Loop() {
			if _, err := kv.Put(ctx, keys[i%items], payload); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("stream-publish-sync", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		i := 0
		for b.Loop() {
			if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "bench_last." + keys[i%items], Data: payload}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	// The same publish to both; with and without the three headers the
	// Publisher puts on an image (a KV Get does not return headers, so
	// the KV design would carry them in the payload instead).
	for _, hd := range []bool{false, true} {
		suffix := ""
		if hd {
			suffix = "-headers"
		}
		b.Run("kv-async"+suffix, func(b *testing.B) {
			async(b, func(i int) string { return "$KV.BENCH_KV." + keys[i%items] }, hd)
		})
		b.Run("stream-async"+suffix, func(b *testing.B) {
			async(b, func(i int) string { return "bench_last." + keys[i%items] }, hd)
		})
	}
}

// BenchmarkPublisher measures the whole Publisher path per message: Handle
// (copy and queue), async publish to the updates stream with its
// acknowledgement, folding into the image and the coalesced image writes
// (100 items, 100 ms interval). Close is inside the timing, so every
// message is stored when it ends.
func BenchmarkPublisher(b *testing.B) {
	_, nc := startServer(b)
	ctx := context.Background()
	pub, err := NewPublisher(ctx, PublisherConfig{Conn: nc, Streams: Streams{Prefix: "bench"}})
	if err != nil {
		b.Fatal(err)
	}
	var feeds []*feed
	for i := range 100 {
		f := newFeed(Key{Service: "ELEKTRON_DD", Domain: trjson.DomainMarketPrice, Name: fmt.Sprintf("RIC%03d.N", i)})
		pub.Handle(f.refresh())
		feeds = append(feeds, f)
	}
	i := 0
	for b.Loop() {
		pub.Handle(feeds[i%len(feeds)].update())
		i++
		if i%16384 == 0 {
			// Stay within the queue: the benchmark measures publishing,
			// not the drop policy.
			if err := pub.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := pub.Close(ctx); err != nil {
		b.Fatal(err)
	}
	st := pub.Stats()
	if st.Dropped != 0 {
		b.Fatalf("dropped %d", st.Dropped)
	}
	b.ReportMetric(float64(st.Images)/float64(b.N), "images/op")
}
