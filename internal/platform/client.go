// Package platform makes the HTTP calls to the LSEG Delivery Platform (token
// endpoint, service discovery) with the etiquette both callers share:
// redirects followed by hand under strict rules, bounded retries with
// exponential back-off and full jitter on 5xx/429/network errors (honouring
// Retry-After), optional pacing, a timeout on every request, and typed
// errors that never carry secrets.
package platform

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ertkit/ertkit/internal/backoff"
	"github.com/ertkit/ertkit/internal/redact"
)

// Limits on what is read from the gateway.
const (
	maxBody      = 1 << 20  // successful responses
	maxErrorBody = 64 << 10 // error responses
	// MaxRetryAfter caps a server's Retry-After so that a bogus value cannot
	// park a caller for hours; the caller's context bounds it further.
	MaxRetryAfter = 5 * time.Minute
)

// Client sends requests to the gateway. Fields are read-only after first use.
type Client struct {
	// HTTP must not follow redirects itself; build it with NoRedirects.
	HTTP *http.Client
	// AllowedHosts are extra host names (or host:port) that redirects may
	// lead to besides the request's own host.
	AllowedHosts []string
	// MaxHops is the number of redirects followed. Default 3.
	MaxHops int
	// Retry bounds retries of 5xx, 429 and network errors.
	Retry backoff.Policy
	// RequestTimeout bounds each HTTP exchange (one hop of one attempt).
	// Default 30s.
	RequestTimeout time.Duration
	// Pacer, when set, is waited on before every request sent.
	Pacer *Pacer
	// After and Now are the clock (nil: the real one).
	After func(time.Duration) <-chan time.Time
	Now   func() time.Time
	// Logger receives debug lines without secrets. Nil: no logging.
	Logger *slog.Logger
}

// Request is one logical call; redirects and retries repeat it.
type Request struct {
	Method string      // http.MethodGet or http.MethodPost
	URL    string      // absolute https URL (http only for loopback hosts)
	Form   url.Values  // POST body (application/x-www-form-urlencoded)
	Header http.Header // extra headers (Authorization); resent only to allowed hosts
	// Secrets are scrubbed from any server text that ends up in an error.
	Secrets []string
}

// NoRedirects returns a shallow copy of c (or of a default client with TLS
// verification on, if c is nil) that hands 3xx responses back to the caller.
func NoRedirects(c *http.Client, tlsConf *tls.Config) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if tlsConf != nil {
			tr.TLSClientConfig = tlsConf.Clone()
		}
		cp.Transport = tr
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// InsecureTransport reports whether c's transport skips certificate
// verification (so that the owner can warn about it).
func InsecureTransport(c *http.Client) bool {
	if c == nil {
		return false
	}
	tr, ok := c.Transport.(*http.Transport)
	return ok && tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify
}

// Do performs r and returns the body of the 2xx response.
func (c *Client) Do(ctx context.Context, r Request) ([]byte, error) {
	origin, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %s: %w", redact.URL(r.URL), errors.Unwrap(err))
	}
	if err := CheckURL(origin); err != nil {
		return nil, err
	}
	// Credentials in headers (Basic, Bearer) are secrets too, in any form a
	// server might echo.
	for k, vs := range r.Header {
		if redact.IsSensitiveKey(k) {
			for _, v := range vs {
				r.Secrets = append(r.Secrets, v)
				if _, cred, ok := strings.Cut(v, " "); ok {
					r.Secrets = append(r.Secrets, cred)
				}
			}
		}
	}
	pol := c.Retry.WithDefaults()
	var lastErr error
	for attempt := 0; attempt < pol.Attempts; attempt++ {
		if attempt > 0 {
			d := pol.Delay(attempt - 1)
			var he *retryAfterError
			if errors.As(lastErr, &he) && he.after > 0 {
				d = he.after
			}
			if errors.As(lastErr, &he) && (he.Status == http.StatusTooManyRequests || he.after > 0) {
				// Throttled: the operator should see why nothing happens
				// for a while (a 429 on a token refresh can park renewal
				// for minutes).
				c.warn(ctx, "gateway asked to wait; retrying after the wait", "url", redact.URL(r.URL), "status", he.Status, "wait", d, "attempt", attempt+1)
			} else {
				c.log(ctx, "gateway retry", "url", redact.URL(r.URL), "attempt", attempt+1, "delay", d, "error", lastErr)
			}
			if err := backoff.Wait(ctx, d, c.After); err != nil {
				return nil, fmt.Errorf("%w (last error: %w)", err, lastErr)
			}
		}
		body, err := c.once(ctx, r, origin)
		if err == nil {
			return body, nil
		}
		if !retryable(ctx, err) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, pol.Attempts, lastErr)
}

