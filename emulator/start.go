package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ertkit/ertkit/dictionary"
	"github.com/ertkit/ertkit/emulator/internal/gateway"
	"github.com/ertkit/ertkit/internal/certs"
	"github.com/ertkit/ertkit/internal/market"
	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/server/tokens"
)

// ErrConfig is wrapped by Start's errors about an unusable Config.
var ErrConfig = errors.New("emulator: invalid config")

// Emulator is a running emulator. Its methods are safe for concurrent use.
type Emulator struct {
	cfg     Config
	log     *slog.Logger
	store   *tokens.Store
	gw      *gateway.Gateway
	hub     *server.Hub
	servers []*server.Server
	api     *http.Server
	apiLn   net.Listener
	info    Info
	tmpDir  string

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// applyDefaults fills zero fields of cfg (the one place defaults live).
func (cfg *Config) applyDefaults() {
	if cfg.APIAddr == "" {
		cfg.APIAddr = "127.0.0.1:0"
	}
	if len(cfg.StreamAddrs) == 0 {
		cfg.StreamAddrs = []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}
	}
	if len(cfg.Topology) == 0 {
		cfg.Topology = DefaultTopology(len(cfg.StreamAddrs))
	}
	if cfg.User == "" {
		cfg.User = DefaultUser
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = DefaultClientSecret
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 300 * time.Second
	}
	if cfg.RefreshLifetime <= 0 {
		cfg.RefreshLifetime = 8 * time.Hour
	}
	if !cfg.RateSet && cfg.Rate == 0 {
		cfg.Rate = 1
	}
	if cfg.APIIdleTimeout <= 0 {
		cfg.APIIdleTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PlainWS {
		cfg.PlainStream, cfg.PlainAPI = true, true
	}
}

// DefaultTopology is the discovery layout for n streaming endpoints
// (n >= 3 for the full layout): region us-east-1 with endpoint 0 in two
// locations and endpoints 1 and 2 in one location each (a hot standby
// pair), and the same shape for eu-west-1 and ap-southeast-1 pointing at
// the same listeners.
func DefaultTopology(n int) []Service {
	var out []Service
	for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-1"} {
		a, b := region+"a", region+"b"
		out = append(out, Service{Endpoint: 0, Location: []string{a, b}})
		if n > 1 {
			out = append(out, Service{Endpoint: 1 % n, Location: []string{a}})
			out = append(out, Service{Endpoint: 2 % n, Location: []string{b}})
		}
	}
	return out
}

