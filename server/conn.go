package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gobwas/ws"

	"github.com/ertkit/ertkit/trjson"
)

// conn is one WebSocket connection. The read loop owns the session (Login
// state, request handling); the write loop owns the socket's write side,
// packing queued messages into frames. Other goroutines (the hub, fault
// calls, token events) only push onto the queue or close the connection.
type conn struct {
	srv *Server
	h   *Hub
	cfg *Config
	id  uint64
	nc  net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer

	remote string
	cookie *cookieLogin

	// outbound queue
	qmu    sync.Mutex
	q      []out
	spare  []out
	qBytes int // estimated bytes in q
	pongAt int // index in q of the pending Pong, -1 if none
	dead   bool
	notify chan struct{}

	done      chan struct{}
	closeOnce sync.Once
	reason    atomic.Pointer[string] // why the connection ended (first reason wins)

	lastRecv atomic.Int64 // unix nanos

	// stream table, guarded by smu (lock order: Hub.mu before smu)
	smu      sync.Mutex
	streams  map[int64]*sub
	loadSubs []*sub
	// snaps are snapshot requests waiting for a published item's image
	// (they have no stream ID of their own in streams).
	snaps     []*sub
	pausedAll atomic.Bool

	// session (read loop, except the atomics)
	loggedIn  atomic.Bool
	loginID   atomic.Int64
	loginName string
	user      atomic.Pointer[string] // loginName, for Conns
	sent      atomic.Int64           // messages written
	appID     string
	position  string
	tokenLike bool
	token     string // guarded by Hub.mu
	expGen    atomic.Int64
	expMu     sync.Mutex
	expTimer  *time.Timer

	// faults
	stallReadUntil  atomic.Int64
	stallWriteUntil atomic.Int64
	delay           atomic.Int64

	dec trjson.Decoder

	// incomplete multi-part posts by PostID (read loop only)
	posts map[int64]*pendingPost

	hdr [ws.MaxHeaderSize]byte // frame header scratch of the write loop

	// permessage-deflate, when negotiated
	deflate bool
	defl    deflater
	infl    inflater
}

// out is one queued outbound item.
type out struct {
	m   *trjson.Msg // a complete message (owned)
	s   *sub        // with t: an update for subscription s
	t   *tick
	ctl ctlKind
	// close code for ctlClose
	code ws.StatusCode
	data []byte // pong payload
}

type ctlKind uint8

const (
	ctlNone  ctlKind = iota
	ctlClose         // flush everything before, send a close frame, disconnect
	ctlPong          // RFC 6455 pong
	ctlRaw           // a raw text frame, written as is (fault injection)
	// ctlLoadRefresh: the unsolicited Refresh that ends a Suspect fault
	// on load-mode stream s (built by the writer, which owns its seq).
	ctlLoadRefresh
)

func newConn(srv *Server, nc net.Conn, br *bufio.Reader, id uint64) *conn {
	c := &conn{
		srv:     srv,
		h:       srv.h,
		cfg:     &srv.h.cfg,
		id:      id,
		nc:      nc,
		br:      br,
		bw:      bufio.NewWriterSize(nc, 64<<10),
		remote:  nc.RemoteAddr().String(),
		notify:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		streams: map[int64]*sub{},
		pongAt:  -1,
	}
	c.lastRecv.Store(time.Now().UnixNano())
	return c
}

// outOverhead is what one queue entry costs besides its payload.
const outOverhead = int(unsafe.Sizeof(out{}))

// cost estimates the memory o holds while queued: its payload, for a
// complete message about its encoded size. Ticks are shared between
// connections and counted by QueueLimit only.
func (o *out) cost() int {
	n := outOverhead + len(o.data)
	if m := o.m; m != nil {
		n += 64 + len(m.Text) + len(m.PermData) + len(m.Key.Name) + len(m.State.Text) + len(m.Debug) +
			len(m.Map) + len(m.Elements) + len(m.Message) + len(m.Other) + len(m.Vector) + len(m.Series) +
			len(m.FilterList) + len(m.JSON) + len(m.Opaque) + len(m.XML) + len(m.PostUserInfo)
		for i := range m.Fields {
			n += 16 + len(m.Fields[i].Name) + len(m.Fields[i].Str)
		}
	}
	return n
}

