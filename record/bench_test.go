package record

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
)

// poolSize is how many real emulator messages the benchmarks cycle
// through: distinct data well beyond zstd's window, so that compression
// ratios are not flattered by repetition.
const poolSize = 200_000

var (
	poolOnce sync.Once
	pool     []testMsg
)

// capturePool records poolSize messages of 1,000 emulator items updating
// 50 times a second each (SYN items, Market Price quotes and trades), as
// the SDK delivers them.
func capturePool(b *testing.B) []testMsg {
	poolOnce.Do(func() {
		emu := testutil.StartEmulator(b, emulator.Config{Rate: 50, RateSet: true})
		var mu sync.Mutex
		out := make([]testMsg, 0, poolSize)
		full := make(chan struct{})
		c := dialEmulator(b, emu, func(m *consumer.Msg) {
			mu.Lock()
			defer mu.Unlock()
			if len(out) < poolSize {
				out = append(out, testMsg{t: m.Received.UnixNano(), name: m.Name, raw: append([]byte(nil), m.Raw...)})
				if len(out) == poolSize {
					close(full)
				}
			}
		}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := c.Subscribe(ctx, itemNames(1000)); err != nil {
			b.Fatal(err)
		}
		select {
		case <-full:
		case <-ctx.Done():
			b.Fatal("capturing the benchmark's messages took over 60 s")
		}
		c.Close()
		mu.Lock()
		pool = out
		mu.Unlock()
	})
	return pool
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriter feeds real messages through Handle to a file on disk
// and waits for the last block to be written (Close). Lossless: the
// writer's throughput is measured, not how much it drops.
// updates/s: messages per second of wall time, to disk;
// cpu-ns/update: process CPU (both the Handle side and the compressing
// goroutine) per message; ratio: the recorder's JSON lines over the file;
// jsonl-ratio: `ert stream --output jsonl`'s bytes (message + newline)
// over the file.
func BenchmarkWriter(b *testing.B) {
	msgs := capturePool(b)
	for _, c := range []struct{ level, blockMiB int }{{1, 1}, {2, 1}, {3, 1}} {
		b.Run(fmt.Sprintf("level%d/block%dMiB", c.level, c.blockMiB), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.ert.zst")
			w, err := Create(path, Options{Level: c.level, BlockSize: c.blockMiB << 20, Lossless: true})
			if err != nil {
				b.Fatal(err)
			}
			var jsonl int64
			base := msgs[0].t
			span := msgs[len(msgs)-1].t - base + 1
			var m consumer.Msg
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				src := &msgs[i%len(msgs)]
				m = consumer.Msg{Name: src.name, Raw: src.raw, Received: time.Unix(0, src.t+int64(i/len(msgs))*span)}
				w.Handle(&m)
				jsonl += int64(len(src.raw) + 1)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			st := w.Stats()
			if st.Dropped != 0 {
				b.Fatalf("dropped %d in lossless mode", st.Dropped)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/update")
			b.ReportMetric(float64(st.RawBytes)/float64(st.Bytes), "ratio")
			b.ReportMetric(float64(jsonl)/float64(st.Bytes), "jsonl-ratio")
			b.ReportMetric(float64(st.Bytes)/float64(b.N), "disk-B/update")
		})
	}
}

// BenchmarkHandle is the cost on the SDK's goroutine alone: Handle
// copies the line into a block and returns. The queue is sized to hold
// every message of the run (b.N × 400 bytes of memory), so that the
// figure is the cost of an accepted message, not of a drop; the
// compressing goroutine runs meanwhile on the other core.
func BenchmarkHandle(b *testing.B) {
	msgs := capturePool(b)
	w, err := Create(filepath.Join(b.TempDir(), "h.ert.zst"), Options{QueueBlocks: b.N*400/(1<<20) + 4})
	if err != nil {
		b.Fatal(err)
	}
	var m consumer.Msg
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src := &msgs[i%len(msgs)]
		m = consumer.Msg{Name: src.name, Raw: src.raw, Received: time.Unix(0, src.t)}
		w.Handle(&m)
	}
	b.StopTimer()
	w.Close()
	st := w.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
}

// BenchmarkSeek opens a recording and plays its first record from a
// random offset: the cost of `ert replay --from`. The file is built from
// the pool to ERT_SEEK_FILE_MB megabytes (default 16; 1024 for the 1 GB
// figure in docs/BENCHMARKS.md) once per run.
func BenchmarkSeek(b *testing.B) {
	msgs := capturePool(b)
	mb := 16
	if s := os.Getenv("ERT_SEEK_FILE_MB"); s != "" {
		var err error
		if mb, err = strconv.Atoi(s); err != nil || mb <= 0 {
			b.Fatalf("ERT_SEEK_FILE_MB=%q", s)
		}
	}
	path := filepath.Join(b.TempDir(), "seek.ert.zst")
	w, err := Create(path, Options{Lossless: true, Level: 1})
	if err != nil {
		b.Fatal(err)
	}
	base, span := msgs[0].t, msgs[len(msgs)-1].t-msgs[0].t+1
	var m consumer.Msg
	for i := 0; w.Stats().Bytes < int64(mb)<<20; i++ {
		src := &msgs[i%len(msgs)]
		m = consumer.Msg{Name: src.name, Raw: src.raw, Received: time.Unix(0, src.t+int64(i/len(msgs))*span)}
		w.Handle(&m)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	rd, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	first, last, _ := rd.Span()
	rd.Close()
	fi, _ := os.Stat(path)
	rng := rand.New(rand.NewSource(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from := time.Duration(rng.Int63n(last - first))
		rd, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		p, err := NewPlayer([]*Reader{rd}, PlayOptions{From: from, Fast: true})
		if err != nil {
			b.Fatal(err)
		}
		r, err := p.Next(context.Background())
		if err != nil || r.Time < first+int64(from) {
			b.Fatalf("seek to %v: %v", from, err)
		}
		rd.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
	_ = base
}
