package kafkabus

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(kfakeChildEnv) != "" {
		serveKfakeChild() // the benchmark's out-of-process cluster
		return
	}
	goleak.VerifyTestMain(m)
}

// startCluster starts an in-process kfake cluster on loopback with the
// two topics of prefix created (partitions each).
func startCluster(t testing.TB, brokers int, prefix string, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(brokers)}, opts...) // kfake listens on 127.0.0.1
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	if err := c.CreateTopic(TickTopic(prefix), partitions, map[string]string{"cleanup.policy": "delete"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(ImageTopic(prefix), partitions, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	return c
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testLogger records Warn lines.
type testLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLogger) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		l.mu.Lock()
		l.lines = append(l.lines, string(p))
		l.mu.Unlock()
		return len(p), nil
	}), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func (l *testLogger) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// synth makes tr_json2 messages for synthetic items, as the SDK would
// deliver them (Raw, Fields and the rest filled).
type synth struct {
	service string
	seq     map[string]int64
	buf     []byte
	fields  []trjson.Field
	n       int64
}

func newSynth() *synth { return &synth{service: "ELEKTRON_DD", seq: map[string]int64{}} }

func (s *synth) ric(i int) string { return fmt.Sprintf("SYN%d.X", i) }

// refresh returns item name's Refresh (a new image: BID, ASK, DSPLY_NAME).
func (s *synth) refresh(name string) *consumer.Msg {
	s.seq[name] += 10
	s.n++
	s.fields = append(s.fields[:0], trjson.Float("BID", float64(s.n%1000)/4), trjson.Float("ASK", float64(s.n%1000)/4+0.25),
		trjson.String("DSPLY_NAME", "SYNTH "+name), trjson.Int("TRDVOL_1", 0))
	return s.msg(trjson.TypeRefresh, name)
}

// update returns the next Update of name (BID, ASK change; every third
// also a trade).
func (s *synth) update(name string) *consumer.Msg {
	s.seq[name]++
	s.n++
	s.fields = append(s.fields[:0], trjson.Float("BID", float64(s.n%1000)/4), trjson.Float("ASK", float64(s.n%1000)/4+0.25))
	if s.n%3 == 0 {
		s.fields = append(s.fields, trjson.Int("TRDVOL_1", s.n%500), trjson.Float("TRDPRC_1", float64(s.n%1000)/4))
	}
	return s.msg(trjson.TypeUpdate, name)
}

func (s *synth) msg(typ trjson.MsgType, name string) *consumer.Msg {
	tm := trjson.Msg{Type: typ, ID: 5, SeqNumber: s.seq[name], HasSeqNumber: true, Fields: s.fields, HasFields: true}
	if typ == trjson.TypeRefresh {
		tm.Key = trjson.Key{Name: name, Service: s.service}
		tm.HasKey = true
		tm.State = trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "All is well"}
		tm.HasState = true
	}
	s.buf = trjson.AppendMsg(s.buf[:0], &tm)
	return &consumer.Msg{Type: typ, Domain: trjson.DomainMarketPrice, Name: name, Service: s.service,
		State: tm.State, HasState: tm.HasState, SeqNumber: tm.SeqNumber, HasSeq: true, Complete: true,
		Fields: s.fields, Raw: s.buf, Received: time.Now()}
}

// readAll reads every record of topic up to its end offsets now.
func readAll(t testing.TB, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	return readAllWith(t, c, topic, nil, SASL{})
}

// readAllWith is readAll with TLS and SASL.
func readAllWith(t testing.TB, c *kfake.Cluster, topic string, tlsCfg *tls.Config, sasl SASL) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := Connection{Brokers: c.ListenAddrs(), TLS: tlsCfg, SASL: sasl}
	opts := conn.kgoOpts()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets: %v %v", err, ends.Error())
	}
	remaining := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(parts) == 0 {
		return nil
	}
	rc, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := rc.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (partitions left %v)", topic, ctx.Err(), remaining)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch error p%d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return out
}

// seqsByKey lists each key's tick SeqNumbers in log order (the order of a
// partition; an item's records are all in one partition).
func seqsByKey(t testing.TB, recs []*kgo.Record) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, r := range recs {
		meta, err := parseHeaders(r.Headers)
		if err != nil || !meta.hasSeq {
			t.Fatalf("record %s/%d@%d: headers %v (seq %v)", r.Topic, r.Partition, r.Offset, err, meta.hasSeq)
		}
		out[string(r.Key)] = append(out[string(r.Key)], meta.seq)
	}
	return out
}

// sentLog records, per key, the SeqNumbers handed to the Publisher.
type sentLog struct {
	mu   sync.Mutex
	seqs map[string][]int64
	n    int
}

func (l *sentLog) add(m *consumer.Msg) {
	k := string(AppendKey(nil, ItemKey{Service: m.Service, Name: m.Name, Domain: m.Domain}))
	l.mu.Lock()
	if l.seqs == nil {
		l.seqs = map[string][]int64{}
	}
	l.seqs[k] = append(l.seqs[k], m.SeqNumber)
	l.n++
	l.mu.Unlock()
}

// sameSeqs fails unless got holds exactly want per key: every message
// once, in order.
func sameSeqs(t testing.TB, want, got map[string][]int64) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%d keys sent, %d in Kafka", len(want), len(got))
	}
	bad := 0
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Errorf("%s: %d messages sent, %d in Kafka", k, len(w), len(g))
			bad++
		} else {
			for i := range w {
				if w[i] != g[i] {
					t.Errorf("%s: message %d has seq %d in Kafka, %d sent", k, i, g[i], w[i])
					bad++
					break
				}
			}
		}
		if bad > 5 {
			t.Fatal("too many differences")
		}
	}
}
