package consumer

// Acceptance tests against the in-process emulator over real loopback
// sockets (TLS with the emulator's CA, verification on).

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/trjson"
)

func startEmu(t *testing.T, cfg emulator.Config) (*emulator.Emulator, emulator.Info) {
	t.Helper()
	emu := testutil.StartEmulator(t, cfg)
	return emu, emu.Info()
}

func emuTLS(t *testing.T, info emulator.Info) *tls.Config { return testutil.TLS(t, info) }

// tokenManager returns a running auth.Manager (v1 password or v2 client
// credentials) for the emulator's default credentials.
func tokenManager(t *testing.T, info emulator.Info, version int, password string) *auth.Manager {
	t.Helper()
	var g auth.Grant
	if version == 1 {
		g = auth.PasswordGrant(auth.PasswordConfig{TokenURL: info.AuthURLV1, Username: info.User,
			Password: password, ClientID: info.ClientID})
	} else {
		g = auth.ClientCredentials(auth.ClientCredentialsConfig{TokenURL: info.AuthURLV2,
			ClientID: info.ClientID, ClientSecret: info.ClientSecret})
	}
	m := auth.NewManager(g, auth.Options{TLSConfig: emuTLS(t, info), MaxAttempts: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; m.Close() })
	return m
}

func emuEndpoints(info emulator.Info) []string { return testutil.Endpoints(info) }

// dialEmu dials the emulator with fast reconnects; updates (per item) go
// to the returned channel.
func dialEmu(t *testing.T, info emulator.Info, ts TokenSource, mod func(*Config)) (*Client, *eventLog) {
	t.Helper()
	el := newEventLog()
	cfg := Config{Endpoints: emuEndpoints(info), TokenSource: ts, TLS: TLS{CAPEM: info.CAPEM}, OnEvent: el.add,
		Reconnect: Reconnect{MinDelay: 50 * time.Millisecond, MaxDelay: 500 * time.Millisecond}}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, el
}

// updateCounter is a Handler counting updates per item and signalling each.
type updateCounter struct {
	mu  sync.Mutex
	n   map[string]int
	sig chan string
}

func newUpdateCounter() *updateCounter {
	return &updateCounter{n: map[string]int{}, sig: make(chan string, 4096)}
}

func (u *updateCounter) handle(m *Msg) {
	if m.Type != trjson.TypeUpdate {
		return
	}
	u.mu.Lock()
	u.n[m.Name]++
	u.mu.Unlock()
	select {
	case u.sig <- m.Name:
	default:
	}
}

// next waits for the next update of name.
func (u *updateCounter) next(t *testing.T, name string) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case n := <-u.sig:
			if n == name {
				return
			}
		case <-timer.C:
			t.Fatalf("no update of %s", name)
		}
	}
}

func (u *updateCounter) drain() {
	for {
		select {
		case <-u.sig:
		default:
			return
		}
	}
}

// v1: tokens live 5 s; the Manager renews at 90 % and every renewal is a
// Login reissue on the live connection. Several cycles, no disconnect, and
// updates keep flowing (the emulator ends sessions whose token expires).
func TestE2ERenewalV1NoDisconnect(t *testing.T) {
	_, info := startEmu(t, emulator.Config{TokenLifetime: 5 * time.Second, Rate: 20, RateSet: true})
	tokens := tokenManager(t, info, 1, info.Password)
	uc := newUpdateCounter()
	c, el := dialEmu(t, info, tokens, func(cfg *Config) { cfg.Handler = uc.handle })
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"TRI.N", "IBM.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	const cycles = 3
	for i := 0; i < cycles; i++ {
		el.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventLoginReissued })
	}
	// One more token lifetime after the last reissue: the session survives.
	uc.drain()
	uc.next(t, "TRI.N")
	uc.next(t, "IBM.N")
	if n := el.count(EventDisconnected); n != 0 {
		t.Fatalf("%d disconnects during v1 renewals", n)
	}
	s := c.Stats()
	if s.Reconnects != 0 || s.LoginReissues < cycles {
		t.Errorf("stats: reconnects %d reissues %d", s.Reconnects, s.LoginReissues)
	}
	for _, it := range sub.Items() {
		if st := it.State(); st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
			t.Errorf("%s %+v", it.Name, st)
		}
	}
}

// v2: no reissue; when the emulator ends the session at token expiry
// (CloseV2SessionsAtExpiry) the client reconnects with a fresh token (the
// expired one would be refused) and the items come back Ok, cycle after
// cycle.
func TestE2ERenewalV2Reconnects(t *testing.T) {
	_, info := startEmu(t, emulator.Config{TokenLifetime: 5 * time.Second, Rate: 20, RateSet: true, CloseV2SessionsAtExpiry: true})
	tokens := tokenManager(t, info, 2, "")
	uc := newUpdateCounter()
	c, el := dialEmu(t, info, tokens, func(cfg *Config) { cfg.Handler = uc.handle })
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"TRI.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		el.wait(t, 15*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
		waitItem(t, el, sub.Item(), trjson.StreamOpen, trjson.DataOk)
		uc.drain()
		uc.next(t, "TRI.N")
	}
	if s := c.Stats(); s.LoginReissues != 0 || s.Reconnects < 2 {
		t.Errorf("v2: reissues %d (want 0), reconnects %d (want ≥ 2)", s.LoginReissues, s.Reconnects)
	}
	el.mu.Lock()
	defer el.mu.Unlock()
	for _, ev := range el.evs {
		var le *LoginError
		if ev.Kind == EventError && errors.As(ev.Err, &le) {
			// A refused re-login would mean the expired token was reused.
			t.Errorf("login refused during v2 reconnect: %v", le)
		}
	}
}

// Bad credentials: Dial fails within 5 s with an error naming the HTTP
// status and the server's text, after one attempt.
func TestE2EBadCredentials(t *testing.T) {
	_, info := startEmu(t, emulator.Config{})
	tokens := tokenManager(t, info, 1, "wrong-password")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, Config{Endpoints: emuEndpoints(info), TokenSource: tokens, TLS: TLS{CAPEM: info.CAPEM}})
	if err == nil {
		t.Fatal("Dial succeeded with a wrong password")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	var te *TokenError
	var he *auth.HTTPError
	if !errors.As(err, &te) || !errors.As(err, &he) {
		t.Fatalf("want TokenError wrapping auth.HTTPError, got %T %v", err, err)
	}
	if he.Status != 400 && he.Status != 401 {
		t.Errorf("status %d", he.Status)
	}
	if he.Description == "" || !strings.Contains(err.Error(), he.Description) || !strings.Contains(err.Error(), fmt.Sprint(he.Status)) {
		t.Errorf("error text %q does not name status and server text %q", err, he.Description)
	}
}

// Unknown RIC: the item ends Closed with the server's text, and the Status
// is delivered too.
func TestE2EUnknownRIC(t *testing.T) {
	_, info := startEmu(t, emulator.Config{})
	tokens := tokenManager(t, info, 2, "")
	status := make(chan *Msg, 4)
	c, _ := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.Handler = func(m *Msg) {
			if m.Type == trjson.TypeStatus {
				status <- m.Clone()
			}
		}
	})
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"NO.SUCH.RIC"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := sub.Item().State()
	if st.Stream != trjson.StreamClosed || st.Text == "" {
		t.Fatalf("state %+v", st)
	}
	select {
	case m := <-status:
		if m.State.Text != st.Text || m.Name != "NO.SUCH.RIC" {
			t.Errorf("status %+v vs state %+v", m.State, st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("status not delivered")
	}
	if len(c.Images()) != 0 {
		t.Error("closed item still in the watchlist")
	}
}
