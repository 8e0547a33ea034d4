// Package emulator is a local, faithful stand-in for LSEG Real-Time --
// Optimized: the Delivery Platform token endpoint (v1 password and
// refresh_token grants, v2 client credentials with a secret or a JWT
// assertion), service discovery, and tr_json2 streaming endpoints, with
// fault injection. Start one inside a test as easily as an httptest.Server:
//
//	emu, err := emulator.Start(ctx, emulator.Config{})
//	if err != nil { … }
//	defer emu.Close()
//	info := emu.Info() // URLs, endpoints, CA, credentials
//
// Everything listens on 127.0.0.1 ephemeral ports by default.
package emulator

import (
	"log/slog"
	"time"
)

// Config configures an emulator. The zero value is a working emulator on
// ephemeral loopback ports with TLS, the default topology, the default
// credentials and 300-second tokens.
type Config struct {
	// APIAddr is the listen address of the Delivery Platform side (token
	// and discovery endpoints, admin API). Default "127.0.0.1:0".
	APIAddr string
	// StreamAddrs are the listen addresses of the streaming endpoints, one
	// per endpoint. Default: three endpoints on "127.0.0.1:0" forming the
	// default topology (see Topology).
	StreamAddrs []string
	// Topology describes how discovery presents the streaming endpoints.
	// Default: region us-east-1 with one endpoint in two locations and two
	// single-location endpoints (a hot standby pair), plus other regions
	// that point at the same listeners.
	Topology []Service

	// PlainWS serves ws:// instead of wss:// on the streaming endpoints,
	// and plain HTTP on the API side: shorthand for PlainStream and
	// PlainAPI together. Default false (TLS everywhere).
	PlainWS bool
	// PlainStream serves ws:// instead of wss:// on the streaming
	// endpoints only; with the API side still on HTTPS this is the layout
	// of a deployed ADS and its authentication server (HTTPS /getToken,
	// ws:// streaming) that LSEG's authentication examples expect.
	// Default false.
	PlainStream bool
	// PlainAPI serves plain HTTP instead of HTTPS on the API side (token,
	// discovery, /getToken, admin) only; the streaming endpoints keep
	// wss:// unless PlainStream is set. Default false.
	PlainAPI bool
	// CertFile and KeyFile supply a server certificate (used by whichever
	// side has TLS); by default a CA and a certificate for 127.0.0.1, ::1
	// and localhost are generated.
	CertFile, KeyFile string
	// CAFile is where the generated CA certificate is written (PEM).
	// Default: a file in a temporary directory removed by Close.
	CAFile string

	// Accepted credentials. Defaults: DefaultUser, DefaultPassword,
	// DefaultClientID, DefaultClientSecret.
	User, Password, ClientID, ClientSecret string
	// JWKs are public JWKs (JSON) accepted for v2 JWT client assertions,
	// matched by "kid". Audience is the accepted "aud" (default
	// DefaultAudience).
	JWKs     [][]byte
	Audience string

	// TokenLifetime is the lifetime of access tokens. Default 300 s.
	TokenLifetime time.Duration
	// RefreshLifetime is the lifetime of v1 refresh tokens. Default 8 h.
	RefreshLifetime time.Duration
	// GatewayRateLimit is the number of token requests per minute per
	// credential above which the gateway answers 429. Default 50; <0 off.
	GatewayRateLimit int

	// Rate is the number of updates per second per item; 0 means as fast
	// as the client drains them (load mode). Default 1 (see RateSet).
	Rate    float64
	RateSet bool
	// Pack is the largest number of messages per outbound frame. Default 1.
	Pack int
	// Conflate applies RTO-style trade-safe conflation: quotes at most
	// 3/s per item, every trade passes.
	Conflate bool
	// PingInterval is how often the endpoint pings an idle client. Default
	// PingTimeout/3. PingTimeout is advertised in the Login refresh.
	// Default 30 s.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// MaxMsgSize is advertised in the Login refresh and enforced on
	// inbound messages. Default 61440.
	MaxMsgSize int
	// Seed makes generated data and random faults deterministic.
	Seed int64
	// ADSMode adds deployed-ADS behaviour: a Login by user name (no token)
	// is accepted, and so is a cookie login with any AuthToken.
	ADSMode bool

	// NotFoundText is the State.Text of the Status for an unknown item.
	// Default "**The record could not be found" (what RTO answers).
	NotFoundText string
	// QueueLimit bounds each connection's outbound queue (messages). A
	// client that lets it fill up is disconnected, so that a slow client
	// never delays the others. Default 65536.
	QueueLimit int
	// QueueBytes bounds each connection's outbound queue in estimated
	// bytes (a client that fills it is dropped too); only the latest
	// unsent Pong is queued. Default 32 MiB.
	QueueBytes int
	// WriteTimeout drops a client that does not read: one write to it
	// blocked this long. Default 30 s.
	WriteTimeout time.Duration
	// LoginTimeout closes a streaming connection without an accepted
	// Login this long after it opened. Default 30 s.
	LoginTimeout time.Duration
	// MaxConnections bounds the connections of each streaming endpoint;
	// more are refused with HTTP 503. Default 512.
	MaxConnections int
	// KeepV1SessionsAfterExpiry keeps a streaming session open when its v1
	// token expires without a Login reissue. Default false: v1 sessions
	// must reissue, as the v1 examples do.
	KeepV1SessionsAfterExpiry bool
	// CloseV2SessionsAtExpiry closes a session whose v2 token expires.
	// Default false: RTO does not require v2 sessions to reissue.
	CloseV2SessionsAtExpiry bool
	// CloseADSSessionsAtExpiry closes a session logged in with an ADS
	// /getToken cookie when that token expires without a Login reissue.
	// Default false: an ADS authentication token is not an RTO OAuth
	// token, and an ADS keeps the session open.
	CloseADSSessionsAtExpiry bool
	// DisablePost makes every Post answer Nak AccessDenied.
	DisablePost bool
	// CatchUnknownKeys answers a message carrying a key the protocol does
	// not define with the spec §22.6 Error "JSON Unexpected Key. Received
	// '<key>'" on its ID and drops it (an ADS with catchUnknownJsonKeys).
	// Default false: unknown keys are ignored.
	CatchUnknownKeys bool
	// AllowUnknownFIDs accepts posts naming fields the dictionary lacks,
	// dropping those fields (an ADS with catchUnknownJsonFids False).
	// Default false: the §22.7 Error "JSON Unexpected FID…".
	AllowUnknownFIDs bool
	// DisableBatch refuses batch requests with Status Closed code
	// NoBatchViewSupportInReq and advertises SupportBatchRequests 4 (batch
	// close only). Default false.
	DisableBatch bool
	// DisableView refuses requests with a View with Status Closed code
	// NoBatchViewSupportInReq and advertises SupportViewRequests 0.
	// Default false.
	DisableView bool
	// SendTimestamps adds the field ERT_SEND_NS (Unix ns when the update
	// was generated) to Market Price updates at a fixed Rate, as load mode
	// always does, so that clients can measure latency. Default false: it
	// is not an LSEG field.
	SendTimestamps bool
	// SymbolListChangeEvery is the number of update ticks between two
	// changes of a watched Symbol List (a constituent removed, or a
	// removed one added back, chosen with Seed). Default 30; < 0 never.
	SymbolListChangeEvery int

	// APIIdleTimeout closes a keep-alive connection of the API listener
	// (token, discovery, admin) idle this long between requests, and a
	// streaming endpoint's HTTP connection idle before its WebSocket
	// upgrade. A request must send its headers within 10 s and (API) its
	// body within 30 s. Default 60 s.
	APIIdleTimeout time.Duration

	// Logger receives the emulator's logs. Default: discard.
	Logger *slog.Logger
}

