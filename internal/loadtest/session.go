package loadtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// SendTimeField is the field the emulator adds to every load-mode update
// (the Unix time in nanoseconds at which its frame was built) and, with
// emulator.Config.SendTimestamps, to every fixed-rate update (the time
// the tick was generated, before encoding and queueing).
const SendTimeField = "ERT_SEND_NS"

// ErrNotReady reports clients that did not receive every Refresh within
// Config.ReadyTimeout.
var ErrNotReady = errors.New("loadtest: items not ready")

// Session is a running emulator with connected clients. Its counters are
// updated by the clients' delivery goroutines and read with Sample.
type Session struct {
	cfg    Config
	emu    *emulator.Emulator // nil when the emulator is a child process
	proc   *emuProc           // the child, when Config.EmulatorCommand is set
	tokens *auth.Manager

	clients []interface{ close() }

	updates     atomic.Int64
	bytes       atomic.Int64
	refreshes   atomic.Int64
	disconnects atomic.Int64
	hist        Histogram
	arrival     Histogram // send time → frame read from the socket (SDK only)

	target atomic.Int64
	sig    chan struct{}
}

// Open starts an emulator for cfg and connects cfg.Conns clients, each
// subscribing cfg.Items items; it returns once every item's Refresh has
// arrived.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Session{cfg: cfg, sig: make(chan struct{}, 1)}
	s.target.Store(-1)
	ecfg := emulator.Config{
		StreamAddrs:      []string{"127.0.0.1:0"},
		PlainWS:          cfg.Plain,
		RateSet:          true,
		Rate:             cfg.Rate,
		Pack:             cfg.Pack,
		GatewayRateLimit: -1,
		// At a fixed Rate too every update carries its send time, so the
		// paced latency (not only saturation queueing) is measured.
		SendTimestamps: cfg.Rate > 0,
	}
	var info emulator.Info
	if cfg.EmulatorCommand != nil {
		if s.proc, err = startEmuProc(ctx, cfg); err != nil {
			return nil, err
		}
		info = s.proc.info
	} else {
		if s.emu, err = emulator.Start(ctx, ecfg); err != nil {
			return nil, fmt.Errorf("loadtest: start emulator: %w", err)
		}
		info = s.emu.Info()
	}
	var opts auth.Options
	if !cfg.Plain {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(info.CAPEM)
		opts.TLSConfig = &tls.Config{RootCAs: pool}
	}
	s.tokens = auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret}), opts)

	rctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	names := ItemNames(cfg.Items)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	// Connect every client first (in parallel, bounded), then subscribe:
	// once a client subscribes in load mode it saturates the CPU, and
	// later TLS handshakes would starve.
	sem := make(chan struct{}, 8)
	subscribe := make(chan struct{})
	for range cfg.Conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			var c interface{ close() }
			var err error
			if cfg.Decoder == DecoderMapAny {
				c, err = s.dialMapAny(rctx, info, names, sem, subscribe)
			} else {
				c, err = s.dialSDK(rctx, info, names, sem, subscribe)
			}
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				s.clients = append(s.clients, c)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{} // every dial has finished
	}
	close(subscribe)
	wg.Wait()
	if len(errs) > 0 {
		s.Close()
		return nil, summarize(errs, cfg.Conns)
	}
	return s, nil
}

// summarize reports the distinct errors of the connections once each,
// with how many connections hit them, instead of one line per connection.
func summarize(errs []error, conns int) error {
	var distinct []error
	count := map[string]int{}
	for _, e := range errs {
		k := e.Error()
		if count[k] == 0 {
			distinct = append(distinct, e)
		}
		count[k]++
	}
	out := make([]error, len(distinct))
	for i, e := range distinct {
		out[i] = fmt.Errorf("%d of %d connections: %w", count[e.Error()], conns, e)
	}
	return errors.Join(out...)
}

// Emulator returns the session's emulator; nil when it runs as a child
// process (Config.EmulatorCommand).
func (s *Session) Emulator() *emulator.Emulator { return s.emu }

// Config returns the session's configuration with defaults applied.
func (s *Session) Config() Config { return s.cfg }

// Close disconnects the clients and stops the emulator.
func (s *Session) Close() {
	for _, c := range s.clients {
		c.close()
	}
	s.clients = nil
	if s.tokens != nil {
		s.tokens.Close()
	}
	if s.emu != nil {
		s.emu.Close()
	}
	if s.proc != nil {
		s.proc.stop()
	}
}

// update is called by every client for every Update it decoded.
func (s *Session) update(size int, sendNS int64, hasTime bool, recvNS int64) {
	if hasTime {
		s.hist.Record(time.Duration(time.Now().UnixNano() - sendNS))
		if recvNS != 0 {
			s.arrival.Record(time.Duration(recvNS - sendNS))
		}
	}
	s.bytes.Add(int64(size))
	if n := s.updates.Add(1); n >= s.target.Load() && s.target.Load() >= 0 {
		select {
		case s.sig <- struct{}{}:
		default:
		}
	}
}

// WaitUpdates waits until n more updates have been decoded (benchmarks).
func (s *Session) WaitUpdates(ctx context.Context, n int) error {
	t := s.updates.Load() + int64(n)
	s.target.Store(t)
	defer s.target.Store(-1)
	for s.updates.Load() < t {
		select {
		case <-s.sig:
		case <-ctx.Done():
			return fmt.Errorf("loadtest: waiting for %d updates (%d arrived): %w", n, s.updates.Load()-t+int64(n), ctx.Err())
		}
	}
	return nil
}

// dialSDK connects (then releases sem), waits for subscribe, subscribes
// and waits for every Refresh.
func (s *Session) dialSDK(ctx context.Context, info emulator.Info, names []string, sem, subscribe chan struct{}) (interface{ close() }, error) {
	h := func(m *consumer.Msg) {
		switch m.Type {
		case trjson.TypeUpdate:
			v, ok := m.Int(SendTimeField)
			s.update(len(m.Raw), v, ok, m.Received.UnixNano())
		case trjson.TypeRefresh:
			s.refreshes.Add(1)
		}
	}
	cl, err := consumer.Dial(ctx, consumer.Config{
		Endpoints:     []string{info.Endpoints[0].URL},
		TokenSource:   s.tokens,
		TLS:           consumer.TLS{CAPEM: info.CAPEM},
		Handler:       h,
		Cache:         s.cfg.Cache,
		DecodeWorkers: s.cfg.DecodeWorkers,
		OnEvent: func(e consumer.Event) {
			if e.Kind == consumer.EventDisconnected {
				s.disconnects.Add(1)
			}
		},
	})
	<-sem
	if err != nil {
		return nil, fmt.Errorf("loadtest: dial: %w", err)
	}
	c := sdkClient{cl}
	select {
	case <-subscribe:
	case <-ctx.Done():
		return c, ctx.Err()
	}
	sub, err := cl.Subscribe(ctx, names)
	if err != nil {
		return c, fmt.Errorf("loadtest: subscribe: %w", err)
	}
	if err := sub.Wait(ctx); err != nil {
		return c, fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return c, nil
}

type sdkClient struct{ c *consumer.Client }

func (c sdkClient) close() { c.c.Close() }
