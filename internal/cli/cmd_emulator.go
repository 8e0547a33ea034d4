package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

type emulatorCmd struct {
	APIAddr        string        `name:"api-addr" default:"127.0.0.1:0" help:"Listen address of the token, discovery and admin endpoints."`
	StreamAddr     []string      `name:"stream-addr" help:"Listen address of a streaming endpoint (repeatable; port 0 = ephemeral). Default: three endpoints on 127.0.0.1."`
	InsecureListen bool          `name:"insecure-listen" help:"Allow listening on non-loopback addresses."`
	Plain          bool          `name:"plain" help:"Serve ws:// and http:// instead of wss:// and https:// (both --plain-stream and --plain-api)."`
	PlainStream    bool          `name:"plain-stream" help:"Serve ws:// instead of wss:// on the streaming endpoints only (with HTTPS on the API side: a deployed ADS with its /getToken server)."`
	PlainAPI       bool          `name:"plain-api" help:"Serve http:// instead of https:// on the token, discovery, /getToken and admin endpoints only."`
	Cert           string        `name:"cert" help:"Server certificate (PEM) instead of a generated one." type:"path"`
	Key            string        `name:"key" help:"Server key (PEM) for --cert." type:"path"`
	CAFile         string        `name:"ca-file" help:"Where to write the generated CA certificate (default: a temporary file)." type:"path"`
	User           string        `name:"user" help:"Accepted machine ID (default ${emu_user})."`
	Password       string        `name:"password" help:"Accepted password (env ERT_EMULATOR_PASSWORD; default documented in docs/EMULATOR.md)."`
	ClientID       string        `name:"clientid" help:"Accepted client ID (default ${emu_clientid})."`
	ClientSecret   string        `name:"clientsecret" help:"Accepted v2 client secret (env ERT_EMULATOR_CLIENTSECRET)."`
	JWK            []string      `name:"jwk" help:"Public JWK file accepted for v2 JWT client assertions (repeatable)." type:"path"`
	Audience       string        `name:"aud" help:"Accepted JWT audience."`
	TokenLifetime  time.Duration `name:"token-lifetime" default:"300s" help:"Access token lifetime."`
	GatewayLimit   int           `name:"gateway-rate-limit" default:"50" help:"Token requests per minute per credential before 429 (<0: off)."`
	Rate           float64       `name:"rate" default:"1" help:"Updates per second per item; 0 = as fast as the client drains (load mode)."`
	Pack           int           `name:"pack" default:"1" help:"Messages per frame at most."`
	Conflate       bool          `name:"conflate" help:"RTO-style trade-safe conflation (quotes at most 3/s per item)."`
	SendTimes      bool          `name:"send-timestamps" help:"Add ERT_SEND_NS (Unix ns when generated; not an LSEG field) to every Market Price update at a fixed --rate too, for latency measurement (load mode always adds it)."`
	PingTimeout    time.Duration `name:"ping-timeout" default:"30s" help:"PingTimeout advertised in the Login refresh."`
	PingInterval   time.Duration `name:"ping-interval" help:"Ping an idle client this often (default ping-timeout/3)."`
	MaxMsgSize     int           `name:"max-msg-size" default:"61440" help:"MaxMsgSize advertised and enforced."`
	Seed           int64         `name:"seed" default:"1" help:"Seed of generated data and random faults."`
	ADSMode        bool          `name:"ads-mode" help:"Also accept deployed-ADS logins by user name (no token), as LSEG's non-RTO examples send."`
	NotFoundText   string        `name:"not-found-text" help:"State text of an unknown item (default \"**The record could not be found\")."`
	DisablePost    bool          `name:"disable-post" help:"Refuse posts (Nak AccessDenied)."`
	V2CloseExpiry  bool          `name:"v2-close-at-expiry" help:"Close v2 sessions when their token expires (RTO does not by default)."`
	V1KeepExpiry   bool          `name:"v1-keep-after-expiry" help:"Keep v1 sessions whose token expired without a Login reissue (closed by default)."`
	CatchKeys      bool          `name:"catch-unknown-keys" help:"Answer unknown JSON keys with the spec's Error (the ADS's catchUnknownJsonKeys)."`
	AllowFIDs      bool          `name:"allow-unknown-fids" help:"Accept unknown field names in posts (dropped) instead of the spec's Error."`
	DisableBatch   bool          `name:"disable-batch" help:"Refuse batch requests (NoBatchViewSupportInReq)."`
	DisableView    bool          `name:"disable-view" help:"Refuse views (NoBatchViewSupportInReq)."`
	ChainEvery     int           `name:"symbol-list-change-every" help:"Change a chain every N ticks (default 30; -1: never)."`
	QueueLimit     int           `name:"queue-limit" help:"Messages queued per connection before a slow client is dropped (default 65536)."`
	QueueBytes     int           `name:"queue-bytes" help:"Bytes queued per connection before a slow client is dropped (default 33554432)."`
	WriteTimeout   time.Duration `name:"write-timeout" help:"Drop a client that does not read for this long (default 30s)."`
	LoginTimeout   time.Duration `name:"login-timeout" help:"Close a streaming connection without a Login after this long (default 30s)."`
	MaxConns       int           `name:"max-connections" help:"Connections per streaming endpoint; more are refused with 503 (default 512)."`
	IdleTimeout    time.Duration `name:"idle-timeout" help:"Close an HTTP connection idle this long (API keep-alive, endpoint before upgrade; default 60s)."`

	// Faults from the start, and a schedule of timed faults.
	RefuseLogins int  `name:"refuse-logins" help:"Fault: refuse the next N logins with \"Login rejected. Already pending login.\""`
	NoPings      bool `name:"no-pings" help:"Fault: never send Pings."`
	IgnorePongs  bool `name:"ignore-pongs" help:"Fault: ignore the client's Pongs (it is disconnected at PingTimeout)."`
	// Profiling of the emulator itself (ert bench load --emulator-process
	// passes them through). Both are written when the emulator stops.
	CPUProfile string `name:"cpuprofile" type:"path" help:"Write a CPU profile of the emulator to this file (go tool pprof) when it stops."`
	Trace      string `name:"trace" type:"path" help:"Write an execution trace of the emulator to this file (go tool trace) when it stops."`

	Faults string `name:"faults" type:"path" help:"JSON file of timed faults: [{\"after\":\"30s\",\"fault\":\"kill\",\"args\":{\"endpoint\":0,\"duration\":\"5s\"}}, …]; each is a call of the admin API (see docs/EMULATOR.md)."`
}

