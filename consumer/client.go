package consumer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/trjson"
)

// Client is a consumer session: one connection, or two with HotStandby,
// that survive token renewals, disconnects and endpoint failures.
type Client struct {
	// tokenSuspect is set when the server ended or refused a Login for a
	// reason other than "Already pending login" (expired, revoked, signed
	// out): the next reconnect then gets a fresh token whatever the auth
	// version, instead of presenting the same dead token until the next
	// scheduled renewal.
	tokenSuspect atomic.Bool
	cfg          Config
	log          *slog.Logger
	tls          atomic.Pointer[tls.Config] // replaced when TLS.CAFile is re-read
	dial         func(ctx context.Context, url string, o dialOptions) (transport, error)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cnt    counters
	ev     events
	q      *queue
	token  atomic.Pointer[string]
	postID atomic.Int64
	unsub  func()

	mu        sync.Mutex // guards the fields below and Item request parameters
	endpoints []string
	slots     []*slot
	items     map[*Item]struct{} // the watchlist: streaming items to keep open
	active    int                // slot carrying posts and snapshots; -1 none
	closed    bool
	upSig     chan struct{} // closed (and replaced) whenever a slot logs in
	// backoffHook, when set (tests), sees every reconnect delay.
	backoffHook func(time.Duration)

	stage sync.Mutex // serialises de-dup, caches and delivery
	msg   Msg        // scratch for Handler delivery, under stage
}

type slot struct {
	idx      int
	epIdx    int
	endpoint string
	state    ConnState
	conn     *conn
	everUp   bool
}

// Option adjusts one Subscribe or Snapshot call.
type Option func(*options)

type options struct {
	view     []string
	viewFIDs []int64
	domain   trjson.Domain
	service  string
	snapshot bool
	filter   int64
}

// WithView requests only the named fields (a View, §8).
func WithView(names ...string) Option { return func(o *options) { o.view = names } }

// WithViewFIDs requests only the fields with these IDs.
func WithViewFIDs(fids ...int64) Option { return func(o *options) { o.viewFIDs = fids } }

// WithDomain selects the domain (default MarketPrice): MarketByPrice,
// MarketByOrder, SymbolList, Source, …
func WithDomain(d trjson.Domain) Option { return func(o *options) { o.domain = d } }

// WithService overrides Config.Service.
func WithService(s string) Option { return func(o *options) { o.service = s } }

// Dial connects (both connections with HotStandby), logs in and returns
// once at least one connection is logged in. Token and Login failures are
// returned at once (no retry storm), except a Login refused with "Already
// pending login" (ErrLoginPending), which is retried after a back-off with
// jitter up to Reconnect.PendingLoginRetries times within ctx; unreachable
// endpoints are tried in order. After Dial the Client reconnects by itself until Close.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.TokenSource == nil && cfg.UserName == "" {
		return nil, errors.New("consumer: Config.TokenSource (or UserName) is required")
	}
	tc, err := tlsConfig(cfg.TLS, cfg.Logger)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: cfg.Logger, dial: dialWS, items: map[*Item]struct{}{}, active: -1, upSig: make(chan struct{})}
	c.tls.Store(tc)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.ev = newEvents(cfg.OnEvent, cfg.Events, func() { c.cnt.eventsDropped.Add(1) })
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.ev.run(c.ctx.Done()) }()
	if cfg.Handler == nil {
		c.q = newQueue(cfg.SlowConsumer, cfg.Buffer, &c.cnt)
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.q.pump(c.ctx.Done()) }()
	}

	c.endpoints = append([]string(nil), cfg.Endpoints...)
	if len(c.endpoints) == 0 && cfg.Discover != nil {
		eps, err := cfg.Discover(ctx)
		if err != nil {
			c.shutdown()
			return nil, fmt.Errorf("consumer: discover: %w", err)
		}
		c.endpoints = eps
	}
	if len(c.endpoints) == 0 {
		c.shutdown()
		return nil, ErrNoEndpoints
	}
	n := 1
	if cfg.HotStandby {
		n = 2
	}
	for i := 0; i < n; i++ {
		c.slots = append(c.slots, &slot{idx: i, epIdx: i % len(c.endpoints)})
	}

	if sub, ok := cfg.TokenSource.(TokenSubscriber); ok && c.reissuesLogin() {
		c.unsub = sub.Subscribe(c.tokenRenewed)
	}

	// First connection of each slot, synchronously: the caller learns about
	// bad credentials or a rejected Login now.
	first := make([]*conn, n)
	var firstErr error
	for i, s := range c.slots {
		cn, err := c.firstConnect(ctx, s)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			var te *TokenError
			var le *LoginError
			if errors.As(err, &te) || errors.As(err, &le) || ctx.Err() != nil {
				break
			}
			continue
		}
		first[i] = cn
	}
	up := false
	for _, cn := range first {
		up = up || cn != nil
	}
	if !up {
		for _, cn := range first {
			if cn != nil {
				cn.stop(errClientClosed)
			}
		}
		c.shutdown()
		return nil, firstErr
	}
	for i, s := range c.slots {
		var items []*Item
		if first[i] != nil {
			items = c.up(s, first[i], "") // before returning: Post and Snapshot work at once
		}
		c.wg.Add(1)
		go c.runSlot(s, first[i], items)
	}
	return c, nil
}