// push queues o without blocking. A full queue (QueueLimit messages or
// QueueBytes bytes) means the client cannot keep up: the connection is
// dropped. A Pong replaces a Pong still queued: a client that floods
// Pings gets one Pong per write, not one per Ping.
func (c *conn) push(o out) bool {
	c.qmu.Lock()
	if c.dead {
		c.qmu.Unlock()
		return false
	}
	if o.ctl == ctlPong && c.pongAt >= 0 {
		p := &c.q[c.pongAt]
		c.qBytes += len(o.data) - len(p.data)
		p.data = o.data
		c.qmu.Unlock()
		return true
	}
	cost := o.cost()
	if o.ctl != ctlClose && (len(c.q) >= c.cfg.QueueLimit && o.ctl == ctlNone || c.qBytes+cost > c.cfg.QueueBytes) {
		c.dead = true
		queued, bytes := len(c.q), c.qBytes
		c.qmu.Unlock()
		c.srv.slowDrops.Add(1)
		c.cfg.Logger.Warn("dropping slow consumer", "endpoint", c.srv.name, "conn", c.id, "queued", queued, "queued_bytes", bytes)
		c.closeWith(ReasonSlowConsumer)
		return false
	}
	if o.ctl == ctlPong {
		c.pongAt = len(c.q)
	}
	c.qBytes += cost
	c.q = append(c.q, o)
	if o.ctl == ctlClose {
		c.dead = true // nothing after the close
	}
	c.qmu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return true
}

func (c *conn) take() []out {
	c.qmu.Lock()
	b := c.q
	c.q = c.spare[:0]
	c.qBytes, c.pongAt = 0, -1
	c.qmu.Unlock()
	return b
}

func (c *conn) giveBack(b []out) {
	clear(b)
	c.qmu.Lock()
	c.spare = b[:0]
	c.qmu.Unlock()
}

func (c *conn) queueEmpty() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return len(c.q) == 0
}

// closeWith records why the connection ends, then closes it.
func (c *conn) closeWith(reason string) {
	c.reason.CompareAndSwap(nil, &reason)
	c.close()
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.nc.Close()
		c.expMu.Lock()
		if c.expTimer != nil {
			c.expTimer.Stop()
		}
		c.expMu.Unlock()
	})
}

