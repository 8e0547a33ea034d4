package platform

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type clock struct {
	mu    sync.Mutex
	now   time.Time
	asked []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, d)
	ch := make(chan time.Time, 1)
	ch <- c.now // fire at once; the test checks what was asked
	return ch
}
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestPacerSlidingWindow(t *testing.T) {
	c := &clock{now: time.Unix(1000, 0)}
	p := &Pacer{Max: 3, Window: time.Minute, Now: c.Now, After: c.After}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		c.advance(5 * time.Second)
	}
	if len(c.asked) != 0 {
		t.Fatalf("waited within the budget: %v", c.asked)
	}
	// now = +15s; sends at 0, 5, 10 → the 4th may go at 60s, the 5th at 65s.
	p.Wait(ctx)
	p.Wait(ctx)
	if len(c.asked) != 2 || c.asked[0] != 45*time.Second || c.asked[1] != 50*time.Second {
		t.Fatalf("waits %v, want [45s 50s]", c.asked)
	}
	c.advance(10 * time.Minute)
	c.asked = nil
	p.Wait(ctx)
	if len(c.asked) != 0 {
		t.Fatalf("waited after the window passed: %v", c.asked)
	}
	var nilPacer *Pacer
	if err := nilPacer.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPacerHonoursContext(t *testing.T) {
	p := &Pacer{Max: 1, Window: time.Hour}
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseErrorBody(t *testing.T) {
	cases := []struct{ body, code, desc string }{
		{`{"error":"invalid_grant","error_description":"Refresh token expired"}`, "invalid_grant", "Refresh token expired"},
		{`{"error":{"id":"abc","code":"401","message":"Token expired","status":"Unauthorized"}}`, "401", "Token expired"},
		{`{"error":{"code":403,"message":"no"}}`, "403", "no"},
		{`{"message":"rate limited"}`, "", "rate limited"},
		{`<html><body>502 Bad Gateway</body></html>`, "", "<html><body>502 Bad Gateway</body></html>"},
		{"line1\nline2\x00", "", "line1 line2"},
		{``, "", ""},
	}
	for _, c := range cases {
		code, desc := ParseErrorBody([]byte(c.body))
		if code != c.code || desc != c.desc {
			t.Errorf("ParseErrorBody(%q) = %q, %q", c.body, code, desc)
		}
	}
	long := strings.Repeat("x", 1000) + "SECRET-VALUE"
	_, desc := ParseErrorBody([]byte(strings.Repeat("y", 250)+"SECRET-VALUE"+long), "SECRET-VALUE")
	if strings.Contains(desc, "SECRET") || len(desc) > maxErrorText+4 {
		t.Fatalf("desc %q", desc)
	}
}

func TestHTTPErrorText(t *testing.T) {
	e := &HTTPError{Status: 451, Code: "blocked", Description: "legal reasons", URL: "https://h/p"}
	want := "HTTP 451 Unavailable For Legal Reasons from https://h/p: blocked: legal reasons"
	if e.Error() != want {
		t.Fatalf("%q", e.Error())
	}
	if !errors.Is(e, ErrFatal) || errors.Is(e, ErrCredentials) {
		t.Fatal("classification")
	}
	for _, s := range []int{400, 401} {
		if !errors.Is(&HTTPError{Status: s}, ErrCredentials) {
			t.Errorf("%d not a credential error", s)
		}
	}
	if errors.Is(&HTTPError{Status: 400}, ErrUnauthorized) || !errors.Is(&HTTPError{Status: 401}, ErrUnauthorized) {
		t.Error("ErrUnauthorized is 401 only")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Client{Now: func() time.Time { return now }}
	cases := map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "-3": 0, "junk": 0, "99999": MaxRetryAfter,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	}
	for in, want := range cases {
		if got := c.retryAfter(in); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCheckURLAndRedirectRules(t *testing.T) {
	ok := []string{"https://api.refinitiv.com/x", "http://127.0.0.1:8080/x", "http://[::1]/x", "http://localhost/x"}
	bad := []string{"http://api.refinitiv.com/x", "ftp://127.0.0.1/x", "https:///nohost", "file:///etc/passwd"}
	for _, s := range ok {
		u, _ := url.Parse(s)
		if err := CheckURL(u); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range bad {
		u, _ := url.Parse(s)
		if err := CheckURL(u); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	c := &Client{AllowedHosts: []string{"login.example.com", "auth.example.com:8443"}}
	origin, _ := url.Parse("https://api.refinitiv.com/auth/oauth2/v1/token")
	rules := map[string]bool{
		"https://api.refinitiv.com:443/other":      true, // same host, default port
		"https://API.REFINITIV.COM/other":          true,
		"https://api.refinitiv.com:8443/other":     false, // other port
		"https://login.example.com/x":              true,  // allow-listed by name
		"https://auth.example.com:8443/x":          true,  // allow-listed host:port
		"https://auth.example.com/x":               false,
		"http://api.refinitiv.com/other":           false, // downgrade
		"https://api.refinitiv.com.evil.com/other": false,
	}
	for s, want := range rules {
		u, _ := url.Parse(s)
		if err := c.checkRedirect(origin, u); (err == nil) != want {
			t.Errorf("%s: err = %v, want allowed=%v", s, err, want)
		}
	}
}

func FuzzParseErrorBody(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_grant","error_description":"x"}`), "x")
	f.Add([]byte(`{"error":{"code":"401","message":"m"}}`), "secret")
	f.Add([]byte("plain text secret"), "secret")
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		code, desc := ParseErrorBody(body, secret)
		if len(code) > maxErrorText+4 || len(desc) > maxErrorText+4 {
			t.Fatal("not bounded")
		}
		if len(secret) >= 4 && !strings.Contains("REDACTED", secret) && (strings.Contains(code, secret) || strings.Contains(desc, secret)) {
			t.Fatalf("secret %q survives in %q / %q", secret, code, desc)
		}
	})
}
