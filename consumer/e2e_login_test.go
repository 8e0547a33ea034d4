package consumer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

// loginCounts sums the emulator's accepted and refused Logins per endpoint.
func loginCounts(emu *emulator.Emulator) (ok, refused []int64) {
	for _, ep := range emu.State().Endpoints {
		ok = append(ok, ep.Stats.Logins)
		refused = append(refused, ep.Stats.LoginFailures)
	}
	return ok, refused
}

// "Already pending login" twice: Dial backs off and retries the same
// endpoint, and succeeds on the third Login; the emulator saw exactly
// three Login attempts (no storm, no other endpoint tried).
func TestE2EPendingLoginBackoff(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{})
	tokens := tokenManager(t, info, 2, "")
	emu.RefuseLogins(2)
	c, el := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.Reconnect.MinDelay = 20 * time.Millisecond
	})
	// Events are asynchronous: EventConnected follows the refusals' errors.
	el.wait(t, 5*time.Second, func(ev Event) bool { return ev.Kind == EventConnected })
	ok, refused := loginCounts(emu)
	if ok[0] != 1 || refused[0] != 2 {
		t.Fatalf("endpoint 0: %d accepted, %d refused logins; want 1 and 2", ok[0], refused[0])
	}
	for i := 1; i < len(ok); i++ {
		if ok[i]+refused[i] != 0 {
			t.Errorf("endpoint %d saw %d logins: the client must retry the same endpoint", i, ok[i]+refused[i])
		}
	}
	var pend int
	el.mu.Lock()
	for _, ev := range el.evs {
		if ev.Kind == EventError && errors.Is(ev.Err, ErrLoginPending) {
			pend++
		}
	}
	el.mu.Unlock()
	if pend > 2 {
		t.Errorf("%d pending-login error events, want at most 2", pend)
	}
	if st := c.Stats(); st.Conns[0].State != ConnLoggedIn {
		t.Errorf("state %v", st.Conns[0].State)
	}
}

// Retries are bounded: more refusals than PendingLoginRetries make Dial
// fail with a LoginError matching ErrLoginPending after retries+1 attempts;
// a context deadline shorter than the back-off ends Dial at the deadline.
func TestE2EPendingLoginBounded(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{})
	tokens := tokenManager(t, info, 2, "")
	emu.RefuseLogins(10)
	cfg := Config{Endpoints: emuEndpoints(info)[:1], TokenSource: tokens, TLS: TLS{CAPEM: info.CAPEM},
		Reconnect: Reconnect{MinDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond, PendingLoginRetries: 2}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Dial(ctx, cfg)
	var le *LoginError
	if !errors.Is(err, ErrLoginPending) || !errors.As(err, &le) {
		t.Fatalf("want LoginError matching ErrLoginPending, got %v", err)
	}
	if _, refused := loginCounts(emu); refused[0] != 3 {
		t.Fatalf("%d refused logins, want 3 (1 + 2 retries)", refused[0])
	}

	// Deadline during the back-off: Dial returns the context's error soon.
	cfg.Reconnect = Reconnect{MinDelay: 20 * time.Second, MaxDelay: 20 * time.Second}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err = Dial(ctx2, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrLoginPending) {
		t.Fatalf("want deadline wrapping the pending login, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Dial ignored the deadline: %v", d)
	}

	// Other refusals are not retried: a bad token fails at once, one Login.
	_, before := loginCounts(emu)
	emu.RefuseLogins(0)
	bad := newFakeTokens("not-a-token", 2)
	cfg.TokenSource = bad
	_, err = Dial(context.Background(), cfg)
	if !errors.As(err, &le) || errors.Is(err, ErrLoginPending) {
		t.Fatalf("bad token: want a non-pending LoginError, got %v", err)
	}
	if _, after := loginCounts(emu); after[0] != before[0]+1 {
		t.Fatalf("bad token: %d login attempts, want 1", after[0]-before[0])
	}
}
