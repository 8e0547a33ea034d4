package server

import (
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestKillEndpoint(t *testing.T) {
	e := newEnv(t, Config{}, 2, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	other := dial(e, 1)
	other.login(e.token(1, time.Minute))
	if n := e.servers[0].Kill(time.Hour); n != 1 {
		t.Fatalf("killed %d connections", n)
	}
	c.expectClosed()
	if _, err := dialOpts(e, 0, []string{"tr_json2"}, nil); err == nil {
		t.Fatal("connection accepted while the endpoint is down")
	}
	if e.servers[0].Stats().Refused == 0 {
		t.Fatal("refusal not counted")
	}
	other.sync() // the other endpoint is unaffected
	e.servers[0].Kill(0)
	dial(e, 0).login(e.token(1, time.Minute))
}

func TestDropConnections(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	a, b := dial(e, 0), dial(e, 0)
	a.login(e.token(1, time.Minute))
	b.login(e.token(1, time.Minute))
	conns := e.servers[0].Conns()
	if len(conns) != 2 || !conns[0].LoggedIn {
		t.Fatalf("conns %+v", conns)
	}
	if err := e.servers[0].DropConn(999); err == nil {
		t.Fatal("unknown connection dropped")
	}
	if err := e.servers[0].DropConn(conns[0].ID); err != nil {
		t.Fatal(err)
	}
	e.waitDrop()
	if n := e.servers[0].DropAll(); n != 1 {
		t.Fatalf("dropped %d", n)
	}
	a.expectClosed()
	b.expectClosed()
}

// Stalled writes: nothing arrives during the stall, everything after.
func TestStallWriteAndDelay(t *testing.T) {
	e, c := loggedIn(t, Config{})
	e.servers[0].Stall(StallWrite, 1500*time.Millisecond)
	c.send(`{"Type":"Ping"}`)
	if _, err := c.tryNext(100 * time.Millisecond); err == nil {
		t.Fatal("message received during a write stall")
	}
	if m := c.next(); m["Type"] != "Pong" {
		t.Fatalf("got %s", mustJSON(m))
	}
	e.servers[0].Delay(time.Second)
	c.send(`{"Type":"Ping"}`)
	if _, err := c.tryNext(100 * time.Millisecond); err == nil {
		t.Fatal("message not delayed")
	}
	c.next()
	e.servers[0].Delay(0)
	c.sync()
}

func TestStallRead(t *testing.T) {
	e, c := loggedIn(t, Config{})
	start := time.Now()
	e.servers[0].Stall(StallRead, 2*time.Second)
	// The read loop may already be blocked in a read (then it stalls from
	// the message after the next one), or not yet (then from this one).
	c.send(`{"Type":"Ping"}`)
	c.next()
	if time.Since(start) >= 2*time.Second {
		return // the first Ping waited for the stall: it works
	}
	c.send(`{"Type":"Ping"}`)
	if m, err := c.tryNext(100 * time.Millisecond); err == nil {
		t.Fatalf("request answered during a read stall: %v", m)
	}
	c.next()
}

// A killed endpoint refuses at the TCP level, like a dead server, and
// listens again by itself when the kill ends.
func TestKillRefusesTCPAndRevives(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	addr := e.servers[0].Addr().String()
	e.servers[0].Kill(400 * time.Millisecond)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("TCP connection accepted while killed")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("want connection refused, got %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint did not come back after the kill: %v", err)
		}
		runtime.Gosched()
	}
	dial(e, 0).login(e.token(1, time.Minute))
}

// blockingListener's Accept waits for release and then fails, as a
// closed listener's does: it lets a test end a kill before Accept notices
// it started.
type blockingListener struct {
	addr    net.Addr
	entered chan struct{}
	release chan struct{}
}

func (b *blockingListener) Accept() (net.Conn, error) {
	close(b.entered)
	<-b.release
	return nil, net.ErrClosed
}
func (b *blockingListener) Close() error   { return nil }
func (b *blockingListener) Addr() net.Addr { return b.addr }

// A kill that ends before the accepting goroutine wakes up must not stop
// the endpoint: Accept goes on with the new listener.
func TestKillEndedBeforeAcceptNoticed(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr()
	probe.Close()
	inner := &blockingListener{addr: addr, entered: make(chan struct{}), release: make(chan struct{})}
	g := newGateListener(inner, nil)
	defer g.Close()
	type res struct {
		c   net.Conn
		err error
	}
	got := make(chan res, 1)
	go func() { c, err := g.Accept(); got <- res{c, err} }()
	<-inner.entered
	g.kill(time.Hour)
	g.kill(0) // listens again on addr
	close(inner.release)
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial after the kill ended: %v", err)
	}
	defer c.Close()
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatalf("Accept after a kill and revival: %v", r.err)
		}
		r.c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not return the new connection")
	}
}
