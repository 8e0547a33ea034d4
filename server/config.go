// Package server is the server side of the tr_json2 WebSocket API: what an
// ADS or an RTO streaming endpoint does (Login, Ping/Pong, item streams,
// batch, view, snapshot, posting, errors, fan-out) with fault injection.
// It serves any source of items: the emulator's synthetic market, the
// gateway's upstream session, a recording being replayed.
//
// One Hub is shared by every endpoint: it owns the items (one upstream
// event per item, received or generated once) and fans each event out to
// every subscription on every connection, so that two endpoints (hot
// standby) deliver identical updates with identical SeqNumbers. A Server
// is one endpoint (one listener).
//
// Slow consumers: every connection has a bounded outbound queue
// (Config.QueueLimit messages, Config.QueueBytes bytes). Producers never
// block on it; when it is full the connection is dropped, like an ADS
// drops a consumer that cannot keep up, so one slow client never delays
// the others. Hostile clients: writes have a deadline (WriteTimeout),
// connections without a Login are closed (LoginTimeout), an endpoint
// holds at most MaxConnections, and an Error echoes at most 512 bytes of
// the frame it refuses.
package server

import (
	"io"
	"log/slog"
	"time"

	"github.com/ertkit/ertkit/dictionary"
	"github.com/ertkit/ertkit/server/tokens"
	"github.com/ertkit/ertkit/trjson"
)

// Defaults applied to zero Config fields.
const (
	DefaultMaxMsgSize  = 61440
	DefaultPingTimeout = 30 * time.Second
	DefaultQueueLimit  = 1 << 16
	// DefaultQueueBytes bounds a connection's outbound queue in (estimated
	// encoded) bytes: with the batch the writer holds, at most twice this
	// is queued per connection.
	DefaultQueueBytes = 32 << 20
	// DefaultWriteTimeout bounds one write to a client's socket: a client
	// that reads nothing (its TCP window stays shut) is dropped after it.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultLoginTimeout is how long a connection may stay without an
	// accepted Login before it is closed.
	DefaultLoginTimeout = 30 * time.Second
	// DefaultMaxConnections bounds the connections of one endpoint.
	DefaultMaxConnections = 512
	// DefaultIdleTimeout closes an HTTP keep-alive connection of an
	// endpoint that never upgraded to a WebSocket and sends nothing.
	DefaultIdleTimeout = 60 * time.Second
	// maxEchoBytes bounds how much of a refused frame an Error message
	// echoes in Debug.Message: a client must not make the server queue
	// more than it sent (or several times more, with JSON escaping).
	maxEchoBytes        = 512
	DefaultService      = "ELEKTRON_DD"
	DefaultServiceID    = 257
	DefaultNotFoundText = "**The record could not be found"
	// DefaultSymbolListChangeEvery is the default of
	// Config.SymbolListChangeEvery, in ticks.
	DefaultSymbolListChangeEvery = 30
	// SendTimeField is the field added to every update in load mode: the
	// Unix time in nanoseconds at which the frame was written, for
	// latency measurement. It is not an LSEG field; clients that want
	// latency recognise it by name.
	SendTimeField = "ERT_SEND_NS"
)