func (c *conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitUntil blocks until the unix-nano deadline or the connection ends.
func (c *conn) waitUntil(deadline int64) bool {
	d := time.Until(time.Unix(0, deadline))
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

// serve runs the connection until it ends.
func (c *conn) serve() {
	c.h.registerConn(c)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	if c.cookie != nil {
		c.cookieLogin()
	}
	c.readLoop()
	c.closeWith(ReasonClientGone)
	wg.Wait()
	c.h.unregisterConn(c)
}

// Reasons passed to Config.OnDisconnect.
const (
	ReasonSlowConsumer = "slow consumer"
	ReasonPingTimeout  = "ping timeout"
	ReasonClientGone   = "client closed or read error"
	ReasonTooBig       = "message larger than MaxMsgSize"
	ReasonSessionEnded = "login failed or session ended"
	ReasonFault        = "fault"
	ReasonShutdown     = "endpoint closed"
	ReasonWriteError   = "write error"
	ReasonWriteTimeout = "write timeout: the client does not read"
	ReasonLoginTimeout = "no login within LoginTimeout"
)

func ptr[T any](v T) *T { return &v }

var errTooBig = errors.New("message larger than MaxMsgSize")

// errPeerClose: the client sent a Close frame; the write loop answers it.
var errPeerClose = errors.New("close frame from the client")

func (c *conn) readLoop() {
	var buf []byte
	for {
		if u := c.stallReadUntil.Load(); u != 0 && !c.waitUntil(u) {
			return
		}
		var err error
		buf, err = c.readMessage(buf[:0])
		if err != nil {
			if errors.Is(err, errTooBig) {
				c.reason.CompareAndSwap(nil, ptr(ReasonTooBig))
				c.push(out{ctl: ctlClose, code: ws.StatusMessageTooBig})
				// the write loop sends the close frame and disconnects
				<-c.done
			}
			if errors.Is(err, errPeerClose) {
				// Let the write loop answer with a Close frame (RFC 6455
				// §5.5.1) before the socket goes; a stalled writer gets 2 s.
				t := time.NewTimer(2 * time.Second)
				select {
				case <-c.done:
				case <-t.C:
				}
				t.Stop()
			}
			return
		}
		if buf == nil {
			continue // control frame handled
		}
		c.handleFrame(buf)
	}
}

// readMessage reads one data message (reassembling fragments), handling
// control frames in between. It returns nil, nil after a control frame.
func (c *conn) readMessage(dst []byte) ([]byte, error) {
	max := int64(c.cfg.MaxMsgSize)
	compressed := false
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return nil, err
		}
		if h.OpCode.IsControl() {
			if h.Length > 125 {
				return nil, ws.ErrProtocolControlPayloadOverflow
			}
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(c.br, p); err != nil {
				return nil, err
			}
			if h.Masked {
				ws.Cipher(p, h.Mask, 0)
			}
			c.lastRecv.Store(time.Now().UnixNano())
			switch h.OpCode {
			case ws.OpPing:
				c.push(out{ctl: ctlPong, data: p})
			case ws.OpClose:
				c.push(out{ctl: ctlClose, code: ws.StatusNormalClosure})
				return nil, errPeerClose
			}
			if len(dst) == 0 {
				return nil, nil
			}
			continue
		}
		if int64(len(dst))+h.Length > max {
			return nil, errTooBig
		}
		if h.OpCode != ws.OpContinuation {
			compressed = c.deflate && h.Rsv1()
		}
		n := len(dst)
		dst = append(dst, make([]byte, h.Length)...)
		if _, err := io.ReadFull(c.br, dst[n:]); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(dst[n:], h.Mask, 0)
		}
		if h.Fin {
			if dst == nil {
				dst = []byte{}
			}
			if compressed {
				p, err := c.infl.decompress(dst, c.cfg.MaxMsgSize)
				if errors.Is(err, errInflatedTooBig) {
					return nil, errTooBig
				}
				if err != nil {
					return nil, err
				}
				// Keep dst as the caller's reusable buffer; hand back a copy.
				return append(dst[:0], p...), nil
			}
			return dst, nil
		}
	}
}

