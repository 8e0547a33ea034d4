package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestV1RenewalCycles drives Run with a fake clock: each renewal is a
// refresh_token grant at 90 % of expires_in, announced to subscribers, and
// uses the refresh token of the previous answer.
func TestV1RenewalCycles(t *testing.T) {
	var mu sync.Mutex
	issued := 0
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		mu.Lock()
		defer mu.Unlock()
		want := fmt.Sprintf("R%d", issued-1)
		if p.Form.Get("grant_type") == "refresh_token" && p.Form.Get("refresh_token") != want {
			writeJSON(w, 400, `{"error":"invalid_grant"}`)
			return
		}
		v1Token(w, fmt.Sprintf("A%d", issued), fmt.Sprintf("R%d", issued), 300)
		issued++
	})
	clk := newFakeClock()
	o := fastOptions(ts, nil)
	o.Now, o.After = clk.Now, clk.After
	m := newManager(t, PasswordGrant(v1Config(ts)), o)
	renewed := make(chan Token, 10)
	cancelSub := m.Subscribe(func(tk Token) { renewed <- tk })
	defer cancelSub()

	ctx, cancel := context.WithCancel(ctxT(t))
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()

	for cycle := 1; cycle <= 3; cycle++ {
		if d := clk.waitAsked(t); d != 270*time.Second {
			t.Fatalf("cycle %d: renewal timer %v, want 270s (0.9 × 300s)", cycle, d)
		}
		clk.Advance(270 * time.Second)
		select {
		case tk := <-renewed:
			if tk.AccessToken != fmt.Sprintf("A%d", cycle) || !tk.Obtained.Equal(clk.Now()) {
				t.Fatalf("cycle %d: announced %v", cycle, tk)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("cycle %d: no renewal announced", cycle)
		}
		cur, err := m.Token(ctx)
		if err != nil || cur.AccessToken != fmt.Sprintf("A%d", cycle) {
			t.Fatalf("cycle %d: Token() = %v, %v", cycle, cur, err)
		}
	}
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if g := strings.Join(ts.grantTypes(), ","); g != "password,refresh_token,refresh_token,refresh_token" {
		t.Fatalf("grants %s", g)
	}
}

func TestRunCustomRenewFractionAndClose(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v1Token(w, "A", "R", 100) })
	clk := newFakeClock()
	o := fastOptions(ts, nil)
	o.Now, o.After, o.RenewFraction = clk.Now, clk.After, 0.5
	m := NewManager(PasswordGrant(v1Config(ts)), o)
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(context.Background()) }()
	if d := clk.waitAsked(t); d != 50*time.Second {
		t.Fatalf("timer %v, want 50s", d)
	}
	m.Close()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop Run")
	}
	if _, err := m.Token(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Token after Close = %v", err)
	}
}

func TestRunReturnsPermanentError(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		writeJSON(w, 403, `{"error":"access_denied","error_description":"account disabled"}`)
	})
	m := newManager(t, PasswordGrant(v1Config(ts)), fastOptions(ts, nil))
	err := m.Run(ctxT(t))
	if !errors.Is(err, ErrFatal) || !strings.Contains(err.Error(), "account disabled") {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunRetriesTransientFailure(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		if n < 3 { // the whole first fetch (3 attempts) fails
			writeJSON(w, 503, `{"error":"unavailable"}`)
			return
		}
		v1Token(w, "A", "R", 300)
	})
	clk := newFakeClock()
	clk.instant = true // back-off waits end at once; durations still reported
	o := fastOptions(ts, nil)
	o.Now, o.After = clk.Now, clk.After
	m := newManager(t, PasswordGrant(v1Config(ts)), o)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	for {
		if d := clk.waitAsked(t); d == 270*time.Second {
			break // Run got its token and waits for the renewal time
		}
	}
	if n := len(ts.requests()); n != 4 {
		t.Fatalf("%d requests, want 3 failed + 1", n)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
}

func TestRunV2OnlyWaits(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, "V2", 600) })
	m := newManager(t, ClientCredentials(ClientCredentialsConfig{TokenURL: ts.URL, ClientID: "c", ClientSecret: "s"}), fastOptions(ts, nil))
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(ts.requests()) != 0 {
		t.Fatal("v2 Run fetched a token nobody asked for")
	}
}

