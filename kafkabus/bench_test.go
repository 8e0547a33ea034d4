package kafkabus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kfake"
)

const kfakeChildEnv = "KAFKABUS_KFAKE_CHILD"

// serveKfakeChild runs a kfake cluster in this (child) process, so that
// the benchmark's CPU time (getrusage of the parent) is the producer's
// alone. It accepts produce requests without storing the records
// (kfake.BlackholeProduce: sequence numbers are still checked), prints
// its address and runs until its stdin closes.
func serveKfakeChild() {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BlackholeProduce(),
		kfake.SeedTopics(12, TickTopic("bench"), ImageTopic("bench")))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(strings.Join(c.ListenAddrs(), ","))
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			break
		}
	}
	c.Close()
	os.Exit(0)
}

// startKfakeChild starts the out-of-process cluster for b (stopped at
// b's cleanup) and returns its brokers.
func startKfakeChild(b *testing.B) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), kfakeChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		b.Fatalf("kfake child: %q %v", line, err)
	}
	return strings.Split(strings.TrimSpace(line), ",")
}

// BenchmarkPublisher is the producer's own cost: b.N Market Price
// updates of 1,000 items through Handle, the producer goroutine and
// franz-go into an out-of-process kfake, until Kafka acknowledged all.
// Reported: msgs/s (wall, to the last acknowledgement) and cpu-µs/msg
// (this process's user+system CPU per message: Handle, merge, images,
// franz-go, compression; the messages are made before the clock starts).
func BenchmarkPublisher(b *testing.B) {
	brokers := startKfakeChild(b)
	s := newSynth()
	const items, pregen = 1000, 21000
	msgs := make([]*consumer.Msg, 0, pregen)
	for i := 0; i < pregen; i++ {
		var m *consumer.Msg
		if i < items {
			m = s.refresh(s.ric(i))
		} else {
			m = s.update(s.ric(i % items))
		}
		c := m.Clone()
		msgs = append(msgs, c)
	}
	for _, cfg := range []struct {
		name        string
		compression string
		linger      time.Duration
	}{
		{"snappy/linger=5ms", "snappy", 5 * time.Millisecond},
		{"none/linger=5ms", "none", 5 * time.Millisecond},
		{"lz4/linger=5ms", "lz4", 5 * time.Millisecond},
		{"zstd/linger=5ms", "zstd", 5 * time.Millisecond},
		{"snappy/linger=0", "snappy", -1},
		{"snappy/linger=20ms", "snappy", 20 * time.Millisecond},
	} {
		b.Run(cfg.name, func(b *testing.B) {
			ctx := context.Background()
			linger := cfg.linger
			if linger < 0 {
				linger = time.Nanosecond // ~no linger (0 means the default)
			}
			p, err := NewPublisher(ctx, Options{Connection: Connection{Brokers: brokers, TopicPrefix: "bench", Logger: quietLogger()},
				Compression: cfg.compression, Linger: linger})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				// The benchmark, not Handle, waits for room: Handle would
				// drop (by design) if it were fed faster than Kafka takes.
				// A shallow queue (1,024) is the steady state of a feed
				// Kafka keeps up with; a full one would measure allocating
				// entries for 64k queued messages instead.
				for len(p.q) > 1024 || p.st.bufBytes.Load() > p.opts.BufferBytes-1<<20 {
					time.Sleep(20 * time.Microsecond) // not Gosched: a spin would count as the producer's CPU
				}
				m := msgs[i%items] // the Refreshes once, then the Updates round and round
				if i >= items {
					m = msgs[items+(i-items)%(pregen-items)]
				}
				m.Received = time.Now()
				p.Handle(m)
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			st := p.Stats()
			if st.Dropped != 0 || st.Ticks != int64(b.N) {
				b.Fatalf("stats %+v for %d messages", st, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/msg")
		})
	}
}

// BenchmarkEmulatorToKafka is the whole path on one machine: the
// emulator in load mode (as fast as the client drains) → SDK → Publisher
// → kfake (out of process). "sdk-only" is the same without the Publisher
// (the Handler only counts): the difference is the Publisher's cost when
// it shares the cores with the SDK and the emulator.
func BenchmarkEmulatorToKafka(b *testing.B) {
	brokers := startKfakeChild(b)
	for _, publish := range []bool{false, true} {
		name := "sdk-only"
		if publish {
			name = "sdk+publisher"
		}
		b.Run(name, func(b *testing.B) {
			emu := testutil.StartEmulator(b, emulator.Config{PlainWS: true, Rate: 0, RateSet: true, Pack: 20})
			info := emu.Info()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var p *Publisher
			if publish {
				var err error
				p, err = NewPublisher(ctx, Options{Connection: Connection{Brokers: brokers, TopicPrefix: "bench", Logger: quietLogger()}})
				if err != nil {
					b.Fatal(err)
				}
			}
			tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{TokenURL: info.AuthURLV2,
				ClientID: info.ClientID, ClientSecret: info.ClientSecret}), auth.Options{})
			defer tokens.Close()
			var n atomic.Int64
			target := int64(b.N)
			done := make(chan struct{})
			client, err := consumer.Dial(ctx, consumer.Config{
				Endpoints:   []string{fmt.Sprintf("ws://%s:%d/WebSocket", info.Endpoints[0].Host, info.Endpoints[0].Port)},
				TokenSource: tokens, Logger: quietLogger(),
				Handler: func(m *consumer.Msg) {
					if p != nil {
						p.Handle(m)
					}
					if m.Type != trjson.TypeUpdate {
						return
					}
					if n.Add(1) == target {
						close(done)
					}
				}})
			if err != nil {
				b.Fatal(err)
			}
			names := make([]string, 1000)
			for i := range names {
				names[i] = fmt.Sprintf("SYN%d.X", i)
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			if _, err := client.Subscribe(ctx, names); err != nil {
				b.Fatal(err)
			}
			select {
			case <-done:
			case <-ctx.Done():
				b.Fatal(ctx.Err())
			}
			client.Close()
			var st Stats
			if p != nil {
				if err := p.Close(ctx); err != nil {
					b.Fatal(err)
				}
				st = p.Stats()
			}
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			total := n.Load()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(total), "cpu-µs/msg")
			if p != nil {
				b.ReportMetric(float64(st.Dropped), "dropped")
			}
		})
	}
}
