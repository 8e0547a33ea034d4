package consumer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// rawServer accepts one WebSocket connection on loopback and runs script
// on it (server side, frames written by hand).
func rawServer(t *testing.T, protocol string, script func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		u := ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == protocol }}
		if _, err := u.Upgrade(c); err != nil {
			return
		}
		script(c)
	}()
	return "ws://" + ln.Addr().String() + "/WebSocket"
}

func dialRaw(t *testing.T, url string) *frameTransport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := dialFrames(ctx, url, dialOptions{readLimit: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr.(*frameTransport)
}

func readClientFrame(t *testing.T, c net.Conn) ws.Frame {
	t.Helper()
	var f ws.Frame
	h, err := ws.ReadHeader(c)
	if err == nil && h.Length > 4096 {
		err = fmt.Errorf("frame of %d bytes", h.Length)
	}
	if err == nil {
		f.Header, f.Payload = h, make([]byte, h.Length)
		_, err = io.ReadFull(c, f.Payload)
	}
	if err != nil {
		t.Errorf("server: read: %v", err)
		return f
	}
	if !f.Header.Masked {
		t.Errorf("client frame not masked")
	}
	return ws.UnmaskFrameInPlace(f)
}

func TestFrameTransportFragmentsAndPing(t *testing.T) {
	pong := make(chan ws.Frame, 1)
	url := rawServer(t, "tr_json2", func(c net.Conn) {
		ws.WriteHeader(c, ws.Header{OpCode: ws.OpText, Length: 3})
		c.Write([]byte(`[{"`))
		ws.WriteFrame(c, ws.NewPingFrame([]byte("hb")))
		ws.WriteHeader(c, ws.Header{OpCode: ws.OpContinuation, Length: 4})
		c.Write([]byte(`ID":`))
		ws.WriteHeader(c, ws.Header{Fin: true, OpCode: ws.OpContinuation, Length: 3})
		c.Write([]byte(`5}]`))
		pong <- readClientFrame(t, c)
		ws.WriteFrame(c, ws.NewTextFrame([]byte(`{"Type":"Ping"}`)))
		readClientFrame(t, c) // wait for the client's Close before closing
	})
	tr := dialRaw(t, url)
	got, err := tr.Read(context.Background(), nil)
	if err != nil || string(got) != `[{"ID":5}]` {
		t.Fatalf("Read = %q, %v", got, err)
	}
	select {
	case f := <-pong:
		if f.Header.OpCode != ws.OpPong || string(f.Payload) != "hb" {
			t.Errorf("reply to Ping = op %d %q", f.Header.OpCode, f.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no Pong")
	}
	got, err = tr.Read(context.Background(), got)
	if err != nil || string(got) != `{"Type":"Ping"}` {
		t.Fatalf("second Read = %q, %v", got, err)
	}
	tr.write(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""), time.Now().Add(time.Second))
}

func TestFrameTransportWriteMasksACopy(t *testing.T) {
	got := make(chan ws.Frame, 1)
	url := rawServer(t, "tr_json2", func(c net.Conn) { got <- readClientFrame(t, c) })
	tr := dialRaw(t, url)
	p := []byte(`{"ID":1,"Domain":"Login"}`)
	orig := bytes.Clone(p)
	if err := tr.Write(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, orig) {
		t.Errorf("Write changed the caller's buffer: %q", p)
	}
	select {
	case f := <-got:
		if f.Header.OpCode != ws.OpText || !f.Header.Fin || !bytes.Equal(f.Payload, orig) {
			t.Errorf("server got op %d fin %v %q", f.Header.OpCode, f.Header.Fin, f.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no frame")
	}
}

func TestFrameTransportServerClose(t *testing.T) {
	reply := make(chan ws.Frame, 1)
	url := rawServer(t, "tr_json2", func(c net.Conn) {
		ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "maintenance")))
		reply <- readClientFrame(t, c)
	})
	tr := dialRaw(t, url)
	_, err := tr.Read(context.Background(), nil)
	if !errors.Is(err, errClosedByServer) || !strings.Contains(err.Error(), "1001 maintenance") {
		t.Fatalf("Read after Close = %v", err)
	}
	f := <-reply
	if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusGoingAway {
		t.Errorf("Close reply = op %d code %d", f.Header.OpCode, code)
	}
}

func TestFrameTransportProtocolErrors(t *testing.T) {
	cases := []struct {
		name  string
		write func(c net.Conn)
		want  string
	}{
		{"masked", func(c net.Conn) {
			ws.WriteFrame(c, ws.MaskFrame(ws.NewTextFrame([]byte("x"))))
		}, "masked frame"},
		{"reserved bits", func(c net.Conn) {
			ws.WriteHeader(c, ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: ws.OpText, Length: 1})
			c.Write([]byte("x"))
		}, "reserved bits"},
		{"orphan continuation", func(c net.Conn) {
			ws.WriteHeader(c, ws.Header{Fin: true, OpCode: ws.OpContinuation, Length: 1})
			c.Write([]byte("x"))
		}, "continuation frame without"},
		{"interleaved message", func(c net.Conn) {
			ws.WriteHeader(c, ws.Header{OpCode: ws.OpText, Length: 1})
			c.Write([]byte("x"))
			ws.WriteFrame(c, ws.NewTextFrame([]byte("y")))
		}, "inside a fragmented"},
		{"fragmented control", func(c net.Conn) {
			ws.WriteHeader(c, ws.Header{OpCode: ws.OpPing, Length: 1})
			c.Write([]byte("x"))
		}, "control frame"},
		{"over the read limit", func(c net.Conn) {
			ws.WriteFrame(c, ws.NewTextFrame(bytes.Repeat([]byte("a"), 2000)))
		}, "ReadLimit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hold := make(chan struct{})
			url := rawServer(t, "tr_json2", func(c net.Conn) { tc.write(c); <-hold })
			tr := dialRaw(t, url)
			_, err := tr.Read(context.Background(), nil)
			close(hold)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestFrameTransportHandshakeErrors(t *testing.T) {
	url := rawServer(t, "other", func(net.Conn) {})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := dialFrames(ctx, url, dialOptions{readLimit: 1 << 10}); !errors.Is(err, ErrSubprotocol) {
		t.Errorf("no tr_json2 from the server: %v", err)
	}

	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	_, err = dialFrames(ctx, fmt.Sprintf("ws://%s/WebSocket", ln.Addr()), dialOptions{readLimit: 1 << 10})
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("404 at the upgrade: %v", err)
	}
}

func TestUseFrameTransport(t *testing.T) {
	if !useFrameTransport("wss://127.0.0.1:443/WebSocket", dialOptions{}) {
		t.Error("plain wss to loopback should use the frame transport")
	}
	if useFrameTransport("wss://127.0.0.1:443/WebSocket", dialOptions{compress: true}) {
		t.Error("permessage-deflate needs coder/websocket")
	}
	if useFrameTransport("http://127.0.0.1/WebSocket", dialOptions{}) {
		t.Error("a non-WebSocket scheme should not use the frame transport")
	}
}

// deadlineConn accepts write deadlines and nothing else: fuzzed reads
// answer control frames into a discarding writer.
type deadlineConn struct{ net.Conn }

func (deadlineConn) SetWriteDeadline(time.Time) error { return nil }

func FuzzFrameTransportRead(f *testing.F) {
	var seed bytes.Buffer
	ws.WriteFrame(&seed, ws.NewTextFrame([]byte(`[{"ID":2,"Type":"Update"}]`)))
	f.Add(seed.Bytes())
	seed.Reset()
	ws.WriteHeader(&seed, ws.Header{OpCode: ws.OpText, Length: 2})
	seed.WriteString("ab")
	ws.WriteFrame(&seed, ws.NewPingFrame([]byte("p")))
	ws.WriteHeader(&seed, ws.Header{Fin: true, OpCode: ws.OpContinuation, Length: 1})
	seed.WriteString("c")
	ws.WriteFrame(&seed, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))
	f.Add(seed.Bytes())
	f.Add([]byte{0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := &frameTransport{conn: deadlineConn{}, r: bufio.NewReader(bytes.NewReader(data)), limit: 4096,
			w: bufio.NewWriter(io.Discard), ctrl: make([]byte, 125)}
		var buf []byte
		for range 100 {
			msg, err := tr.Read(context.Background(), buf)
			if err != nil {
				return
			}
			if len(msg) > 4096 {
				t.Fatalf("message of %d bytes over the limit", len(msg))
			}
			buf = msg
		}
	})
}

// readHeader agrees with gobwas/ws on every header it can read, and does
// not allocate.
func FuzzReadHeader(f *testing.F) {
	for _, h := range []ws.Header{
		{Fin: true, OpCode: ws.OpText, Length: 5},
		{OpCode: ws.OpBinary, Length: 300},
		{Fin: true, OpCode: ws.OpContinuation, Length: 70000},
		{Fin: true, OpCode: ws.OpPing, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 3},
	} {
		var b bytes.Buffer
		ws.WriteHeader(&b, h)
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readHeader(bufio.NewReader(bytes.NewReader(data)))
		want, werr := ws.ReadHeader(bytes.NewReader(data))
		if (err == nil) != (werr == nil) && !(werr == nil && want.Length < 0) {
			t.Fatalf("readHeader err %v, ws.ReadHeader err %v", err, werr)
		}
		if err == nil && got != want {
			t.Fatalf("readHeader %+v, ws.ReadHeader %+v", got, want)
		}
	})
}

func TestReadHeaderNoAlloc(t *testing.T) {
	var b bytes.Buffer
	ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: ws.OpText, Length: 300})
	hdr := b.Bytes()
	src := bytes.NewReader(hdr)
	r := bufio.NewReader(src)
	n := testing.AllocsPerRun(100, func() {
		src.Reset(hdr)
		r.Reset(src)
		if _, err := readHeader(r); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("readHeader: %v allocations", n)
	}
}
