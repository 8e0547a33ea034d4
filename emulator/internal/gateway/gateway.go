// Package gateway is the emulator's Delivery Platform HTTP side: the OAuth2
// token endpoints (v1 password and refresh_token grants with the
// change-password flow, the seed-era beta1 alias, v2 client_credentials
// with a secret or a JWT client assertion) and service discovery, with a
// per-credential rate guard and deterministic fault injection. It answers
// exactly what LSEG's example clients send (see
// shared/reference/auth-and-discovery.md) so that they run against it
// unmodified.
//
// Paths served by a Gateway:
//
//	POST /auth/oauth2/beta1/token    seed-era v1 (Basic username:client_secret)
//	POST /auth/oauth2/v1/token       password, refresh_token (expires_in is a string)
//	POST /auth/oauth2/v2/token       client_credentials (expires_in is a number)
//	GET  /streaming/pricing/v1/      discovery (trailing slash optional)
//	POST /getToken                   a deployed ADS's authentication server (cookie AuthToken)
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ertkit/ertkit/server/tokens"
)

// Paths of the endpoints.
const (
	PathTokenBeta1 = "/auth/oauth2/beta1/token"
	PathTokenV1    = "/auth/oauth2/v1/token"
	PathTokenV2    = "/auth/oauth2/v2/token"
	PathDiscovery  = "/streaming/pricing/v1/"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultTokenLifetime   = 300 * time.Second
	DefaultRefreshLifetime = 8 * time.Hour
	DefaultRateLimit       = 50
	DefaultAudience        = "https://login.ciam.refinitiv.com/as/token.oauth2"
	DefaultScope           = "trapi.streaming.pricing.read"
	// AssertionLeeway is the clock skew allowed on a JWT assertion's exp
	// and iat claims.
	AssertionLeeway = 30 * time.Second
)

// ErrConfig is wrapped by the errors New returns for an unusable Config.
var ErrConfig = errors.New("gateway: invalid config")

