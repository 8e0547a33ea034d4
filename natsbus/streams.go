package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Headers of the messages on the bus.
const (
	// HeaderReceived is when the SDK read the message (RFC 3339, ns).
	HeaderReceived = "Ert-Received"
	// HeaderSeq is the message's SeqNumber (absent when it had none).
	HeaderSeq = "Ert-Seq"
	// HeaderState is the item state after the message:
	// "Stream/Data/Code" (e.g. "Open/Ok/None"); the text is in the payload.
	HeaderState = "Ert-State"
	// HeaderType is the message type (Refresh, Update, Status).
	HeaderType = "Ert-Type"
	// HeaderUpdatesSeq, on an image, is the updates-stream sequence of the
	// last message folded into it: the join point (see docs/NATS.md).
	HeaderUpdatesSeq = "Ert-Updates-Seq"
	// HeaderStale, on an image, counts messages of the item the publisher
	// dropped since the last Refresh: the image misses them.
	HeaderStale = "Ert-Stale"
)

// Streams names and sizes the two JetStream streams of a bus: the updates
// (every Refresh, Update and Status) and the last values (one merged
// image per item). Publishers and subscribers of one bus use the same
// Prefix. The zero value is usable.
type Streams struct {
	// Prefix is the first subject token(s): updates are published on
	// <Prefix>.<service>.<domain>.<RIC> and images on
	// <Prefix>_last.<service>.<domain>.<RIC>. Letters, digits, '-' and
	// '_' in dot-separated tokens. Default "ert".
	Prefix string
	// Replicas is the replication factor of both streams (3 in a
	// three-node cluster). Default 1.
	Replicas int
	// MaxAge bounds how long updates are kept. Default 1 h.
	MaxAge time.Duration
	// MaxBytes bounds the updates stream; the oldest go first. Default 1 GiB.
	MaxBytes int64
	// LastMaxBytes bounds the last-value stream. Default 256 MiB.
	LastMaxBytes int64
	// Memory keeps both streams in memory instead of files. Default false.
	Memory bool
	// Duplicates is the de-duplication window for retried publishes
	// (Nats-Msg-Id). Default 2 min.
	Duplicates time.Duration
}

func (s *Streams) defaults() error {
	if s.Prefix == "" {
		s.Prefix = "ert"
	}
	for _, tok := range strings.Split(s.Prefix, ".") {
		if tok == "" {
			return fmt.Errorf("%w: prefix %q has an empty token", ErrName, s.Prefix)
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w: prefix %q: byte %q (use letters, digits, '-', '_')", ErrName, s.Prefix, c)
			}
		}
	}
	if s.Replicas <= 0 {
		s.Replicas = 1
	}
	if s.MaxAge <= 0 {
		s.MaxAge = time.Hour
	}
	if s.MaxBytes <= 0 {
		s.MaxBytes = 1 << 30
	}
	if s.LastMaxBytes <= 0 {
		s.LastMaxBytes = 256 << 20
	}
	if s.Duplicates <= 0 {
		s.Duplicates = 2 * time.Minute
	}
	return nil
}

// prefix is Prefix or its default, for the methods that a caller may use
// on a zero Streams.
func (s *Streams) prefix() string {
	if s.Prefix == "" {
		return "ert"
	}
	return s.Prefix
}

func (s *Streams) base() string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(s.prefix()))
}

// UpdatesStream is the name of the updates stream ("ERT_UPDATES").
func (s *Streams) UpdatesStream() string { return s.base() + "_UPDATES" }

// LastStream is the name of the last-value stream ("ERT_LAST").
func (s *Streams) LastStream() string { return s.base() + "_LAST" }

// UpdateSubject is the subject of the item's updates.
func (s *Streams) UpdateSubject(k Key) (string, error) {
	t, err := k.tokens()
	if err != nil {
		return "", err
	}
	return s.prefix() + "." + t, nil
}

// LastSubject is the subject of the item's image.
func (s *Streams) LastSubject(k Key) (string, error) {
	t, err := k.tokens()
	if err != nil {
		return "", err
	}
	return s.prefix() + "_last." + t, nil
}

// KeyOf parses an updates or image subject back into its item.
func (s *Streams) KeyOf(subject string) (Key, error) {
	rest, ok := strings.CutPrefix(subject, s.prefix()+".")
	if !ok {
		rest, ok = strings.CutPrefix(subject, s.prefix()+"_last.")
	}
	if !ok {
		return Key{}, fmt.Errorf("%w: subject %q is not under %q", ErrName, subject, s.prefix())
	}
	return parseTokens(rest)
}

func (s *Streams) storage() jetstream.StorageType {
	if s.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func (s *Streams) updatesConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        s.UpdatesStream(),
		Description: "ertkit: every Refresh, Update and Status per item",
		Subjects:    []string{s.prefix() + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      s.MaxAge,
		MaxBytes:    s.MaxBytes,
		Storage:     s.storage(),
		Replicas:    s.Replicas,
		Duplicates:  s.Duplicates,
	}
}

func (s *Streams) lastConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              s.LastStream(),
		Description:       "ertkit: the last merged image per item",
		Subjects:          []string{s.prefix() + "_last.>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxBytes:          s.LastMaxBytes,
		Storage:           s.storage(),
		Replicas:          s.Replicas,
		Duplicates:        s.Duplicates,
		// Direct gets are answered by any replica, which may lag: a
		// subscriber then joins from an older image and replays more
		// updates, which the join allows (docs/NATS.md).
		AllowDirect: true,
	}
}

// Ensure creates or updates both streams.
func (s Streams) Ensure(ctx context.Context, js jetstream.JetStream) error {
	if err := s.defaults(); err != nil {
		return err
	}
	for _, cfg := range []jetstream.StreamConfig{s.updatesConfig(), s.lastConfig()} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("natsbus: stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// ErrNoStream is returned (wrapped) by Subscribe when the bus's streams
// do not exist (no publisher ever ran with this prefix).
var ErrNoStream = errors.New("natsbus: stream not found")
