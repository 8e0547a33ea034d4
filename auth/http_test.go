package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func v2Grant(tokenURL string) Grant {
	return ClientCredentials(ClientCredentialsConfig{TokenURL: tokenURL, ClientID: "svc", ClientSecret: "svc-secret-value"})
}

func TestRedirectRePostsSameForm(t *testing.T) {
	for _, code := range []int{301, 302, 307, 308} {
		ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
			if p.Path == "/old" {
				w.Header().Set("Location", "/new/token")
				w.WriteHeader(code)
				return
			}
			v1Token(w, "A", "R", 300)
		})
		m := newManager(t, PasswordGrant(PasswordConfig{TokenURL: ts.URL + "/old", Username: "u", Password: "p", ClientID: "c"}), fastOptions(ts, nil))
		if _, err := m.Token(ctxT(t)); err != nil {
			t.Fatalf("%d: %v", code, err)
		}
		r := ts.requests()
		if len(r) != 2 || r[1].Path != "/new/token" || r[1].Method != http.MethodPost {
			t.Fatalf("%d: requests %+v", code, r)
		}
		if r[0].Form.Encode() != r[1].Form.Encode() {
			t.Fatalf("%d: form changed across the redirect: %v vs %v", code, r[0].Form, r[1].Form)
		}
	}
}

func TestRedirectRules(t *testing.T) {
	other := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, "OTHER", 600) })
	cases := []struct {
		name     string
		location func(ts *tokenServer, n int) string // "" = answer with a token
		allow    []string
		wantErr  error
		wantReqs int
	}{
		{"cross-host refused", func(ts *tokenServer, n int) string { return other.URL + "/t" }, nil, ErrRedirect, 1},
		{"cross-host allow-listed", func(ts *tokenServer, n int) string { return other.URL + "/t" }, []string{"127.0.0.1"}, nil, 1},
		{"plain http refused", func(ts *tokenServer, n int) string { return "http://example.com/token" }, nil, ErrRedirect, 1},
		{"other scheme refused", func(ts *tokenServer, n int) string { return "ftp://127.0.0.1/token" }, nil, ErrRedirect, 1},
		{"no Location", func(ts *tokenServer, n int) string { return "-" }, nil, ErrRedirect, 1},
		{"3 hops followed", func(ts *tokenServer, n int) string {
			if n < 3 {
				return fmt.Sprintf("/hop%d", n)
			}
			return ""
		}, nil, nil, 4},
		{"4 hops refused", func(ts *tokenServer, n int) string { return fmt.Sprintf("/hop%d", n) }, nil, ErrRedirect, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ts *tokenServer
			ts = newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
				loc := c.location(ts, n)
				switch loc {
				case "":
					v2Token(w, "SAME", 600)
				case "-":
					w.WriteHeader(307)
				default:
					w.Header().Set("Location", loc)
					w.WriteHeader(307)
				}
			})
			o := fastOptions(ts, nil)
			o.AllowedRedirectHosts = c.allow
			m := newManager(t, v2Grant(ts.URL+"/token"), o)
			_, err := m.Token(ctxT(t))
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if n := len(ts.requests()); n != c.wantReqs {
				t.Fatalf("%d requests to the first host, want %d", n, c.wantReqs)
			}
			if err != nil && strings.Contains(err.Error(), "svc-secret-value") {
				t.Fatal("secret in error")
			}
		})
	}
	if n := len(other.requests()); n != 1 {
		t.Fatalf("other host got %d requests, want only the allow-listed one", n)
	}
}

func TestInsecureTokenURLRefused(t *testing.T) {
	m := newManager(t, v2Grant("http://example.com/token"), Options{})
	if _, err := m.Token(ctxT(t)); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("err = %v", err)
	}
	// Plain http is fine on loopback (an emulator).
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { v2Token(w, "L", 600) }))
	defer plain.Close()
	m2 := newManager(t, v2Grant(plain.URL+"/token"), Options{HTTPClient: plain.Client()})
	if tk, err := m2.Token(ctxT(t)); err != nil || tk.AccessToken != "L" {
		t.Fatalf("%v %v", tk, err)
	}
	plain.Client().CloseIdleConnections()
}

func TestTLSVerificationIsOn(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, "T", 600) })
	m := newManager(t, v2Grant(ts.URL+"/token"), Options{MaxAttempts: 3}) // default client: the test CA is unknown
	_, err := m.Token(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if errors.Is(err, ErrRetriesExhausted) || len(ts.requests()) != 0 {
		t.Fatal("a certificate error was retried or a request got through")
	}
}

