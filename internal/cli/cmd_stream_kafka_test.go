package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/kafkabus"
	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestParseKafkaURL(t *testing.T) {
	for _, c := range []struct {
		in      string
		brokers string
		prefix  string
	}{
		{"kafka://b1:9093,b2/prices", "b1:9093,b2:9092", "prices"},
		{"kafka://127.0.0.1:9092", "127.0.0.1:9092", "ert"},
		{"kafka://h:1/p/", "h:1", "p"},
	} {
		u, err := parseKafkaURL(c.in)
		if err != nil || strings.Join(u.brokers, ",") != c.brokers || u.prefix != c.prefix {
			t.Errorf("%q: %+v %v", c.in, u, err)
		}
	}
	for _, bad := range []string{"", "http://h/p", "kafka://", "kafka:///p", "kafka://h/a/b", "kafka://h/a%20b"} {
		if _, err := parseKafkaURL(bad); exitCode(err) != ExitUsage {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}

func FuzzParseKafkaURL(f *testing.F) {
	for _, s := range []string{"kafka://b1:9093,b2/prices", "kafka://h", "kafka://,,/x", "kafka://h/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseKafkaURL(s)
		if err != nil {
			if exitCode(err) != ExitUsage {
				t.Fatalf("%q: %v is not a usage error", s, err)
			}
			return
		}
		if len(u.brokers) == 0 || u.prefix == "" || strings.ContainsAny(u.prefix, "/ ") {
			t.Fatalf("%q: accepted %+v", s, u)
		}
	})
}

// awaitTicks reads the tick topic of prefix from its start until want
// records pass accept, failing when ctx ends first (what names them).
func awaitTicks(t *testing.T, ctx context.Context, brokers []string, prefix string, want int, what string, accept func(*kgo.Record) bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafkabus.TickTopic(prefix)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := 0
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d %s in Kafka", got, want, what)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if accept(r) {
				got++
			}
		})
	}
}

func testEnv(vars map[string]string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, &out, &errb
}

// ert stream --from kafka://… prints the image first, then the ticks,
// in the stream printers' formats.
func TestStreamFromKafka(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := kafkabus.NewPublisher(ctx, kafkabus.Options{Connection: kafkabus.Connection{Brokers: c.ListenAddrs(), TopicPrefix: "cli"},
		CreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range []trjson.MsgType{trjson.TypeRefresh, trjson.TypeUpdate, trjson.TypeUpdate} {
		tm := trjson.Msg{Type: typ, ID: 5, SeqNumber: int64(10 + i), HasSeqNumber: true,
			Fields: []trjson.Field{trjson.Float("BID", 1.5+float64(i))}, HasFields: true}
		if typ == trjson.TypeRefresh {
			tm.State, tm.HasState = trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk}, true
		}
		raw := trjson.AppendMsg(nil, &tm)
		p.Handle(&consumer.Msg{Type: typ, Name: "TRI.N", Service: "ELEKTRON_DD", Domain: trjson.DomainMarketPrice,
			State: tm.State, HasState: tm.HasState, SeqNumber: tm.SeqNumber, HasSeq: true, Complete: true, Fields: tm.Fields, Raw: raw,
			Received: time.Now()})
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	env, out, errb := testEnv(nil)
	code := Main(ctx, []string{"stream", "--from", "kafka://" + c.ListenAddrs()[0] + "/cli", "--duration", "3s", "-o", "jsonl", "--stats"}, *env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// The final image (seq 12) covers the ticks: one line.
	if len(lines) != 1 || !strings.Contains(lines[0], `"Type":"Refresh"`) || !strings.Contains(lines[0], `"SeqNumber":12`) ||
		!strings.Contains(lines[0], `"BID":3.5`) {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(errb.String(), "kafka: images=2 ticks=0 ") {
		t.Errorf("stats %q", errb)
	}
	env, _, errb = testEnv(nil)
	if code := Main(ctx, []string{"stream", "--from", "http://x"}, *env); code != ExitUsage {
		t.Errorf("bad --from: exit %d (%s)", code, errb)
	}
}

// ert stream --kafka-brokers publishes what it streams from the emulator.
func TestStreamToKafka(t *testing.T) {
	emu := testutil.StartEmulator(t, emulator.Config{PlainWS: true, Rate: 20, RateSet: true})
	info := emu.Info()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env, out, errb := testEnv(map[string]string{"ERT_CLIENTID": info.ClientID, "ERT_CLIENTSECRET": info.ClientSecret,
		"ERT_AUTH_URL": info.AuthURLV2})
	ep := info.Endpoints[0]
	code := Main(ctx, []string{"stream", "--ws", "--hostname", ep.Host, "--port", strconv.Itoa(ep.Port), "--count", "5", "-o", "jsonl",
		"--kafka-brokers", c.ListenAddrs()[0], "--kafka-topic-prefix", "st", "--kafka-create-topics", "TRI.N"}, *env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	printed := len(strings.Split(strings.TrimSpace(out.String()), "\n"))
	awaitTicks(t, ctx, c.ListenAddrs(), "st", printed, "printed messages", func(r *kgo.Record) bool {
		if string(r.Key) != "ELEKTRON_DD|TRI.N" {
			t.Errorf("key %q", r.Key)
		}
		return true
	})
	if !strings.Contains(errb.String(), "kafka: ticks=") || !strings.Contains(errb.String(), "dropped=0") {
		t.Errorf("no Kafka report on stderr: %q", errb)
	}
	// Bad Kafka flags are usage errors, before anything connects.
	env, _, _ = testEnv(map[string]string{"ERT_CLIENTID": info.ClientID, "ERT_CLIENTSECRET": info.ClientSecret, "ERT_AUTH_URL": info.AuthURLV2})
	code = Main(ctx, []string{"stream", "--ws", "--hostname", ep.Host, "--port", strconv.Itoa(ep.Port), "--count", "1",
		"--kafka-brokers", c.ListenAddrs()[0], "--kafka-sasl-mechanism", "PLAIN", "TRI.N"}, *env)
	if code != ExitUsage {
		t.Errorf("SASL without user/password: exit %d", code)
	}
}