// Default credentials of an emulator.
const (
	DefaultUser         = "GE-A-00000000-1-0000"
	DefaultPassword     = "Emulator-Passw0rd-For-Local-Tests!"
	DefaultClientID     = "emulator-client-id"
	DefaultClientSecret = "emulator-client-secret"
	DefaultAudience     = "https://login.ciam.refinitiv.com/as/token.oauth2"
)

// Service is one entry of the discovery response.
type Service struct {
	// Endpoint indexes Config.StreamAddrs.
	Endpoint int
	// Location lists the availability zones, e.g. ["us-east-1a"]; the
	// examples select by the prefix of Location[0].
	Location []string
	Provider string // default "aws"
}

// Endpoint is a started streaming endpoint (Info.Endpoints[i] is
// Config.StreamAddrs[i]).
type Endpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// Location is that of the endpoint's first us-east-1 entry in the
	// topology (else its first entry).
	Location []string `json:"location"`
	// URL is the WebSocket URL, e.g. "wss://127.0.0.1:40123/WebSocket".
	URL string `json:"url"`
}

// Info is what a client needs to reach a started emulator. It is also the
// JSON line `ert emulator` prints when ready.
type Info struct {
	AuthURLV1 string `json:"auth_url_v1"`
	AuthURLV2 string `json:"auth_url_v2"`
	// GetTokenURL is the ADS authentication server's endpoint: POST a
	// form of username and password, get {"success":true} and the cookie
	// AuthToken to send (with AuthPosition and applicationId) on the
	// WebSocket upgrade, which then logs in by itself (spec §5.4).
	GetTokenURL  string     `json:"get_token_url"`
	DiscoveryURL string     `json:"discovery_url"`
	Endpoints    []Endpoint `json:"endpoints"`
	CAFile       string     `json:"ca_file,omitempty"`
	AdminURL     string     `json:"admin_url"`
	User         string     `json:"user"`
	Password     string     `json:"password"`
	ClientID     string     `json:"clientid"`
	ClientSecret string     `json:"clientsecret"`
	// CAPEM is the CA certificate (PEM) to trust; not part of the JSON line.
	CAPEM []byte `json:"-"`
}
