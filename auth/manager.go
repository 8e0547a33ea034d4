package auth

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ertkit/ertkit/internal/backoff"
	"github.com/ertkit/ertkit/internal/platform"
)

// Manager owns the token of one credential. Create one per credential and
// share it among all connections of the process; it is safe for concurrent
// use. Concurrent requests for a new token share a single HTTP call.
type Manager struct {
	grant   Grant
	opts    Options
	env     *env
	ownHTTP bool // the Manager built the HTTP client (and closes its idle connections)

	ctx    context.Context // ends on Close; bounds token requests
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	tok    Token
	have   bool
	gen    uint64 // incremented with each new token
	flight *flight
	subs   []subscriber
	nextID uint64
	closed bool

	notifyMu sync.Mutex // serialises callbacks, in token order
	notified uint64     // gen of the last token announced
}

type flight struct {
	done chan struct{}
	tok  Token
	gen  uint64
	err  error
}

type subscriber struct {
	id uint64
	fn func(Token)
}

// NewManager returns a Manager for g. It makes no request until a token is
// asked for. Call Close when done.
func NewManager(g Grant, opts Options) *Manager {
	opts = opts.withDefaults()
	m := &Manager{grant: g, opts: opts, ownHTTP: opts.HTTPClient == nil}
	if platform.InsecureTransport(opts.HTTPClient) {
		opts.Logger.Warn("TLS certificate verification is disabled on the token endpoint's HTTP client")
	}
	gw := &platform.Client{
		HTTP:           platform.NoRedirects(opts.HTTPClient, opts.TLSConfig),
		AllowedHosts:   opts.AllowedRedirectHosts,
		Retry:          backoff.Policy{Base: opts.RetryBaseDelay, Max: opts.RetryMaxDelay, Attempts: opts.MaxAttempts},
		RequestTimeout: opts.RequestTimeout,
		After:          opts.After,
		Now:            opts.Now,
		Logger:         opts.Logger,
	}
	if opts.MaxRequestsPerMinute > 0 {
		gw.Pacer = &platform.Pacer{Max: opts.MaxRequestsPerMinute, Window: time.Minute, Now: opts.Now, After: opts.After}
	}
	m.env = &env{gw: gw, now: opts.Now, log: opts.Logger}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// Version is the authentication version of the grant: 1 or 2.
func (m *Manager) Version() int { return m.grant.Version() }

// Token returns the current token if it is still usable, else obtains a new
// one. "Usable" is, after Obtained: v1, RenewFraction × expires_in; v2,
// 0.95 × expires_in when expires_in < 600 s, else expires_in − 300 s
// (LSEG's v2 reconnect rule). If ctx ends first, Token returns ctx's error
// while the request goes on for other callers.
func (m *Manager) Token(ctx context.Context) (Token, error) {
	t, _, err := m.get(ctx, false)
	return t, err
}

// Fresh obtains a new token whatever the state of the current one (v2
// rule: a new token on the first reconnect attempt). A v1 grant renews
// with its refresh token. If a request is already under way, Fresh shares
// its result.
func (m *Manager) Fresh(ctx context.Context) (Token, error) {
	t, _, err := m.get(ctx, true)
	return t, err
}

// Subscribe registers fn to be called with each new v1 token after the
// first one (proactive renewals by Run, and renewals caused by Token or
// Fresh): the consumer reissues its Login (Refresh:false, same stream ID)
// on every live connection. Calls are serialised and in token order; fn
// should return quickly. v2 tokens are never announced: LSEG's v2 policy
// uses a token only to (re)connect. cancel removes fn.
func (m *Manager) Subscribe(fn func(Token)) (cancel func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID++
	id := m.nextID
	m.subs = append(m.subs, subscriber{id: id, fn: fn})
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for i, s := range m.subs {
			if s.id == id {
				m.subs = append(m.subs[:i:i], m.subs[i+1:]...)
				return
			}
		}
	}
}

// Close stops Run, fails pending and future calls with ErrClosed and waits
// for an HTTP request under way to be abandoned.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	if m.ownHTTP {
		m.env.gw.HTTP.CloseIdleConnections()
	}
}

// get returns a usable token (or a new one when force), with its generation.
func (m *Manager) get(ctx context.Context, force bool) (Token, uint64, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return Token{}, 0, ErrClosed
	}
	if !force && m.have && m.usable(m.tok) {
		t, g := m.tok, m.gen
		m.mu.Unlock()
		return t, g, nil
	}
	f := m.flight
	if f == nil {
		f = m.startLocked()
	}
	m.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.gen, f.err
	case <-ctx.Done():
		return Token{}, 0, ctx.Err()
	}
}

