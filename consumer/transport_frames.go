package consumer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// frameTransport is the WebSocket of a connection read frame by frame
// (gobwas/ws): a frame costs a header parse and a copy, where
// coder/websocket's Reader takes locks and a select per frame, which at
// one message per frame was a quarter of a client's CPU
// (docs/BENCHMARKS.md). It is used when neither permessage-deflate nor an
// HTTP proxy is asked for; coder/websocket handles those.
//
// Read is called by one goroutine (the connection's reader); Write and
// the control-frame replies of Read are serialised by mu.
type frameTransport struct {
	conn  net.Conn
	r     *bufio.Reader
	limit int64

	mu     sync.Mutex
	w      *bufio.Writer
	masked []byte // scratch for masking outgoing payloads
	ctrl   []byte // scratch for control payloads
}

// ErrProtocol is wrapped by errors about frames that break RFC 6455.
var ErrProtocol = errors.New("consumer: WebSocket protocol error")

// errClosedByServer is the read error after the server's Close frame.
var errClosedByServer = errors.New("consumer: connection closed by the server")

const frameBuffer = 64 << 10

// useFrameTransport tells whether the frame transport can carry a
// connection to rawURL with these options.
func useFrameTransport(rawURL string, o dialOptions) bool {
	if o.compress {
		return false
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	// http.ProxyFromEnvironment decides for http/https URLs.
	pu := *u
	switch u.Scheme {
	case "wss":
		pu.Scheme = "https"
	case "ws":
		pu.Scheme = "http"
	default:
		return false
	}
	p, err := http.ProxyFromEnvironment(&http.Request{URL: &pu})
	return err == nil && p == nil
}

// dialFrames opens the WebSocket with gobwas/ws, offering and requiring
// tr_json2.
func dialFrames(ctx context.Context, rawURL string, o dialOptions) (transport, error) {
	status := 0
	d := ws.Dialer{
		Protocols: []string{"tr_json2"},
		TLSConfig: o.tls,
		OnStatusError: func(code int, _ []byte, _ io.Reader) {
			status = code
		},
	}
	conn, br, hs, err := d.Dial(ctx, rawURL)
	if err != nil {
		if status != 0 {
			return nil, fmt.Errorf("consumer: dial %s: HTTP %d %s: %w", rawURL, status, http.StatusText(status), err)
		}
		return nil, fmt.Errorf("consumer: dial %s: %w", rawURL, err)
	}
	if hs.Protocol != "tr_json2" {
		conn.Close()
		if br != nil {
			ws.PutReader(br)
		}
		return nil, fmt.Errorf("%w (got %q from %s)", ErrSubprotocol, hs.Protocol, rawURL)
	}
	t := &frameTransport{conn: conn, limit: o.readLimit, w: bufio.NewWriterSize(conn, 4096), ctrl: make([]byte, 125)}
	var src io.Reader = conn
	if br != nil && br.Buffered() > 0 {
		// Frames the server sent right after the handshake.
		b, _ := br.Peek(br.Buffered())
		src = io.MultiReader(bytes.NewReader(append([]byte(nil), b...)), conn)
	}
	if br != nil {
		ws.PutReader(br)
	}
	t.r = bufio.NewReaderSize(src, frameBuffer)
	return t, nil
}

func (t *frameTransport) Close() error { return t.conn.Close() }

// Read returns the next data message, assembled from its fragments into
// buf. Pings are answered, Pongs skipped, and a Close is answered and
// ends the connection. The context is not watched: the connection's end
// closes the socket, which ends a blocked Read.
func (t *frameTransport) Read(_ context.Context, buf []byte) ([]byte, error) {
	buf = buf[:0]
	inMessage := false
	for {
		h, err := readHeader(t.r)
		if err != nil {
			return nil, err
		}
		if h.Masked {
			return nil, fmt.Errorf("%w: masked frame from the server", ErrProtocol)
		}
		if h.Rsv != 0 {
			return nil, fmt.Errorf("%w: reserved bits set without an extension", ErrProtocol)
		}
		if h.OpCode.IsControl() {
			if err := t.control(h); err != nil {
				return nil, err
			}
			continue
		}
		switch {
		case h.OpCode == ws.OpContinuation && !inMessage:
			return nil, fmt.Errorf("%w: continuation frame without a message", ErrProtocol)
		case h.OpCode != ws.OpContinuation && inMessage:
			return nil, fmt.Errorf("%w: new message inside a fragmented one", ErrProtocol)
		case h.OpCode != ws.OpContinuation && h.OpCode != ws.OpText && h.OpCode != ws.OpBinary:
			return nil, fmt.Errorf("%w: unknown opcode %d", ErrProtocol, h.OpCode)
		}
		inMessage = true
		n := int64(len(buf)) + h.Length
		if h.Length < 0 || n > t.limit {
			return nil, fmt.Errorf("consumer: message of more than %d bytes (ReadLimit)", t.limit)
		}
		if int64(cap(buf)) < n {
			nb := make([]byte, len(buf), n)
			copy(nb, buf)
			buf = nb
		}
		end := len(buf) + int(h.Length)
		if _, err := io.ReadFull(t.r, buf[len(buf):end]); err != nil {
			return nil, err
		}
		buf = buf[:end]
		if h.Fin {
			return buf, nil
		}
	}
}

// readHeader reads a frame header (RFC 6455 §5.2) out of r's buffer
// without allocating (ws.ReadHeader allocates its scratch per frame).
func readHeader(r *bufio.Reader) (ws.Header, error) {
	var h ws.Header
	b, err := r.Peek(2)
	if err != nil {
		return h, err
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] >> 4) & 0x07
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		n += 2
	case 127:
		n += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		n += 4
	}
	if b, err = r.Peek(n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, err
	}
	switch b[1] & 0x7f {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u > math.MaxInt64 {
			return h, fmt.Errorf("%w: frame length over 2^63", ErrProtocol)
		}
		h.Length = int64(u)
	}
	if h.Masked {
		copy(h.Mask[:], b[n-4:n])
	}
	_, err = r.Discard(n)
	return h, err
}