func (c *conn) writeLoop() {
	var fb trjson.FrameBuilder
	var scratch trjson.Msg
	var fieldBuf []trjson.Field
	check := c.cfg.PingInterval / 4
	if t := c.cfg.PingTimeout / 4; t < check {
		check = t
	}
	check = max(check, 5*time.Millisecond)
	ticker := time.NewTicker(check)
	defer ticker.Stop()
	var pingSent int64 // unix nanos of the outstanding Ping, 0 if none
	maxSize := c.cfg.MaxMsgSize
	pack := c.cfg.Pack
	var werr error

	writeFrame := func() {
		if fb.Count() == 0 || werr != nil {
			return
		}
		if d := c.delay.Load(); d > 0 {
			c.bw.Flush()
			if !c.waitUntil(time.Now().Add(time.Duration(d)).UnixNano()) {
				werr = io.EOF
				return
			}
		}
		werr = c.writeData(fb.Frame())
		c.srv.msgsSent.Add(int64(fb.Count()))
		c.sent.Add(int64(fb.Count()))
		c.srv.framesSent.Add(1)
		fb.Reset()
	}
	// writeRaw writes a frame built outside fb (load mode).
	writeRaw := func(frame []byte, n int) {
		if werr != nil {
			return
		}
		werr = c.writeData(frame)
		c.srv.msgsSent.Add(int64(n))
		c.sent.Add(int64(n))
		c.srv.framesSent.Add(1)
	}
	add := func(m *trjson.Msg) {
		if fb.Count() >= pack {
			writeFrame()
		}
		if !fb.Add(m, maxSize) {
			writeFrame()
			fb.Add(m, maxSize)
		}
	}
	var load loadWriter
	loadIdle := false         // the last load fill produced nothing (all paused)
	var deadlineSet time.Time // when the write deadline was last moved
	for {
		loading := c.cfg.LoadMode && !loadIdle && c.hasLoadSubs()
		if loading {
			select {
			case <-c.done:
				return
			default:
			}
		} else {
			select {
			case <-c.done:
				return
			case <-c.notify:
				loadIdle = false
			case now := <-ticker.C:
				loadIdle = false
				if !c.checkPing(now, &pingSent, add) {
					c.bw.Flush()
					c.closeWith(ReasonPingTimeout)
					return
				}
			}
		}
		if u := c.stallWriteUntil.Load(); u != 0 && !c.waitUntil(u) {
			return
		}
		// Every write of this round must finish within WriteTimeout (at
		// least 7/8 of it: the deadline is moved only when an eighth has
		// passed, which keeps the call off the load-mode fast path): a
		// client that stops reading cannot park the writer (and what it
		// holds) for ever.
		if now := time.Now(); now.Sub(deadlineSet) > c.cfg.WriteTimeout/8 {
			_ = c.nc.SetWriteDeadline(now.Add(c.cfg.WriteTimeout))
			deadlineSet = now
		}
		batch := c.take()
		for _, o := range batch {
			switch {
			case o.ctl == ctlClose:
				writeFrame()
				if werr == nil {
					werr = ws.WriteFrame(c.bw, ws.NewCloseFrame(ws.NewCloseFrameBody(o.code, "")))
				}
				c.bw.Flush()
				c.giveBack(batch)
				c.close()
				return
			case o.ctl == ctlPong:
				writeFrame()
				if werr == nil {
					werr = ws.WriteFrame(c.bw, ws.NewPongFrame(o.data))
				}
			case o.ctl == ctlRaw:
				writeFrame()
				if werr == nil {
					werr = c.writeData(o.data)
				}
			case o.ctl == ctlLoadRefresh:
				if m := c.loadRefresh(o.s); m != nil {
					add(m)
				}
			case o.m != nil:
				add(o.m)
			case o.t != nil:
				if m := c.updateMsg(&scratch, &fieldBuf, o.s, o.t); m != nil {
					if ls := o.s.load; ls != nil {
						// A post reaching a load-mode stream continues its
						// SeqNumbers (the writer owns ls).
						ls.seq++
						m.SeqNumber = ls.seq
					}
					add(m)
				}
				// add encoded it: the queue entry's reference goes
				// (pooled ticks are reused, see tickpool.go).
				o.t.release()
			}
		}
		c.giveBack(batch)
		writeFrame()
		if loading {
			select {
			case now := <-ticker.C:
				if !c.checkPing(now, &pingSent, add) {
					c.bw.Flush()
					c.closeWith(ReasonPingTimeout)
					return
				}
				writeFrame()
			default:
			}
			// Write batching: frames go out in flushes of about
			// loadFlushAt bytes (a few TLS records, one write), not one
			// flush per frame, unless requests are waiting.
			for i := 0; i < loadBurst && werr == nil && c.queueEmpty(); i++ {
				if loadIdle = load.fill(c, pack, maxSize, writeRaw) == 0; loadIdle || c.bw.Buffered() >= loadFlushAt {
					break
				}
			}
		}
		if werr == nil && c.queueEmpty() {
			werr = c.bw.Flush()
		}
		if werr != nil {
			if errors.Is(werr, os.ErrDeadlineExceeded) {
				c.srv.writeTimeouts.Add(1)
				c.cfg.Logger.Warn("dropping client that does not read", "endpoint", c.srv.name, "conn", c.id, "write_timeout", c.cfg.WriteTimeout)
				c.closeWith(ReasonWriteTimeout)
				return
			}
			c.closeWith(ReasonWriteError)
			return
		}
	}
}

