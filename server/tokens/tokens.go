// Package tokens is the emulator's record of issued OAuth2 tokens: the
// gateway issues and refreshes them, the streaming endpoints validate the
// AuthenticationToken of each Login against it. One Store is shared by
// both sides of one emulator.
package tokens

import (
	"crypto/rand"
	"errors"
	"sync"
	"time"
)

// Errors returned by Validate and Refresh; match with errors.Is.
var (
	ErrUnknown = errors.New("token unknown")
	ErrExpired = errors.New("token expired")
	ErrRevoked = errors.New("token revoked")
)

// Principal is who a token was issued to.
type Principal struct {
	// Version is 1 for the v1 password grant (machine ID), 2 for v2
	// client credentials (service account).
	Version  int
	User     string // machine ID (v1); empty for v2
	ClientID string
	Scope    string
	// ADS marks an ADS authentication token (an ADS's /getToken answer,
	// carried by the AuthToken cookie), which is not an RTO OAuth token:
	// an ADS does not end a session when it expires, so the streaming
	// side gives such sessions their own expiry policy
	// (server.Config.CloseADSSessionsAtExpiry).
	ADS bool
}

// Name is the user name a streaming Login reports: the machine ID for v1
// tokens, the client ID for v2 tokens.
func (p Principal) Name() string {
	if p.User != "" {
		return p.User
	}
	return p.ClientID
}

// Issued is the result of issuing a token.
type Issued struct {
	Access    string
	Refresh   string // empty for v2
	ExpiresIn time.Duration
	Expiry    time.Time
}

// Event reports that tokens were invalidated before their expiry.
type Event struct {
	// Access is the invalidated access token.
	Access string
	// Reason is a human-readable reason, e.g. "signed out by a newer
	// session of the same user (exclusive sign-on)".
	Reason string
	// Exclusive marks a sign-out by exclusive sign-on. The streaming side
	// gives such sessions a short grace: a client that signed on again
	// itself reissues its Login with the new token within it.
	Exclusive bool
	// Expiry is when the invalidated token would have expired.
	Expiry time.Time
	// Expired marks a token made to expire now (ExpireAll), as opposed to
	// revoked: sessions follow the natural-expiry policy of Principal's
	// auth version.
	Expired   bool
	Principal Principal
}

type record struct {
	p       Principal
	expiry  time.Time
	revoked string // reason; empty while valid
}

type refreshRecord struct {
	p      Principal
	expiry time.Time
	used   bool
}

// Store holds issued tokens. It is safe for concurrent use.
type Store struct {
	now func() time.Time

	mu        sync.Mutex
	access    map[string]*record
	refresh   map[string]*refreshRecord
	listeners map[int]func(Event)
	nextL     int
}

// NewStore returns an empty store. now may be nil (time.Now).
func NewStore(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, access: map[string]*record{}, refresh: map[string]*refreshRecord{}, listeners: map[int]func(Event){}}
}

// Issue creates an access token valid for lifetime and, when
// refreshLifetime > 0, a single-use refresh token valid for refreshLifetime.
// With exclusive set, every earlier live access token of the same v1 user
// is revoked and listeners are told (exclusive sign-on).
func (s *Store) Issue(p Principal, lifetime, refreshLifetime time.Duration, exclusive bool) Issued {
	now := s.now()
	out := Issued{Access: newToken(48), ExpiresIn: lifetime, Expiry: now.Add(lifetime)}
	var events []Event
	s.mu.Lock()
	if exclusive && p.User != "" {
		for tok, r := range s.access {
			if r.p.User == p.User && r.revoked == "" && now.Before(r.expiry) {
				r.revoked = "signed out: another session of user " + p.User + " took exclusive sign-on control"
				events = append(events, Event{Access: tok, Reason: r.revoked, Exclusive: true, Expiry: r.expiry})
			}
		}
		// The signed-out sessions' refresh tokens die with them, or a
		// signed-out client could quietly come back with a refresh grant.
		for _, r := range s.refresh {
			if r.p.User == p.User {
				r.used = true
			}
		}
	}
	s.access[out.Access] = &record{p: p, expiry: out.Expiry}
	if refreshLifetime > 0 {
		out.Refresh = newToken(32)
		s.refresh[out.Refresh] = &refreshRecord{p: p, expiry: now.Add(refreshLifetime)}
	}
	s.gcLocked(now)
	s.mu.Unlock()
	s.notify(events)
	return out
}

