package server

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// Path is the WebSocket path of an endpoint.
const Path = "/WebSocket"

// Subprotocol is the only WebSocket subprotocol served.
const Subprotocol = "tr_json2"

// ErrNoConn is returned by DropConn for an unknown connection ID.
var ErrNoConn = errors.New("server: no such connection")

// Server is one streaming endpoint.
type Server struct {
	h    *Hub
	name string
	ln   *gateListener
	hs   *http.Server

	mu     sync.Mutex
	closed bool
	conns  map[uint64]*conn
	nextID uint64
	wg     sync.WaitGroup

	delay     atomic.Int64
	upgrading atomic.Int64 // upgrades in progress, counted against MaxConnections

	accepted, logins, loginFailures, msgsSent, framesSent, slowDrops, pingTimeouts, posts, refused atomic.Int64
	writeTimeouts, loginTimeouts, overCapacity                                                     atomic.Int64
}

// NewServer starts serving the endpoint on ln (wss when tlsCfg is
// non-nil). name labels logs and stats.
func NewServer(h *Hub, name string, ln net.Listener, tlsCfg *tls.Config) *Server {
	s := &Server{h: h, name: name, conns: map[uint64]*conn{}}
	s.ln = newGateListener(ln, s)
	var l net.Listener = s.ln
	if tlsCfg != nil {
		l = tls.NewListener(l, tlsCfg.Clone())
	}
	s.hs = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: h.cfg.IdleTimeout, ErrorLog: log.New(io.Discard, "", 0)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.hs.Serve(l)
	}()
	return s
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the endpoint and drops its connections.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	err := s.hs.Close()
	for _, c := range conns {
		c.closeWith(ReasonShutdown)
	}
	s.wg.Wait()
	return err
}

// gateListener refuses connections while the endpoint is killed: Kill
// closes the TCP listener, so connection attempts are refused by the
// kernel exactly as a dead server's are, and Accept listens again on the
// same address when the kill ends.
type gateListener struct {
	srv       *Server
	addr      net.Addr
	downUntil atomic.Int64

	mu     sync.Mutex
	inner  net.Listener
	killed bool // inner was closed by Kill
	closed bool
	done   chan struct{} // closed by Close
	change chan struct{} // signalled when a kill starts, extends or ends
}

func newGateListener(ln net.Listener, srv *Server) *gateListener {
	return &gateListener{srv: srv, addr: ln.Addr(), inner: ln, done: make(chan struct{}), change: make(chan struct{}, 1)}
}

func (g *gateListener) signal() {
	select {
	case g.change <- struct{}{}:
	default:
	}
}

func (g *gateListener) Addr() net.Addr { return g.addr }

// kill closes the listener until d from now; a new kill replaces the
// running one, and d <= 0 ends it at once (listening again before kill
// returns).
func (g *gateListener) kill(d time.Duration) {
	g.downUntil.Store(time.Now().Add(d).UnixNano())
	defer g.signal()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	if d > 0 {
		if !g.killed {
			g.killed = true
			g.inner.Close()
		}
		return
	}
	if g.killed {
		if ln, err := listenAgain(g.addr, g.done); err == nil {
			g.inner, g.killed = ln, false
		}
	}
}

// listenAgain listens on addr, retrying briefly in case the kernel has not
// released the port yet.
func listenAgain(addr net.Addr, done <-chan struct{}) (net.Listener, error) {
	var err error
	for attempt := 0; attempt < 100; attempt++ {
		var ln net.Listener
		if ln, err = net.Listen(addr.Network(), addr.String()); err == nil {
			return ln, nil
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-done:
			t.Stop()
			return nil, net.ErrClosed
		case <-t.C:
		}
	}
	return nil, err
}

func (g *gateListener) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	close(g.done)
	return g.inner.Close()
}

