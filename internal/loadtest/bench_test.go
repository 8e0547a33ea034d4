package loadtest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkE2E measures updates decoded end to end: emulator load mode →
// loopback socket (wss or ws) → consumer (trjson decode, routing, item
// stage) → Handler, in one process sharing the machine's cores. One op is
// one update, so allocs/op is process allocations (emulator included) per
// update.
func BenchmarkE2E(b *testing.B) {
	for _, plain := range []bool{false, true} {
		for _, pack := range []int{1, 50} {
			cfg := Config{Plain: plain, Pack: pack}
			b.Run(cfg.Name(), func(b *testing.B) { benchE2E(b, cfg) })
		}
	}
	// The SDK's decode workers (consumer.Config.DecodeWorkers).
	cfg := Config{Pack: 50, DecodeWorkers: 1}
	b.Run(cfg.Name(), func(b *testing.B) { benchE2E(b, cfg) })
}

// BenchmarkE2EMapAny is the reference line: the same stream decoded with
// encoding/json into []map[string]any, as LSEG's Go example does.
func BenchmarkE2EMapAny(b *testing.B) {
	for _, pack := range []int{1, 50} {
		cfg := Config{Pack: pack, Decoder: DecoderMapAny}
		b.Run(fmt.Sprintf("tls/pack%d", pack), func(b *testing.B) { benchE2E(b, cfg) })
	}
}

func benchE2E(b *testing.B, cfg Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// Let the stream reach steady state before timing.
	if err := s.WaitUpdates(ctx, 1000); err != nil {
		b.Fatal(err)
	}
	bytes0, cpu0 := s.bytes.Load(), CPUTime()
	h0 := s.hist.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.WaitUpdates(ctx, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	h := s.hist.Snapshot().Sub(h0)
	b.ReportMetric(float64(b.N)/sec, "updates/s")
	b.ReportMetric(float64(s.bytes.Load()-bytes0)/sec/1e6, "MB/s")
	b.ReportMetric(float64(CPUTime()-cpu0)/float64(b.N), "cpu-ns/update")
	b.ReportMetric(float64(h.Quantile(0.99))/1e6, "p99-ms")
	if s.disconnects.Load() > 0 {
		b.Fatalf("%d connection(s) lost", s.disconnects.Load())
	}
}

// BenchmarkScale opens 2,000 cached items on one connection per op (in
// this process); `ert bench scale` runs the 100,000-item version with the
// client in a child process.
func BenchmarkScale(b *testing.B) {
	for range b.N {
		r, err := Scale(context.Background(), ScaleConfig{Items: 2000, Plain: true}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.RefreshSeconds, "refresh-s")
		b.ReportMetric(r.HeapPerItem, "heap-B/item")
	}
}

// BenchmarkPaced measures latency at a fixed total rate of 100,000
// updates/s (emulator SendTimestamps: send time at tick generation →
// Handler), as 1,000 items × 100/s and 10,000 items × 10/s, pack 1 and
// 10, over TLS. One op is one update; ns/op is set by the rate, the
// figures are p50/p99/p99.9-ms and the achieved updates/s.
func BenchmarkPaced(b *testing.B) {
	for _, shape := range []struct {
		items int
		rate  float64
	}{{1000, 100}, {10000, 10}} {
		for _, pack := range []int{1, 10} {
			cfg := Config{Pack: pack, Items: shape.items, Rate: shape.rate}
			b.Run(fmt.Sprintf("items%d/rate%g/pack%d", shape.items, shape.rate, pack), func(b *testing.B) { benchPaced(b, cfg) })
		}
	}
}

func benchPaced(b *testing.B, cfg Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.WaitUpdates(ctx, 20_000); err != nil { // past the refresh burst
		b.Fatal(err)
	}
	h0 := s.hist.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.WaitUpdates(ctx, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	h := s.hist.Snapshot().Sub(h0)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(float64(h.Quantile(0.50))/1e6, "p50-ms")
	b.ReportMetric(float64(h.Quantile(0.99))/1e6, "p99-ms")
	b.ReportMetric(float64(h.Quantile(0.999))/1e6, "p99.9-ms")
	if s.disconnects.Load() > 0 {
		b.Fatalf("%d connection(s) lost", s.disconnects.Load())
	}
}