// writeData writes one text message (compressed when negotiated) into
// the write buffer.
func (c *conn) writeData(p []byte) error {
	h := ws.Header{Fin: true, OpCode: ws.OpText}
	if c.deflate {
		z, err := c.defl.compress(p)
		if err != nil {
			return err
		}
		p = z
		h.Rsv = ws.Rsv(true, false, false)
	}
	h.Length = int64(len(p))
	// WriteHeader would allocate its 14-byte buffer on every frame.
	if err := ws.WriteHeaderBuffer(c.bw, h, c.hdr[:]); err != nil {
		return err
	}
	_, err := c.bw.Write(p)
	return err
}

// checkPing sends a Ping when the client has been silent for
// PingInterval, and reports false when it stayed silent for PingTimeout
// after a Ping.
func (c *conn) checkPing(now time.Time, pingSent *int64, add func(*trjson.Msg)) bool {
	last := c.lastRecv.Load()
	n := now.UnixNano()
	if *pingSent != 0 {
		if last >= *pingSent {
			*pingSent = 0
		} else if n-*pingSent >= int64(c.cfg.PingTimeout) {
			c.cfg.Logger.Info("ping timeout", "endpoint", c.srv.name, "conn", c.id)
			c.srv.pingTimeouts.Add(1)
			return false
		}
	}
	if *pingSent == 0 && n-last >= int64(c.cfg.PingInterval) && !c.h.stopPings.Load() {
		add(&trjson.Msg{Type: trjson.TypePing})
		*pingSent = n
	}
	return true
}

// updateMsg builds the Update of tick t for subscription s into scratch;
// nil when it must not be sent (closed, paused, nothing in view).
func (c *conn) updateMsg(m *trjson.Msg, fb *[]trjson.Field, s *sub, t *tick) *trjson.Msg {
	if s.closed.Load() || s.paused.Load() || c.pausedAll.Load() {
		return nil
	}
	m.Reset()
	m.Type = trjson.TypeUpdate
	m.ID = s.id
	m.Domain = s.domain
	m.UpdateType = t.updateType
	m.SeqNumber, m.HasSeqNumber = t.seq, true
	m.DoNotRipple = t.doNotRipple
	m.PostUserInfo = t.postUserInfo
	if s.confInfo && t.confInfo != nil {
		m.Other = t.confInfo
	}
	if s.keyInUpdates {
		m.Key = trjson.Key{Name: s.name, Service: s.serviceName()}
		m.HasKey = true
	}
	if t.mapRaw != nil {
		m.Map = t.mapRaw
		return m
	}
	if v := s.view.Load(); v != nil {
		*fb = (*fb)[:0]
		for _, f := range t.fields {
			if _, ok := v.set[f.Name]; ok {
				*fb = append(*fb, f)
			}
		}
		if len(*fb) == 0 {
			return nil
		}
		m.Fields = *fb
	} else {
		m.Fields = t.fields
	}
	m.HasFields = true
	return m
}

// loadRefresh builds the unsolicited Refresh that ends a Suspect fault on
// load-mode stream s, with the stream's own SeqNumber, and lets its
// updates flow again. Writer goroutine only.
func (c *conn) loadRefresh(s *sub) *trjson.Msg {
	if s.closed.Load() || !s.held.Load() {
		return nil
	}
	c.h.mu.Lock()
	fields, _ := s.inst.Image(nil)
	perm := s.inst.PermData()
	c.h.mu.Unlock()
	m := &trjson.Msg{Type: trjson.TypeRefresh, ID: s.id, Domain: s.domain,
		Key: trjson.Key{Name: s.name, Service: c.cfg.Service}, HasKey: true, NotSolicited: true,
		State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "All is well"}, HasState: true,
		Qos: c.qos(s.name), PermData: perm, SeqNumber: s.load.seq, HasSeqNumber: true,
		Fields: viewFields(fields, s.view.Load()), HasFields: true}
	s.held.Store(false)
	return m
}
