package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/gateway"
	"github.com/ertkit/ertkit/gateway/metrics"
	"github.com/ertkit/ertkit/internal/certs"
	"github.com/ertkit/ertkit/server"
)

type gatewayCmd struct {
	connFlags
	kafkaFlags                   // --kafka-brokers: every upstream message also to Kafka
	NATS           string        `name:"nats" default:"embedded" placeholder:"embedded[:PORT]|nats://HOST:PORT[/PREFIX]|none" help:"Also publish every upstream message into NATS JetStream: an embedded nats-server on 127.0.0.1 (default; its URL is in the ready line), an external server or cluster (comma-separated URLs), or none."`
	Listen         string        `name:"listen" default:"127.0.0.1:15000" help:"Downstream ws:// listen address (\"\" for none)."`
	ListenTLS      string        `name:"listen-tls" help:"Downstream wss:// listen address (e.g. 127.0.0.1:15001)."`
	Cert           string        `name:"cert" type:"path" help:"Server certificate (PEM) for --listen-tls; default: a generated CA and certificate for the loopback names."`
	Key            string        `name:"key" type:"path" help:"Server key (PEM) for --cert."`
	CAOut          string        `name:"ca-out" type:"path" help:"Where to write the generated CA certificate (default: a temporary file, removed on exit)."`
	InsecureListen bool          `name:"insecure-listen" help:"Allow listening on non-loopback addresses (then give an --access file)."`
	Access         string        `name:"access" type:"path" help:"JSON access file: downstream users, their tokens and allowed RICs (see docs/GATEWAY.md). Default: any user name, every RIC (loopback only)."`
	Linger         time.Duration `name:"linger" default:"0s" help:"Keep an upstream item open this long after its last downstream stream closed."`
	PingTimeout    time.Duration `name:"ping-timeout" default:"30s" help:"PingTimeout advertised downstream."`
	QueueLimit     int           `name:"queue-limit" default:"65536" help:"Messages queued per downstream connection before it is dropped as a slow consumer."`
	Pack           int           `name:"pack" default:"20" help:"Messages per downstream frame at most."`
	QueueBytes     int           `name:"queue-bytes" default:"33554432" help:"Bytes queued per downstream connection before it is dropped as a slow consumer."`
	MaxConns       int           `name:"max-connections" default:"512" help:"Downstream connections per listener; more are refused with HTTP 503."`
	LoginTimeout   time.Duration `name:"login-timeout" default:"30s" help:"A downstream connection without a Login after this long is closed."`
	MetricsAddr    string        `name:"metrics-addr" help:"Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464)."`
	TokenAddr      string        `name:"token-addr" help:"Serve an OAuth2 token endpoint for the access file's users at https://ADDR/auth/oauth2/v1|v2/token, so that clients written for RTO log in to the gateway unmodified."`
	TokenLifetime  time.Duration `name:"token-lifetime" default:"10m" help:"Lifetime of the tokens of --token-addr."`
}

// gatewayInfo is the JSON line ert gateway prints when ready.
type gatewayInfo struct {
	WS      string `json:"ws,omitempty"`
	WSS     string `json:"wss,omitempty"`
	NATS    string `json:"nats,omitempty"`
	AuthV1  string `json:"auth_url_v1,omitempty"`
	AuthV2  string `json:"auth_url_v2,omitempty"`
	CAFile  string `json:"ca_file,omitempty"`
	Metrics string `json:"metrics,omitempty"`
}

