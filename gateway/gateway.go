// Package gateway fans one upstream session (the SDK, logged in to RTO or
// an ADS once) out to many downstream consumers over the WebSocket API, as
// an on-premises ADS does: one upstream stream per item whatever the
// number of downstream streams, a last-value cache that answers a new
// downstream request at once, item states passed on faithfully, upstream
// reconnects seen downstream only as Suspect then Ok, and per-user access
// control. Every upstream message can also go to sinks (NATS JetStream,
// Kafka, a recorder).
//
// Start a Gateway with Start, add downstream listeners with Serve, stop
// it with Close:
//
//	g, err := gateway.Start(ctx, gateway.Config{Upstream: consumer.Config{…}})
//	ln, _ := net.Listen("tcp", "127.0.0.1:15000")
//	g.Serve(ln, nil) // ws://127.0.0.1:15000/WebSocket
//	defer g.Close()
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/server/tokens"
)

// ErrConfig is wrapped by errors about an unusable Config.
var ErrConfig = errors.New("gateway: invalid config")

// Config configures a Gateway. Only Upstream's endpoints (or Discover) and
// credentials are required.
type Config struct {
	// Upstream is the SDK session the gateway consumes from. The gateway
	// sets its Handler and Cache; OnEvent and Events, if set, still get
	// every event.
	Upstream consumer.Config
	// Service is the service name served downstream and requested
	// upstream. Default Upstream.Service, else "ELEKTRON_DD".
	Service string
	// Linger keeps an upstream item open this long after its last
	// downstream stream closed. Default 0 (closed at once).
	Linger time.Duration
	// Access lists the downstream users, their credentials and the items
	// each may open. nil: any Login by name is accepted and every item is
	// allowed (loopback use).
	Access *Access
	// Sinks receive every upstream message, in order, on the upstream
	// delivery goroutine (see consumer.Config.Handler: the Msg is valid
	// only during the call, and a sink must not block).
	Sinks []func(*consumer.Msg)
	// Server tunes the downstream endpoints: PingTimeout, MaxMsgSize,
	// QueueLimit (the slow-consumer bound, in messages), Pack. Its
	// source, service, access and login fields are set by the gateway.
	Server server.Config
	// Logger: default discard.
	Logger *slog.Logger
}

// Gateway is a running gateway.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	client *consumer.Client
	hub    *server.Hub
	src    *upstream
	// store holds the downstream tokens (access file, token endpoint).
	store *tokens.Store

	mu      sync.Mutex
	servers []*server.Server
	closed  bool
}

// Start dials the upstream session and prepares the downstream side; no
// listener is open until Serve.
func Start(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Service == "" {
		cfg.Service = cfg.Upstream.Service
	}
	if cfg.Service == "" {
		cfg.Service = server.DefaultService
	}
	cfg.Upstream.Service = cfg.Service
	g := &Gateway{cfg: cfg, log: cfg.Logger}
	g.src = newUpstream(g)

	up := cfg.Upstream
	up.Cache = false // the hub is the cache
	up.Handler = g.src.handle
	userEvent := up.OnEvent
	up.OnEvent = func(e consumer.Event) {
		g.src.event(e)
		if userEvent != nil {
			userEvent(e)
		}
	}
	if up.Logger == nil {
		up.Logger = cfg.Logger.With("side", "upstream")
	}

	sc := cfg.Server
	sc.Universe = nil
	sc.Source = g.src
	sc.Service = cfg.Service
	sc.Linger = cfg.Linger
	sc.LoadMode = false
	if sc.Logger == nil {
		sc.Logger = cfg.Logger.With("side", "downstream")
	}
	if a := cfg.Access; a != nil {
		g.store = tokens.NewStore(nil)
		a.registerTokens(g.store)
		sc.Store = g.store
		sc.ADSMode = a.allowNames()
		sc.CheckUser = a.checkUser
		sc.Entitled = a.entitled
	} else {
		sc.ADSMode = true
		sc.Store = nil
	}
	hub, err := server.NewHub(sc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	g.hub = hub
	client, err := consumer.Dial(ctx, up)
	if err != nil {
		hub.Close()
		return nil, fmt.Errorf("gateway: upstream: %w", err)
	}
	g.client = client
	g.src.setClient(client)
	return g, nil
}

// Serve serves the WebSocket API on ln: wss when tlsCfg is set, ws
// otherwise. It returns the endpoint, for its address and counters.
func (g *Gateway) Serve(ln net.Listener, tlsCfg *tls.Config) (*server.Server, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, fmt.Errorf("gateway: closed")
	}
	s := server.NewServer(g.hub, strconv.Itoa(len(g.servers)), ln, tlsCfg)
	g.servers = append(g.servers, s)
	return s, nil
}

// Close stops the listeners, drops the downstream connections, closes the
// upstream items and the upstream session.
func (g *Gateway) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	servers := g.servers
	g.mu.Unlock()
	var errs []error
	for _, s := range servers {
		if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	// The upstream session goes before the hub: the hub closes its open
	// items at the source, and one upstream Close per item would wait on
	// a session that may be down.
	g.src.closing.Store(true)
	errs = append(errs, g.client.Close())
	g.hub.Close()
	return errors.Join(errs...)
}

// Hub is the downstream side: per-item counters (ItemStats, SourceItems)
// and item faults.
func (g *Gateway) Hub() *server.Hub { return g.hub }

// Upstream is the upstream session (its Stats, Images).
func (g *Gateway) Upstream() *consumer.Client { return g.client }

// Servers are the downstream endpoints, in the order Serve added them.
func (g *Gateway) Servers() []*server.Server {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*server.Server(nil), g.servers...)
}

// Stats is the gateway's state in numbers.
type Stats struct {
	Upstream consumer.Stats `json:"upstream"`
	// Downstream has one entry per endpoint, in Serve order.
	Downstream []server.Stats `json:"downstream"`
	// Items is the number of items open upstream.
	Items int `json:"items"`
	// Unmatched counts upstream messages for items no longer open
	// downstream (in flight when they closed).
	Unmatched int64 `json:"unmatched_upstream_messages"`
}

// Stats returns a snapshot of the gateway's counters.
func (g *Gateway) Stats() Stats {
	st := Stats{Upstream: g.client.Stats(), Items: len(g.hub.SourceItems()), Unmatched: g.src.unmatched.Load()}
	for _, s := range g.Servers() {
		st.Downstream = append(st.Downstream, s.Stats())
	}
	return st
}