// once runs one attempt: the request and up to MaxHops redirects.
func (c *Client) once(ctx context.Context, r Request, origin *url.URL) ([]byte, error) {
	maxHops := c.MaxHops
	if maxHops <= 0 {
		maxHops = 3
	}
	cur := origin
	for hop := 0; ; hop++ {
		if c.Pacer != nil {
			if err := c.Pacer.Wait(ctx); err != nil {
				return nil, err
			}
		}
		status, body, hdr, err := c.exchange(ctx, r, cur)
		if err != nil {
			return nil, err
		}
		c.log(ctx, "gateway response", "method", r.Method, "url", redact.URL(cur.String()), "status", status)
		switch {
		case status >= 200 && status < 300:
			return body, nil
		case isRedirect(r.Method, status):
			if hop >= maxHops {
				return nil, fmt.Errorf("%w: more than %d redirects (last from %s)", ErrRedirect, maxHops, redact.URL(cur.String()))
			}
			loc := hdr.Get("Location")
			if loc == "" {
				return nil, fmt.Errorf("%w: HTTP %d from %s without Location", ErrRedirect, status, redact.URL(cur.String()))
			}
			next, err := cur.Parse(loc)
			if err != nil {
				return nil, fmt.Errorf("%w: bad Location from %s", ErrRedirect, redact.URL(cur.String()))
			}
			if err := c.checkRedirect(origin, next); err != nil {
				return nil, err
			}
			cur = next
		default:
			code, desc := ParseErrorBody(body, r.Secrets...)
			he := &HTTPError{Status: status, URL: redact.URL(cur.String()), Code: code, Description: desc}
			if retryableStatus(status) {
				return nil, &retryAfterError{HTTPError: he, after: c.retryAfter(hdr.Get("Retry-After"))}
			}
			return nil, he
		}
	}
}

// exchange sends one HTTP request and reads the (size-limited) body.
func (c *Client) exchange(ctx context.Context, r Request, u *url.URL) (int, []byte, http.Header, error) {
	timeout := c.RequestTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if r.Form != nil {
		body = strings.NewReader(r.Form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", r.Method, redact.URL(u.String()), err)
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if r.Form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = NoRedirects(nil, nil)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the full URL
		}
		return 0, nil, nil, &transportError{msg: r.Method + " " + redact.URL(u.String()), err: err}
	}
	defer resp.Body.Close()
	limit := int64(maxErrorBody)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		limit = maxBody
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, nil, &transportError{msg: "reading response of " + r.Method + " " + redact.URL(u.String()), err: err}
	}
	if int64(len(b)) > limit {
		if limit == maxBody {
			return 0, nil, nil, fmt.Errorf("%s %s: response larger than %d bytes", r.Method, redact.URL(u.String()), maxBody)
		}
		b = b[:limit]
	}
	return resp.StatusCode, b, resp.Header, nil
}

func isRedirect(method string, status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true // POSTs are re-sent with the same form, as LSEG's examples do
	case http.StatusSeeOther:
		return method == http.MethodGet // a 303 would turn a token POST into a GET
	}
	return false
}

// CheckURL accepts https URLs, and http URLs only for loopback hosts
// (an emulator on the same machine).
func CheckURL(u *url.URL) error {
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: URL %s has no host", ErrRedirect, redact.URL(u.String()))
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrInsecureURL, redact.URL(u.String()))
	}
	return fmt.Errorf("%w: unsupported scheme %q", ErrRedirect, u.Scheme)
}

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkRedirect applies the redirect rules: a safe scheme, and the
// original host (same name and port) or an allow-listed one.
func (c *Client) checkRedirect(origin, next *url.URL) error {
	if err := CheckURL(next); err != nil {
		return fmt.Errorf("%w: redirect target refused: %w", ErrRedirect, err)
	}
	if strings.EqualFold(origin.Hostname(), next.Hostname()) && port(origin) == port(next) {
		return nil
	}
	for _, h := range c.AllowedHosts {
		if strings.EqualFold(h, next.Hostname()) || strings.EqualFold(h, net.JoinHostPort(next.Hostname(), port(next))) {
			return nil
		}
	}
	return fmt.Errorf("%w: redirect from host %s to host %s (not allow-listed)", ErrRedirect, origin.Host, next.Host)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

func (c *Client) retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if secs < 0 {
			return 0
		}
		if secs > int(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		d = t.Sub(now())
	}
	return max(0, min(d, MaxRetryAfter))
}

func (c *Client) log(ctx context.Context, msg string, args ...any) {
	if c.Logger != nil {
		c.Logger.DebugContext(ctx, msg, args...)
	}
}

func (c *Client) warn(ctx context.Context, msg string, args ...any) {
	if c.Logger != nil {
		c.Logger.WarnContext(ctx, msg, args...)
	}
}

// retryAfterError is a retryable HTTPError with the server's requested delay.
type retryAfterError struct {
	*HTTPError
	after time.Duration
}

func (e *retryAfterError) Unwrap() error { return e.HTTPError }

// transportError is a failure below HTTP (dial, TLS, reset, timeout).
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// retryable: 5xx/429 answers and network failures, but not certificate
// problems (permanent) nor the caller's own cancellation.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return true
	}
	var te *transportError
	if !errors.As(err, &te) {
		return false
	}
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
		rh tls.RecordHeaderError
	)
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &rh) {
		return false
	}
	return !TLSVersionMismatch(err)
}

// TLSVersionMismatch reports a handshake that failed because client and
// server share no TLS version (the client requires TLS 1.2 or later): the
// same request can never succeed, so it is not retried. crypto/tls has no
// exported type for a received alert outside QUIC, hence the texts: the
// server's protocol_version alert, or a ServerHello with a version the
// client refuses.
func TLSVersionMismatch(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "tls: protocol version not supported") ||
		strings.Contains(s, "tls: server selected unsupported protocol version") ||
		strings.Contains(s, "tls: no supported versions satisfy MinVersion and MaxVersion")
}