func (c *gatewayCmd) run(ctx context.Context, env *Env) error {
	if err := c.complete(env); err != nil {
		return err
	}
	if c.Listen == "" && c.ListenTLS == "" {
		return usageError("give --listen, --listen-tls or both")
	}
	var access *gateway.Access
	if c.Access != "" {
		var err error
		if access, err = gateway.LoadAccess(c.Access); err != nil {
			return usageError("--access: %v", err)
		}
	}
	if c.TokenAddr != "" && access == nil {
		return usageError("--token-addr needs an --access file with users that have a password or client_secret")
	}
	for _, a := range []string{c.Listen, c.ListenTLS, c.MetricsAddr, c.TokenAddr} {
		if a == "" || c.InsecureListen {
			continue
		}
		if err := checkLoopback(a); err != nil {
			return usageError("%v (pass --insecure-listen to allow it)", err)
		}
	}
	if c.InsecureListen && access == nil {
		return usageError("--insecure-listen needs an --access file: without one any user name may open any RIC")
	}
	if (c.Cert == "") != (c.Key == "") {
		return usageError("--cert and --key go together")
	}

	// Bind first: a bad address fails before the upstream login.
	var info gatewayInfo
	var ln, tlsLn, tokenLn net.Listener
	closeAll := func() {
		for _, l := range []net.Listener{ln, tlsLn, tokenLn} {
			if l != nil {
				l.Close()
			}
		}
	}
	var err error
	if c.Listen != "" {
		if ln, err = net.Listen("tcp", c.Listen); err != nil {
			return usageError("--listen: %v", err)
		}
		info.WS = "ws://" + ln.Addr().String() + server.Path
	}
	if c.TokenAddr != "" {
		if tokenLn, err = net.Listen("tcp", c.TokenAddr); err != nil {
			closeAll()
			return usageError("--token-addr: %v", err)
		}
		info.AuthV1 = "https://" + tokenLn.Addr().String() + gateway.TokenPathV1
		info.AuthV2 = "https://" + tokenLn.Addr().String() + gateway.TokenPathV2
	}
	var tlsCfg *tls.Config
	if c.ListenTLS != "" {
		if tlsLn, err = net.Listen("tcp", c.ListenTLS); err != nil {
			closeAll()
			return usageError("--listen-tls: %v", err)
		}
		info.WSS = "wss://" + tlsLn.Addr().String() + server.Path
	}
	if tlsLn != nil || tokenLn != nil {
		var b *certs.Bundle
		if c.Cert != "" {
			b, err = certs.Load(c.Cert, c.Key)
		} else {
			b, err = certs.Generate(nil, 0)
		}
		if err != nil {
			closeAll()
			return fail(ExitFailure, err, "gateway certificate")
		}
		tlsCfg = b.ServerTLS
		if c.Cert == "" {
			caFile, cleanup, err := writeCA(c.CAOut, b.CAPEM)
			if err != nil {
				closeAll()
				return fail(ExitFailure, err, "writing the gateway CA")
			}
			defer cleanup()
			info.CAFile = caFile
		}
	}

	sess, err := newSession(ctx, &c.connFlags, env)
	if err != nil {
		closeAll()
		return err
	}
	defer sess.close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess.runTokens(runCtx)

	var sinks []func(*consumer.Msg)
	kafkaTee, kafkaClose, err := c.kafkaFlags.publisher(ctx, env)
	if err != nil {
		closeAll()
		return err
	}
	defer kafkaClose()
	if kafkaTee != nil {
		sinks = append(sinks, kafkaTee)
	}
	natsSpec := c.NATS
	if natsSpec == "none" {
		natsSpec = ""
	}
	natsTee, natsURL, stopNATS, err := startNATSPublisher(ctx, env, "--nats", natsSpec, c.Service, false)
	if err != nil {
		closeAll()
		return err
	}
	defer stopNATS()
	if natsTee != nil {
		sinks = append(sinks, natsTee)
		info.NATS = natsURL
	}
	up := sess.consumerConfig(nil, env)
	up.OnEvent = func(e consumer.Event) {
		if e.Kind == consumer.EventItemState {
			return
		}
		args := []any{"event", e.Kind.String(), "conn", e.Conn}
		if e.Endpoint != "" {
			args = append(args, "endpoint", e.Endpoint)
		}
		if e.Err != nil {
			args = append(args, "err", oneLine(e.Err.Error()))
		}
		env.Log.Info("upstream", args...)
	}
	g, err := gateway.Start(ctx, gateway.Config{
		Upstream: up, Service: c.Service, Linger: c.Linger, Access: access, Logger: env.Log, Sinks: sinks,
		Server: server.Config{PingTimeout: c.PingTimeout, QueueLimit: c.QueueLimit, QueueBytes: c.QueueBytes, Pack: c.Pack,
			MaxConnections: c.MaxConns, LoginTimeout: c.LoginTimeout},
	})
	if err != nil {
		closeAll()
		var te *consumer.TokenError
		if errors.As(err, &te) {
			return fail(ExitAuth, err, "authentication")
		}
		if errors.Is(err, gateway.ErrConfig) {
			return usageError("%v", err)
		}
		return fail(ExitConnection, err, "connecting upstream to %v", up.Endpoints)
	}
	defer g.Close()
	if ln != nil {
		if _, err := g.Serve(ln, nil); err != nil {
			return fail(ExitFailure, err, "gateway")
		}
	}
	if tlsLn != nil {
		if _, err := g.Serve(tlsLn, tlsCfg); err != nil {
			return fail(ExitFailure, err, "gateway")
		}
	}
	if tokenLn != nil {
		h, err := g.TokenHandler(c.TokenLifetime)
		if err != nil {
			return usageError("--token-addr: %v", err)
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg.Clone()}
		go hs.ServeTLS(tokenLn, "", "")
		defer hs.Close()
	}
	if c.MetricsAddr != "" {
		addr, stop, err := serveMetrics(c.MetricsAddr, metrics.New(g))
		if err != nil {
			return usageError("--metrics-addr: %v", err)
		}
		defer stop()
		info.Metrics = "http://" + addr + "/metrics"
	}
	line, _ := json.Marshal(info)
	fmt.Fprintf(env.Stdout, "%s\n", line)
	if f, ok := env.Stdout.(*os.File); ok {
		f.Sync()
	}
	env.Log.Info("gateway ready; stop with Ctrl-C", "upstream", up.Endpoints)
	<-ctx.Done()
	return nil
}

// writeCA writes the generated CA where asked, or into a temporary
// directory that cleanup removes.
func writeCA(path string, pem []byte) (string, func(), error) {
	if path != "" {
		return path, func() {}, os.WriteFile(path, pem, 0o644)
	}
	dir, err := os.MkdirTemp("", "ert-gateway-ca")
	if err != nil {
		return "", func() {}, err
	}
	f := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(f, pem, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", func() {}, err
	}
	return f, func() { os.RemoveAll(dir) }, nil
}

// serveMetrics serves one collector (plus the Go runtime's) at /metrics.
func serveMetrics(addr string, c prometheus.Collector) (string, func(), error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return ln.Addr().String(), func() { hs.Close() }, nil
}
