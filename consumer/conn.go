package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

const (
	loginID    = 1
	updateType = trjson.TypeUpdate
)

var (
	pongFrame       = []byte(`{"Type":"Pong"}`)
	pingFrame       = []byte(`{"Type":"Ping"}`)
	errClientClosed = errors.New("client closed")
)

// features are what the Login refresh advertised.
type features struct {
	maxMsgSize  int
	pingTimeout time.Duration
	batch       int64 // SupportBatchRequests bits: 1 request, 2 reissue, 4 close
	view        bool
	post        bool
	pause       bool
	standby     bool
}

// sub is one open stream of a connection.
type sub struct {
	id   int64
	item *Item
	// recov is the recovery batch (conn.recovGen) that requested the
	// stream and still waits for its first reply; 0 when none.
	recov int
}

// conn is one WebSocket connection with its Login. Its stream table and
// decoder belong to the goroutine running loop; everything else reaches
// it through cmds (closures run on that goroutine).
type conn struct {
	c        *Client
	slot     int
	endpoint string
	dial     func(ctx context.Context, url string, o dialOptions) (transport, error)
	t        transport

	ctx    context.Context
	cancel context.CancelCauseFunc
	frames chan *frame   // read frames, in order, to the loop
	free   chan *frame   // frames handed back for reuse (pipeline.go)
	work   []chan *frame // per decode worker
	out    chan []byte
	cmds   chan func(*conn)
	renew  chan struct{}
	wg     sync.WaitGroup

	lastRecv atomic.Int64 // unix nanos of the last inbound frame

	// Owned by the loop goroutine.
	feat   features
	dec    *trjson.Decoder // the first decode worker's (cold paths)
	nextID int64
	byID   map[int64]*sub
	// nOpen mirrors len(byID) for Stats, which runs on other goroutines.
	nOpen  atomic.Int64
	byItem map[*Item]*sub
	posts  map[int64]*pendingPost
	fb     trjson.FrameBuilder
	buf    []byte
	fatal  error
	opened []*sub // streams opened by the running requestItems call
	// frameAt is when the frame being handled was read (Msg.Received).
	frameAt time.Time

	// Recovery pacing (owned by the loop goroutine): the watchlist is
	// re-requested RecoveryBatch items at a time; the next batch goes when
	// every item of the previous one got a reply, or after RecoveryWait.
	recov      []*Item
	recovGen   int
	recovLeft  int
	recovTimer *time.Timer
	recovC     <-chan time.Time
}

func newConn(c *Client, slot int, endpoint string) *conn {
	return &conn{c: c, slot: slot, endpoint: endpoint,
		out:  make(chan []byte, 256),
		cmds: make(chan func(*conn), 64), renew: make(chan struct{}, 1),
		nextID: loginID + 1, byID: map[int64]*sub{}, byItem: map[*Item]*sub{}, posts: map[int64]*pendingPost{},
		feat: features{maxMsgSize: 61440, pingTimeout: 30 * time.Second}}
}