func (g *gateListener) Accept() (net.Conn, error) {
	for {
		g.mu.Lock()
		ln, killed := g.inner, g.killed
		g.mu.Unlock()
		if !killed {
			c, err := ln.Accept()
			if err == nil {
				return c, nil
			}
			g.mu.Lock()
			killed = g.killed && !g.closed
			// A kill and its end can both happen while Accept waits: the
			// listener it waited on is then closed and already replaced.
			revived := !g.killed && !g.closed && g.inner != ln
			g.mu.Unlock()
			if revived {
				continue
			}
			if !killed {
				return nil, err
			}
		}
		if err := g.revive(); err != nil {
			return nil, err
		}
	}
}

// revive waits for the kill to end and listens again on the same address.
func (g *gateListener) revive() error {
	for {
		wait := time.Until(time.Unix(0, g.downUntil.Load()))
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-g.done:
			t.Stop()
			return net.ErrClosed
		case <-g.change:
			t.Stop()
		case <-t.C:
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return net.ErrClosed
	}
	if !g.killed { // kill(0) listened again already
		return nil
	}
	ln, err := listenAgain(g.addr, g.done)
	if err != nil {
		return err
	}
	g.inner, g.killed = ln, false
	return nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if !offers(r.Header.Values("Sec-WebSocket-Protocol"), Subprotocol) {
		http.Error(w, "subprotocol tr_json2 required", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "endpoint closed", http.StatusServiceUnavailable)
		return
	}
	if len(s.conns)+int(s.upgrading.Load()) >= s.h.cfg.MaxConnections {
		s.mu.Unlock()
		s.overCapacity.Add(1)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	s.upgrading.Add(1)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ext := wsflate.Extension{Parameters: deflateParams}
	up := ws.HTTPUpgrader{Protocol: func(p string) bool { return p == Subprotocol }, Negotiate: ext.Negotiate}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		s.upgrading.Add(-1)
		return
	}
	_, deflate := ext.Accepted()
	s.accepted.Add(1)
	s.mu.Lock()
	s.upgrading.Add(-1)
	s.nextID++
	c := newConn(s, nc, rw.Reader, s.nextID)
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c.id] = c
	s.mu.Unlock()
	// The Login deadline: a connection that never logs in must not hold
	// its buffers (and a MaxConnections slot) for ever.
	loginTimer := time.AfterFunc(s.h.cfg.LoginTimeout, func() {
		if !c.loggedIn.Load() {
			s.loginTimeouts.Add(1)
			c.closeWith(ReasonLoginTimeout)
		}
	})
	defer loginTimer.Stop()
	c.delay.Store(s.delay.Load())
	c.deflate = deflate
	c.cookie = cookieFrom(r)
	c.serve()
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
	if f := s.h.cfg.OnDisconnect; f != nil {
		f(s.name, c.id, *c.reason.Load())
	}
}

func offers(values []string, proto string) bool {
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == proto {
				return true
			}
		}
	}
	return false
}

// Cookie names of the automatic login (§5.1); AuthPosition is what LSEG's
// non-RTO examples send.
func cookieFrom(r *http.Request) *cookieLogin {
	ck, err := r.Cookie("AuthToken")
	if err != nil || ck.Value == "" {
		return nil
	}
	cl := &cookieLogin{token: ck.Value}
	for _, n := range []string{"position", "AuthPosition"} {
		if v, err := r.Cookie(n); err == nil {
			cl.position = v.Value
		}
	}
	if v, err := r.Cookie("applicationId"); err == nil {
		cl.appID = v.Value
	}
	return cl
}

func (s *Server) snapshotConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Kill drops every connection and refuses new ones for d.
func (s *Server) Kill(d time.Duration) int {
	s.refused.Add(1)
	s.ln.kill(d)
	return s.DropAll()
}

// DropAll drops every connection abruptly (no close frame).
func (s *Server) DropAll() int {
	cs := s.snapshotConns()
	for _, c := range cs {
		c.closeWith(ReasonFault)
	}
	return len(cs)
}