func TestFatalStatuses(t *testing.T) {
	for _, status := range []int{403, 404, 410, 451} {
		ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
			writeJSON(w, status, `{"error":"access_denied","error_description":"The user is not permitted"}`)
		})
		m := newManager(t, v2Grant(ts.URL+"/token"), fastOptions(ts, nil))
		_, err := m.Token(ctxT(t))
		var he *HTTPError
		if !errors.Is(err, ErrFatal) || !errors.As(err, &he) || he.Status != status {
			t.Fatalf("%d: err = %v", status, err)
		}
		if he.Code != "access_denied" || he.Description != "The user is not permitted" {
			t.Fatalf("%d: %+v", status, he)
		}
		msg := err.Error()
		for _, want := range []string{fmt.Sprint(status), "access_denied", "The user is not permitted", "/token"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%d: error %q lacks %q", status, msg, want)
			}
		}
		if n := len(ts.requests()); n != 1 {
			t.Fatalf("%d: %d requests (fatal must not be retried)", status, n)
		}
	}
}

func TestServerErrorsRetriedThenSucceed(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		if n < 2 {
			writeJSON(w, []int{503, 500}[n], `{"error":"temporarily_unavailable"}`)
			return
		}
		v2Token(w, "T", 600)
	})
	m := newManager(t, v2Grant(ts.URL+"/token"), fastOptions(ts, nil))
	tk, err := m.Token(ctxT(t))
	if err != nil || tk.AccessToken != "T" {
		t.Fatalf("%v %v", tk, err)
	}
	if n := len(ts.requests()); n != 3 {
		t.Fatalf("%d requests", n)
	}
}

func TestRetriesBounded(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { writeJSON(w, 502, `{"error":"bad_gateway"}`) })
	o := fastOptions(ts, nil)
	o.MaxAttempts = 4
	m := newManager(t, v2Grant(ts.URL+"/token"), o)
	_, err := m.Token(ctxT(t))
	var he *HTTPError
	if !errors.Is(err, ErrRetriesExhausted) || !errors.As(err, &he) || he.Status != 502 {
		t.Fatalf("err = %v", err)
	}
	if n := len(ts.requests()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
}

func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		if n == 0 {
			w.Header().Set("Retry-After", "7")
			writeJSON(w, 429, `{"error":"too_many_requests"}`)
			return
		}
		v2Token(w, "T", 600)
	})
	clk := newFakeClock()
	clk.instant = true
	o := fastOptions(ts, nil)
	o.Now, o.After = clk.Now, clk.After
	m := newManager(t, v2Grant(ts.URL+"/token"), o)
	if _, err := m.Token(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if d := clk.waitAsked(t); d != 7*time.Second {
		t.Fatalf("waited %v, want Retry-After 7s", d)
	}
	if n := len(ts.requests()); n != 2 {
		t.Fatalf("%d requests", n)
	}
}