// start dials, logs in and waits for the Login response.
func (cn *conn) start(ctx context.Context, token string) error {
	cfg := &cn.c.cfg
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	t, err := cn.dial(dctx, endpointURL(cn.endpoint), dialOptions{tls: cn.c.tls.Load(), readLimit: cfg.ReadLimit, compress: cfg.Compression})
	cancel()
	if err != nil {
		return err
	}
	cn.t = t
	// Not derived from the client's context: on Close the loop still
	// writes the Login Close before cancelling.
	cn.ctx, cn.cancel = context.WithCancelCause(context.Background())
	cn.lastRecv.Store(time.Now().UnixNano())
	// Reads run without a context (a cancellable one costs an AfterFunc
	// per frame in coder/websocket); the connection's end closes the socket.
	context.AfterFunc(cn.ctx, func() { t.Close() })
	cn.initFrames(cfg.DecodeWorkers)
	cn.wg.Add(2)
	go cn.reader()
	go cn.writer()

	cn.send(cn.loginMsg(token, true))
	cn.c.log.Info("login sent", "conn", cn.slot, "endpoint", cn.endpoint)
	timer := time.NewTimer(cfg.LoginTimeout)
	defer timer.Stop()
	for {
		select {
		case f := <-cn.frames:
			done, err := cn.loginResponse(f)
			cn.release(f)
			if err != nil {
				cn.stop(err)
				return err
			}
			if done {
				return nil
			}
		case <-timer.C:
			err := fmt.Errorf("consumer: no Login response from %s within %v", cn.endpoint, cfg.LoginTimeout)
			cn.stop(err)
			return err
		case <-ctx.Done():
			cn.stop(ctx.Err())
			return ctx.Err()
		case <-cn.ctx.Done():
			// A refused Login is a Status followed by a close: the Status,
			// read first, is still queued and says why.
			for drained := false; !drained; {
				select {
				case f := <-cn.frames:
					_, lerr := cn.loginResponse(f)
					cn.release(f)
					if lerr != nil {
						cn.stop(lerr)
						return lerr
					}
				default:
					drained = true
				}
			}
			err := context.Cause(cn.ctx)
			cn.stop(err)
			return fmt.Errorf("consumer: %s closed during login: %w", cn.endpoint, err)
		}
	}
}

// loginResponse looks for the Login Refresh or Status in a frame.
func (cn *conn) loginResponse(f *frame) (bool, error) {
	msgs, err := cn.decoded(f)
	if err != nil {
		cn.c.errorEvent(cn.slot, fmt.Errorf("consumer: malformed frame during login: %w", err))
		return false, nil
	}
	for i := range msgs {
		m := &msgs[i]
		cn.c.cnt.messages.Add(1)
		if m.Err != nil || m.ID != loginID {
			if m.Type == trjson.TypeError {
				cn.c.cnt.errors.Add(1)
				return false, &LoginError{Endpoint: cn.endpoint, State: trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataSuspect, Text: m.Text}}
			}
			continue
		}
		switch m.Type {
		case trjson.TypeRefresh, trjson.TypeStatus:
			st := m.State
			st.Text = strings.TrimRight(st.Text, "\x00")
			if m.Type == trjson.TypeStatus || st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
				return false, &LoginError{Endpoint: cn.endpoint, State: st}
			}
			cn.readFeatures(m)
			return true, nil
		case trjson.TypeError:
			return false, &LoginError{Endpoint: cn.endpoint, State: trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataSuspect, Text: m.Text}}
		}
	}
	return false, nil
}

func (cn *conn) readFeatures(m *trjson.Msg) {
	if len(m.Elements) > 0 {
		if els, err := trjson.DecodeElements(m.Elements); err == nil {
			for i := range els {
				v, ok := els[i].AsInt()
				if !ok {
					continue
				}
				switch els[i].Name {
				case "MaxMsgSize":
					if v > 0 {
						cn.feat.maxMsgSize = int(v)
					}
				case "PingTimeout":
					if v > 0 {
						cn.feat.pingTimeout = time.Duration(v) * time.Second
					}
				}
			}
		}
	}
	if len(m.Key.Elements) > 0 {
		if els, err := trjson.DecodeElements(m.Key.Elements); err == nil {
			for i := range els {
				v, _ := els[i].AsInt()
				switch els[i].Name {
				case "SupportBatchRequests":
					cn.feat.batch = v
				case "SupportViewRequests":
					cn.feat.view = v != 0
				case "SupportOMMPost":
					cn.feat.post = v != 0
				case "SupportPauseResume":
					cn.feat.pause = v != 0
				case "SupportStandby":
					cn.feat.standby = v != 0
				}
			}
		}
	}
}

