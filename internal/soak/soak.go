// Package soak runs ertkit's bounded soak test: an in-process emulator
// feeding the SDK at a fixed update rate for a fixed time, with short
// token lifetimes (v1 renewals and Login reissues) and a random fault at
// a fixed interval, while goroutines, RSS and per-item SeqNumbers are
// tracked. It backs the `ert soak` command; it is not run in CI.
package soak

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// Config configures a soak run. Zero fields take the defaults shown.
type Config struct {
	// Duration of the run. Default 30m.
	Duration time.Duration
	// Rate is the total number of updates per second across all items.
	// Default 100000.
	Rate float64
	// TokenLifetime of the emulator's access tokens. Default 30s.
	TokenLifetime time.Duration
	// FaultEvery is the interval between random faults; <0 disables
	// faults. Default 1m.
	FaultEvery time.Duration
	// SampleEvery is the interval between resource samples. Default 10s.
	SampleEvery time.Duration
	// MaxRSSDrift is the RSS growth (median of the last third of samples
	// over the first third) that fails the run. Default 0.10. A run of a
	// few seconds is mostly warm-up: give it more room.
	MaxRSSDrift float64
	// Chains supply the item universe (their constituents, real-time and
	// delayed). Default 0#.DJI 0#.FTSE 0#.N225 0#USDFX= 0#UST.
	Chains []string
	// Faults to draw from. Default DefaultFaults.
	Faults []string
	// Seed of the fault choice. Default 1.
	Seed int64
	// Progress receives one line per sample. Default: discard.
	Progress io.Writer
	// Logger for the SDK and emulator. Default: discard.
	Logger *slog.Logger
}

// DefaultFaults are the faults drawn by default. "expire-tokens" and
// "revoke-tokens" are available but not drawn by default: under v1 the
// SDK does not recover from them (see docs/RELIABILITY.md).
var DefaultFaults = []string{"drop", "kill-endpoint", "stall", "refuse-login", "item-suspect", "item-closed-recover",
	"service-suspect", "reject-refresh", "gateway-503", "delay"}

