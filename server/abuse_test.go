package server

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/ertkit/ertkit/trjson"
)

// Hostile local clients (issue #17): each flood runs next to a
// well-behaved client subscribed to TRI.N, which must keep getting
// consecutive updates, while the server's heap grows by less than
// maxFloodGrowth.

const maxFloodGrowth = 100 << 20

func heapNow() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// wellBehaved logs in, subscribes to TRI.N and returns a check that the
// next n updates arrive with consecutive SeqNumbers.
func wellBehaved(t *testing.T, e *env) func(n int) {
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Refresh", 2))
	last := -1.0
	return func(n int) {
		t.Helper()
		for range n {
			u := c.until(isType("Update", 2))
			seq, _ := u["SeqNumber"].(float64)
			if last >= 0 && seq != last+1 {
				// Updates queued during the flood are delivered, none skipped.
				t.Fatalf("well-behaved client: SeqNumber %v after %v", seq, last)
			}
			last = seq
		}
	}
}

// maskedFrames returns n client frames (masked, as RFC 6455 requires) of
// opcode op with payload p, back to back: written in one go they cost the
// flooding side almost nothing.
func maskedFrames(op ws.OpCode, p []byte, n int) []byte {
	var one bytes.Buffer
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p)), Masked: true, Mask: [4]byte{1, 2, 3, 4}}
	if err := ws.WriteHeader(&one, h); err != nil {
		panic(err)
	}
	mp := append([]byte(nil), p...)
	ws.Cipher(mp, h.Mask, 0)
	one.Write(mp)
	return bytes.Repeat(one.Bytes(), n)
}

// flood writes buf count times to c (until the server closes it) and
// returns how many bytes went out.
func flood(c *client, buf []byte, count int) int {
	sent := 0
	for range count {
		n, err := c.nc.Write(buf)
		sent += n
		if err != nil {
			break
		}
	}
	return sent
}

// TestPingFloodBounded: a client that never logs in and never reads sends
// 200,000 Pings (125-byte payloads, 26 MB). Before the fix every Ping
// queued a Pong outside the queue limit (the issue saw 1.8 GB after 11 s);
// now only the latest unsent Pong is kept: the flooder's queue holds at
// most one entry, whatever the flood's length.
func TestPingFloodBounded(t *testing.T) {
	e := newEnv(t, Config{Rate: 50}, 1, false)
	check := wellBehaved(t, e)
	check(2)
	base := heapNow()
	f := dial(e, 0)
	frames := maskedFrames(ws.OpPing, bytes.Repeat([]byte{'p'}, 125), 10_000)
	sent := flood(f, frames, 20)
	// The last Pings have been read once the flooder's read loop answers
	// a Close frame... which it would queue behind; instead sample the
	// queue now and after the well-behaved client's next updates.
	maxQueued := 0
	queued := func() {
		for _, c := range e.servers[0].snapshotConns() {
			if !c.loggedIn.Load() {
				c.qmu.Lock()
				maxQueued = max(maxQueued, len(c.q))
				c.qmu.Unlock()
			}
		}
	}
	queued()
	check(3)
	queued()
	grow := int64(heapNow()) - int64(base)
	t.Logf("ping flood: %d MB sent, heap %+d MB, flooder's queue at most %d", sent>>20, grow>>20, maxQueued)
	if sent < 20*len(frames) {
		t.Fatalf("flood cut short after %d bytes", sent)
	}
	if maxQueued > 1 {
		t.Fatalf("%d entries queued for a client that only sends Pings (want at most 1 Pong)", maxQueued)
	}
	if grow > maxFloodGrowth {
		t.Fatalf("heap grew by %d MB under a Ping flood", grow>>20)
	}
}

// TestErrorEchoFloodBounded: 400 non-JSON frames of 61,000 control
// characters (24 MB; each would be echoed JSON-escaped, six times its
// size, in the Error's Debug) from a client that does not read. The echo
// is cut to maxEchoBytes.
func TestErrorEchoFloodBounded(t *testing.T) {
	e := newEnv(t, Config{Rate: 50}, 1, false)
	check := wellBehaved(t, e)
	check(2)
	junk := bytes.Repeat([]byte{0x01}, 61_000)

	// One Error read back: its echo is cut.
	r := dial(e, 0)
	if _, err := r.nc.Write(maskedFrames(ws.OpText, junk, 1)); err != nil {
		t.Fatal(err)
	}
	m := r.next()
	msg, _ := obj(m, "Debug", "Message").(string)
	if m["Type"] != "Error" || len(msg) == 0 || len(msg) > maxEchoBytes {
		t.Fatalf("Error with a %d-byte echo: %.200s", len(msg), mustJSON(m))
	}

	base := heapNow()
	f := dial(e, 0)
	frames := maskedFrames(ws.OpText, junk, 10)
	sent := flood(f, frames, 40)
	check(3)
	grow := int64(heapNow()) - int64(base)
	t.Logf("error-echo flood: %d MB sent, heap %+d MB", sent>>20, grow>>20)
	if sent < 40*len(frames) {
		t.Fatalf("flood cut short after %d bytes", sent)
	}
	if grow > maxFloodGrowth {
		t.Fatalf("heap grew by %d MB under an Error-echo flood", grow>>20)
	}
}

