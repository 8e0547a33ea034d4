package consumer

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/ertkit/ertkit/auth"
)

// TokenSource supplies access tokens for the Login. An *auth.Manager
// satisfies it. A source may also implement [FreshTokenSource] (used on
// reconnects under v2 rules), [TokenSubscriber] (v1 renewals become Login
// reissues) and [TokenVersioner].
type TokenSource interface {
	Token(ctx context.Context) (auth.Token, error)
}

// FreshTokenSource is a TokenSource that can fetch a new token on demand.
type FreshTokenSource interface {
	Fresh(ctx context.Context) (auth.Token, error)
}

// TokenSubscriber is a TokenSource that announces renewed tokens.
type TokenSubscriber interface {
	Subscribe(fn func(auth.Token)) (cancel func())
}

// TokenVersioner tells the authentication version (1 or 2) of a source.
type TokenVersioner interface {
	Version() int
}

// SlowConsumerPolicy chooses what the Messages channel does when the
// application does not keep up.
type SlowConsumerPolicy int

const (
	// Block waits for the application: back-pressure reaches the socket.
	Block SlowConsumerPolicy = iota
	// DropOldest discards the oldest queued message (counted in Stats.Drops).
	DropOldest
	// ConflatePerItem merges a new update into the item's queued update,
	// so that only the latest value of each field is delivered.
	ConflatePerItem
)

// Reconnect is the reconnection policy. Zero fields take the defaults shown.
type Reconnect struct {
	MinDelay   time.Duration // first back-off delay; default 500ms
	MaxDelay   time.Duration // cap; default 30s
	Multiplier float64       // growth per failure; default 2
	Jitter     float64       // random fraction added or removed, 0..1; default 0.2
	// SwitchAfter consecutive failures on one endpoint move to the next
	// endpoint of the list. Default 2.
	SwitchAfter int
	// RediscoverAfter consecutive failures call Config.Discover (when set)
	// for a new endpoint list. Default 6.
	RediscoverAfter int
	// MaxAttempts bounds consecutive failed attempts per connection; 0
	// means unlimited (the client keeps trying until Close).
	MaxAttempts int
	// MaxCertFailures is the number of reconnect attempts in a row failing
	// certificate verification (ErrCertificate: the streaming endpoint's,
	// or the token endpoint's when a fresh token is needed; TLS.CAFile is
	// re-read before each) after which the connection gives up (EventError
	// wrapping ErrGaveUp) instead of retrying silently for ever. Default
	// 5; negative means never.
	MaxCertFailures int
	// PendingLoginRetries is how often Dial retries, after a back-off with
	// jitter (MinDelay, growing by Multiplier), a Login refused with
	// "Already pending login" (ErrLoginPending) instead of failing at once:
	// the server is still tearing down a previous session, and an
	// immediate retry storm only prolongs that. The context given to Dial
	// bounds the wait too. Default 5; negative means no retry.
	PendingLoginRetries int
}

// TLS configures certificate verification on wss endpoints. The zero value
// verifies against the system roots.
type TLS struct {
	// RootCAs, when set, is trusted in addition to the system roots.
	RootCAs *x509.CertPool
	// CAFile is a PEM file of extra CA certificates (e.g. the emulator's).
	CAFile string
	// CAPEM are extra CA certificates in PEM form.
	CAPEM []byte
	// InsecureSkipVerify disables verification. A warning is logged on
	// every connection. Never use it against a real service.
	InsecureSkipVerify bool
}