func (c *Config) defaults() {
	if c.MaxRSSDrift <= 0 {
		c.MaxRSSDrift = 0.10
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Minute
	}
	if c.Rate <= 0 {
		c.Rate = 100000
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = 30 * time.Second
	}
	if c.FaultEvery == 0 {
		c.FaultEvery = time.Minute
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = 10 * time.Second
	}
	if len(c.Chains) == 0 {
		c.Chains = []string{"0#.DJI", "0#.FTSE", "0#.N225", "0#USDFX=", "0#UST"}
	}
	if len(c.Faults) == 0 {
		c.Faults = DefaultFaults
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Sample is one resource sample.
type Sample struct {
	At         time.Duration `json:"at"`
	Goroutines int           `json:"goroutines"`
	RSSMB      float64       `json:"rss_mb"`
	HeapMB     float64       `json:"heap_mb"`
	Updates    int64         `json:"updates"`
}

// Report is the outcome of a run.
type Report struct {
	Duration     time.Duration  `json:"duration"`
	Items        int            `json:"items"`
	TargetRate   float64        `json:"target_rate"`
	Updates      int64          `json:"updates"`
	AchievedRate float64        `json:"achieved_rate"`
	Faults       map[string]int `json:"faults"`
	Reconnects   uint64         `json:"reconnects"`
	Reissues     uint64         `json:"login_reissues"`
	Refreshes    int64          `json:"refreshes"`
	// Lost counts updates missing between two Updates of one stream (a
	// loss the SDK must never cause); ReimageGaps counts updates skipped
	// between the last Update before a loss and the re-imaging Refresh
	// (the documented reconnect gap); Duplicates counts repeated or
	// backward SeqNumbers on Updates.
	Lost        int64    `json:"lost"`
	ReimageGaps int64    `json:"reimage_gaps"`
	Duplicates  int64    `json:"duplicates"`
	NotOk       []string `json:"not_ok,omitempty"`
	Samples     []Sample `json:"samples"`
	// GoroutineDrift and RSSDrift compare the median of the last third of
	// samples with that of the second third (after warm-up), as fractions.
	GoroutineDrift float64  `json:"goroutine_drift"`
	RSSDrift       float64  `json:"rss_drift"`
	Failures       []string `json:"failures,omitempty"`
}

// ErrFailed is returned (wrapped) when a pass criterion is not met.
var ErrFailed = errors.New("soak: failed")

type itemTrack struct {
	last    int64
	have    bool
	updates int64
}

// session is an emulator, a v1 token Manager and a Client on it.
type session struct {
	emu   *emulator.Emulator
	c     *consumer.Client
	close func()
}

func open(ctx context.Context, cfg Config, perItem float64, handler func(*consumer.Msg)) (*session, error) {
	emu, err := emulator.Start(ctx, emulator.Config{TokenLifetime: cfg.TokenLifetime, Rate: perItem, RateSet: true,
		Pack: 20, PingTimeout: 6 * time.Second, Seed: cfg.Seed, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	info := emu.Info()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(info.CAPEM)
	m := auth.NewManager(auth.PasswordGrant(auth.PasswordConfig{TokenURL: info.AuthURLV1, Username: info.User,
		Password: info.Password, ClientID: info.ClientID}), auth.Options{TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxRequestsPerMinute: -1, Logger: cfg.Logger})
	mctx, mcancel := context.WithCancel(context.Background())
	mdone := make(chan struct{})
	go func() { defer close(mdone); m.Run(mctx) }()
	stop := func() { mcancel(); <-mdone; m.Close(); emu.Close() }
	var eps []string
	for _, e := range info.Endpoints {
		eps = append(eps, e.Host+":"+strconv.Itoa(e.Port))
	}
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: eps, TokenSource: m, TLS: consumer.TLS{CAPEM: info.CAPEM},
		Handler: handler, Logger: cfg.Logger,
		Reconnect: consumer.Reconnect{MinDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}})
	if err != nil {
		stop()
		return nil, err
	}
	return &session{emu: emu, c: c, close: func() { c.Close(); stop() }}, nil
}

// Run runs the soak and returns its report; the error wraps ErrFailed when
// a pass criterion failed. ctx cancels the run early (the report is still
// returned).
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.defaults()
	rep := Report{TargetRate: cfg.Rate, Faults: map[string]int{}}
	// The universe: the chains' constituents, real-time and delayed.
	probe, err := open(ctx, cfg, 1, func(*consumer.Msg) {})
	if err != nil {
		return rep, err
	}
	var names []string
	for _, ch := range cfg.Chains {
		rics, err := probe.c.Symbols(ctx, ch)
		if err != nil {
			probe.close()
			return rep, fmt.Errorf("soak: chain %s: %w", ch, err)
		}
		for _, r := range rics {
			names = append(names, r, "/"+r)
		}
	}
	probe.close()
	rep.Items = len(names)

	var mu sync.Mutex
	tracks := map[string]*itemTrack{}
	var updates int64
	handler := func(msg *consumer.Msg) {
		if msg.Item == nil || (msg.Type != trjson.TypeRefresh && msg.Type != trjson.TypeUpdate) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		tr := tracks[msg.Name]
		if tr == nil {
			tr = &itemTrack{}
			tracks[msg.Name] = tr
		}
		if msg.Type == trjson.TypeRefresh {
			rep.Refreshes++
			if tr.have && msg.HasSeq && msg.SeqNumber > tr.last+1 {
				rep.ReimageGaps += msg.SeqNumber - tr.last - 1
			}
		} else {
			updates++
			tr.updates++
			if msg.HasSeq && tr.have {
				switch {
				case msg.SeqNumber <= tr.last:
					rep.Duplicates++
				case msg.SeqNumber > tr.last+1:
					rep.Lost += msg.SeqNumber - tr.last - 1
				}
			}
		}
		if msg.HasSeq {
			tr.last, tr.have = msg.SeqNumber, true
		}
	}
	s, err := open(ctx, cfg, cfg.Rate/float64(len(names)), handler)
	if err != nil {
		return rep, err
	}
	defer s.close()
	emu, c := s.emu, s.c
	sub, err := c.Subscribe(ctx, names)
	if err != nil {
		return rep, err
	}
	if err := sub.Wait(ctx); err != nil {
		return rep, err
	}

	// Timers that end faults; stopped before the emulator closes.
	var timers []*time.Timer
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
	}()
	later := func(d time.Duration, f func()) { timers = append(timers, time.AfterFunc(d, f)) }
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 7))
	start := time.Now()
	end := time.NewTimer(cfg.Duration)
	defer end.Stop()
	sample := time.NewTicker(cfg.SampleEvery)
	defer sample.Stop()
	var faultC <-chan time.Time
	if cfg.FaultEvery > 0 {
		ft := time.NewTicker(cfg.FaultEvery)
		defer ft.Stop()
		faultC = ft.C
	}
	take := func() {
		mu.Lock()
		u := updates
		mu.Unlock()
		s := Sample{At: time.Since(start).Round(time.Second), Goroutines: runtime.NumGoroutine(), RSSMB: rssMB(), HeapMB: heapMB(), Updates: u}
		rep.Samples = append(rep.Samples, s)
		st := c.Stats()
		fmt.Fprintf(cfg.Progress, "soak t=%s updates=%d rate=%.0f/s goroutines=%d rss=%.1fMB heap=%.1fMB reconnects=%d reissues=%d faults=%v\n",
			s.At, u, float64(u)/time.Since(start).Seconds(), s.Goroutines, s.RSSMB, s.HeapMB, st.Reconnects, st.LoginReissues, rep.Faults)
	}
	take()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end.C:
			break loop
		case <-sample.C:
			take()
		case <-faultC:
			f := cfg.Faults[rng.IntN(len(cfg.Faults))]
			rep.Faults[f]++
			inject(emu, f, names[rng.IntN(len(names))], later)
		}
	}
	// Recovery window: every item must be Ok within 30 s after the end.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !allOk(sub.Items()) {
		t := time.NewTimer(200 * time.Millisecond)
		<-t.C
	}
	take()
	for _, it := range sub.Items() {
		if st := it.State(); st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
			rep.NotOk = append(rep.NotOk, it.Name)
		}
	}
	st := c.Stats()
	c.Close() // no more handler calls: rep is ours
	rep.Updates = updates
	rep.Duration = time.Since(start).Round(time.Second)
	rep.AchievedRate = float64(rep.Updates) / time.Since(start).Seconds()
	rep.Reconnects, rep.Reissues = st.Reconnects, st.LoginReissues
	rep.GoroutineDrift, rep.RSSDrift = drift(rep.Samples, func(s Sample) float64 { return float64(s.Goroutines) }),
		drift(rep.Samples, func(s Sample) float64 { return s.RSSMB })
	if len(rep.NotOk) > 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d items not Ok at the end", len(rep.NotOk)))
	}
	if rep.Lost > 0 || rep.Duplicates > 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d updates lost outside reconnect gaps, %d duplicated", rep.Lost, rep.Duplicates))
	}
	if rep.GoroutineDrift > 0.10 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("goroutines drifted %.1f%%", 100*rep.GoroutineDrift))
	}
	if rep.RSSDrift > cfg.MaxRSSDrift {
		rep.Failures = append(rep.Failures, fmt.Sprintf("RSS drifted %.1f%%", 100*rep.RSSDrift))
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	if len(rep.Failures) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrFailed, strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

// inject applies one named fault; later schedules the end of a fault.
func inject(emu *emulator.Emulator, f, item string, later func(time.Duration, func())) {
	switch f {
	case "drop":
		emu.DropConnections(-1)
	case "kill-endpoint":
		for i, e := range emu.State().Endpoints {
			if len(e.Connections) > 0 {
				emu.KillEndpoint(i, 5*time.Second)
			}
		}
	case "stall":
		emu.Stall(-1, emulator.StallBoth, 15*time.Second)
	case "refuse-login":
		emu.RefuseLogins(2)
		emu.DropConnections(-1)
	case "item-suspect":
		emu.ItemStatus(item, emulator.ItemSuspect, 2*time.Second)
	case "item-closed-recover":
		emu.ItemStatus(item, emulator.ItemClosedRecover, 0)
	case "service-suspect":
		emu.ItemStatus("", emulator.ItemSuspect, 2*time.Second)
	case "reject-refresh":
		emu.RejectRefresh(1)
	case "gateway-503":
		emu.GatewayStatus("token_v1", 503, 2)
	case "delay":
		emu.DelayOutbound(-1, 200*time.Millisecond)
		later(5*time.Second, func() { emu.DelayOutbound(-1, 0) })
	case "expire-tokens":
		emu.ExpireTokens()
	case "revoke-tokens":
		emu.RevokeTokens("soak fault")
	}
}

func allOk(items []*consumer.Item) bool {
	for _, it := range items {
		if st := it.State(); st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
			return false
		}
	}
	return true
}

// drift compares the median of the last third of samples with the median
// of the second third: (last - mid) / mid, 0 when too few samples.
func drift(ss []Sample, f func(Sample) float64) float64 {
	n := len(ss)
	if n < 6 {
		return 0
	}
	med := func(part []Sample) float64 {
		v := make([]float64, len(part))
		for i, s := range part {
			v[i] = f(s)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	mid, last := med(ss[n/3:2*n/3]), med(ss[2*n/3:])
	if mid == 0 {
		return 0
	}
	return (last - mid) / mid
}

func heapMB() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// rssMB reads the resident set size from /proc (Linux); 0 elsewhere.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize()) / (1 << 20)
}
