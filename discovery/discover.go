package discovery

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/ertkit/ertkit/internal/backoff"
	"github.com/ertkit/ertkit/internal/platform"
	"github.com/ertkit/ertkit/internal/redact"
)

// DefaultURL is LSEG's service discovery for streaming pricing over WebSocket.
const DefaultURL = "https://api.refinitiv.com/streaming/pricing/v1/?transport=websocket"

// HTTPError is a non-success answer (same type as auth.HTTPError): Status,
// the server's Code and Description, the redacted URL.
type HTTPError = platform.HTTPError

var (
	// ErrUnauthorized matches a 401: the token is not accepted; get a fresh
	// token once and retry.
	ErrUnauthorized = platform.ErrUnauthorized
	// ErrFatal matches 403, 404, 410, 451: stop.
	ErrFatal = platform.ErrFatal
	// ErrRetriesExhausted wraps the last error after the retries of 5xx,
	// 429 and network errors.
	ErrRetriesExhausted = platform.ErrRetriesExhausted
	// ErrRedirect: a redirect was refused (scheme, host, hops, Location).
	ErrRedirect = platform.ErrRedirect
	// ErrInsecureURL: plain http to a host that is not loopback.
	ErrInsecureURL = platform.ErrInsecureURL
)

// Options tune Discover. The zero value is usable.
type Options struct {
	// HTTPClient to use. Default: TLS verification on, using TLSConfig.
	// Its redirect policy is replaced (in a copy) by the rules of this
	// package.
	HTTPClient *http.Client
	// TLSConfig for the default client (e.g. an emulator's CA).
	TLSConfig *tls.Config
	// AllowedRedirectHosts: hosts (name or name:port) a redirect may lead
	// to besides the URL's own host. Default none.
	AllowedRedirectHosts []string
	// RequestTimeout bounds each HTTP exchange. Default 30s.
	RequestTimeout time.Duration
	// MaxAttempts on 5xx, 429 and network errors, the first included.
	// Default 5.
	MaxAttempts int
	// RetryBaseDelay and RetryMaxDelay shape the full-jitter back-off
	// (Retry-After wins when the server sends it). Defaults 500ms and 30s.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// Logger for debug lines (never the token). Default: discard.
	Logger *slog.Logger
}

// Discover asks service discovery at url (DefaultURL if empty) for the
// streaming endpoints, with token as the Bearer credential. Entries that
// lack a usable endpoint, port or location are dropped (and logged).
func Discover(ctx context.Context, url, token string, opts Options) ([]Endpoint, error) {
	if url == "" {
		url = DefaultURL
	}
	if token == "" {
		return nil, fmt.Errorf("discovery: no access token")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if platform.InsecureTransport(opts.HTTPClient) {
		log.Warn("TLS certificate verification is disabled on the discovery HTTP client")
	}
	hc := platform.NoRedirects(opts.HTTPClient, opts.TLSConfig)
	if opts.HTTPClient == nil {
		defer hc.CloseIdleConnections()
	}
	gw := &platform.Client{
		HTTP:           hc,
		AllowedHosts:   opts.AllowedRedirectHosts,
		Retry:          backoff.Policy{Base: opts.RetryBaseDelay, Max: opts.RetryMaxDelay, Attempts: opts.MaxAttempts},
		RequestTimeout: opts.RequestTimeout,
		Logger:         log,
	}
	body, err := gw.Do(ctx, platform.Request{
		Method:  http.MethodGet,
		URL:     url,
		Header:  http.Header{"Authorization": {"Bearer " + token}},
		Secrets: []string{token},
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	eps, skipped, err := parseServices(body)
	if err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", redact.URL(url), err)
	}
	if skipped > 0 {
		log.Warn("discovery entries without a usable endpoint, port or location were ignored", "count", skipped)
	}
	return eps, nil
}
