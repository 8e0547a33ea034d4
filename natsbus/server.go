package natsbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrServer is returned (wrapped) when an embedded server cannot start.
var ErrServer = errors.New("natsbus: embedded NATS server")

// ServerConfig configures an embedded nats-server with JetStream. The zero
// value is a single server on a random loopback port with its store in a
// temporary directory.
type ServerConfig struct {
	// Host is the client listen address. Default "127.0.0.1" (loopback
	// only; set it explicitly to serve other hosts).
	Host string
	// Port is the client port. Default 0: a random free port.
	Port int
	// StoreDir is JetStream's storage directory. Default: a temporary
	// directory removed by Close (then nothing survives a restart).
	StoreDir string
	// Name is the server name, which must be unique and stable across
	// restarts in a cluster. Default: chosen by nats-server.
	Name string
	// Cluster joins the server to a JetStream cluster; nil for a single
	// server.
	Cluster *ClusterConfig
	// StartTimeout bounds the wait for the server to accept clients.
	// Default 10 s.
	StartTimeout time.Duration
}

// ClusterConfig is the cluster side of an embedded server.
type ClusterConfig struct {
	// Name is the cluster name, the same on every node. Default "ert".
	Name string
	// Host and Port are the route listen address. Default "127.0.0.1", 0
	// (random; give a fixed port when other nodes route to it).
	Host string
	Port int
	// Routes are the other nodes' route URLs ("nats://127.0.0.1:6222").
	Routes []string
}

func (c *ServerConfig) defaults() {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 10 * time.Second
	}
}

// Server is an embedded nats-server with JetStream.
type Server struct {
	ns      *server.Server
	tempDir string
}

// StartServer starts an embedded nats-server with JetStream and waits until
// it accepts clients.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	cfg.defaults()
	s := &Server{}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoLog:      true,
		NoSigs:     true,
		// nats-server's default of -1 for "random" is 0 here, as with net.Listen.
	}
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	if opts.StoreDir == "" {
		dir, err := os.MkdirTemp("", "natsbus-js")
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrServer, err)
		}
		s.tempDir, opts.StoreDir = dir, dir
	}
	if cl := cfg.Cluster; cl != nil {
		opts.Cluster.Name = cl.Name
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "ert"
		}
		opts.Cluster.Host = cl.Host
		if opts.Cluster.Host == "" {
			opts.Cluster.Host = "127.0.0.1"
		}
		opts.Cluster.Port = cl.Port
		if opts.Cluster.Port == 0 {
			opts.Cluster.Port = server.RANDOM_PORT
		}
		for _, r := range cl.Routes {
			u, err := url.Parse(r)
			if err != nil {
				s.removeTemp()
				return nil, fmt.Errorf("%w: route %q: %w", ErrServer, r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("%w: %w", ErrServer, err)
	}
	s.ns = ns
	ns.Start()
	deadline := cfg.StartTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < deadline {
		deadline = time.Until(d)
	}
	if !ns.ReadyForConnections(deadline) {
		s.Close()
		return nil, fmt.Errorf("%w: not accepting clients on %s after %s", ErrServer, net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), deadline)
	}
	return s, nil
}

// URL is the client URL ("nats://127.0.0.1:port").
func (s *Server) URL() string { return s.ns.ClientURL() }

// Name is the server's name (its ID when none was configured).
func (s *Server) Name() string { return s.ns.Name() }

// Close shuts the server down, waits for it and removes the temporary
// store directory, if any.
func (s *Server) Close() error {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.removeTemp()
	return nil
}

func (s *Server) removeTemp() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
		s.tempDir = ""
	}
}

// Connect connects to a NATS server or cluster (urls comma-separated, as
// nats.Connect takes them). It fails at once with an error matching
// nats.ErrNoServers when none answers; once connected, the client
// reconnects forever with nats.go's back-off.
func Connect(ctx context.Context, urls string, opts ...nats.Option) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := append([]nats.Option{nats.Name("ertkit natsbus"), nats.MaxReconnects(-1)}, opts...)
	if d, ok := ctx.Deadline(); ok {
		o = append(o, nats.Timeout(time.Until(d)))
	}
	nc, err := nats.Connect(urls, o...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connecting to %s: %w", redact(urls), err)
	}
	return nc, nil
}

// redact removes user info (tokens, passwords) from NATS URLs for errors.
func redact(urls string) string {
	out := ""
	for i, u := range strings.Split(urls, ",") {
		if i > 0 {
			out += ","
		}
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			pu.User = url.User("redacted")
			u = pu.String()
		}
		out += u
	}
	return out
}
