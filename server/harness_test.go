package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/internal/certs"
	"github.com/ertkit/ertkit/server/tokens"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a hub with one or more endpoints on loopback.
type env struct {
	t       *testing.T
	hub     *Hub
	store   *tokens.Store
	servers []*Server
	tls     *tls.Config // client config, nil for ws://
	drops   chan string
}

func newEnv(t *testing.T, cfg Config, endpoints int, useTLS bool) *env {
	t.Helper()
	e := &env{t: t, store: tokens.NewStore(nil), drops: make(chan string, 1024)}
	if cfg.Universe == nil && cfg.Source == nil {
		cfg.Universe = newFakeUniverse()
	}
	cfg.Dictionary = fakeDictionary{}
	cfg.Store = e.store
	cfg.OnDisconnect = func(ep string, id uint64, reason string) {
		select {
		case e.drops <- reason:
		default:
		}
	}
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.hub = h
	var srvTLS *tls.Config
	if useTLS {
		b, err := certs.Generate(nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		srvTLS, e.tls = b.ServerTLS, b.ClientTLS()
	}
	for i := range endpoints {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.servers = append(e.servers, NewServer(h, fmt.Sprint(i), ln, srvTLS))
	}
	t.Cleanup(func() {
		for _, s := range e.servers {
			s.Close()
		}
		h.Close()
	})
	return e
}

func (e *env) url(i int) string {
	scheme := "ws"
	if e.tls != nil {
		scheme = "wss"
	}
	return scheme + "://" + e.servers[i].Addr().String() + Path
}

func (e *env) token(version int, lifetime time.Duration) string {
	p := tokens.Principal{Version: version, User: "GE-A-1", ClientID: "app"}
	if version == 2 {
		p.User = ""
	}
	return e.store.Issue(p, lifetime, 0, false).Access
}

// waitDrop waits for the next disconnect reason reported by the endpoint.
func (e *env) waitDrop() string {
	e.t.Helper()
	select {
	case r := <-e.drops:
		return r
	case <-time.After(10 * time.Second):
		e.t.Fatal("no disconnect reported")
		return ""
	}
}

// client is a raw tr_json2 WebSocket client written from the spec.
type client struct {
	t  *testing.T
	nc net.Conn
	r  io.Reader
	// frames received, raw, for packing checks
	lastFrame []byte
	pending   []map[string]any
	closeCode ws.StatusCode
}

func dialOpts(e *env, i int, protocols []string, hdr map[string]string) (*client, error) {
	d := ws.Dialer{Protocols: protocols, TLSConfig: e.tls, Timeout: 5 * time.Second}
	if hdr != nil {
		h := make(map[string][]string)
		for k, v := range hdr {
			h[k] = []string{v}
		}
		d.Header = ws.HandshakeHeaderHTTP(h)
	}
	nc, br, _, err := d.Dial(context.Background(), e.url(i))
	if err != nil {
		return nil, err
	}
	c := &client{t: e.t, nc: nc, r: nc}
	if br != nil {
		c.r = br
	}
	e.t.Cleanup(func() { nc.Close() })
	return c, nil
}

func dial(e *env, i int) *client {
	e.t.Helper()
	c, err := dialOpts(e, i, []string{"tr_json2"}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.nc, []byte(s)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

var errClosed = errors.New("closed by server")

// frame reads one data frame (5 s deadline); errClosed after a close frame.
func (c *client) frame(timeout time.Duration) ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return nil, err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return nil, err
		}
		switch h.OpCode {
		case ws.OpClose:
			c.closeCode, _ = ws.ParseCloseFrameData(p)
			return nil, errClosed
		case ws.OpPing, ws.OpPong:
			continue
		}
		if h.Masked {
			c.t.Error("server frame is masked")
		}
		c.lastFrame = p
		return p, nil
	}
}

// next returns the next message (frames are JSON arrays).
func (c *client) next() map[string]any {
	c.t.Helper()
	m, err := c.tryNext(5 * time.Second)
	if err != nil {
		c.t.Fatalf("next: %v", err)
	}
	return m
}

func (c *client) tryNext(timeout time.Duration) (map[string]any, error) {
	for len(c.pending) == 0 {
		p, err := c.frame(timeout)
		if err != nil {
			return nil, err
		}
		var arr []map[string]any
		if err := json.Unmarshal(p, &arr); err != nil {
			c.t.Fatalf("frame is not a JSON array of objects: %v: %s", err, p)
		}
		c.pending = arr
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

// until returns the first message for which f is true, skipping at most
// 10000 others (Pings are answered).
func (c *client) until(f func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 10000 {
		m := c.next()
		if m["Type"] == "Ping" {
			c.send(`{"Type":"Pong"}`)
			continue
		}
		if f(m) {
			return m
		}
	}
	c.t.Fatal("message not found")
	return nil
}

// expectClosed reads until the server closes the connection.
func (c *client) expectClosed() ws.StatusCode {
	c.t.Helper()
	for range 100000 {
		_, err := c.frame(10 * time.Second)
		if errors.Is(err, errClosed) {
			return c.closeCode
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatal("connection not closed")
			}
			return 0 // abrupt close
		}
	}
	c.t.Fatal("connection not closed")
	return 0
}

// sync sends a Ping and returns every message received before the Pong.
func (c *client) sync() []map[string]any {
	c.t.Helper()
	c.send(`{"Type":"Ping"}`)
	var got []map[string]any
	for range 1_000_000 { // load mode can have a big backlog in flight
		m := c.next()
		if m["Type"] == "Pong" {
			return got
		}
		got = append(got, m)
	}
	c.t.Fatal("no Pong")
	return nil
}

func (c *client) login(token string) map[string]any {
	c.t.Helper()
	c.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"127.0.0.1/test","AuthenticationToken":"` + token + `"}}}`)
	m := c.next()
	if m["Type"] != "Refresh" {
		c.t.Fatalf("login: %v", m)
	}
	return m
}

func isType(typ string, id float64) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["Type"] == typ && m["ID"] == id }
}

func obj(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