// reissuesLogin: v1 renews tokens on a live session with a Login reissue;
// v2 does not (a new token is used on the next connection).
func (c *Client) reissuesLogin() bool {
	if v, ok := c.cfg.TokenSource.(TokenVersioner); ok {
		return v.Version() != 2
	}
	return true
}

func (c *Client) tokenRenewed(t auth.Token) {
	tok := t.AccessToken
	c.token.Store(&tok)
	c.ev.emit(Event{Kind: EventTokenRenewed})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.slots {
		if s.conn != nil && s.state == ConnLoggedIn {
			signal(s.conn.renew)
		}
	}
}

// getToken returns the token for a new connection: a fresh one on
// reconnects under v2 rules (LSEG: new token per reconnect).
func (c *Client) getToken(ctx context.Context, reconnect bool) (string, error) {
	if c.cfg.UserName != "" {
		return "", nil
	}
	var t auth.Token
	var err error
	fresh, canFresh := c.cfg.TokenSource.(FreshTokenSource)
	if reconnect && canFresh && (!c.reissuesLogin() || c.tokenSuspect.Swap(false)) {
		t, err = fresh.Fresh(ctx)
	} else {
		t, err = c.cfg.TokenSource.Token(ctx)
	}
	if err != nil {
		return "", &TokenError{Err: err}
	}
	tok := t.AccessToken
	c.token.Store(&tok)
	return tok, nil
}

// firstConnect tries the slot's endpoints once each, in order. A Login
// refused with "Already pending login" is retried on the same endpoint
// after a back-off (bounded by PendingLoginRetries and ctx); other token
// and Login failures end it at once.
func (c *Client) firstConnect(ctx context.Context, s *slot) (*conn, error) {
	var last error
	c.mu.Lock()
	neps := len(c.endpoints)
	c.mu.Unlock()
	bo := backoff{p: c.cfg.Reconnect}
	retries := 0
	for i := 0; i < neps; i++ {
		cn, err := c.attempt(ctx, s, false)
		if err == nil {
			return cn, nil
		}
		last = err
		if errors.Is(err, ErrLoginPending) && retries < c.cfg.Reconnect.PendingLoginRetries {
			retries++
			d := bo.next()
			c.log.Warn("login pending on the server; backing off", "conn", s.idx, "endpoint", s.endpoint, "retry", retries, "delay", d)
			c.errorEvent(s.idx, err)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("%w (while backing off after: %w)", ctx.Err(), err)
			}
			i-- // same endpoint again
			continue
		}
		var te *TokenError
		var le *LoginError
		if errors.As(err, &te) || errors.As(err, &le) || errors.Is(err, ErrTLSVersion) || ctx.Err() != nil {
			return nil, err
		}
		c.advance(s)
	}
	return nil, last
}

