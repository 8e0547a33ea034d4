package reliability

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/trjson"
)

// scenarioLimit bounds every scenario (the 30 s rule).
const scenarioLimit = 30 * time.Second

var ertBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := testutil.BuildErt("../cmd/ert")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ertBin = bin
	code := m.Run()
	cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// deadlines holds each scenario's end (set when its emulator starts), so
// that successive waits of one scenario cannot add up past the limit.
var deadlines sync.Map // *testing.T → time.Time

func markScenario(t *testing.T) {
	dl := time.Now().Add(scenarioLimit)
	deadlines.Store(t, dl)
	t.Cleanup(func() { deadlines.Delete(t) })
}

// bounded shortens d to what is left of t's scenario.
func bounded(t *testing.T, d time.Duration) time.Duration {
	if dl, ok := deadlines.Load(t); ok {
		if left := time.Until(dl.(time.Time)); left < d {
			return max(left, time.Millisecond)
		}
	}
	return d
}

// scenarioCtx is a context bounded by the scenario limit.
func scenarioCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is an io.Writer safe for concurrent use (log sinks).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startEmu(t *testing.T, cfg emulator.Config) (*emulator.Emulator, emulator.Info) {
	t.Helper()
	if _, ok := deadlines.Load(t); !ok {
		markScenario(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if !cfg.RateSet {
		cfg.Rate, cfg.RateSet = 20, true
	}
	emu := testutil.StartEmulator(t, cfg)
	return emu, emu.Info()
}

func emuTLS(t *testing.T, info emulator.Info) *tls.Config { return testutil.TLS(t, info) }

// tokens returns a running auth.Manager for grant g against the emulator.
func tokens(t *testing.T, info emulator.Info, g auth.Grant, log *slog.Logger) *auth.Manager {
	t.Helper()
	m := auth.NewManager(g, auth.Options{TLSConfig: emuTLS(t, info), MaxAttempts: 2,
		RetryBaseDelay: 20 * time.Millisecond, RetryMaxDelay: 200 * time.Millisecond,
		MaxRequestsPerMinute: -1, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; m.Close() })
	return m
}

func v1Grant(info emulator.Info) auth.Grant {
	return auth.PasswordGrant(auth.PasswordConfig{TokenURL: info.AuthURLV1, Username: info.User,
		Password: info.Password, ClientID: info.ClientID})
}

func v2Grant(info emulator.Info) auth.Grant {
	return auth.ClientCredentials(auth.ClientCredentialsConfig{TokenURL: info.AuthURLV2,
		ClientID: info.ClientID, ClientSecret: info.ClientSecret})
}

func endpoints(info emulator.Info) []string { return testutil.Endpoints(info) }

// events records lifecycle events and wakes waiters on each one.
type events struct {
	mu  sync.Mutex
	all []consumer.Event
	ch  chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1)} }

func (e *events) add(ev consumer.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

func (e *events) snapshot() []consumer.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]consumer.Event(nil), e.all...)
}

func (e *events) count(f func(consumer.Event) bool) int {
	n := 0
	for _, ev := range e.snapshot() {
		if f(ev) {
			n++
		}
	}
	return n
}

// waitFor waits until cond holds, re-checking on every event and every
// 20 ms (for counters that have no event), bounded by d.
func waitFor(t *testing.T, e *events, d time.Duration, what string, cond func() bool) {
	t.Helper()
	poll(t, d, e.ch, cond, func(d time.Duration) string { return fmt.Sprintf("not reached within %s: %s", d, what) })
}

// poll waits until cond holds, re-checking on every signal of wake (nil:
// none) and every 20 ms, bounded by d; on time-out the test fails with
// failure's text.
func poll(t *testing.T, d time.Duration, wake <-chan struct{}, cond func() bool, failure func(d time.Duration) string) {
	t.Helper()
	d = bounded(t, d)
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline.C:
			t.Fatal(failure(d))
		}
	}
}

func kind(k consumer.EventKind) func(consumer.Event) bool {
	return func(ev consumer.Event) bool { return ev.Kind == k }
}

// dial connects an SDK client with fast, bounded reconnects.
func dial(t *testing.T, info emulator.Info, ts consumer.TokenSource, mod func(*consumer.Config)) (*consumer.Client, *events) {
	t.Helper()
	ev := newEvents()
	cfg := consumer.Config{Endpoints: endpoints(info), TokenSource: ts, TLS: consumer.TLS{CAPEM: info.CAPEM},
		OnEvent: ev.add, DialTimeout: 3 * time.Second, LoginTimeout: 3 * time.Second,
		Reconnect: consumer.Reconnect{MinDelay: 30 * time.Millisecond, MaxDelay: 300 * time.Millisecond}}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := consumer.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ev
}

// subscribeAll subscribes to names and waits for every item's first
// reply.
func subscribeAll(t *testing.T, ctx context.Context, c *consumer.Client, names []string) *consumer.Subscription {
	t.Helper()
	sub, err := c.Subscribe(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return sub
}

func allOk(items []*consumer.Item) bool {
	for _, it := range items {
		st := it.State()
		if st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
			return false
		}
	}
	return true
}

// seqLog records every Refresh and Update per item, with SeqNumbers, and
// the item's visible state at each message.
type seqLog struct {
	mu   sync.Mutex
	msgs map[string][]rec
	n    int
	sig  chan struct{}
}

type rec struct {
	typ   trjson.MsgType
	seq   int64
	has   bool
	data  trjson.DataState
	solic bool
}

func newSeqLog() *seqLog { return &seqLog{msgs: map[string][]rec{}, sig: make(chan struct{}, 1)} }

func (l *seqLog) handle(m *consumer.Msg) {
	if m.Type != trjson.TypeRefresh && m.Type != trjson.TypeUpdate && m.Type != trjson.TypeStatus {
		return
	}
	l.mu.Lock()
	l.msgs[m.Name] = append(l.msgs[m.Name], rec{typ: m.Type, seq: m.SeqNumber, has: m.HasSeq, data: m.State.Data, solic: m.Solicited})
	l.n++
	l.mu.Unlock()
	select {
	case l.sig <- struct{}{}:
	default:
	}
}

func (l *seqLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *seqLog) get(name string) []rec {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]rec(nil), l.msgs[name]...)
}

// waitMore waits until k more messages than now have been logged.
func (l *seqLog) waitMore(t *testing.T, k int, d time.Duration) {
	t.Helper()
	d = bounded(t, d)
	target := l.total() + k
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for l.total() < target {
		select {
		case <-l.sig:
		case <-deadline.C:
			t.Fatalf("only %d of %d more messages within %s", l.total()-target+k, k, d)
		}
	}
}