func TestPacing(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, fmt.Sprint("T", n), 3600) })
	clk := newFakeClock()
	o := fastOptions(ts, nil)
	o.Now, o.After, o.MaxRequestsPerMinute = clk.Now, clk.After, 3
	m := newManager(t, v2Grant(ts.URL+"/token"), o)
	ctx := ctxT(t)
	for i := 0; i < 3; i++ {
		if _, err := m.Fresh(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(10 * time.Second)
	}
	// The 4th request within the minute waits until the first one is a
	// minute old: 60s − 30s elapsed.
	done := make(chan Token, 1)
	go func() { tk, _ := m.Fresh(ctx); done <- tk }()
	if d := clk.waitAsked(t); d != 30*time.Second {
		t.Fatalf("pacing wait %v, want 30s", d)
	}
	if n := len(ts.requests()); n != 3 {
		t.Fatalf("%d requests before the pacing wait ended", n)
	}
	clk.Advance(30 * time.Second)
	select {
	case tk := <-done:
		if tk.AccessToken != "T3" {
			t.Fatalf("token %v", tk)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("paced request never sent")
	}
}

// TestSecretsNeverLeak runs every grant against servers that echo what they
// received into error texts, with debug logging on, and checks that no
// secret appears in errors or logs.
func TestSecretsNeverLeak(t *testing.T) {
	const (
		password, newPassword, clientSecret = "Pw-very-secret-1", goodNewPassword, "client-secret-xyz"
	)
	echo := func(status int) reply {
		return func(w http.ResponseWriter, p posted, n int) {
			if p.Form.Get("grant_type") == "password" && p.Form.Get("refresh_token") == "" && n == 0 {
				v1Token(w, "access-token-abc", "refresh-token-def", 300)
				return
			}
			writeJSON(w, status, fmt.Sprintf(`{"error":"invalid_request","error_description":"got %s"}`, strings.ReplaceAll(p.Form.Encode()+" "+p.Header.Get("Authorization"), `"`, "")))
		}
	}
	basic := base64.StdEncoding.EncodeToString([]byte("c:" + clientSecret))
	secrets := []string{password, newPassword, clientSecret, "access-token-abc", "refresh-token-def", "eyJ", basic}
	for _, status := range []int{400, 403, 500} {
		var logs logBuffer
		ts := newTokenServer(t, echo(status))
		o := fastOptions(ts, &logs)
		v1 := newManager(t, PasswordGrant(PasswordConfig{TokenURL: ts.URL, Username: "u", Password: password, ClientID: "c", ClientSecret: clientSecret, UseBasicAuth: true}), o)
		var errs []error
		if _, err := v1.Token(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		_, err := v1.Fresh(ctxT(t)) // refresh echoes the refresh token, then password grant echoes the password
		errs = append(errs, err)
		ts2 := newTokenServer(t, echo(status))
		np := newManager(t, PasswordGrant(PasswordConfig{TokenURL: ts2.URL, Username: "u", Password: password, ClientID: "c", NewPassword: newPassword}), fastOptions(ts2, &logs))
		_, err = np.Token(ctxT(t))
		errs = append(errs, err)
		ts3 := newTokenServer(t, echo(status))
		cc := newManager(t, ClientCredentials(ClientCredentialsConfig{TokenURL: ts3.URL, ClientID: "c", ClientSecret: clientSecret}), fastOptions(ts3, &logs))
		_, err = cc.Token(ctxT(t))
		errs = append(errs, err)
		jg, jerr := JWTAssertion(JWTConfig{TokenURL: ts3.URL, ClientID: "c", JWK: rsaJWK(t, "k1", "RS256")})
		if jerr != nil {
			t.Fatal(jerr)
		}
		jm := newManager(t, jg, fastOptions(ts3, &logs))
		_, err = jm.Token(ctxT(t))
		errs = append(errs, err)
		for _, m := range []*Manager{v1, np, cc, jm} {
			m.Close() // waits for the request goroutines, and their log lines
		}
		for _, e := range errs {
			if e == nil {
				t.Fatalf("status %d: no error", status)
			}
			if !strings.Contains(e.Error(), "got ") || !strings.Contains(e.Error(), "REDACTED") {
				t.Errorf("status %d: server text missing or not scrubbed: %v", status, e)
			}
			for _, s := range secrets {
				if strings.Contains(e.Error(), s) {
					t.Errorf("status %d: error leaks %q: %v", status, s, e)
				}
			}
		}
		for _, s := range secrets {
			if strings.Contains(logs.String(), s) {
				t.Errorf("status %d: logs leak %q", status, s)
			}
		}
		if !strings.Contains(logs.String(), "token request") {
			t.Error("debug logs missing: the leak check would be vacuous")
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	block := make(chan struct{})
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { <-block })
	defer close(block)
	o := fastOptions(ts, nil)
	// Count attempts where the client makes them: under load a 50 ms
	// timeout can expire in the TLS handshake, before the server sees it.
	var attempts atomic.Int32
	client := *o.HTTPClient
	client.Transport = roundTripCounter{next: client.Transport, n: &attempts}
	o.HTTPClient = &client
	o.RequestTimeout, o.MaxAttempts = 50*time.Millisecond, 2
	m := newManager(t, v2Grant(ts.URL+"/token"), o)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := m.Token(ctx)
	if !errors.Is(err, ErrRetriesExhausted) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if n := attempts.Load(); n != 2 {
		t.Fatalf("%d attempts", n)
	}
}

func TestTLSConfigWithCustomCA(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, "T", 600) })
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	m := newManager(t, v2Grant(ts.URL+"/token"), Options{TLSConfig: &tls.Config{RootCAs: pool}})
	if tk, err := m.Token(ctxT(t)); err != nil || tk.AccessToken != "T" {
		t.Fatalf("%v %v", tk, err)
	}
}

func TestInsecureClientIsWarnedAbout(t *testing.T) {
	var logs logBuffer
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	m := NewManager(StaticToken("x"), Options{HTTPClient: hc, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	m.Close()
	if !strings.Contains(logs.String(), "verification is disabled") {
		t.Fatalf("no warning: %s", logs.String())
	}
}

type roundTripCounter struct {
	next http.RoundTripper
	n    *atomic.Int32
}

func (r roundTripCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	return r.next.RoundTrip(req)
}
