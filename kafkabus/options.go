package kafkabus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ErrConfig is wrapped by every error about invalid options.
var ErrConfig = errors.New("kafkabus: invalid options")

// Connection is how to reach the Kafka cluster; shared by the Publisher
// and the Subscriber. Names follow franz-go's (kgo.SeedBrokers,
// kgo.DialTLSConfig, kgo.SASL with the plain and scram mechanisms).
type Connection struct {
	// Brokers are the seed brokers, "host:port". Required.
	Brokers []string
	// ClientID is sent to the brokers (it shows in their logs and
	// quotas). Default "ertkit-kafkabus".
	ClientID string
	// TLS, when set, dials the brokers over TLS with this config
	// (kgo.DialTLSConfig: ServerName defaults to the broker's host).
	// Default nil: plaintext.
	TLS *tls.Config
	// SASL authenticates each broker connection. Default: none.
	SASL SASL
	// TopicPrefix names the two topics: Prefix+".ticks" (append-only,
	// every message) and Prefix+".images" (compacted, last value per
	// item). Default "ert".
	TopicPrefix string
	// Logger receives the client's warnings (buffer full, records not
	// delivered). Default slog.Default().
	Logger *slog.Logger
}

// SASL selects a SASL mechanism. The password is never logged.
type SASL struct {
	// Mechanism is "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512" (Kafka's
	// names). Default "": no SASL.
	Mechanism string
	User      string
	Password  string
}

// TickTopic and ImageTopic are the topic names for a prefix.
func TickTopic(prefix string) string  { return prefix + ".ticks" }
func ImageTopic(prefix string) string { return prefix + ".images" }

func (c *Connection) setDefaults() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: no brokers", ErrConfig)
	}
	for _, b := range c.Brokers {
		if strings.TrimSpace(b) == "" {
			return fmt.Errorf("%w: empty broker address", ErrConfig)
		}
	}
	if c.ClientID == "" {
		c.ClientID = "ertkit-kafkabus"
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = "ert"
	}
	if strings.ContainsAny(c.TopicPrefix, "/ ") {
		return fmt.Errorf("%w: topic prefix %q", ErrConfig, c.TopicPrefix)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("%w: SASL mechanism %q (use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", ErrConfig, c.SASL.Mechanism)
	}
	return nil
}

// kgoOpts are the connection's franz-go options.
func (c *Connection) kgoOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.ClientID)}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS))
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsSha512Mechanism()))
	}
	return opts
}

// Options configure a Publisher.
type Options struct {
	Connection

	// Buffer is the number of messages queued between Handle and the
	// producer goroutine. Default 65536.
	Buffer int
	// BufferBytes bounds the memory of messages taken by Handle and not
	// yet acknowledged by Kafka (the queue plus franz-go's own buffer).
	// When either bound is reached, Handle drops the message, counts it
	// (Stats.Dropped) and marks its item's image Suspect until the next
	// Refresh. Default 64 MiB.
	BufferBytes int64
	// Linger is how long a partition's batch waits for more records
	// (kgo.ProducerLinger). Default 5ms (docs/BENCHMARKS.md).
	Linger time.Duration
	// BatchMaxBytes bounds one record batch (kgo.ProducerBatchMaxBytes).
	// Default 1 MiB.
	BatchMaxBytes int32
	// Compression is "none", "snappy", "lz4", "zstd" or "gzip". Default
	// "snappy" (franz-go's default; docs/BENCHMARKS.md compares them).
	Compression string
	// ImageInterval is how often an item's image is written to the
	// compacted topic while updates arrive (coalescing: one image per
	// item per interval at most). Refreshes and Status messages write the
	// image at once. Negative: an image after every message. Default 1s.
	ImageInterval time.Duration
	// CreateTopics creates the two topics when they are missing (see
	// EnsureTopics). Default false: they must exist.
	CreateTopics bool
	// Topics shapes created topics. Defaults in TopicSpec.
	Topics TopicSpec
	// ExtraOpts are appended to the franz-go client options (for anything
	// not named here; they win over ours). Default none.
	ExtraOpts []kgo.Opt
}

// TopicSpec shapes the topics EnsureTopics creates.
type TopicSpec struct {
	// Partitions of each topic. Default 12.
	Partitions int32
	// ReplicationFactor of each topic. Default -1: the broker's default.
	ReplicationFactor int16
	// TickRetention is retention.ms of the tick topic. Default 0: the
	// broker's default.
	TickRetention time.Duration
}

func (o *Options) setDefaults() error {
	if err := o.Connection.setDefaults(); err != nil {
		return err
	}
	if o.Buffer <= 0 {
		o.Buffer = 65536
	}
	if o.BufferBytes <= 0 {
		o.BufferBytes = 64 << 20
	}
	if o.Linger == 0 {
		o.Linger = 5 * time.Millisecond
	}
	if o.BatchMaxBytes <= 0 {
		o.BatchMaxBytes = 1 << 20
	}
	if o.Compression == "" {
		o.Compression = "snappy"
	}
	if _, err := codec(o.Compression); err != nil {
		return err
	}
	if o.ImageInterval == 0 {
		o.ImageInterval = time.Second
	}
	o.Topics.setDefaults()
	return nil
}

func (t *TopicSpec) setDefaults() {
	if t.Partitions <= 0 {
		t.Partitions = 12
	}
	if t.ReplicationFactor == 0 {
		t.ReplicationFactor = -1
	}
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "none":
		return kgo.NoCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("%w: compression %q (use none, snappy, lz4, zstd or gzip)", ErrConfig, name)
}