func (c *Client) attempt(ctx context.Context, s *slot, reconnect bool) (*conn, error) {
	c.mu.Lock()
	ep := c.endpoints[s.epIdx%len(c.endpoints)]
	s.endpoint, s.state = ep, ConnConnecting
	dial := c.dial // under c.mu: tests substitute it on a running Client
	c.mu.Unlock()
	tok, err := c.getToken(ctx, reconnect)
	if err != nil {
		c.setState(s, ConnDown)
		return nil, classifyTLS(err) // the token endpoint's certificate counts too
	}
	if reconnect {
		c.reloadCA()
	}
	cn := newConn(c, s.idx, ep)
	cn.dial = dial
	if err := cn.start(ctx, tok); err != nil {
		c.setState(s, ConnDown)
		c.noteLoginFailure(err)
		return nil, classifyTLS(err)
	}
	return cn, nil
}

// reloadCA re-reads TLS.CAFile before a reconnect: a server that
// restarted with a new CA (the emulator writes each new CA to the same
// file) is trusted again without restarting the application. A file that
// cannot be read keeps the previous trust.
func (c *Client) reloadCA() {
	if c.cfg.TLS.CAFile == "" || c.cfg.TLS.InsecureSkipVerify {
		return
	}
	tc, err := tlsConfig(c.cfg.TLS, c.log)
	if err != nil {
		c.log.Warn("CA file not re-read; keeping the previous one", "err", err)
		return
	}
	c.tls.Store(tc)
}

// noteLoginFailure marks the token suspect after a Login refusal that may
// be about the token.
func (c *Client) noteLoginFailure(err error) {
	var le *LoginError
	if errors.As(err, &le) && !errors.Is(err, ErrLoginPending) {
		c.tokenSuspect.Store(true)
	}
}

func (c *Client) setState(s *slot, st ConnState) {
	c.mu.Lock()
	s.state = st
	c.mu.Unlock()
}

// advance moves the slot to the next endpoint, avoiding the other slot's
// endpoint when there is a choice.
func (c *Client) advance(s *slot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.endpoints)
	for k := 1; k <= n; k++ {
		next := (s.epIdx + k) % n
		busy := false
		for _, o := range c.slots {
			if o != s && o.state == ConnLoggedIn && o.epIdx%n == next {
				busy = true
			}
		}
		if !busy || k == n {
			s.epIdx = next
			return
		}
	}
}

// runSlot keeps one connection slot alive until Close.
func (c *Client) runSlot(s *slot, cn *conn, items []*Item) {
	defer c.wg.Done()
	bo := backoff{p: c.cfg.Reconnect}
	failures, certFailures := 0, 0
	lastEndpoint := ""
	giveUp := func(err error) {
		c.log.Error("connection gave up reconnecting", "conn", s.idx, "err", err)
		c.ev.emit(Event{Kind: EventError, Conn: s.idx, Err: err})
		c.setState(s, ConnDown)
		<-c.ctx.Done()
		c.setState(s, ConnClosed)
	}
	if cn != nil {
		lastEndpoint = cn.endpoint
	}
	for {
		if cn != nil {
			failures, certFailures = 0, 0
			bo.reset()
			if items == nil {
				items = c.up(s, cn, lastEndpoint)
			}
			lastEndpoint = cn.endpoint
			err := cn.run(items)
			c.down(s, cn, err)
			cn, items = nil, nil
		}
		if c.ctx.Err() != nil {
			c.setState(s, ConnClosed)
			return
		}
		if max := c.cfg.Reconnect.MaxAttempts; max > 0 && failures >= max {
			giveUp(fmt.Errorf("%w: connection %d: after %d attempts", ErrGaveUp, s.idx, failures))
			return
		}
		d := bo.next()
		c.mu.Lock()
		hook := c.backoffHook
		c.mu.Unlock()
		if hook != nil {
			hook(d)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			c.setState(s, ConnClosed)
			return
		}
		var err error
		cn, err = c.attempt(c.ctx, s, true)
		if err != nil {
			failures++
			c.log.Warn("reconnect failed", "conn", s.idx, "endpoint", s.endpoint, "attempt", failures, "err", err)
			c.errorEvent(s.idx, err)
			if errors.Is(err, ErrTLSVersion) {
				giveUp(fmt.Errorf("%w: connection %d: %w", ErrGaveUp, s.idx, err))
				return
			}
			if errors.Is(err, ErrCertificate) {
				certFailures++
			} else {
				certFailures = 0
			}
			if max := c.cfg.Reconnect.MaxCertFailures; max > 0 && certFailures >= max {
				giveUp(fmt.Errorf("%w: connection %d: %d certificate failures in a row (CA file re-read before each): %w", ErrGaveUp, s.idx, certFailures, err))
				return
			}
			if failures%c.cfg.Reconnect.SwitchAfter == 0 {
				c.advance(s) // EventEndpointSwitched follows once it logs in there
			}
			if failures%c.cfg.Reconnect.RediscoverAfter == 0 && c.cfg.Discover != nil && c.rediscover(s) {
				// A fresh endpoint list deserves a prompt try: the delays
				// grown against the old list would only lengthen an outage.
				bo.reset()
			}
		}
	}
}