// loginMsg builds the Login request (refresh) or reissue (no refresh).
// It carries the token: it is never logged.
func (cn *conn) loginMsg(token string, refresh bool) *trjson.Msg {
	cfg := &cn.c.cfg
	els := []trjson.Field{trjson.String("ApplicationId", cfg.ApplicationID), trjson.String("Position", cfg.Position)}
	m := &trjson.Msg{Type: trjson.TypeRequest, Domain: trjson.DomainLogin, ID: loginID, HasKey: true, NoRefresh: !refresh}
	if cfg.UserName != "" {
		m.Key.Name = cfg.UserName
	} else {
		m.Key.NameType = "AuthnToken"
		els = append(els, trjson.String("AuthenticationToken", token))
	}
	m.Key.Elements = trjson.AppendElements(nil, els)
	return m
}

// isPing recognises a frame holding only a JSON Ping.
func isPing(p []byte) bool {
	if len(p) > 64 || !bytes.Contains(p, []byte(`"Ping"`)) || bytes.Contains(p, []byte(`"ID"`)) {
		return false
	}
	return bytes.Contains(p, []byte(`"Type"`))
}

func (cn *conn) writer() {
	defer cn.wg.Done()
	for {
		select {
		case p := <-cn.out:
			wctx, cancel := context.WithTimeout(cn.ctx, 10*time.Second)
			err := cn.t.Write(wctx, p)
			cancel()
			if err != nil {
				cn.cancel(fmt.Errorf("%w: write: %w", ErrDisconnected, err))
				return
			}
		case <-cn.ctx.Done():
			return
		}
	}
}

// enqueue hands a frame (copied) to the writer.
func (cn *conn) enqueue(p []byte) {
	b := append([]byte(nil), p...)
	select {
	case cn.out <- b:
	case <-cn.ctx.Done():
	}
}

// send encodes and sends one message as its own frame.
func (cn *conn) send(m *trjson.Msg) {
	cn.buf = trjson.AppendMsg(cn.buf[:0], m)
	cn.enqueue(cn.buf)
}

// sendPacked packs messages into frames no longer than MaxMsgSize.
func (cn *conn) sendPacked(msgs []*trjson.Msg) {
	cn.fb.Reset()
	for _, m := range msgs {
		if !cn.fb.Add(m, cn.feat.maxMsgSize) {
			cn.enqueue(cn.fb.Frame())
			cn.fb.Reset()
			cn.fb.Add(m, cn.feat.maxMsgSize)
		}
	}
	if cn.fb.Count() > 0 {
		cn.enqueue(cn.fb.Frame())
	}
}

// stop ends the connection and waits for its goroutines.
func (cn *conn) stop(cause error) {
	cn.cancel(cause)
	cn.t.Close()
	cn.wg.Wait()
}