// Register adds an access token made elsewhere (a gateway's configured
// user token), valid until expiry.
func (s *Store) Register(access string, p Principal, expiry time.Time) {
	s.mu.Lock()
	s.access[access] = &record{p: p, expiry: expiry}
	s.mu.Unlock()
}

// Validate returns the principal of a live access token and its expiry.
func (s *Store) Validate(access string) (Principal, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.access[access]
	switch {
	case !ok:
		return Principal{}, time.Time{}, ErrUnknown
	case r.revoked != "":
		return r.p, r.expiry, ErrRevoked
	case !s.now().Before(r.expiry):
		return r.p, r.expiry, ErrExpired
	}
	return r.p, r.expiry, nil
}

// RedeemRefresh consumes a refresh token: it returns the principal it was
// issued to and marks it used. A refresh token works once.
func (s *Store) RedeemRefresh(refresh string) (Principal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refresh[refresh]
	switch {
	case !ok:
		return Principal{}, ErrUnknown
	case r.used:
		return r.p, ErrRevoked
	case !s.now().Before(r.expiry):
		return r.p, ErrExpired
	}
	r.used = true
	return r.p, nil
}

// RevokeAll revokes every live access and refresh token (a fault).
func (s *Store) RevokeAll(reason string) int {
	return s.invalidate(reason, false)
}

// ExpireAll makes every live access token expire now (a fault); the
// streaming side notices at the next check of each session.
func (s *Store) ExpireAll() int {
	return s.invalidate("", true)
}

func (s *Store) invalidate(reason string, expire bool) int {
	now := s.now()
	var events []Event
	s.mu.Lock()
	for tok, r := range s.access {
		if r.revoked != "" || !now.Before(r.expiry) {
			continue
		}
		if expire {
			r.expiry = now
			events = append(events, Event{Access: tok, Reason: "Login token expired without renewal.", Expired: true, Expiry: now, Principal: r.p})
		} else {
			r.revoked = reason
			events = append(events, Event{Access: tok, Reason: reason, Principal: r.p})
		}
	}
	if !expire {
		for _, r := range s.refresh {
			r.used = true
		}
	}
	s.mu.Unlock()
	s.notify(events)
	return len(events)
}

// Subscribe registers f to be called (from the goroutine that caused it)
// for every token invalidated before its expiry. It returns a function
// that unregisters f.
func (s *Store) Subscribe(f func(Event)) (cancel func()) {
	s.mu.Lock()
	id := s.nextL
	s.nextL++
	s.listeners[id] = f
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.listeners, id)
		s.mu.Unlock()
	}
}

func (s *Store) notify(events []Event) {
	if len(events) == 0 {
		return
	}
	s.mu.Lock()
	ls := make([]func(Event), 0, len(s.listeners))
	for _, f := range s.listeners {
		ls = append(ls, f)
	}
	s.mu.Unlock()
	for _, e := range events {
		for _, f := range ls {
			f(e)
		}
	}
}

// gcLocked forgets records long past expiry so that a long-running
// emulator issuing a token every few seconds keeps bounded memory.
func (s *Store) gcLocked(now time.Time) {
	const keep = time.Hour
	if len(s.access)+len(s.refresh) < 1024 {
		return
	}
	for k, r := range s.access {
		if now.Sub(r.expiry) > keep {
			delete(s.access, k)
		}
	}
	for k, r := range s.refresh {
		if now.Sub(r.expiry) > keep || (r.used && now.After(r.expiry)) {
			delete(s.refresh, k)
		}
	}
}

// tokenAlphabet is what tokens are made of: letters and digits only, so
// that clients can cut a token out of a header or a cookie with a
// [[:alnum:]]* pattern (LSEG's ADS examples do) and no character needs
// escaping anywhere (URLs, cookies, JSON, shells).
const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newToken returns a random token of n bytes' entropy: ceil(8n / log2 62)
// characters of tokenAlphabet, each drawn uniformly (rejection sampling:
// bytes >= 248, the largest multiple of 62 that fits, are redrawn).
func newToken(n int) string {
	chars := (n*8*1000 + 5953) / 5954 // log2(62) = 5.954…
	out := make([]byte, 0, chars)
	buf := make([]byte, chars+chars/8+8)
	for len(out) < chars {
		if _, err := rand.Read(buf); err != nil {
			panic("tokens: crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			if b < 248 && len(out) < chars {
				out = append(out, tokenAlphabet[b%62])
			}
		}
	}
	return string(out)
}
