package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/kafkabus"
	"github.com/ertkit/ertkit/trjson"
)

// streamKafkaFlags are ert stream's Kafka flags: --from kafka://… reads
// from Kafka instead of RTO; the kafkaFlags publish what is streamed.
type streamKafkaFlags struct {
	kafkaFlags
}

// kafkaFlags publish what a command receives to Kafka (--kafka-brokers);
// any command can embed them and call publisher (ert stream; ert gateway).
// The SASL password comes from ERT_KAFKA_SASL_PASSWORD only, never argv.
type kafkaFlags struct {
	KafkaBrokers       []string `name:"kafka-brokers" sep:"," help:"Also publish every message to Kafka, at these seed brokers (host:port,…)."`
	KafkaTopicPrefix   string   `name:"kafka-topic-prefix" default:"ert" help:"Topics <prefix>.ticks and <prefix>.images (with --kafka-brokers)."`
	KafkaCreateTopics  bool     `name:"kafka-create-topics" help:"Create the two topics when missing (ticks: delete policy; images: compacted)."`
	KafkaTLS           bool     `name:"kafka-tls" help:"Connect to the brokers over TLS."`
	KafkaCAFile        string   `name:"kafka-ca-file" help:"CA certificate (PEM) of the brokers (implies --kafka-tls)."`
	KafkaSASLMechanism string   `name:"kafka-sasl-mechanism" enum:",PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" default:"" help:"SASL mechanism; the password is read from ERT_KAFKA_SASL_PASSWORD."`
	KafkaSASLUser      string   `name:"kafka-sasl-user" help:"SASL user name."`
}

// kafkaURL is a parsed --from kafka://broker[,broker]/topicprefix.
type kafkaURL struct {
	brokers []string
	prefix  string
}

// parseKafkaURL parses --from. The prefix defaults to "ert".
func parseKafkaURL(s string) (kafkaURL, error) {
	rest, ok := strings.CutPrefix(s, "kafka://")
	if !ok {
		return kafkaURL{}, usageError("--from %q: want kafka://broker[,broker]/topicprefix", s)
	}
	hosts, prefix, _ := strings.Cut(rest, "/")
	prefix = strings.TrimSuffix(prefix, "/")
	if p, err := url.PathUnescape(prefix); err == nil {
		prefix = p
	}
	if prefix == "" {
		prefix = "ert"
	}
	if strings.ContainsAny(prefix, "/ ") {
		return kafkaURL{}, usageError("--from %q: topic prefix %q", s, prefix)
	}
	var u kafkaURL
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":9092"
		}
		u.brokers = append(u.brokers, h)
	}
	if len(u.brokers) == 0 {
		return kafkaURL{}, usageError("--from %q: no broker", s)
	}
	u.prefix = prefix
	return u, nil
}

