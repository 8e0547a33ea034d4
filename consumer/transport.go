package consumer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/coder/websocket"
)

// transport is the WebSocket seen by a connection; coder/websocket behind
// it, and tests may substitute another.
type transport interface {
	// Read returns the next message (text or binary), read into buf
	// (grown as needed; it may be nil).
	Read(ctx context.Context, buf []byte) ([]byte, error)
	// Write sends one text message.
	Write(ctx context.Context, p []byte) error
	// Close closes abruptly.
	Close() error
}

// compressor is implemented by transports that can tell whether
// permessage-deflate was negotiated.
type compressor interface{ Compressed() bool }

// dialOptions are the per-connection settings of a dial.
type dialOptions struct {
	tls       *tls.Config
	readLimit int64
	compress  bool
}

type wsTransport struct {
	c          *websocket.Conn
	compressed bool
}

func (t *wsTransport) Compressed() bool { return t.compressed }

// Read reads into the caller's buffer: websocket.Conn.Read would allocate
// a fresh, growing buffer per frame, the bulk of the client's garbage.
func (t *wsTransport) Read(ctx context.Context, buf []byte) ([]byte, error) {
	_, r, err := t.c.Reader(ctx)
	if err != nil {
		return nil, err
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (t *wsTransport) Write(ctx context.Context, p []byte) error {
	return t.c.Write(ctx, websocket.MessageText, p)
}

func (t *wsTransport) Close() error { return t.c.CloseNow() }

// endpointURL turns "host:port" into wss://host:port/WebSocket; full URLs pass.
func endpointURL(ep string) string {
	if strings.Contains(ep, "://") {
		return ep
	}
	return "wss://" + ep + "/WebSocket"
}

// tlsConfig builds the client TLS configuration: system roots plus the
// configured extra CAs; verification is only skipped on explicit request.
func tlsConfig(t TLS, log *slog.Logger) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.InsecureSkipVerify {
		log.Warn("TLS certificate verification is DISABLED (TLS.InsecureSkipVerify); never use this against a real service")
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	if t.RootCAs == nil && t.CAFile == "" && len(t.CAPEM) == 0 {
		return cfg, nil // system roots
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if t.RootCAs != nil {
		// A pool cannot be merged; the configured pool then wins and the
		// extra PEMs are added to it.
		pool = t.RootCAs.Clone()
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("consumer: CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("consumer: CA file %s holds no PEM certificate", t.CAFile)
		}
	}
	if len(t.CAPEM) > 0 && !pool.AppendCertsFromPEM(t.CAPEM) {
		return nil, errors.New("consumer: TLS.CAPEM holds no PEM certificate")
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// dialWS opens the WebSocket, offering and requiring tr_json2: with the
// frame transport (transport_frames.go) unless permessage-deflate
// (RFC 7692, C1.5) or an HTTP proxy is asked for, which coder/websocket
// handles.
func dialWS(ctx context.Context, url string, o dialOptions) (transport, error) {
	if useFrameTransport(url, o) {
		return dialFrames(ctx, url, o)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: o.tls, Proxy: http.ProxyFromEnvironment}}
	mode := websocket.CompressionDisabled
	if o.compress {
		// Context takeover: market data repeats field names and values from
		// message to message, which a shared window compresses best.
		mode = websocket.CompressionContextTakeover
	}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      hc,
		Subprotocols:    []string{"tr_json2"},
		CompressionMode: mode,
	})
	compressed := false
	if resp != nil {
		compressed = strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		if resp.Body != nil {
			resp.Body.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: dial %s: %w", url, err)
	}
	if c.Subprotocol() != "tr_json2" {
		c.CloseNow()
		return nil, fmt.Errorf("%w (got %q from %s)", ErrSubprotocol, c.Subprotocol(), url)
	}
	c.SetReadLimit(o.readLimit)
	return &wsTransport{c: c, compressed: compressed}, nil
}
