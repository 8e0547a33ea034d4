package tokens

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestStore() (*Store, *clock) {
	c := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	return NewStore(c.now), c
}

func TestIssueValidateExpire(t *testing.T) {
	s, c := newTestStore()
	p := Principal{Version: 1, User: "u1", ClientID: "c"}
	is := s.Issue(p, 5*time.Second, time.Hour, false)
	if is.Access == "" || is.Refresh == "" || is.ExpiresIn != 5*time.Second {
		t.Fatalf("issued %+v", is)
	}
	got, exp, err := s.Validate(is.Access)
	if err != nil || got != p || !exp.Equal(c.now().Add(5*time.Second)) {
		t.Fatalf("validate: %v %v %v", got, exp, err)
	}
	c.add(5 * time.Second)
	if _, _, err := s.Validate(is.Access); !errors.Is(err, ErrExpired) {
		t.Fatalf("after lifetime: %v", err)
	}
	if _, _, err := s.Validate("nope"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown: %v", err)
	}
}

func TestRefreshSingleUseAndExpiry(t *testing.T) {
	s, c := newTestStore()
	is := s.Issue(Principal{Version: 1, User: "u"}, time.Minute, 10*time.Second, false)
	if _, err := s.RedeemRefresh(is.Refresh); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemRefresh(is.Refresh); !errors.Is(err, ErrRevoked) {
		t.Fatalf("second use: %v", err)
	}
	is2 := s.Issue(Principal{Version: 1, User: "u"}, time.Minute, 10*time.Second, false)
	c.add(10 * time.Second)
	if _, err := s.RedeemRefresh(is2.Refresh); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired refresh: %v", err)
	}
	if v2 := s.Issue(Principal{Version: 2, ClientID: "c"}, time.Minute, 0, false); v2.Refresh != "" {
		t.Fatal("v2 got a refresh token")
	}
}

func TestExclusiveSignOnRevokesOlderSessionsAndNotifies(t *testing.T) {
	s, _ := newTestStore()
	var mu sync.Mutex
	var events []Event
	cancel := s.Subscribe(func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	defer cancel()
	old := s.Issue(Principal{Version: 1, User: "u"}, time.Minute, time.Hour, true)
	other := s.Issue(Principal{Version: 1, User: "someone-else"}, time.Minute, time.Hour, true)
	nonExclusive := s.Issue(Principal{Version: 1, User: "u"}, time.Minute, time.Hour, false)
	if _, _, err := s.Validate(old.Access); err != nil {
		t.Fatalf("a non-exclusive sign-on revoked the older session: %v", err)
	}
	newer := s.Issue(Principal{Version: 1, User: "u"}, time.Minute, time.Hour, true)
	for _, tok := range []string{old.Access, nonExclusive.Access} {
		if _, _, err := s.Validate(tok); !errors.Is(err, ErrRevoked) {
			t.Fatalf("older session of u still valid: %v", err)
		}
	}
	if _, err := s.RedeemRefresh(old.Refresh); !errors.Is(err, ErrRevoked) {
		t.Fatalf("signed-out session's refresh token still works: %v", err)
	}
	for _, tok := range []string{newer.Access, other.Access} {
		if _, _, err := s.Validate(tok); err != nil {
			t.Fatalf("valid session revoked: %v", err)
		}
	}
	if _, err := s.RedeemRefresh(newer.Refresh); err != nil {
		t.Fatalf("new session's refresh token: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 {
		t.Fatalf("want 2 sign-out events, got %d", len(events))
	}
}

func TestRevokeAllAndExpireAll(t *testing.T) {
	s, _ := newTestStore()
	a := s.Issue(Principal{Version: 2, ClientID: "c"}, time.Minute, 0, false)
	b := s.Issue(Principal{Version: 1, User: "u"}, time.Minute, time.Hour, false)
	notified := 0
	cancel := s.Subscribe(func(Event) { notified++ })
	if n := s.ExpireAll(); n != 2 || notified != 2 {
		t.Fatalf("ExpireAll: n=%d notified=%d", n, notified)
	}
	if _, _, err := s.Validate(a.Access); !errors.Is(err, ErrExpired) {
		t.Fatalf("after ExpireAll: %v", err)
	}
	cancel()
	c := s.Issue(Principal{Version: 1, User: "u"}, time.Minute, time.Hour, false)
	if n := s.RevokeAll("fault"); n != 1 {
		t.Fatalf("RevokeAll revoked %d", n)
	}
	if _, _, err := s.Validate(c.Access); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after RevokeAll: %v", err)
	}
	if _, err := s.RedeemRefresh(b.Refresh); err == nil {
		t.Fatal("refresh token survived RevokeAll")
	}
	if notified != 2 {
		t.Fatal("cancelled listener was called")
	}
}

func TestMemoryBounded(t *testing.T) {
	s, c := newTestStore()
	for i := 0; i < 5000; i++ {
		s.Issue(Principal{Version: 1, User: "u"}, time.Second, time.Second, false)
		c.add(2 * time.Second)
	}
	s.mu.Lock()
	n := len(s.access) + len(s.refresh)
	s.mu.Unlock()
	// Records older than an hour (1800 issues at 2 s apart) are forgotten.
	if n > 2*1800+2048 {
		t.Fatalf("store keeps %d records", n)
	}
}

func TestPrincipalName(t *testing.T) {
	if (Principal{User: "u", ClientID: "c"}).Name() != "u" || (Principal{ClientID: "c"}).Name() != "c" {
		t.Fatal("Name")
	}
}

// Tokens are letters and digits only (clients cut cookies with
// [[:alnum:]]*), at least 256 bits of entropy each, and distinct.
func TestTokensAlphanumeric(t *testing.T) {
	s := NewStore(nil)
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 200 {
		iss := s.Issue(Principal{Version: 1, User: "u"}, time.Minute, time.Hour, false)
		for _, tok := range []string{iss.Access, iss.Refresh} {
			if seen[tok] {
				t.Fatalf("token issued twice: %s", tok)
			}
			seen[tok] = true
			for _, r := range tok {
				if !strings.ContainsRune(tokenAlphabet, r) {
					t.Fatalf("token %q has %q", tok, r)
				}
				counts[r]++
			}
			// Each character carries log2(62) bits.
			if bits := float64(len(tok)) * math.Log2(62); bits < 256 {
				t.Fatalf("token %q carries %.1f bits", tok, bits)
			}
		}
	}
	// Every character of the alphabet is used: a sampler stuck on a
	// subset (a modulo bug) would fail this over ~21000 characters.
	if len(counts) != len(tokenAlphabet) {
		t.Fatalf("%d distinct characters used, want %d", len(counts), len(tokenAlphabet))
	}
	if l := len(newToken(32)); l != 43 {
		t.Fatalf("a 32-byte token is %d characters, want 43", l)
	}
}
