package auth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// posted is what the test server saw of one request.
type posted struct {
	Method string
	Path   string
	Form   url.Values
	Header http.Header
}

// tokenServer is an httptest TLS server whose answers a test scripts.
type tokenServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []posted
	hit  chan posted // every request, for tests that wait on arrivals
}

// reply is the handler script: n counts requests from 0.
type reply func(w http.ResponseWriter, p posted, n int)

func newTokenServer(t *testing.T, h reply) *tokenServer {
	t.Helper()
	ts := &tokenServer{hit: make(chan posted, 1000)}
	ts.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		p := posted{Method: r.Method, Path: r.URL.Path, Form: form, Header: r.Header.Clone()}
		ts.mu.Lock()
		n := len(ts.reqs)
		ts.reqs = append(ts.reqs, p)
		ts.mu.Unlock()
		ts.hit <- p
		h(w, p, n)
	}))
	t.Cleanup(func() {
		ts.Client().CloseIdleConnections()
		ts.Close()
	})
	return ts
}

func (ts *tokenServer) requests() []posted {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]posted(nil), ts.reqs...)
}

func (ts *tokenServer) grantTypes() []string {
	var g []string
	for _, p := range ts.requests() {
		g = append(g, p.Form.Get("grant_type"))
	}
	return g
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// v1Token writes a v1 answer: expires_in as a string.
func v1Token(w http.ResponseWriter, access, refresh string, expires int) {
	writeJSON(w, 200, fmt.Sprintf(`{"access_token":%q,"refresh_token":%q,"expires_in":"%d","scope":"trapi.streaming.pricing.read","token_type":"Bearer"}`, access, refresh, expires))
}

// v2Token writes a v2 answer: expires_in as a number, no refresh token.
func v2Token(w http.ResponseWriter, access string, expires int) {
	writeJSON(w, 200, fmt.Sprintf(`{"access_token":%q,"expires_in":%d,"scope":"trapi.streaming.pricing.read","token_type":"Bearer"}`, access, expires))
}

// fastOptions: the server's client, tiny back-off, a capturing debug logger.
func fastOptions(ts *tokenServer, logs *logBuffer) Options {
	o := Options{HTTPClient: ts.Client(), RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond, MaxAttempts: 3}
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newManager(t *testing.T, g Grant, o Options) *Manager {
	t.Helper()
	m := NewManager(g, o)
	t.Cleanup(m.Close)
	return m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fakeClock is a manual clock: After registers a timer that fires when
// Advance passes its deadline, and reports the requested duration on asked.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	asked   chan time.Duration
	instant bool // After fires at once (still reported on asked)
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), asked: make(chan time.Duration, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	if c.instant || d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	}
	c.mu.Unlock()
	c.asked <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if !tm.at.After(c.now) {
			tm.ch <- c.now
		} else {
			kept = append(kept, tm)
		}
	}
	c.timers = kept
}

// waitAsked returns the next duration given to After, failing the test
// after a deadline.
func (c *fakeClock) waitAsked(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.asked:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a timer to be set")
		return 0
	}
}

func waitHit(t *testing.T, ts *tokenServer) posted {
	t.Helper()
	select {
	case p := <-ts.hit:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a request")
		return posted{}
	}
}

func assertForm(t *testing.T, got url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got.Get(k) != v || len(got[k]) != 1 {
			t.Errorf("form %s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected form field %s", k)
		}
	}
}