// TestQueueBytesAndPongCoalescing: the outbound queue is bounded in bytes
// (a client is dropped as a slow consumer before it exceeds QueueBytes)
// and holds at most one Pong.
func TestQueueBytesAndPongCoalescing(t *testing.T) {
	e := newEnv(t, Config{QueueBytes: 100_000}, 1, false)
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(e.servers[0], a, bufio.NewReader(a), 1_000_001)
	for i := range 1000 {
		if !c.push(out{ctl: ctlPong, data: []byte{byte(i)}}) {
			t.Fatal("pong refused")
		}
	}
	if len(c.q) != 1 || c.q[0].data[0] != byte(999%256) {
		t.Fatalf("%d pongs queued (want 1, the latest)", len(c.q))
	}
	big := strings.Repeat("x", 10_000)
	pushed := 0
	for range 100 {
		if !c.push(out{m: &trjson.Msg{Type: trjson.TypeError, Text: big}}) {
			break
		}
		pushed++
		if c.qBytes > 100_000 {
			t.Fatalf("queue holds %d bytes, bound 100000", c.qBytes)
		}
	}
	if pushed == 0 || pushed >= 10 {
		t.Fatalf("%d messages of 10 KB queued under a 100 KB bound", pushed)
	}
	if got := *c.reason.Load(); got != ReasonSlowConsumer {
		t.Fatalf("dropped for %q", got)
	}
}

// TestWriteTimeoutDropsNonReader: a client that subscribes and stops
// reading is dropped when a write to it blocks for WriteTimeout, even
// though its queue bounds are not reached.
func TestWriteTimeoutDropsNonReader(t *testing.T) {
	e := newEnv(t, Config{LoadMode: true, WriteTimeout: 300 * time.Millisecond, QueueLimit: 1 << 30, QueueBytes: 1 << 30}, 1, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	c.send(`{"ID":2,"Key":{"Name":"LOAD1.N"}}`)
	// Never read again: load mode fills the socket at once.
	for {
		r := e.waitDrop()
		if r == ReasonWriteTimeout {
			break
		}
		t.Logf("other disconnect: %s", r)
	}
	if n := e.servers[0].Stats().WriteTimeouts; n != 1 {
		t.Fatalf("WriteTimeouts %d", n)
	}
}

// TestLoginTimeoutAndConnectionCap: 300 connections that never log in,
// against MaxConnections 100: 99 are accepted next to the logged-in
// client, the rest refused with 503; every accepted one is closed at
// LoginTimeout (2 s: longer than the flood takes under -race), after
// which connecting works again.
func TestLoginTimeoutAndConnectionCap(t *testing.T) {
	e := newEnv(t, Config{Rate: 50, MaxConnections: 100, LoginTimeout: 2 * time.Second}, 1, false)
	check := wellBehaved(t, e)
	check(2)
	base := heapNow()
	var idle []*client
	refused := 0
	for range 300 {
		c, err := dialOpts(e, 0, []string{"tr_json2"}, nil)
		var se ws.StatusError
		switch {
		case errors.As(err, &se) && int(se) == 503:
			refused++
		case err != nil:
			t.Fatalf("dial: %v", err)
		default:
			idle = append(idle, c)
		}
	}
	grow := int64(heapNow()) - int64(base)
	t.Logf("connection flood: %d accepted, %d refused, heap %+d MB", len(idle), refused, grow>>20)
	// The well-behaved client's own login keeps it past LoginTimeout.
	if len(idle) > 99 || refused < 201 {
		t.Fatalf("%d accepted and %d refused at MaxConnections 100 (one slot is the logged-in client's)", len(idle), refused)
	}
	if grow > maxFloodGrowth {
		t.Fatalf("heap grew by %d MB under a connection flood", grow>>20)
	}
	for _, c := range idle {
		c.expectClosed()
	}
	if n := e.servers[0].Stats().LoginTimeouts; n != int64(len(idle)) {
		t.Fatalf("LoginTimeouts %d, want %d", n, len(idle))
	}
	check(3)
	if _, err := dialOpts(e, 0, []string{"tr_json2"}, nil); err != nil {
		t.Fatalf("connecting after the flood: %v", err)
	}
}
