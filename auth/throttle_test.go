package auth

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRefreshThrottledLoggedAtWarn: a 429 with Retry-After on a token
// refresh is waited out and logged at warn with the wait, so that an
// operator sees why renewal stalls.
func TestRefreshThrottledLoggedAtWarn(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		if n == 1 { // the refresh
			w.Header().Set("Retry-After", "7")
			writeJSON(w, http.StatusTooManyRequests, `{"error":"too_many_requests"}`)
			return
		}
		v1Token(w, "A", "R", 300)
	})
	clk := newFakeClock()
	clk.instant = true
	logs := &logBuffer{}
	o := fastOptions(ts, logs)
	o.Now, o.After = clk.Now, clk.After
	m := newManager(t, PasswordGrant(v1Config(ts)), o)
	if _, err := m.Token(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if g := ts.grantTypes(); len(g) != 3 || g[1] != "refresh_token" || g[2] != "refresh_token" {
		t.Fatalf("grants %v, want password then refresh_token twice", g)
	}
	var warn string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "status=429") {
			warn = l
		}
	}
	if warn == "" || !strings.Contains(warn, "wait=7s") {
		t.Fatalf("no warn record with the 429 and its 7s wait; logs:\n%s", logs.String())
	}
}

// TestTLSVersionMismatchNotRetried: a token endpoint that speaks only
// TLS 1.0/1.1 can never be reached by this client (TLS 1.2 minimum): one
// handshake, no retries, and an error that says so.
func TestTLSVersionMismatchNotRetried(t *testing.T) {
	var handshakes atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v2Token(w, "T", 600)
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			handshakes.Add(1)
		}
	}
	srv.Config.ErrorLog = discardLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	o := Options{HTTPClient: srv.Client(), RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond, MaxAttempts: 4}
	m := newManager(t, v2Grant(srv.URL+"/token"), o)
	_, err := m.Token(ctxT(t))
	if err == nil {
		t.Fatal("token from a TLS 1.1 server")
	}
	if errors.Is(err, ErrRetriesExhausted) {
		t.Errorf("retried: %v", err)
	}
	if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("error does not name the protocol version: %v", err)
	}
	if n := handshakes.Load(); n != 1 {
		t.Errorf("%d handshakes, want 1 (not retried)", n)
	}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
