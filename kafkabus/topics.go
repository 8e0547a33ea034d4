package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureTopics creates the tick topic (cleanup.policy=delete) and the
// image topic (cleanup.policy=compact) of conn.TopicPrefix when they do
// not exist. Existing topics are left as they are.
func EnsureTopics(ctx context.Context, conn Connection, spec TopicSpec) error {
	if err := conn.setDefaults(); err != nil {
		return err
	}
	spec.setDefaults()
	cl, err := kgo.NewClient(conn.kgoOpts()...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	defer cl.Close()
	return ensureTopics(ctx, cl, conn.TopicPrefix, spec)
}

func ensureTopics(ctx context.Context, cl *kgo.Client, prefix string, spec TopicSpec) error {
	adm := kadm.NewClient(cl)
	ticks := map[string]*string{"cleanup.policy": ptr("delete")}
	if spec.TickRetention > 0 {
		ticks["retention.ms"] = ptr(strconv.FormatInt(spec.TickRetention.Milliseconds(), 10))
	}
	images := map[string]*string{"cleanup.policy": ptr("compact")}
	for topic, cfg := range map[string]map[string]*string{TickTopic(prefix): ticks, ImageTopic(prefix): images} {
		res, err := adm.CreateTopic(ctx, spec.Partitions, spec.ReplicationFactor, cfg, topic)
		if err == nil {
			err = res.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafkabus: creating topic %s: %w", topic, err)
		}
	}
	return nil
}

func ptr(s string) *string { return &s }

// logger wraps the configured slog.Logger.
type logger struct {
	l       *slog.Logger
	undeliv *atomic.Int64
}

// undelivered logs a record that Kafka never acknowledged: the first ten,
// then every thousandth (Stats counts them all).
func (l logger) undelivered(k ItemKey, err error) {
	if n := l.undeliv.Add(1); n <= 10 || n%1000 == 0 {
		l.l.Warn("kafkabus: record not delivered", "service", k.Service, "ric", k.Name, "err", err, "undelivered_total", n)
	}
}