// do runs fn on the connection's loop goroutine.
func (cn *conn) do(ctx context.Context, fn func(*conn)) error {
	select {
	case cn.cmds <- fn:
		return nil
	case <-cn.ctx.Done():
		return ErrNotConnected
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drainFrames is how many queued frames the loop handles in a row.
const drainFrames = 32

// run requests the items and processes frames and commands until the
// connection ends; it returns why.
func (cn *conn) run(items []*Item) error {
	cn.recov = items
	cn.nextRecovery()
	defer cn.stopRecovery()
	tick := cn.feat.pingTimeout / 3
	if tick < 50*time.Millisecond {
		tick = 50 * time.Millisecond
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var err error
	for err == nil {
		select {
		case f := <-cn.frames:
			cn.handleFrame(f)
			cn.release(f) // nothing aliases a frame after handleFrame (Handler contract; the queue clones)
			err = cn.fatal
			// Frames already queued are taken without the full select
			// (it locks every channel above); commands and timers wait
			// at most drainFrames frames.
			for i := 0; i < drainFrames && err == nil; i++ {
				select {
				case f := <-cn.frames:
					cn.handleFrame(f)
					cn.release(f)
					err = cn.fatal
					continue
				default:
				}
				break
			}
		case fn := <-cn.cmds:
			fn(cn)
		case <-cn.recovC:
			cn.c.cnt.recoveryWaits.Add(1)
			cn.c.log.Warn("recovery batch not fully answered in time; sending the next", "conn", cn.slot, "missing", cn.recovLeft)
			cn.nextRecovery()
		case <-cn.renew:
			cn.reissueLogin()
		case <-ticker.C:
			idle := time.Since(time.Unix(0, cn.lastRecv.Load()))
			if idle >= cn.feat.pingTimeout {
				err = ErrPingTimeout
			} else if idle >= cn.feat.pingTimeout/3 {
				cn.enqueue(pingFrame)
			}
		case <-cn.ctx.Done():
			err = context.Cause(cn.ctx)
		case <-cn.c.ctx.Done():
			// Orderly shutdown: close the Login first (C3.12).
			err = errClientClosed
			cctx, cancel := context.WithTimeout(cn.ctx, time.Second)
			cn.t.Write(cctx, []byte(`{"ID":1,"Domain":"Login","Type":"Close"}`))
			cancel()
		}
	}
	cn.stop(err)
	// Commands queued meanwhile still run, so that their items are known
	// to the caller of run (marked Suspect); their sends go nowhere.
	for {
		select {
		case fn := <-cn.cmds:
			fn(cn)
			continue
		default:
		}
		break
	}
	for id, p := range cn.posts {
		p.ch <- ErrDisconnected
		delete(cn.posts, id)
	}
	return err
}

func (cn *conn) reissueLogin() {
	tok := cn.c.token.Load()
	if tok == nil || cn.c.cfg.UserName != "" {
		return
	}
	cn.send(cn.loginMsg(*tok, false))
	cn.c.cnt.reissues.Add(1)
	cn.c.log.Info("login reissued with a renewed token", "conn", cn.slot, "endpoint", cn.endpoint)
	cn.c.ev.emit(Event{Kind: EventLoginReissued, Conn: cn.slot, Endpoint: cn.endpoint})
}

func (cn *conn) handleFrame(f *frame) {
	cn.frameAt = f.at
	msgs, err := cn.decoded(f)
	if err != nil {
		cn.c.cnt.errors.Add(1)
		cn.c.errorEvent(cn.slot, fmt.Errorf("consumer: malformed frame from %s: %w", cn.endpoint, err))
		return
	}
	for i := range msgs {
		m := &msgs[i]
		cn.c.cnt.messages.Add(1)
		if m.Err != nil {
			cn.c.cnt.errors.Add(1)
			cn.c.errorEvent(cn.slot, fmt.Errorf("consumer: invalid message from %s: %w", cn.endpoint, m.Err))
			continue
		}
		cn.handleMsg(m)
	}
}

func (cn *conn) handleMsg(m *trjson.Msg) {
	switch m.Type {
	case trjson.TypePing:
		cn.enqueue(pongFrame)
		return
	case trjson.TypePong:
		return
	case trjson.TypeError:
		cn.c.cnt.errors.Add(1)
		cn.c.errorEvent(cn.slot, &ServerError{ID: m.ID, Text: m.Text})
		if p := cn.postByStream(m.ID); p != nil {
			p.ch <- &ServerError{ID: m.ID, Text: m.Text}
		}
		if s := cn.byID[m.ID]; s != nil {
			cn.finish(s, trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataSuspect, Code: trjson.CodeError, Text: m.Text})
		}
		return
	case trjson.TypeAck:
		cn.handleAck(m)
		return
	}
	if m.ID == loginID {
		cn.handleLogin(m)
		return
	}
	s := cn.byID[m.ID]
	if s == nil {
		if m.Type == trjson.TypeGeneric {
			cn.c.deliver(cn.slot, nil, m, cn.frameAt)
		}
		return // late message of a closed stream, or a batch acknowledgement
	}
	it := s.item
	if s.recov != 0 && (m.Type == trjson.TypeStatus && m.HasState || m.Type == trjson.TypeRefresh && m.Complete()) {
		cn.recovered(s)
	}
	switch m.Type {
	case trjson.TypeRefresh:
		cn.c.cnt.refreshes.Add(1)
	case trjson.TypeUpdate:
		cn.c.cnt.updates.Add(1)
	case trjson.TypeStatus:
		cn.c.cnt.statuses.Add(1)
	}
	final := false
	if m.HasState {
		st := m.State
		st.Text = strings.TrimRight(st.Text, "\x00")
		switch st.Stream {
		case trjson.StreamOpen:
			if m.Type != trjson.TypeRefresh || m.Complete() {
				cn.c.itemState(cn.slot, it, st)
			}
		case trjson.StreamNonStreaming:
			if m.Complete() {
				final = true
			}
		case trjson.StreamClosedRecover:
			cn.recovered(s)
			delete(cn.byID, s.id)
			cn.nOpen.Store(int64(len(cn.byID)))
			delete(cn.byItem, it)
			cn.c.itemState(cn.slot, it, st)
			cn.c.deliver(cn.slot, it, m, cn.frameAt)
			cn.scheduleRecover(it)
			return
		default: // Closed, Redirected
			final = true
		}
		if final {
			cn.c.deliver(cn.slot, it, m, cn.frameAt)
			cn.finish(s, st)
			return
		}
	}
	cn.c.deliver(cn.slot, it, m, cn.frameAt)
	if m.Type == trjson.TypeRefresh && m.Complete() {
		it.markReady()
	}
}

// finish removes a stream whose server side ended and records the final state.
func (cn *conn) finish(s *sub, st trjson.State) {
	cn.recovered(s)
	delete(cn.byID, s.id)
	cn.nOpen.Store(int64(len(cn.byID)))
	delete(cn.byItem, s.item)
	if st.Stream != trjson.StreamNonStreaming {
		cn.c.forget(s.item)
	}
	cn.c.itemState(cn.slot, s.item, st)
	s.item.markReady()
}

// nextRecovery sends the next recovery batch: up to RecoveryBatch items of
// the watchlist not yet open here. Pacing the re-requests after a reconnect
// keeps a large watchlist from flooding the server (and our own queues)
// with thousands of refreshes at once.
func (cn *conn) nextRecovery() {
	if cn.recovTimer != nil {
		cn.recovTimer.Stop()
	}
	cn.recovC, cn.recovLeft = nil, 0
	for len(cn.recov) > 0 {
		n := min(len(cn.recov), cn.c.cfg.RecoveryBatch)
		batch := cn.recov[:n]
		cn.recov = cn.recov[n:]
		cn.recovGen++
		opened := cn.requestItems(batch, true)
		if len(opened) == 0 {
			continue // closed meanwhile, or opened by a Subscribe
		}
		for _, s := range opened {
			s.recov = cn.recovGen
		}
		cn.recovLeft = len(opened)
		cn.c.cnt.recoveryBatches.Add(1)
		if cn.recovTimer == nil {
			cn.recovTimer = time.NewTimer(cn.c.cfg.RecoveryWait)
		} else {
			cn.recovTimer.Reset(cn.c.cfg.RecoveryWait)
		}
		cn.recovC = cn.recovTimer.C
		return
	}
	cn.recov = nil
}

// recovered notes the first reply (or the end) of a stream requested by
// the current recovery batch; the last one releases the next batch.
func (cn *conn) recovered(s *sub) {
	if s.recov == 0 {
		return
	}
	gen := s.recov
	s.recov = 0
	if gen != cn.recovGen || cn.recovC == nil {
		return // a batch we stopped waiting for
	}
	if cn.recovLeft--; cn.recovLeft <= 0 {
		cn.nextRecovery()
	}
}

func (cn *conn) stopRecovery() {
	if cn.recovTimer != nil {
		cn.recovTimer.Stop()
	}
	cn.recov, cn.recovC = nil, nil
}

// scheduleRecover re-requests an item after a back-off (ClosedRecover).
func (cn *conn) scheduleRecover(it *Item) {
	b := backoff{p: cn.c.cfg.Reconnect}
	d := b.next()
	time.AfterFunc(d, func() {
		cn.do(cn.ctx, func(cn *conn) { cn.requestItems([]*Item{it}, true) })
	})
}

func (cn *conn) handleLogin(m *trjson.Msg) {
	if m.Type == trjson.TypeGeneric {
		cn.c.deliver(cn.slot, nil, m, cn.frameAt)
		return
	}
	if !m.HasState {
		return
	}
	st := m.State
	if st.Stream != trjson.StreamOpen {
		// The whole session is gone (C3.10): reconnect and log in again.
		cn.fatal = &LoginError{Endpoint: cn.endpoint, State: st}
		cn.c.noteLoginFailure(cn.fatal)
		return
	}
	if m.Type == trjson.TypeRefresh {
		cn.readFeatures(m)
	}
	if st.Data == trjson.DataSuspect {
		cn.c.errorEvent(cn.slot, &LoginError{Endpoint: cn.endpoint, State: st})
	}
}

func (cn *conn) handleAck(m *trjson.Msg) {
	p, ok := cn.posts[m.AckID]
	if !ok {
		return
	}
	delete(cn.posts, m.AckID)
	if m.HasNakCode && m.NakCode != trjson.NakNone {
		p.ch <- &NakError{PostID: m.AckID, Code: m.NakCode, Text: m.Text}
		return
	}
	p.ch <- nil
}

// postByStream finds the oldest pending post sent on stream id: an Error
// names the stream, not the PostID.
func (cn *conn) postByStream(id int64) *pendingPost {
	var best *pendingPost
	for _, p := range cn.posts {
		if p.stream == id && (best == nil || p.id < best.id) {
			best = p
		}
	}
	if best != nil {
		delete(cn.posts, best.id)
	}
	return best
}

// reqParams are an item's request parameters, read under Client.mu.
type reqParams struct {
	it       *Item
	view     []string
	viewFIDs []int64
	paused   bool
	snapshot bool
}

func (p *reqParams) groupKey() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%s|%t|%t|%q|%v", p.it.Domain, p.it.Service, p.snapshot, p.paused, p.view, p.viewFIDs)
	return b.String()
}

// requestItems sends requests for items not yet open on this connection:
// batches where supported, each message within MaxMsgSize. It returns the
// streams it opened (valid until the next call).
func (cn *conn) requestItems(items []*Item, refresh bool) []*sub {
	cn.opened = cn.opened[:0]
	params := cn.c.params(items)
	groups := map[string][]reqParams{}
	var order []string
	for _, p := range params {
		if cn.byItem[p.it] != nil {
			continue
		}
		k := p.groupKey()
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}
	var msgs []*trjson.Msg
	for _, k := range order {
		g := groups[k]
		for len(g) > 0 {
			n := min(len(g), cn.c.cfg.RecoveryBatch)
			if cn.feat.batch&1 == 0 {
				n = 1
			}
			msgs = append(msgs, cn.batch(g[:n], refresh)...)
			g = g[n:]
		}
	}
	cn.sendPacked(msgs)
	return cn.opened
}

// batch builds the request(s) for a group with identical parameters,
// splitting until every message fits MaxMsgSize.
func (cn *conn) batch(g []reqParams, refresh bool) []*trjson.Msg {
	p := g[0]
	m := &trjson.Msg{Type: trjson.TypeRequest, Domain: p.it.Domain, HasKey: true,
		NoStreaming: p.snapshot, Pause: p.paused, NoRefresh: !refresh}
	m.Key.Service = p.it.Service
	if len(p.view) > 0 || len(p.viewFIDs) > 0 {
		if cn.feat.view {
			m.HasView, m.View, m.ViewFIDs = true, p.view, p.viewFIDs
		} else {
			cn.c.errorEvent(cn.slot, errors.New("consumer: server does not support views; requesting full images"))
		}
	}
	if len(g) == 1 {
		m.ID = cn.nextID
		cn.nextID++
		m.Key.Name, m.Key.Filter = p.it.Name, p.it.filter
		if p.it.Domain == trjson.DomainSource {
			m.Key.Service = "" // the directory lists every service
		}
		cn.open(m.ID, p.it)
		return []*trjson.Msg{m}
	}
	names := make([]string, len(g))
	for i := range g {
		names[i] = g[i].it.Name
	}
	m.Key.Names = names
	if len(trjson.AppendMsg(cn.buf[:0], m)) > cn.feat.maxMsgSize {
		h := len(g) / 2
		return append(cn.batch(g[:h], refresh), cn.batch(g[h:], refresh)...)
	}
	// The batch takes ID N; its names open N+1…N+k in order (§6.1).
	m.ID = cn.nextID
	for i := range g {
		cn.open(m.ID+1+int64(i), g[i].it)
	}
	cn.nextID += int64(len(g)) + 1
	return []*trjson.Msg{m}
}

func (cn *conn) open(id int64, it *Item) {
	s := &sub{id: id, item: it}
	cn.byID[id] = s
	cn.nOpen.Store(int64(len(cn.byID)))
	cn.byItem[it] = s
	cn.opened = append(cn.opened, s)
}

// reissue re-requests open items on their stream IDs (view, pause).
func (cn *conn) reissue(items []*Item, refresh bool) {
	params := cn.c.params(items)
	var msgs []*trjson.Msg
	for _, p := range params {
		s := cn.byItem[p.it]
		if s == nil {
			continue
		}
		m := &trjson.Msg{Type: trjson.TypeRequest, Domain: p.it.Domain, ID: s.id, HasKey: true,
			Pause: p.paused, NoRefresh: !refresh}
		m.Key.Name, m.Key.Service = p.it.Name, p.it.Service
		if cn.feat.view && (len(p.view) > 0 || len(p.viewFIDs) > 0) {
			m.HasView, m.View, m.ViewFIDs = true, p.view, p.viewFIDs
		}
		msgs = append(msgs, m)
	}
	cn.sendPacked(msgs)
}

// closeItems closes the streams of items: one batch Close per domain when
// the server supports it (bit 0x4), else one Close each.
func (cn *conn) closeItems(items []*Item) {
	byDomain := map[trjson.Domain][]int64{}
	for _, it := range items {
		s := cn.byItem[it]
		if s == nil {
			continue
		}
		cn.recovered(s)
		delete(cn.byItem, it)
		delete(cn.byID, s.id)
		cn.nOpen.Store(int64(len(cn.byID)))
		byDomain[it.Domain] = append(byDomain[it.Domain], s.id)
	}
	var msgs []*trjson.Msg
	for d, ids := range byDomain {
		if len(ids) > 1 && cn.feat.batch&4 != 0 {
			for len(ids) > 0 {
				n := min(len(ids), 1000)
				msgs = append(msgs, &trjson.Msg{Type: trjson.TypeClose, Domain: d, IDs: ids[:n]})
				ids = ids[n:]
			}
			continue
		}
		for _, id := range ids {
			msgs = append(msgs, &trjson.Msg{Type: trjson.TypeClose, Domain: d, ID: id})
		}
	}
	cn.sendPacked(msgs)
}

// postUserInfo is {"Address": dotted IP of the Position, "UserID": pid} (C10.5).
func postUserInfo(position string) trjson.Raw {
	ip := position
	if i := strings.IndexByte(ip, '/'); i >= 0 {
		ip = ip[:i]
	}
	if net.ParseIP(ip).To4() == nil {
		ip = "127.0.0.1"
	}
	return trjson.Raw(fmt.Sprintf(`{"Address":%q,"UserID":%d}`, ip, os.Getpid()))
}