// InjectFrame writes data as one text frame, as is, to every connection
// after what is already queued: malformed JSON, an oversize frame,
// anything a misbehaving server could send. It returns the number of
// connections it was queued on.
func (s *Server) InjectFrame(data []byte) int {
	n := 0
	for _, c := range s.snapshotConns() {
		if c.push(out{ctl: ctlRaw, data: append([]byte(nil), data...)}) {
			n++
		}
	}
	return n
}

// DropConn drops one connection.
func (s *Server) DropConn(id uint64) error {
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c == nil {
		return ErrNoConn
	}
	c.closeWith(ReasonFault)
	return nil
}

// StallMode selects what a stall stops.
type StallMode string

// Stall modes.
const (
	StallRead  StallMode = "read"
	StallWrite StallMode = "write"
	StallBoth  StallMode = "both"
)

// Stall stops reading and/or writing on every current connection for d.
func (s *Server) Stall(mode StallMode, d time.Duration) int {
	until := time.Now().Add(d).UnixNano()
	cs := s.snapshotConns()
	for _, c := range cs {
		if mode == StallRead || mode == StallBoth {
			c.stallReadUntil.Store(until)
		}
		if mode == StallWrite || mode == StallBoth {
			c.stallWriteUntil.Store(until)
			c.push(out{}) // wake the writer so that the stall starts now
		}
	}
	return len(cs)
}

// Delay delays every outbound frame by d on current and future
// connections (0 ends the fault).
func (s *Server) Delay(d time.Duration) {
	s.delay.Store(int64(d))
	for _, c := range s.snapshotConns() {
		c.delay.Store(int64(d))
	}
}

// ConnInfo describes a live connection.
type ConnInfo struct {
	ID       uint64 `json:"id"`
	Remote   string `json:"remote"`
	LoggedIn bool   `json:"logged_in"`
	User     string `json:"user,omitempty"`
	Streams  int    `json:"streams"`
	// Sent is the number of messages written to the connection.
	Sent int64 `json:"sent"`
}

// Conns lists the live connections.
func (s *Server) Conns() []ConnInfo {
	var out []ConnInfo
	for _, c := range s.snapshotConns() {
		c.smu.Lock()
		n := len(c.streams)
		c.smu.Unlock()
		ci := ConnInfo{ID: c.id, Remote: c.remote, LoggedIn: c.loggedIn.Load(), Streams: n, Sent: c.sent.Load()}
		if u := c.user.Load(); u != nil {
			ci.User = *u
		}
		out = append(out, ci)
	}
	return out
}

// Stats are an endpoint's counters.
type Stats struct {
	Connections     int   `json:"connections"`
	Accepted        int64 `json:"accepted"`
	Refused         int64 `json:"refused"`
	Logins          int64 `json:"logins"`
	LoginFailures   int64 `json:"login_failures"`
	MessagesSent    int64 `json:"messages_sent"`
	FramesSent      int64 `json:"frames_sent"`
	SlowDisconnects int64 `json:"slow_disconnects"`
	PingTimeouts    int64 `json:"ping_timeouts"`
	Posts           int64 `json:"posts"`
	// WriteTimeouts: clients dropped because a write to them did not
	// finish within WriteTimeout.
	WriteTimeouts int64 `json:"write_timeouts"`
	// LoginTimeouts: connections closed without a Login within LoginTimeout.
	LoginTimeouts int64 `json:"login_timeouts"`
	// OverCapacity: upgrades refused (503) at MaxConnections.
	OverCapacity int64 `json:"over_capacity"`
}

// Stats returns the endpoint's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return Stats{Connections: n, Accepted: s.accepted.Load(), Refused: s.refused.Load(), Logins: s.logins.Load(),
		LoginFailures: s.loginFailures.Load(), MessagesSent: s.msgsSent.Load(), FramesSent: s.framesSent.Load(),
		SlowDisconnects: s.slowDrops.Load(), PingTimeouts: s.pingTimeouts.Load(), Posts: s.posts.Load(),
		WriteTimeouts: s.writeTimeouts.Load(), LoginTimeouts: s.loginTimeouts.Load(), OverCapacity: s.overCapacity.Load()}
}
