package kafkabus

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/trjson"
)

// envInt reads a tuning knob of the long test (for local runs).
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The acceptance run: 1,000 emulator items streamed for 30 s
// through the SDK into the Publisher and kfake. Every update arrives
// once, in order per item; the images rebuilt from Kafka by the
// Subscriber equal the SDK's own cache. Throughput and CPU are logged
// (not asserted: BENCHMARKS.md has the measurements).
// KAFKABUS_E2E_SECONDS, _ITEMS and _RATE (updates/s per item, default 3)
// tune it.
func TestEmulator1000Items30s(t *testing.T) {
	seconds := envInt("KAFKABUS_E2E_SECONDS", 30)
	items := envInt("KAFKABUS_E2E_ITEMS", 1000)
	rate := envInt("KAFKABUS_E2E_RATE", 3)
	emu := testutil.StartEmulator(t, emulator.Config{PlainWS: true, Rate: float64(rate), RateSet: true})
	info := emu.Info()
	c := startCluster(t, 1, "e2e", 12)
	// Under -race on a loaded 2-core machine the producer lags the SDK by
	// tens of MB at times (23 MB seen); the buffer is sized so that this
	// run tests delivery, not the drop policy (TestBrokerDown10s does).
	p := newTestPublisher(t, c, "e2e", func(o *Options) { o.BufferBytes = 256 << 20 })

	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{TokenURL: info.AuthURLV2,
		ClientID: info.ClientID, ClientSecret: info.ClientSecret}), auth.Options{})
	defer tokens.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second+2*time.Minute)
	defer cancel()

	var sent sentLog
	var refreshed atomic.Int64
	var eps []string
	for _, e := range info.Endpoints {
		eps = append(eps, fmt.Sprintf("ws://%s:%d/WebSocket", e.Host, e.Port))
	}
	client, err := consumer.Dial(ctx, consumer.Config{Endpoints: eps, TokenSource: tokens, Cache: true,
		Logger: quietLogger(),
		Handler: func(m *consumer.Msg) {
			if m.Name != "" && (m.Type == trjson.TypeRefresh || m.Type == trjson.TypeUpdate || m.Type == trjson.TypeStatus) {
				sent.add(m)
				if m.Type == trjson.TypeRefresh && m.Complete {
					refreshed.Add(1)
				}
			}
			p.Handle(m)
		}})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, items)
	for i := range names {
		names[i] = fmt.Sprintf("SYN%d.X", i)
	}
	if _, err := client.Subscribe(ctx, names); err != nil {
		t.Fatal(err)
	}
	// The 30 s start when every item has its image (a loaded machine
	// takes a while to open 1,000 streams).
	deadline := time.NewTimer(3 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	for refreshed.Load() < int64(items) {
		select {
		case <-deadline.C:
			t.Fatalf("%d of %d items refreshed after 3 minutes", refreshed.Load(), items)
		case <-tick.C:
		}
	}
	start, cpu0 := time.Now(), cpuTime()
	sent.mu.Lock()
	n0 := sent.n
	sent.mu.Unlock()
	run := time.NewTimer(time.Duration(seconds) * time.Second)
	select {
	case <-run.C:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	client.Close() // no more Handler calls after Close returns
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	closePublisher(t, p)
	st := p.Stats()
	sent.mu.Lock()
	n := sent.n
	sent.mu.Unlock()
	t.Logf("%d items, %d messages in the %v window (%d in all): %.0f msgs/s; process CPU %v (%.1f µs/msg: emulator, SDK, publisher and kfake together); peak buffer %d bytes",
		items, n-n0, elapsed.Round(time.Millisecond), n, float64(n-n0)/elapsed.Seconds(), cpu.Round(time.Millisecond),
		float64(cpu.Microseconds())/float64(n-n0), st.BufMax)
	if st.Dropped != 0 || st.TickFailed != 0 || st.Ticks != int64(n) {
		t.Errorf("publisher stats %+v, %d messages handed", st, n)
	}
	sameSeqs(t, sent.seqs, seqsByKey(t, readAll(t, c, TickTopic("e2e"))))

	// Rebuild from Kafka and compare with the SDK's cache.
	c.Compact()
	sub, err := NewSubscriber(ctx, SubscriberOptions{Connection: Connection{Brokers: c.ListenAddrs(), TopicPrefix: "e2e", Logger: quietLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	subCtx, stopSub := context.WithCancel(ctx)
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Run(subCtx, func(*consumer.Msg) {}) }()
	want := map[string]int64{}
	for k, seqs := range sent.seqs {
		want[k] = seqs[len(seqs)-1]
	}
	caughtUp := func() bool {
		for _, im := range sub.Images() {
			if want[string(AppendKey(nil, im.ItemKey))] != im.Seq {
				return false
			}
		}
		return len(sub.Images()) == len(want)
	}
	deadline.Reset(60 * time.Second)
	for !caughtUp() {
		select {
		case <-deadline.C:
			t.Fatalf("subscriber did not catch up: %+v", sub.Stats())
		case <-tick.C:
		}
	}
	tick.Stop()
	stopSub()
	<-subDone
	ss := sub.Stats()
	if ss.Gaps != 0 || ss.Duplicates != 0 || ss.Malformed != 0 {
		t.Errorf("subscriber stats %+v", ss)
	}
	diff := 0
	for _, ci := range client.Images() {
		im, ok := sub.Image(ItemKey{Service: ci.Service, Name: ci.Name})
		if !ok {
			t.Errorf("%s: no image rebuilt", ci.Name)
			continue
		}
		if len(im.Fields) != len(ci.Fields) || im.State.Stream != ci.State.Stream || im.State.Data != ci.State.Data {
			t.Errorf("%s: rebuilt %d fields %v, SDK cache %d fields %v", ci.Name, len(im.Fields), im.State, len(ci.Fields), ci.State)
			diff++
		}
		for name, f := range ci.Fields {
			g := im.Field(name)
			if g == nil || fieldText(*g) != fieldText(f) {
				t.Errorf("%s %s: rebuilt %v, SDK cache %s", ci.Name, name, g, fieldText(f))
				diff++
				break
			}
		}
		if diff > 5 {
			t.Fatal("too many differences")
		}
	}
	t.Logf("subscriber: %+v", ss)
}