func TestV2UsableThreshold(t *testing.T) {
	cases := []struct {
		expires int
		usable  time.Duration // LSEG: 0.95×e if e<600s, else e−300s
	}{
		{300, 285 * time.Second},
		{599, time.Duration(0.95 * 599 * float64(time.Second))},
		{600, 300 * time.Second},
		{3600, 3300 * time.Second},
	}
	for _, c := range cases {
		ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, fmt.Sprint("T", n), c.expires) })
		clk := newFakeClock()
		o := fastOptions(ts, nil)
		o.Now, o.After = clk.Now, clk.After
		m := newManager(t, ClientCredentials(ClientCredentialsConfig{TokenURL: ts.URL, ClientID: "c", ClientSecret: "s"}), o)
		ctx := ctxT(t)
		if tk, _ := m.Token(ctx); tk.AccessToken != "T0" {
			t.Fatalf("first token %v", tk)
		}
		clk.Advance(c.usable - time.Millisecond)
		if tk, _ := m.Token(ctx); tk.AccessToken != "T0" {
			t.Fatalf("expires_in %d: new token before the threshold", c.expires)
		}
		clk.Advance(time.Millisecond)
		if tk, _ := m.Token(ctx); tk.AccessToken != "T1" {
			t.Fatalf("expires_in %d: token kept at the threshold (%v)", c.expires, tk)
		}
		// v2 tokens are never announced.
		if n := len(ts.requests()); n != 2 {
			t.Fatalf("%d requests", n)
		}
	}
}

func TestFreshForcesNewTokenAndV2IsNotAnnounced(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, fmt.Sprint("T", n), 3600) })
	m := newManager(t, ClientCredentials(ClientCredentialsConfig{TokenURL: ts.URL, ClientID: "c", ClientSecret: "s"}), fastOptions(ts, nil))
	announced := make(chan Token, 4)
	defer m.Subscribe(func(tk Token) { announced <- tk })()
	ctx := ctxT(t)
	a, _ := m.Token(ctx)
	b, _ := m.Token(ctx)
	c, err := m.Fresh(ctx)
	if err != nil || a.AccessToken != "T0" || b.AccessToken != "T0" || c.AccessToken != "T1" {
		t.Fatalf("%v %v %v %v", a, b, c, err)
	}
	if len(announced) != 0 {
		t.Fatal("a v2 token was announced")
	}
}

func TestConcurrentCallersShareOneRequest(t *testing.T) {
	release := make(chan struct{})
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		<-release
		v2Token(w, "T", 3600)
	})
	m := newManager(t, ClientCredentials(ClientCredentialsConfig{TokenURL: ts.URL, ClientID: "c", ClientSecret: "s"}), fastOptions(ts, nil))
	const callers = 8
	errs := make(chan error, callers)
	for i := 0; i < callers; i++ {
		go func() {
			_, err := m.Token(ctxT(t))
			errs <- err
		}()
	}
	waitHit(t, ts)
	close(release)
	for i := 0; i < callers; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(ts.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestCallerDeadlineDoesNotCancelSharedRequest(t *testing.T) {
	release := make(chan struct{})
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		<-release
		v2Token(w, "T", 3600)
	})
	m := newManager(t, ClientCredentials(ClientCredentialsConfig{TokenURL: ts.URL, ClientID: "c", ClientSecret: "s"}), fastOptions(ts, nil))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := m.Token(ctx); errc <- err }()
	waitHit(t, ts)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	close(release)
	if tk, err := m.Token(ctxT(t)); err != nil || tk.AccessToken != "T" {
		t.Fatalf("%v %v", tk, err)
	}
	if n := len(ts.requests()); n != 1 {
		t.Fatalf("%d requests, want 1 (shared)", n)
	}
}

func TestSubscribeCancel(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v1Token(w, fmt.Sprint("A", n), "R", 300) })
	m := newManager(t, PasswordGrant(v1Config(ts)), fastOptions(ts, nil))
	a, b := make(chan string, 4), make(chan string, 4)
	cancelA := m.Subscribe(func(tk Token) { a <- tk.AccessToken })
	m.Subscribe(func(tk Token) { b <- tk.AccessToken })
	next := func(ch chan string) string {
		select {
		case s := <-ch:
			return s
		case <-time.After(5 * time.Second):
			return "timeout"
		}
	}
	ctx := ctxT(t)
	m.Token(ctx) // the first token is not a renewal: not announced
	m.Fresh(ctx)
	if x, y := next(a), next(b); x != "A1" || y != "A1" {
		t.Fatalf("a=%s b=%s", x, y)
	}
	cancelA()
	m.Fresh(ctx)
	if y := next(b); y != "A2" {
		t.Fatalf("b=%s", y)
	}
	if len(a) != 0 {
		t.Fatal("cancelled subscriber called")
	}
}
