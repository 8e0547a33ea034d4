package auth

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Options tune a Manager. The zero value is usable: every zero field takes
// the default shown.
type Options struct {
	// HTTPClient for the token endpoint. Default: a client with TLS
	// verification on, using TLSConfig. Its redirect policy is replaced by
	// the Manager's own (a copy is used; the caller's client is unchanged).
	// Verification is only ever skipped if the caller's client does so, and
	// the Manager then logs a warning.
	HTTPClient *http.Client
	// TLSConfig for the default client (e.g. RootCAs holding an emulator's
	// CA). Ignored when HTTPClient is set.
	TLSConfig *tls.Config
	// AllowedRedirectHosts are hosts (name, or name:port) that redirects may
	// lead to besides the token URL's own host. Default none.
	AllowedRedirectHosts []string

	// RenewFraction of expires_in after which a v1 token is renewed. Default
	// 0.9, as LSEG's v1 examples (Python, C#, Java SD) do: with the usual
	// 300 s lifetime that leaves 30 s for the refresh call, its retries and
	// the Login reissue on every connection before the old token expires.
	// Values outside (0, 1) take the default.
	RenewFraction float64
	// MaxRequestsPerMinute paces calls to the token endpoint (every HTTP
	// request, redirects and retries included) to stay under the gateway's
	// guard. Default 50. Negative disables pacing.
	MaxRequestsPerMinute int

	// RequestTimeout bounds each HTTP exchange. Default 30s.
	RequestTimeout time.Duration
	// MaxAttempts is the number of tries of one token request on 5xx, 429
	// and network errors, the first included. Default 5.
	MaxAttempts int
	// RetryBaseDelay and RetryMaxDelay shape the back-off between tries:
	// delay n is random in [0, min(RetryMaxDelay, RetryBaseDelay·2ⁿ)], or
	// the server's Retry-After (at most 5 minutes). Defaults 500ms and 30s.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration

	// Logger for renewal events and debug lines. Never receives secrets.
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// After creates timers for renewal, pacing and back-off waits. Default
	// time.After. Tests pass a fake clock's.
	After func(time.Duration) <-chan time.Time
}

const (
	defaultRenewFraction = 0.9
	defaultMaxPerMinute  = 50
)

// withDefaults applies every default in one place.
func (o Options) withDefaults() Options {
	if o.RenewFraction <= 0 || o.RenewFraction >= 1 {
		o.RenewFraction = defaultRenewFraction
	}
	if o.MaxRequestsPerMinute == 0 {
		o.MaxRequestsPerMinute = defaultMaxPerMinute
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	return o
}