// control handles a control frame whose header was read.
func (t *frameTransport) control(h ws.Header) error {
	if !h.Fin || h.Length > 125 {
		return fmt.Errorf("%w: fragmented or oversized control frame", ErrProtocol)
	}
	p := t.ctrl[:h.Length]
	if _, err := io.ReadFull(t.r, p); err != nil {
		return err
	}
	switch h.OpCode {
	case ws.OpPing:
		return t.write(ws.OpPong, p, time.Now().Add(10*time.Second))
	case ws.OpPong:
		return nil
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		reply := p[:min(len(p), 2)] // echo the status code (RFC 6455 §5.5.1)
		_ = t.write(ws.OpClose, reply, time.Now().Add(time.Second))
		if code == 0 {
			return errClosedByServer
		}
		return fmt.Errorf("%w: %d %s", errClosedByServer, code, reason)
	}
	return fmt.Errorf("%w: unknown control opcode %d", ErrProtocol, h.OpCode)
}

// Write sends one text message.
func (t *frameTransport) Write(ctx context.Context, p []byte) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.write(ws.OpText, p, deadline)
}

// write sends one masked frame (RFC 6455 §5.3: a client masks every
// frame). The payload is copied before masking: callers keep theirs.
func (t *frameTransport) write(op ws.OpCode, p []byte, deadline time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: int64(len(p))}
	if err := ws.WriteHeader(t.w, h); err != nil {
		return err
	}
	t.masked = append(t.masked[:0], p...)
	ws.Cipher(t.masked, h.Mask, 0)
	if _, err := t.w.Write(t.masked); err != nil {
		return err
	}
	if cap(t.masked) > 1<<20 {
		t.masked = nil
	}
	return t.w.Flush()
}