// Config configures the streaming side (shared by Hub and Server).
type Config struct {
	// Universe supplies generated instruments and chains, ticked by the
	// Hub at Rate (the emulator's market). Exactly one of Universe and
	// Source is required.
	Universe Universe
	// Source publishes items on demand (a gateway's upstream session, a
	// replayed recording); the Hub caches each item's image and fans its
	// events out (published.go): Market Price and the Map domains
	// (published_map.go).
	Source Source
	// Linger keeps an item of Source open this long after its last
	// stream closed, so that a client that closes and re-opens it at
	// once does not cost an upstream round trip. Default 0: closed at
	// once.
	Linger time.Duration
	// Entitled, when set, decides whether the user of a Login (its name)
	// may open an item; a refused request gets a Status Closed/Suspect
	// NotEntitled. Default: everything is allowed.
	Entitled func(user string, d trjson.Domain, name string) bool
	// CheckUser, when set, accepts or refuses a Login by name (ADSMode,
	// no token): a non-nil error refuses it with the error's text.
	CheckUser func(name string) error
	// Dictionary maps field names and FIDs (views, post validation).
	// Default dictionary.Default(); *dictionary.Dictionary fits.
	Dictionary Dictionary
	// Store validates Login tokens. Required unless ADSMode.
	Store *tokens.Store

	// Rate is the number of updates per second per item. 0 with LoadMode
	// set: updates as fast as each client drains them. Default 1.
	Rate float64
	// LoadMode: generate updates per connection as fast as it drains them
	// (Rate is ignored), each carrying SendTimeField.
	LoadMode bool
	// SendTimestamps adds SendTimeField (Unix ns at fan-out) to every
	// Market Price update at a fixed Rate too, for latency measurement.
	// Off by default: it is not an LSEG field.
	SendTimestamps bool
	// ExclusiveSignOnGrace is how long a session signed out by exclusive
	// sign-on may still reissue its Login with a new token (a client that
	// signed on again itself does so at once). Default 10 s.
	ExclusiveSignOnGrace time.Duration
	// Pack is the largest number of messages per outbound frame. Default 1.
	Pack int
	// Conflate: trade-safe conflation (quotes at most 3/s per item, every
	// trade passes) and a TimeConflated Qos.
	Conflate bool
	// PingInterval is how long a connection may be silent before the
	// endpoint pings it. Default PingTimeout/3.
	PingInterval time.Duration
	// PingTimeout is advertised in the Login refresh; a client silent for
	// PingTimeout after a Ping is disconnected. Default 30 s.
	PingTimeout time.Duration
	// MaxMsgSize is advertised and enforced on inbound messages (close
	// 1009 when exceeded); outbound frames never exceed it. Default 61440.
	MaxMsgSize int
	// QueueLimit is the bound of each connection's outbound queue, in
	// messages. Default DefaultQueueLimit.
	QueueLimit int
	// QueueBytes bounds each connection's outbound queue in estimated
	// encoded bytes; a client that lets either bound fill is dropped as a
	// slow consumer. Pongs count too, but only the latest unsent one is
	// kept (RFC 6455 §5.5.3 allows it), so a Ping flood cannot grow the
	// queue. Default DefaultQueueBytes.
	QueueBytes int
	// WriteTimeout bounds each write to a client's socket; a client that
	// does not read for that long is dropped (ReasonWriteTimeout).
	// Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// LoginTimeout closes a connection that has no accepted Login this
	// long after it opened (ReasonLoginTimeout). Default
	// DefaultLoginTimeout.
	LoginTimeout time.Duration
	// MaxConnections bounds the WebSocket connections of each endpoint;
	// an upgrade beyond it is answered 503 (Stats.OverCapacity). Default
	// DefaultMaxConnections.
	MaxConnections int
	// IdleTimeout closes an endpoint's HTTP connection that sends nothing
	// for this long before upgrading to a WebSocket (headers must arrive
	// within 10 s). Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Service is the service name in Keys. Default "ELEKTRON_DD".
	Service string
	// CurveService is the name of the service of Yield Curve items, when
	// the Universe serves them (CurveUniverse); it serves that domain
	// only, and the default service serves every other. Default
	// DefaultCurveService ("ATS201_1", the §34 sample's).
	CurveService string
	// NotFoundText is the State.Text for an unknown item. Default
	// DefaultNotFoundText.
	NotFoundText string
	// ADSMode accepts a Login by Key.Name without a token and cookie
	// logins with any token.
	ADSMode bool
	// KeepV1SessionsAfterExpiry: a session logged in with a v1 token is
	// NOT closed when its token expires without a reissue. Default false
	// (v1 sessions must reissue).
	KeepV1SessionsAfterExpiry bool
	// CloseV2SessionsAtExpiry: a session logged in with a v2 token is
	// closed when the token expires. Default false (RTO does not require
	// a reissue from v2 service accounts).
	CloseV2SessionsAtExpiry bool
	// CloseADSSessionsAtExpiry: a session logged in with an ADS
	// authentication token (tokens.Principal.ADS, issued by an ADS-style
	// /getToken) is closed when the token expires without a reissue.
	// Default false: an ADS token is not an RTO OAuth token, and an ADS
	// keeps such sessions open.
	CloseADSSessionsAtExpiry bool
	// DisablePost makes every post Nak with AccessDenied.
	DisablePost bool
	// CatchUnknownKeys answers a message carrying a key the protocol does
	// not define with the §22.6 Error ("JSON Unexpected Key. Received
	// '<key>'") on the message's ID, and drops the message, as an ADS
	// with *ads*catchUnknownJsonKeys True does. Default false: unknown
	// keys are ignored (the ADS default).
	CatchUnknownKeys bool
	// AllowUnknownFIDs accepts posts naming fields the dictionary does not
	// know: those fields are dropped (they have no FID to convert to) and
	// the rest is applied, as an ADS with *ads*catchUnknownJsonFids False
	// does. Default false: the §22.7 Error "JSON Unexpected FID…".
	AllowUnknownFIDs bool
	// DisableBatch refuses batch requests (Key.Name as an array) with a
	// Status Closed/Suspect NoBatchViewSupportInReq on the request ID, and
	// the Login refresh advertises SupportBatchRequests 0. Default false.
	DisableBatch bool
	// DisableView refuses requests carrying a View with a Status
	// Closed/Suspect NoBatchViewSupportInReq, and the Login refresh
	// advertises SupportViewRequests 0. Default false.
	DisableView bool
	// SymbolListChangeEvery is the number of ticks between two changes of
	// a watched Symbol List: one constituent removed (Map Delete) or one
	// earlier removed constituent added back (Map Add), chosen with Seed.
	// Default 30 (one change every 30 s at Rate 1); < 0 never. Load mode
	// has no ticks, so no changes.
	SymbolListChangeEvery int
	// Seed makes fault choices deterministic.
	Seed int64
	// OnDisconnect, when set, is called after each connection ends with
	// the endpoint name, the connection ID and one of the Reason*
	// constants. It must not block.
	OnDisconnect func(endpoint string, conn uint64, reason string)
	// Logger: default discard.
	Logger *slog.Logger
	// Now is the clock used for token checks. Default time.Now.
	Now func() time.Time
}

func (c *Config) applyDefaults() {
	if c.Rate <= 0 && !c.LoadMode {
		c.Rate = 1
	}
	if c.Pack <= 0 {
		c.Pack = 1
	}
	if c.ExclusiveSignOnGrace <= 0 {
		c.ExclusiveSignOnGrace = 10 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.PingInterval <= 0 {
		c.PingInterval = c.PingTimeout / 3
	}
	if c.MaxMsgSize <= 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = DefaultQueueLimit
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = DefaultLoginTimeout
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Service == "" {
		c.Service = DefaultService
	}
	if c.CurveService == "" {
		c.CurveService = DefaultCurveService
	}
	if c.NotFoundText == "" {
		c.NotFoundText = DefaultNotFoundText
	}
	if c.SymbolListChangeEvery == 0 {
		c.SymbolListChangeEvery = DefaultSymbolListChangeEvery
	}
	if c.Dictionary == nil {
		c.Dictionary = dictionary.Default()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}
