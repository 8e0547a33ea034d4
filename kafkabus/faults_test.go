package kafkabus

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// source hands synthetic item messages to its sinks at a steady pace
// (perTick messages every 5 ms) from one goroutine, as the SDK's
// delivery goroutine would, until stopped; bounded at limit messages.
type source struct {
	stop  chan struct{}
	done  chan struct{}
	count atomic.Int64
}

func startSource(items, perTick int, limit int64, sinks ...func(*consumer.Msg)) *source {
	src := &source{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(src.done)
		s := newSynth()
		emit := func(m *consumer.Msg) {
			for _, f := range sinks {
				f(m)
			}
			src.count.Add(1)
		}
		for i := 0; i < items; i++ {
			emit(s.refresh(s.ric(i)))
		}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		next := 0
		for src.count.Load() < limit {
			select {
			case <-src.stop:
				return
			case <-t.C:
			}
			for j := 0; j < perTick; j++ {
				emit(s.update(s.ric(next % items)))
				next++
			}
		}
	}()
	return src
}

// fastMetadata lets franz-go refresh metadata after 100 ms instead of its
// 5 s minimum, so that a leader move costs the test less time.
func fastMetadata(o *Options) {
	o.ExtraOpts = append(o.ExtraOpts, kgo.MetadataMinAge(100*time.Millisecond))
}

func (s *source) halt() { close(s.stop); <-s.done }

// waitFor waits until cond holds, polling every 10 ms, bounded by d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		case <-tick.C:
		}
	}
}

// Produce errors (including timeouts after the broker appended the batch,
// which a retry would duplicate without idempotence) and leader moves
// while publishing: every message lands exactly once, in order.
func TestProduceErrorsAndLeaderMoves(t *testing.T) {
	c := startCluster(t, 3, "pf", 6)
	p := newTestPublisher(t, c, "pf", fastMetadata)
	var sent sentLog
	src := startSource(100, 10, 200_000, sent.add, p.Handle)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Batches appended, then answered with an error: the producer retries
	// them, and only the idempotent sequence numbers keep the log free of
	// duplicates.
	h := c.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.RequestTimedOut, Count: 5},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicasAfterAppend, Count: 5},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotLeaderForPartition, Count: 5},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: 5},
	)
	if err := h.Wait(ctx, 20); err != nil {
		t.Fatalf("faults answered %d of 20 produce requests: %v", h.Hits(), err)
	}
	// Leader moves.
	for i := 0; i < 3; i++ {
		n := src.count.Load()
		c.ShufflePartitionLeaders()
		if err := c.MoveTopicPartition(TickTopic("pf"), int32(i), int32((i+1)%3)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "messages after a leader move", func() bool { return p.Stats().Ticks > n })
	}
	src.halt()
	closePublisher(t, p)
	st := p.Stats()
	if st.Dropped != 0 || st.TickFailed != 0 || st.Ticks != int64(sent.n) {
		t.Errorf("stats %+v, %d sent", st, sent.n)
	}
	sameSeqs(t, sent.seqs, seqsByKey(t, readAll(t, c, TickTopic("pf"))))
	t.Logf("%d messages through %d produce faults and 3 leader moves", sent.n, h.Hits())
}

// outage makes one broker unreachable from the publishers' side: while
// down, dials to it are refused and its open connections are cut, as
// when its host or process is down. (Closing connections from inside
// kfake's control hook instead looks to franz-go like a TLS or SASL
// misconfiguration, which it does not retry: that is no broker outage.)
type outage struct {
	mu      sync.Mutex
	down    string
	conns   []net.Conn
	addrs   []string
	refused atomic.Int64
}