// Config configures a Client. Only Endpoints (or Discover) and TokenSource
// are required; every other field documents its default.
type Config struct {
	// Endpoints is the ordered endpoint list: "host:port" (wss://host:port/WebSocket)
	// or a full ws:// or wss:// URL. With HotStandby the first two are the
	// pair; the rest are backups (cold standby).
	Endpoints []string
	// Discover, when set, returns a fresh endpoint list; it is called when
	// Endpoints is empty and after Reconnect.RediscoverAfter failures.
	Discover func(ctx context.Context) ([]string, error)
	// TokenSource supplies access tokens. Required unless UserName is set.
	TokenSource TokenSource
	// UserName logs in by DACS user name (deployed ADS) instead of a token.
	UserName string

	// HotStandby keeps two connections to two endpoints with the same
	// items and delivers each message once. Default false.
	HotStandby bool
	// DedupWindow is how long a message without SeqNumber is remembered
	// for hot-standby de-duplication. Default 2s.
	DedupWindow time.Duration

	TLS TLS

	// ApplicationID of the Login. Default "256".
	ApplicationID string
	// Position of the Login. Default "ip/hostname" of this machine.
	Position string
	// Service for item requests. Default "ELEKTRON_DD".
	Service string

	Reconnect Reconnect
	// DialTimeout bounds the WebSocket handshake. Default 15s.
	DialTimeout time.Duration
	// LoginTimeout bounds the wait for the Login response. Default 15s.
	LoginTimeout time.Duration
	// PostTimeout bounds Post when the context has no deadline. Default 15s.
	PostTimeout time.Duration
	// Compression offers the permessage-deflate WebSocket extension
	// (RFC 7692) with context takeover; the server decides whether to use
	// it (ConnStats.Compressed tells). It trades CPU for bandwidth: worth
	// it on thin links, not on a LAN. Default false.
	Compression bool
	// ReadLimit is the largest inbound WebSocket message. Default 16 MiB.
	ReadLimit int64
	// DecodeWorkers is the number of goroutines per connection that
	// decode frames while the connection's reader takes the next ones off
	// the socket and its loop routes the previous ones; messages still
	// reach the Handler in order. Decoding is most of a client's CPU, so
	// workers let one busy connection use more cores, at the price of two
	// more goroutine hand-offs per frame. Default 0: frames are decoded on
	// the connection's loop goroutine, which measured best on two cores
	// (docs/BENCHMARKS.md); at most 8.
	DecodeWorkers int
	// RecoveryBatch is the largest number of items in one batch request,
	// and the pace of recovery: after a (re)connect the watchlist is
	// re-requested RecoveryBatch items at a time, the next batch going
	// when every item of the previous one got its Refresh or Status (or
	// after RecoveryWait). Default 1000 (each message also stays under
	// MaxMsgSize).
	RecoveryBatch int
	// RecoveryWait bounds the wait for the replies of one recovery batch
	// before the next is sent anyway. Default 5s.
	RecoveryWait time.Duration

	// Handler, when set, receives every message synchronously, in order;
	// the *Msg and its fields are valid only during the call (no copies,
	// no allocation; Msg.Clone to keep one). It runs on a connection's
	// goroutine and should return quickly: it must not call Post or
	// Snapshot, which wait for replies that goroutine would deliver. When
	// nil, messages go to Client.Messages.
	Handler func(*Msg)
	// Buffer is the capacity of the Messages channel. Default 1024.
	Buffer int
	// SlowConsumer is the policy of the Messages channel. Default Block.
	SlowConsumer SlowConsumerPolicy
	// Cache keeps a last-value image per streaming item (Item.Image,
	// Client.Images). Default false. Order books are always assembled.
	Cache bool

	// OnEvent receives lifecycle events, serially, from one goroutine.
	// Events are dropped (and counted in Stats.EventsDropped) when it falls
	// 256 behind; item-state events are queued apart, so that a flood of
	// them never drops a connection event.
	OnEvent func(Event)
	// Events, when set, also receives every lifecycle event (after
	// OnEvent, if both are set), without blocking: an event that does not
	// fit the channel's buffer is dropped and counted in
	// Stats.EventsDropped. Give it a buffer. The Client never closes it.
	Events chan<- Event
	// Logger receives logs; secrets are never logged. Default: discard.
	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.ApplicationID == "" {
		d.ApplicationID = "256"
	}
	if d.Position == "" {
		d.Position = defaultPosition()
	}
	if d.Service == "" {
		d.Service = "ELEKTRON_DD"
	}
	r := &d.Reconnect
	if r.MinDelay <= 0 {
		r.MinDelay = 500 * time.Millisecond
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = 30 * time.Second
	}
	if r.MaxDelay < r.MinDelay {
		r.MaxDelay = r.MinDelay
	}
	if r.Multiplier < 1 {
		r.Multiplier = 2
	}
	if r.Jitter <= 0 || r.Jitter > 1 {
		r.Jitter = 0.2
	}
	if r.SwitchAfter <= 0 {
		r.SwitchAfter = 2
	}
	if r.RediscoverAfter <= 0 {
		r.RediscoverAfter = 6
	}
	if r.MaxCertFailures == 0 {
		r.MaxCertFailures = 5
	}
	if r.PendingLoginRetries == 0 {
		r.PendingLoginRetries = 5
	}
	if d.DedupWindow <= 0 {
		d.DedupWindow = 2 * time.Second
	}
	if d.DialTimeout <= 0 {
		d.DialTimeout = 15 * time.Second
	}
	if d.LoginTimeout <= 0 {
		d.LoginTimeout = 15 * time.Second
	}
	if d.PostTimeout <= 0 {
		d.PostTimeout = 15 * time.Second
	}
	if d.ReadLimit <= 0 {
		d.ReadLimit = 16 << 20
	}
	if d.RecoveryBatch <= 0 {
		d.RecoveryBatch = 1000
	}
	if d.RecoveryWait <= 0 {
		d.RecoveryWait = 5 * time.Second
	}
	if d.Buffer <= 0 {
		d.Buffer = 1024
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// defaultPosition is "ip/hostname" as the LSEG examples send it, falling
// back to "127.0.0.1/net" like the Python and Java examples.
func defaultPosition() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "127.0.0.1/net"
	}
	ips, err := net.LookupIP(host)
	if err == nil {
		for _, ip := range ips {
			if ip4 := ip.To4(); ip4 != nil {
				return ip4.String() + "/" + host
			}
		}
	}
	return "127.0.0.1/" + host
}