// startLocked launches the token request; m.mu is held.
func (m *Manager) startLocked() *flight {
	f := &flight{done: make(chan struct{})}
	m.flight = f
	var prev *Token
	if m.have {
		p := m.tok
		prev = &p
	}
	m.wg.Add(1)
	go m.runFlight(f, prev)
	return f
}

func (m *Manager) runFlight(f *flight, prev *Token) {
	defer m.wg.Done()
	tok, err := m.grant.fetch(m.ctx, m.env, prev)
	if err != nil && m.ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	m.mu.Lock()
	announce := false
	if err == nil {
		m.tok, m.have = tok, true
		m.gen++
		f.gen = m.gen
		announce = m.grant.Version() == 1 && prev != nil
	}
	subs := append([]subscriber(nil), m.subs...)
	m.flight = nil
	f.tok, f.err = tok, err
	close(f.done)
	m.mu.Unlock()
	if err != nil {
		m.opts.Logger.Warn("token request failed", "version", m.grant.Version(), "error", err)
		return
	}
	m.opts.Logger.Info("token obtained", "version", tok.Version, "expires_in", tok.ExpiresIn, "renewal", prev != nil)
	if announce {
		m.announce(f.gen, tok, subs)
	}
}

// announce calls subscribers unless a newer token was announced already.
func (m *Manager) announce(gen uint64, tok Token, subs []subscriber) {
	m.notifyMu.Lock()
	defer m.notifyMu.Unlock()
	if gen <= m.notified {
		return
	}
	m.notified = gen
	sort.Slice(subs, func(i, j int) bool { return subs[i].id < subs[j].id })
	for _, s := range subs {
		s.fn(tok)
	}
}

// usable applies the per-version threshold; m.mu is held.
func (m *Manager) usable(t Token) bool {
	if t.ExpiresIn <= 0 {
		return true // static token
	}
	return m.opts.Now().Before(t.Obtained.Add(m.usableFor(t)))
}

func (m *Manager) usableFor(t Token) time.Duration {
	if t.Version == 1 {
		return time.Duration(float64(t.ExpiresIn) * m.opts.RenewFraction)
	}
	return v2UsableFor(t.ExpiresIn)
}

// v2UsableFor is LSEG's v2 rule: 95 % of short lifetimes, else all but the
// last 5 minutes.
func v2UsableFor(expiresIn time.Duration) time.Duration {
	if expiresIn < 600*time.Second {
		return time.Duration(float64(expiresIn) * 0.95)
	}
	return expiresIn - 300*time.Second
}

// Run keeps a v1 token renewed until ctx ends or Close is called, then
// returns nil. It obtains a token if there is none, sleeps until
// RenewFraction of its lifetime, and renews (refresh_token grant, with the
// password fallbacks of PasswordGrant); Subscribe callbacks receive each
// renewed token. A transient failure (5xx/429/network after the retries)
// is retried after a growing, jittered delay; a permanent one (403/404/410/
// 451, credentials rejected even by the password grant, refused redirect,
// bad configuration) is logged and returned.
//
// For v2 grants and static tokens Run only waits for ctx or Close: LSEG's
// v2 policy fetches tokens on demand (Token at connect, Fresh on reconnect)
// and never reissues logins.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(m.ctx, cancel)
	defer stop()
	if m.Version() != 1 {
		<-ctx.Done()
		return nil
	}
	pol := backoff.Policy{Base: m.opts.RetryBaseDelay, Max: m.opts.RetryMaxDelay}
	failures := 0
	fail := func(err error) error {
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return nil
		}
		if permanent(err) {
			m.opts.Logger.Error("token renewal stopped", "error", err)
			return err
		}
		d := pol.Delay(failures)
		failures++
		m.opts.Logger.Warn("token renewal failed; will retry", "error", err, "delay", d)
		_ = backoff.Wait(ctx, d, m.opts.After)
		return nil
	}
	for ctx.Err() == nil {
		tok, gen, err := m.get(ctx, false)
		if err != nil {
			if err := fail(err); err != nil {
				return err
			}
			continue
		}
		if tok.ExpiresIn <= 0 {
			<-ctx.Done()
			break
		}
		renewAt := tok.Obtained.Add(m.usableFor(tok))
		if err := backoff.Wait(ctx, renewAt.Sub(m.opts.Now()), m.opts.After); err != nil {
			break
		}
		m.mu.Lock()
		renewedMeanwhile := m.gen != gen
		m.mu.Unlock()
		if renewedMeanwhile {
			continue
		}
		if _, _, err := m.get(ctx, true); err != nil {
			if err := fail(err); err != nil {
				return err
			}
			continue
		}
		failures = 0
	}
	return nil
}