func (o *outage) dial(ctx context.Context, network, host string) (net.Conn, error) {
	o.mu.Lock()
	if host == o.down {
		o.mu.Unlock()
		o.refused.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	o.mu.Unlock()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err == nil {
		o.mu.Lock()
		o.conns = append(o.conns, c)
		o.addrs = append(o.addrs, host)
		o.mu.Unlock()
	}
	return c, err
}

func (o *outage) start(host string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = host
	for i, c := range o.conns {
		if o.addrs[i] == host {
			c.Close()
		}
	}
}

func (o *outage) end() {
	o.mu.Lock()
	o.down = ""
	o.mu.Unlock()
}

// One broker of three is unreachable for 10 s. A publisher with the
// default buffer loses nothing; one with a small buffer drops, counts
// and reports what did not fit, and still writes no duplicate and
// nothing out of order.
func TestBrokerDown10s(t *testing.T) {
	c := startCluster(t, 3, "big", 6)
	for _, topic := range []string{TickTopic("small"), ImageTopic("small")} {
		if err := c.CreateTopic(topic, 6, nil); err != nil {
			t.Fatal(err)
		}
	}
	var out outage
	withOutage := func(o *Options) { fastMetadata(o); o.ExtraOpts = append(o.ExtraOpts, kgo.Dialer(out.dial)) }
	var bigLogs testLogger
	big := newTestPublisher(t, c, "big", func(o *Options) { withOutage(o); o.Logger = bigLogs.logger() })
	defer func() {
		if t.Failed() {
			t.Logf("default buffer's log: %q", bigLogs.all())
		}
	}()
	var logs testLogger
	small := newTestPublisher(t, c, "small", func(o *Options) { o.BufferBytes = 64 << 10; o.Logger = logs.logger(); withOutage(o) })
	var sent sentLog
	src := startSource(100, 10, 200_000, sent.add, big.Handle, small.Handle)
	smallSent := &sent

	waitFor(t, 30*time.Second, "traffic before the outage", func() bool { return big.Stats().Ticks > 200 })
	out.start(c.ListenAddrs()[0])
	tenSeconds := time.NewTimer(10 * time.Second)
	<-tenSeconds.C
	out.end()
	n := src.count.Load()
	waitFor(t, 30*time.Second, "delivery after the outage", func() bool { return big.Stats().Ticks > n })
	src.halt()
	closePublisher(t, big)
	closePublisher(t, small)
	if out.refused.Load() == 0 {
		t.Fatal("no dial was refused: no outage happened")
	}

	st := big.Stats()
	if st.Dropped != 0 || st.Ticks != int64(sent.n) {
		t.Errorf("default buffer: stats %+v, %d sent", st, sent.n)
	}
	sameSeqs(t, sent.seqs, seqsByKey(t, readAll(t, c, TickTopic("big"))))
	t.Logf("default buffer: %d messages, peak buffer %d bytes, %d dials refused", sent.n, st.BufMax, out.refused.Load())

	ss := small.Stats()
	if ss.Dropped == 0 {
		t.Errorf("small buffer dropped nothing in a 10 s outage: %+v", ss)
	}
	if ss.Ticks+ss.Dropped != int64(smallSent.n) {
		t.Errorf("small buffer: %d delivered + %d dropped != %d sent", ss.Ticks, ss.Dropped, smallSent.n)
	}
	// In Kafka: each item's records are a subsequence of what was sent,
	// in order, no duplicates; what is missing is what was dropped.
	got := seqsByKey(t, readAll(t, c, TickTopic("small")))
	missing := int64(0)
	for k, want := range smallSent.seqs {
		g := got[k]
		j := 0
		for _, s := range g {
			for j < len(want) && want[j] != s {
				j++
			}
			if j == len(want) {
				t.Fatalf("%s: seq %d out of order or duplicated", k, s)
			}
			j++
		}
		missing += int64(len(want) - len(g))
	}
	if missing != ss.Dropped {
		t.Errorf("%d messages missing in Kafka, %d counted dropped", missing, ss.Dropped)
	}
	reported := false
	for _, l := range logs.all() {
		if strings.Contains(l, "buffer full") && strings.Contains(l, "dropped_total") {
			reported = true
		}
	}
	if !reported {
		t.Errorf("the drops were not reported: %q", logs.all())
	}
	t.Logf("small buffer: %d delivered, %d dropped and reported", ss.Ticks, ss.Dropped)
}