// Config configures a Gateway.
type Config struct {
	// Store records issued tokens; shared with the streaming endpoints.
	// Required. Its clock should be Now.
	Store *tokens.Store

	// User and Password are the machine account accepted by the v1
	// password grant; ClientID is the App Key / service-account client id
	// accepted by every grant. All three are required. A successful
	// newPassword change replaces Password for the life of the Gateway.
	User, Password, ClientID string
	// ClientSecret is the v2 client secret. Empty: v2 secret
	// authentication always fails (an empty secret is never accepted).
	// On v1 a secret is optional, but when one is sent it must match.
	ClientSecret string
	// JWKs are public JWKs (JSON) accepted for v2 JWT client assertions,
	// matched by "kid". A private JWK is accepted and its public half used.
	JWKs [][]byte
	// Audience is the required "aud" of JWT assertions. Default
	// DefaultAudience.
	Audience string

	// TokenLifetime is the access-token lifetime. Default
	// DefaultTokenLifetime; changeable with SetTokenLifetime.
	TokenLifetime time.Duration
	// RefreshLifetime is the lifetime of a v1 sign-on session: refresh
	// tokens of the session expire this long after its password grant,
	// and access tokens issued near the end are shortened to the time
	// left (which the examples read as "sign on again"). Default
	// DefaultRefreshLifetime.
	RefreshLifetime time.Duration
	// RateLimit is the number of token requests per minute per credential
	// above which the gateway answers 429. 0 means DefaultRateLimit; <0
	// disables the guard.
	RateLimit int

	// Services returns the discovery list; called on every discovery
	// request so it can change at run time. Nil: an empty list.
	Services func() []Service

	// Logger receives one Info record per token request (never with
	// secrets). Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Service is one entry of the discovery response.
type Service struct {
	Endpoint string   `json:"endpoint"` // host name or IP
	Port     int      `json:"port"`
	Location []string `json:"location"`
	// Provider defaults to "aws".
	Provider string `json:"provider"`
	// Transport defaults to "websocket".
	Transport string `json:"transport"`
	// DataFormat defaults to ["tr_json2"] for websocket, ["rwf"] otherwise.
	DataFormat []string `json:"dataFormat"`
}

// Gateway serves the token and discovery endpoints. It implements
// http.Handler and is safe for concurrent use.
type Gateway struct {
	cfg      Config // defaults applied; read-only after New
	log      *slog.Logger
	verifier *assertionVerifier
	limiter  *rateLimiter

	mu            sync.Mutex
	password      string
	tokenLifetime time.Duration
	sessionEnd    map[string]time.Time // refresh token -> end of its sign-on session
	faults        faultState
	stats         Stats
}

// New checks cfg, applies its defaults and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: Store is required", ErrConfig)
	}
	if cfg.User == "" || cfg.Password == "" || cfg.ClientID == "" {
		return nil, fmt.Errorf("%w: User, Password and ClientID are required", ErrConfig)
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.RefreshLifetime <= 0 {
		cfg.RefreshLifetime = DefaultRefreshLifetime
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.Services == nil {
		cfg.Services = func() []Service { return nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v, err := newAssertionVerifier(cfg.JWKs, cfg.Audience, cfg.ClientID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	g := &Gateway{
		cfg:           cfg,
		log:           cfg.Logger,
		verifier:      v,
		limiter:       newRateLimiter(cfg.RateLimit, time.Minute),
		password:      cfg.Password,
		tokenLifetime: cfg.TokenLifetime,
		sessionEnd:    map[string]time.Time{},
		faults:        newFaultState(),
		stats:         newStats(),
	}
	return g, nil
}

// ServeHTTP routes a request to the token or discovery endpoint.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathTokenV1:
		g.serveToken(w, r, EndpointTokenV1, g.tokenV1)
	case PathTokenBeta1:
		g.serveToken(w, r, EndpointTokenV1, g.tokenBeta1)
	case PathTokenV2:
		g.serveToken(w, r, EndpointTokenV2, g.tokenV2)
	case PathDiscovery, PathDiscovery[:len(PathDiscovery)-1]:
		g.serveDiscovery(w, r)
	case PathGetToken:
		g.serveGetToken(w, r)
	default:
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	}
}

// SetTokenLifetime changes the lifetime of access tokens issued from now
// on (d <= 0 restores Config.TokenLifetime).
func (g *Gateway) SetTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = g.cfg.TokenLifetime
	}
	g.mu.Lock()
	g.tokenLifetime = d
	g.mu.Unlock()
}

// TokenLifetime returns the current access-token lifetime.
func (g *Gateway) TokenLifetime() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tokenLifetime
}

// Status is a snapshot of the gateway for an admin view.
type Status struct {
	TokenLifetime time.Duration `json:"token_lifetime_ns"`
	RateLimit     int           `json:"rate_limit"` // <0: off
	Faults        Faults        `json:"faults"`
	Stats         Stats         `json:"stats"`
}

// Status returns a snapshot of settings, pending faults and counters.
func (g *Gateway) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Status{
		TokenLifetime: g.tokenLifetime,
		RateLimit:     g.cfg.RateLimit,
		Faults:        g.faults.snapshot(),
		Stats:         g.stats.clone(),
	}
}

// logGrant records the outcome of one token request. Only identities and
// outcomes are logged: never passwords, secrets, tokens or assertions.
func (g *Gateway) logGrant(ctx context.Context, ep Endpoint, grant, user, client string, status int, outcome string) {
	g.log.LogAttrs(ctx, slog.LevelInfo, "token request",
		slog.String("endpoint", string(ep)),
		slog.String("grant", grant),
		slog.String("user", logName(user)),
		slog.String("client_id", logName(client)),
		slog.Int("status", status),
		slog.String("outcome", outcome))
}

// maxLoggedName bounds a claimed user name or client id in a log record:
// they come from the request, unverified, up to the 64 KiB form.
const maxLoggedName = 64

// logName cuts s to maxLoggedName bytes (on a rune boundary) and says how
// much was left out.
func logName(s string) string {
	if len(s) <= maxLoggedName {
		return s
	}
	n := maxLoggedName
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