func (c *emulatorCmd) config(env *Env) (emulator.Config, error) {
	addrs := append([]string{c.APIAddr}, c.StreamAddr...)
	if !c.InsecureListen {
		for _, a := range addrs {
			if err := checkLoopback(a); err != nil {
				return emulator.Config{}, usageError("%v (pass --insecure-listen to allow it)", err)
			}
		}
	}
	if (c.Cert == "") != (c.Key == "") {
		return emulator.Config{}, usageError("--cert and --key go together")
	}
	if c.Password == "" {
		c.Password = env.Getenv("ERT_EMULATOR_PASSWORD")
	}
	if c.ClientSecret == "" {
		c.ClientSecret = env.Getenv("ERT_EMULATOR_CLIENTSECRET")
	}
	cfg := emulator.Config{
		APIAddr: c.APIAddr, StreamAddrs: c.StreamAddr, PlainWS: c.Plain, PlainStream: c.PlainStream, PlainAPI: c.PlainAPI,
		CertFile: c.Cert, KeyFile: c.Key, CAFile: c.CAFile,
		User: c.User, Password: c.Password, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Audience: c.Audience, TokenLifetime: c.TokenLifetime, GatewayRateLimit: c.GatewayLimit,
		Rate: c.Rate, RateSet: true, Pack: c.Pack, Conflate: c.Conflate, SendTimestamps: c.SendTimes,
		PingTimeout: c.PingTimeout, PingInterval: c.PingInterval, MaxMsgSize: c.MaxMsgSize,
		Seed: c.Seed, ADSMode: c.ADSMode, Logger: env.Log,
		NotFoundText: c.NotFoundText, DisablePost: c.DisablePost,
		CloseV2SessionsAtExpiry: c.V2CloseExpiry, KeepV1SessionsAfterExpiry: c.V1KeepExpiry,
		CatchUnknownKeys: c.CatchKeys, AllowUnknownFIDs: c.AllowFIDs, DisableBatch: c.DisableBatch, DisableView: c.DisableView,
		SymbolListChangeEvery: c.ChainEvery, QueueLimit: c.QueueLimit,
		QueueBytes: c.QueueBytes, WriteTimeout: c.WriteTimeout, LoginTimeout: c.LoginTimeout,
		MaxConnections: c.MaxConns, APIIdleTimeout: c.IdleTimeout,
	}
	for _, f := range c.JWK {
		b, err := os.ReadFile(f)
		if err != nil {
			return cfg, usageError("--jwk: %v", err)
		}
		cfg.JWKs = append(cfg.JWKs, b)
	}
	return cfg, nil
}

func (c *emulatorCmd) run(ctx context.Context, env *Env) error {
	cfg, err := c.config(env)
	if err != nil {
		return err
	}
	var schedule []scheduledFault
	if c.Faults != "" {
		if schedule, err = loadFaultSchedule(c.Faults); err != nil {
			return &exitError{code: ExitUsage, err: err}
		}
	}
	stopProfiles, err := startProfiles(c.CPUProfile, c.Trace)
	if err != nil {
		return fail(ExitFailure, err, "emulator profiling")
	}
	defer stopProfiles()
	emu, err := emulator.Start(ctx, cfg)
	if err != nil {
		return fail(ExitFailure, err, "emulator")
	}
	defer emu.Close()
	if c.RefuseLogins > 0 {
		emu.RefuseLogins(c.RefuseLogins)
	}
	emu.SetPings(!c.NoPings)
	emu.SetIgnorePongs(c.IgnorePongs)
	if len(schedule) > 0 {
		go runFaultSchedule(ctx, env, emu.Info(), schedule)
	}
	line, err := json.Marshal(emu.Info())
	if err != nil {
		return fail(ExitFailure, err, "emulator")
	}
	fmt.Fprintf(env.Stdout, "%s\n", line)
	if f, ok := env.Stdout.(*os.File); ok {
		f.Sync()
	}
	env.Log.Info("emulator ready; stop with Ctrl-C")
	<-ctx.Done()
	return nil
}

// checkLoopback refuses a listen address that is not on the loopback
// interface: an emulator accepts well-known credentials.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not loopback", addr)
	}
	return nil
}