// connection builds the kafkabus connection from the TLS and SASL flags.
func (f *kafkaFlags) connection(env *Env, brokers []string, prefix string) (kafkabus.Connection, error) {
	c := kafkabus.Connection{Brokers: brokers, TopicPrefix: prefix, Logger: env.Log, ClientID: "ert"}
	if f.KafkaTLS || f.KafkaCAFile != "" {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if f.KafkaCAFile != "" {
			pem, err := os.ReadFile(f.KafkaCAFile)
			if err != nil {
				return c, usageError("--kafka-ca-file: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return c, usageError("--kafka-ca-file %s: no PEM certificate", f.KafkaCAFile)
			}
			c.TLS.RootCAs = pool
		}
	}
	if f.KafkaSASLMechanism != "" {
		pw := env.Getenv("ERT_KAFKA_SASL_PASSWORD")
		if f.KafkaSASLUser == "" || pw == "" {
			return c, usageError("--kafka-sasl-mechanism needs --kafka-sasl-user and ERT_KAFKA_SASL_PASSWORD")
		}
		c.SASL = kafkabus.SASL{Mechanism: f.KafkaSASLMechanism, User: f.KafkaSASLUser, Password: pw}
	}
	return c, nil
}

// publisher starts the Publisher of --kafka-brokers; nil tee without it.
// closeFn flushes it (bounded at 30 s) and reports what it did.
func (f *kafkaFlags) publisher(ctx context.Context, env *Env) (tee func(*consumer.Msg), closeFn func() error, err error) {
	if len(f.KafkaBrokers) == 0 {
		return nil, func() error { return nil }, nil
	}
	conn, err := f.connection(env, f.KafkaBrokers, f.KafkaTopicPrefix)
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := kafkabus.NewPublisher(cctx, kafkabus.Options{Connection: conn, CreateTopics: f.KafkaCreateTopics})
	if err != nil {
		if errors.Is(err, kafkabus.ErrConfig) {
			return nil, nil, usageError("%v", err)
		}
		return nil, nil, fail(ExitConnection, err, "connecting to Kafka %v", f.KafkaBrokers)
	}
	closeFn = func() error {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := p.Close(cctx)
		s := p.Stats()
		fmt.Fprintf(env.Stderr, "kafka: ticks=%d images=%d dropped=%d failed=%d peak_buffer_bytes=%d\n",
			s.Ticks, s.Images, s.Dropped, s.TickFailed+s.ImageFail, s.BufMax)
		if err != nil {
			return fail(ExitFailure, err, "publishing to Kafka")
		}
		return nil
	}
	return p.Handle, closeFn, nil
}

// runFromKafka is ert stream --from kafka://…: the images, then the
// ticks, through the stream printers.
func (c *streamCmd) runFromKafka(ctx context.Context, env *Env) error {
	u, err := parseKafkaURL(c.From)
	if err != nil {
		return err
	}
	if len(c.KafkaBrokers) > 0 {
		return usageError("--from kafka:// and --kafka-brokers: pick one")
	}
	if err := c.outputFlags.validate(); err != nil {
		return err
	}
	format := c.outputFlags.format(env)
	if format == "table" {
		format = "jsonl" // the live board needs the RIC list up front
	}
	viewNames, _, err := c.itemFlags.viewSpec()
	if err != nil {
		return err
	}
	conn, err := c.connection(env, u.brokers, u.prefix)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var gaps atomic.Int64
	sub, err := kafkabus.NewSubscriber(cctx, kafkabus.SubscriberOptions{Connection: conn, Items: c.itemFlags.names(),
		OnGap: func(g kafkabus.Gap) {
			gaps.Add(1)
			if g.NoImage {
				env.Log.Warn("kafka: update without an image", "ric", g.Name, "service", g.Service, "seq", g.Got)
				return
			}
			env.Log.Warn("kafka: gap", "ric", g.Name, "service", g.Service, "expected", g.Expected, "got", g.Got, "missing", g.Missing)
		}})
	if err != nil {
		if errors.Is(err, kafkabus.ErrConfig) {
			return usageError("%v", err)
		}
		return fail(ExitConnection, err, "connecting to Kafka %v", u.brokers)
	}
	defer sub.Close()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if c.Duration > 0 {
		var cancelT context.CancelFunc
		runCtx, cancelT = context.WithTimeout(runCtx, c.Duration)
		defer cancelT()
	}
	printer := newPrinter(format, env.Stdout, viewNames)
	var (
		pm       trjson.Msg
		data     int64
		printErr error
		once     sync.Once
	)
	err = sub.Run(runCtx, func(m *consumer.Msg) {
		if printErr != nil {
			return
		}
		pm = trjson.Msg{Type: m.Type, HasState: m.HasState, State: m.State,
			HasSeqNumber: m.HasSeq, SeqNumber: m.SeqNumber, Fields: m.Fields, Raw: m.Raw}
		if err := printer.Print(m.Name, &pm); err != nil {
			printErr = err
			once.Do(stop)
			return
		}
		if m.Type == trjson.TypeRefresh || m.Type == trjson.TypeUpdate {
			if data++; c.Count > 0 && data >= int64(c.Count) {
				once.Do(stop)
			}
		}
	})
	printer.Close()
	if c.Stats {
		s := sub.Stats()
		fmt.Fprintf(env.Stderr, "kafka: images=%d ticks=%d covered=%d duplicates=%d gaps=%d missing=%d malformed=%d\n",
			s.Images, s.Ticks, s.Covered, s.Duplicates, s.Gaps, s.Missing, s.Malformed)
	}
	if printErr != nil {
		return fail(ExitFailure, printErr, "writing output")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fail(ExitConnection, err, "reading from Kafka")
	}
	return nil
}