// rediscover replaces the endpoint list; it reports success.
func (c *Client) rediscover(s *slot) bool {
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	eps, err := c.cfg.Discover(ctx)
	if err != nil || len(eps) == 0 {
		c.errorEvent(s.idx, fmt.Errorf("consumer: rediscovery: %w", errors.Join(err, ErrNoEndpoints)))
		return false
	}
	c.mu.Lock()
	c.endpoints = eps
	s.epIdx = s.idx % len(eps)
	c.mu.Unlock()
	c.ev.emit(Event{Kind: EventRediscovered, Conn: s.idx})
	return true
}

// up marks a slot logged in and returns the watchlist to request on it.
func (c *Client) up(s *slot, cn *conn, lastEndpoint string) []*Item {
	c.mu.Lock()
	s.conn, s.state = cn, ConnLoggedIn
	reconnect := s.everUp
	s.everUp = true
	items := make([]*Item, 0, len(c.items)+1) // non-nil: marks "up done"
	for it := range c.items {
		items = append(items, it)
	}
	promoted := c.pickActive()
	close(c.upSig)
	c.upSig = make(chan struct{})
	c.mu.Unlock()
	kind := EventConnected
	if reconnect {
		kind = EventReconnected
		c.cnt.reconnects.Add(1)
	}
	c.log.Info("logged in", "conn", s.idx, "endpoint", cn.endpoint, "reconnect", reconnect)
	c.ev.emit(Event{Kind: kind, Conn: s.idx, Endpoint: cn.endpoint})
	if lastEndpoint != "" && lastEndpoint != cn.endpoint {
		c.ev.emit(Event{Kind: EventEndpointSwitched, Conn: s.idx, Endpoint: cn.endpoint})
	}
	if promoted {
		c.ev.emit(Event{Kind: EventStandbyPromoted, Conn: s.idx, Endpoint: cn.endpoint})
	}
	return items
}

// down marks a slot lost and its items Suspect.
func (c *Client) down(s *slot, cn *conn, err error) {
	c.mu.Lock()
	s.conn, s.state = nil, ConnDown
	promoted := c.pickActive()
	active, activeEP := c.active, ""
	if active >= 0 {
		activeEP = c.slots[active].endpoint
	}
	c.mu.Unlock()
	if errors.Is(err, errClientClosed) {
		return
	}
	c.log.Warn("connection lost", "conn", s.idx, "endpoint", cn.endpoint, "err", err)
	// Items first: whoever sees EventDisconnected sees them Suspect.
	st := trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataSuspect, Text: "connection lost; recovering"}
	for _, sb := range cn.byItem {
		if sb.item.snapshot {
			c.itemState(s.idx, sb.item, trjson.State{Stream: trjson.StreamClosedRecover, Data: trjson.DataSuspect, Text: "connection lost"})
			sb.item.markReady()
			continue
		}
		c.itemState(s.idx, sb.item, st)
	}
	c.ev.emit(Event{Kind: EventDisconnected, Conn: s.idx, Endpoint: cn.endpoint, Err: err})
	if promoted && active >= 0 {
		c.ev.emit(Event{Kind: EventStandbyPromoted, Conn: active, Endpoint: activeEP})
	}
}

// pickActive chooses the lowest logged-in slot; it reports a change from
// one live slot to another (a standby promotion). Under c.mu.
func (c *Client) pickActive() bool {
	prev := c.active
	c.active = -1
	for _, s := range c.slots {
		if s.state == ConnLoggedIn {
			c.active = s.idx
			break
		}
	}
	return prev >= 0 && c.active >= 0 && prev != c.active
}

