package consumer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/coder/websocket"
)

// transport is the WebSocket seen by a connection; coder/websocket behind
// it, and tests may substitute another.
type transport interface {
	// Read returns the next message (text or binary).
	Read(ctx context.Context) ([]byte, error)
	// Write sends one text message.
	Write(ctx context.Context, p []byte) error
	// Close closes abruptly.
	Close() error
}

type wsTransport struct{ c *websocket.Conn }

func (t *wsTransport) Read(ctx context.Context) ([]byte, error) {
	_, p, err := t.c.Read(ctx)
	return p, err
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

// dialWS opens the WebSocket, offering and requiring tr_json2.
func dialWS(ctx context.Context, url string, tc *tls.Config, readLimit int64) (transport, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      hc,
		Subprotocols:    []string{"tr_json2"},
		CompressionMode: websocket.CompressionDisabled,
	})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: dial %s: %w", url, err)
	}
	if c.Subprotocol() != "tr_json2" {
		c.CloseNow()
		return nil, fmt.Errorf("%w (got %q from %s)", ErrSubprotocol, c.Subprotocol(), url)
	}
	c.SetReadLimit(readLimit)
	return &wsTransport{c: c}, nil
}