// Start starts an emulator: the token and discovery endpoints (and the
// admin API) on APIAddr, and one streaming endpoint per StreamAddrs. ctx
// bounds the start-up only; stop the emulator with Close.
func Start(ctx context.Context, cfg Config) (*Emulator, error) {
	cfg.applyDefaults()
	for _, s := range cfg.Topology {
		if s.Endpoint < 0 || s.Endpoint >= len(cfg.StreamAddrs) || len(s.Location) == 0 {
			return nil, fmt.Errorf("%w: topology entry %+v", ErrConfig, s)
		}
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, fmt.Errorf("%w: CertFile and KeyFile go together", ErrConfig)
	}
	e := &Emulator{cfg: cfg, log: cfg.Logger, store: tokens.NewStore(nil)}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()

	// TLS material.
	var bundle *certs.Bundle
	if !cfg.PlainStream || !cfg.PlainAPI {
		var err error
		if cfg.CertFile != "" {
			bundle, err = certs.Load(cfg.CertFile, cfg.KeyFile)
		} else {
			bundle, err = certs.Generate(nil, 0)
		}
		if err != nil {
			return nil, fmt.Errorf("emulator: certificates: %w", err)
		}
		e.info.CAPEM = bundle.CAPEM
		caFile := cfg.CAFile
		if caFile == "" {
			dir, err := os.MkdirTemp("", "ertkit-emulator-")
			if err != nil {
				return nil, fmt.Errorf("emulator: %w", err)
			}
			e.tmpDir = dir
			caFile = filepath.Join(dir, "ca.pem")
		}
		if err := os.WriteFile(caFile, bundle.CAPEM, 0o644); err != nil {
			return nil, fmt.Errorf("emulator: write CA: %w", err)
		}
		e.info.CAFile = caFile
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Streaming endpoints.
	var lc net.ListenConfig
	lns := make([]net.Listener, 0, len(cfg.StreamAddrs))
	for _, a := range cfg.StreamAddrs {
		ln, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("emulator: listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	hub, err := server.NewHub(server.Config{
		Universe:   universe{market.NewUniverse(cfg.Seed)},
		Dictionary: dictionary.Default(),
		Store:      e.store,
		Rate:       cfg.Rate, LoadMode: cfg.RateSet && cfg.Rate == 0, SendTimestamps: cfg.SendTimestamps,
		Pack: cfg.Pack, Conflate: cfg.Conflate,
		PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout, MaxMsgSize: cfg.MaxMsgSize,
		QueueLimit: cfg.QueueLimit, NotFoundText: cfg.NotFoundText, ADSMode: cfg.ADSMode,
		QueueBytes: cfg.QueueBytes, WriteTimeout: cfg.WriteTimeout, LoginTimeout: cfg.LoginTimeout,
		MaxConnections: cfg.MaxConnections, IdleTimeout: cfg.APIIdleTimeout,
		KeepV1SessionsAfterExpiry: cfg.KeepV1SessionsAfterExpiry, CloseV2SessionsAtExpiry: cfg.CloseV2SessionsAtExpiry,
		CloseADSSessionsAtExpiry: cfg.CloseADSSessionsAtExpiry,
		DisablePost:              cfg.DisablePost, Seed: cfg.Seed, Logger: cfg.Logger.With("component", "stream"),
		CatchUnknownKeys: cfg.CatchUnknownKeys, AllowUnknownFIDs: cfg.AllowUnknownFIDs,
		DisableBatch: cfg.DisableBatch, DisableView: cfg.DisableView, SymbolListChangeEvery: cfg.SymbolListChangeEvery,
	})
	if err != nil {
		for _, l := range lns {
			l.Close()
		}
		return nil, err
	}
	e.hub = hub
	var srvTLS *tls.Config
	scheme := "ws"
	if !cfg.PlainStream {
		srvTLS, scheme = bundle.ServerTLS, "wss"
	}
	for i, ln := range lns {
		e.servers = append(e.servers, server.NewServer(hub, strconv.Itoa(i), ln, srvTLS))
		host, port := hostPort(ln.Addr())
		ep := Endpoint{Host: host, Port: port, URL: scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + server.Path}
		for _, s := range cfg.Topology {
			if s.Endpoint == i && (ep.Location == nil || strings.HasPrefix(s.Location[0], "us-east-1") && !strings.HasPrefix(ep.Location[0], "us-east-1")) {
				ep.Location = append([]string(nil), s.Location...)
			}
		}
		e.info.Endpoints = append(e.info.Endpoints, ep)
	}

	// Delivery Platform side + admin API.
	gw, err := gateway.New(gateway.Config{
		Store: e.store, User: cfg.User, Password: cfg.Password, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		JWKs: cfg.JWKs, Audience: cfg.Audience, TokenLifetime: cfg.TokenLifetime, RefreshLifetime: cfg.RefreshLifetime,
		RateLimit: cfg.GatewayRateLimit, Services: e.services, Logger: cfg.Logger.With("component", "gateway"),
	})
	if err != nil {
		return nil, err
	}
	e.gw = gw
	apiLn, err := lc.Listen(ctx, "tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen %s: %w", cfg.APIAddr, err)
	}
	e.apiLn = apiLn
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.HandlerFunc(e.serveAdmin))
	mux.Handle("/", gw)
	// Timeouts: a local client that opens connections and never finishes
	// (or never closes) a request must not hold them for ever.
	e.api = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: cfg.APIIdleTimeout, ErrorLog: log.New(io.Discard, "", 0)}
	httpScheme := "http"
	var l net.Listener = apiLn
	if !cfg.PlainAPI {
		l, httpScheme = tls.NewListener(apiLn, bundle.ServerTLS.Clone()), "https"
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		_ = e.api.Serve(l)
	}()
	host, port := hostPort(apiLn.Addr())
	base := httpScheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
	e.info.AuthURLV1 = base + gateway.PathTokenV1
	e.info.AuthURLV2 = base + gateway.PathTokenV2
	e.info.DiscoveryURL = base + gateway.PathDiscovery
	e.info.GetTokenURL = base + gateway.PathGetToken
	e.info.AdminURL = base + "/admin/"
	e.info.User, e.info.Password = cfg.User, cfg.Password
	e.info.ClientID, e.info.ClientSecret = cfg.ClientID, cfg.ClientSecret
	ok = true
	return e, nil
}

// hostPort returns a dialable host for a listener address: an
// unspecified address becomes the loopback of its family.
func hostPort(a net.Addr) (string, int) {
	ta, _ := a.(*net.TCPAddr)
	if ta == nil {
		return "127.0.0.1", 0
	}
	ip := ta.IP
	switch {
	case ip == nil || ip.IsUnspecified() && ip.To4() != nil:
		return "127.0.0.1", ta.Port
	case ip.IsUnspecified():
		return "::1", ta.Port
	}
	return ip.String(), ta.Port
}

// services builds the discovery list from the topology.
func (e *Emulator) services() []gateway.Service {
	out := make([]gateway.Service, 0, len(e.cfg.Topology))
	for _, s := range e.cfg.Topology {
		ep := e.info.Endpoints[s.Endpoint]
		out = append(out, gateway.Service{Endpoint: ep.Host, Port: ep.Port, Location: append([]string(nil), s.Location...),
			Provider: s.Provider, Transport: "websocket"})
	}
	return out
}

// Info returns what a client needs to reach the emulator.
func (e *Emulator) Info() Info {
	in := e.info
	in.Endpoints = append([]Endpoint(nil), e.info.Endpoints...)
	in.CAPEM = append([]byte(nil), e.info.CAPEM...)
	return in
}

// Close stops every listener and connection and removes the generated CA
// file. It is safe to call more than once.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		var errs []error
		if e.api != nil {
			errs = append(errs, e.api.Close())
		} else if e.apiLn != nil {
			e.apiLn.Close()
		}
		for _, s := range e.servers {
			errs = append(errs, s.Close())
		}
		if e.hub != nil {
			e.hub.Close()
		}
		e.wg.Wait()
		if e.tmpDir != "" {
			errs = append(errs, os.RemoveAll(e.tmpDir))
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
				e.closeErr = err
			}
		}
	})
	return e.closeErr
}