func (c *Client) activeConn() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active < 0 {
		return nil
	}
	return c.slots[c.active].conn
}

func (c *Client) liveConns() []*conn {
	var cs []*conn
	for _, s := range c.slots {
		if s.state == ConnLoggedIn && s.conn != nil {
			cs = append(cs, s.conn)
		}
	}
	return cs
}

// params copies items' request parameters (for a connection loop).
func (c *Client) params(items []*Item) []reqParams {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := make([]reqParams, 0, len(items))
	for _, it := range items {
		if it.gone {
			continue
		}
		ps = append(ps, reqParams{it: it, view: it.view, viewFIDs: it.viewFIDs, paused: it.paused, snapshot: it.snapshot})
	}
	return ps
}

// forget drops an item finally closed by the server from the watchlist.
func (c *Client) forget(it *Item) {
	c.mu.Lock()
	delete(c.items, it)
	if !it.snapshot {
		it.gone = true
	}
	c.mu.Unlock()
}

func (c *Client) newItems(names []string, opts []Option, snapshot bool) ([]*Item, *Subscription) {
	o := options{domain: trjson.DomainMarketPrice, service: c.cfg.Service, snapshot: snapshot}
	for _, f := range opts {
		f(&o)
	}
	sub := &Subscription{c: c}
	for _, n := range names {
		it := newItem(c, sub, n, o.service, o.domain, &o)
		it.filter = o.filter
		sub.items = append(sub.items, it)
	}
	return sub.items, sub
}

// Subscribe opens streaming items; the Client keeps them open across
// reconnects until Subscription.Close. It returns once the requests are
// queued; watch Item.State, Subscription.Wait or the messages.
func (c *Client) Subscribe(ctx context.Context, names []string, opts ...Option) (*Subscription, error) {
	if len(names) == 0 {
		return nil, errors.New("consumer: Subscribe: no names")
	}
	items, sub := c.newItems(names, opts, false)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	for _, it := range items {
		c.items[it] = struct{}{}
	}
	conns := c.liveConns()
	c.mu.Unlock()
	for _, cn := range conns {
		if err := cn.do(ctx, func(cn *conn) { cn.requestItems(items, true) }); err != nil && ctx.Err() != nil {
			return sub, err
		}
	}
	return sub, nil
}

// Snapshot requests non-streaming images of names (batched) on the active
// connection and waits for them. Items the server does not know come back
// with a Closed state and the server's text.
//
// A snapshot is idempotent, so when the connection is lost before every
// image arrived, the missing ones are requested again on the next logged-in
// connection (the standby at once with HotStandby, else after the
// reconnect), up to 3 times. The wait for that connection is bounded by ctx
// or, without a deadline, by Reconnect.MaxDelay+DialTimeout+LoginTimeout;
// images still missing then come back with State ClosedRecover and the
// error wraps ErrDisconnected. With no connection logged in at the call,
// Snapshot returns ErrNotConnected at once.
func (c *Client) Snapshot(ctx context.Context, names []string, opts ...Option) ([]Image, error) {
	if len(names) == 0 {
		return nil, nil
	}
	items, _ := c.newItems(names, opts, true)
	cn := c.activeConn()
	if cn == nil {
		return nil, ErrNotConnected
	}
	const maxResends = 3
	todo := items
	var connErr error
	for resend := 0; ; resend++ {
		batch := todo
		// A failure here is a lost connection (or ctx): the loop below
		// finds the missing images either way.
		if cn.do(ctx, func(cn *conn) { cn.requestItems(batch, true) }) == nil {
			waitSnapshot(ctx, cn, batch)
		}
		if ctx.Err() != nil {
			c.closeItems(context.Background(), batch)
			return nil, ctx.Err()
		}
		missing := 0
		for _, it := range items {
			if !it.snapshotDone() {
				missing++
			}
		}
		if missing == 0 || resend == maxResends {
			break
		}
		if cn, connErr = c.nextConn(ctx, cn); connErr != nil {
			break
		}
		// Fresh items (and a fresh slice: the old connection may still
		// read the last one): the lost items may still be touched by that
		// connection's teardown.
		todo = make([]*Item, 0, missing)
		for i, it := range items {
			if !it.snapshotDone() {
				items[i] = it.again()
				todo = append(todo, items[i])
			}
		}
		c.log.Info("re-sending snapshot requests after a connection loss", "items", len(todo), "resend", resend+1)
	}
	imgs := make([]Image, len(items))
	var errs []error
	for i, it := range items {
		imgs[i] = it.Image()
		if !it.snapshotDone() {
			if imgs[i].State.Stream != trjson.StreamClosedRecover {
				imgs[i].State = trjson.State{Stream: trjson.StreamClosedRecover, Data: trjson.DataSuspect, Text: "connection lost"}
			}
			errs = append(errs, fmt.Errorf("consumer: snapshot of %s: %w", it.Name, ErrDisconnected))
		}
	}
	if len(errs) > 0 && connErr != nil {
		errs = append(errs, connErr)
	}
	return imgs, errors.Join(errs...)
}

