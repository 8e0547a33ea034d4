package stream

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