// waitSnapshot waits until every item is ready, the connection ends, or ctx.
func waitSnapshot(ctx context.Context, cn *conn, items []*Item) {
	for _, it := range items {
		select {
		case <-it.ready:
		case <-cn.ctx.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

// nextConn waits for a logged-in active connection other than old, bounded
// by ctx (or, without a deadline, by about one reconnect) and Close.
func (c *Client) nextConn(ctx context.Context, old *conn) (*conn, error) {
	if _, ok := ctx.Deadline(); !ok {
		r := c.cfg.Reconnect
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.MaxDelay+c.cfg.DialTimeout+c.cfg.LoginTimeout)
		defer cancel()
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if c.active >= 0 {
			if cn := c.slots[c.active].conn; cn != nil && cn != old && cn.ctx.Err() == nil {
				c.mu.Unlock()
				return cn, nil
			}
		}
		sig := c.upSig
		c.mu.Unlock()
		select {
		case <-sig:
		case <-ctx.Done():
			return nil, fmt.Errorf("consumer: waiting for a reconnect: %w", ctx.Err())
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// Symbols returns the RICs of a chain / symbol list (a SymbolList snapshot).
func (c *Client) Symbols(ctx context.Context, name string) ([]string, error) {
	imgs, err := c.Snapshot(ctx, []string{name}, WithDomain(trjson.DomainSymbolList))
	if err != nil {
		return nil, err
	}
	img := imgs[0]
	if img.Book == nil {
		if img.State.Stream != trjson.StreamNonStreaming && img.State.Stream != trjson.StreamOpen {
			return nil, fmt.Errorf("consumer: symbol list %s: %s %q", name, img.State.Stream, img.State.Text)
		}
		return nil, nil
	}
	return img.Book.Keys(), nil
}

// Directory returns the Source Directory (all filters) as a snapshot:
// Image.Services holds the services decoded (name, ID, state, accepting
// requests, capabilities, QoS) and Image.Map the raw Map keyed by service
// ID, for anything else the server sends.
func (c *Client) Directory(ctx context.Context) (Image, error) {
	imgs, err := c.Snapshot(ctx, []string{""}, WithDomain(trjson.DomainSource), func(o *options) { o.filter = 63 })
	if err != nil {
		return Image{}, err
	}
	return imgs[0], nil
}

// Images returns the cached images of the watchlist items with these
// names (all items when none is given): snapshot-on-demand from the
// last-value cache (Config.Cache).
func (c *Client) Images(names ...string) []Image {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	c.mu.Lock()
	var items []*Item
	for it := range c.items {
		if len(want) == 0 || want[it.Name] {
			items = append(items, it)
		}
	}
	c.mu.Unlock()
	imgs := make([]Image, len(items))
	for i, it := range items {
		imgs[i] = it.Image()
	}
	return imgs
}

func (c *Client) closeItems(ctx context.Context, items []*Item) error {
	c.mu.Lock()
	for _, it := range items {
		it.gone = true
		delete(c.items, it)
	}
	conns := c.liveConns()
	c.mu.Unlock()
	for _, it := range items {
		c.itemState(0, it, trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataOk, Text: "closed by application"})
		it.markReady()
	}
	for _, cn := range conns {
		if err := cn.do(ctx, func(cn *conn) { cn.closeItems(items) }); err != nil && ctx.Err() != nil {
			return err
		}
	}
	return nil
}

func (c *Client) reissue(ctx context.Context, items []*Item, change func(*Item), refresh bool) error {
	c.mu.Lock()
	for _, it := range items {
		change(it)
	}
	conns := c.liveConns()
	c.mu.Unlock()
	for _, cn := range conns {
		if err := cn.do(ctx, func(cn *conn) { cn.reissue(items, refresh) }); err != nil && ctx.Err() != nil {
			return err
		}
	}
	return nil
}

// Messages is the delivery channel when Config.Handler is nil; it is
// closed by Close.
func (c *Client) Messages() <-chan *Msg {
	if c.q == nil {
		return nil
	}
	return c.q.out
}

// itemState records a connection's view of an item and emits an event
// when the visible state changes.
func (c *Client) itemState(conn int, it *Item, st trjson.State) {
	vis, changed := it.setConnState(conn, st)
	if changed {
		c.ev.emit(Event{Kind: EventItemState, Conn: conn, Item: it, State: vis})
	}
}

func (c *Client) errorEvent(conn int, err error) {
	c.log.Warn("consumer error", "conn", conn, "err", err)
	c.ev.emit(Event{Kind: EventError, Conn: conn, Err: err})
}

// deliver runs the item stage (de-dup, cache, book) and hands the
// message to the application.
func (c *Client) deliver(conn int, it *Item, m *trjson.Msg, at time.Time) {
	c.stage.Lock()
	defer c.stage.Unlock()
	if it != nil {
		if len(c.slots) > 1 && !it.dd.admit(m, c.cfg.DedupWindow, at) {
			c.cnt.dups.Add(1)
			return
		}
		it.apply(m, c.cfg.Cache)
	}
	um := &c.msg
	*um = Msg{Item: it, Conn: conn, Type: m.Type, Domain: m.Domain, Name: m.Key.Name, Service: m.Key.Service,
		State: m.State, HasState: m.HasState, UpdateType: m.UpdateType, SeqNumber: m.SeqNumber,
		HasSeq: m.HasSeqNumber, Complete: m.Complete(), PartNumber: m.PartNumber, Solicited: m.Solicited(),
		PermData: m.PermData, Fields: m.Fields, Map: m.Map, Elements: m.Elements, Raw: m.Raw, Received: at}
	if it != nil {
		um.Name, um.Service = it.Name, it.Service
	}
	if c.cfg.Handler != nil {
		c.cfg.Handler(um)
		c.cnt.delivered.Add(1)
		return
	}
	c.q.push(um, c.ctx.Done())
}

// Stats returns the counters and the state of each connection.
func (c *Client) Stats() Stats {
	st := Stats{
		Messages: c.cnt.messages.Load(), Refreshes: c.cnt.refreshes.Load(), Updates: c.cnt.updates.Load(),
		Statuses: c.cnt.statuses.Load(), Delivered: c.cnt.delivered.Load(), Reconnects: c.cnt.reconnects.Load(),
		Drops: c.cnt.drops.Load(), Conflated: c.cnt.conflated.Load(), DupsSuppressed: c.cnt.dups.Load(),
		Errors: c.cnt.errors.Load(), EventsDropped: c.cnt.eventsDropped.Load(), LoginReissues: c.cnt.reissues.Load(),
		RecoveryBatches: c.cnt.recoveryBatches.Load(), RecoveryWaits: c.cnt.recoveryWaits.Load(),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.slots {
		cs := ConnStats{Index: s.idx, Endpoint: s.endpoint, State: s.state, Active: s.idx == c.active}
		if s.conn != nil {
			cs.Items = int(s.conn.nOpen.Load())
			if t, ok := s.conn.t.(compressor); ok {
				cs.Compressed = t.Compressed()
			}
		}
		st.Conns = append(st.Conns, cs)
	}
	return st
}

// Close closes the Login and the connections and stops every goroutine.
// Messages is closed; Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.shutdown()
	return nil
}

func (c *Client) shutdown() {
	if c.unsub != nil {
		c.unsub()
	}
	c.cancel()
	c.wg.Wait()
}
