package loadtest

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// Result is what one Run measured in its window. CPU, allocations and RSS
// are process totals: the emulator's too when it runs in the same process
// (EmulatorProcess false).
type Result struct {
	Config Config `json:"config"`
	Name   string `json:"name"`

	Seconds       float64 `json:"seconds"`
	Updates       int64   `json:"updates"`
	UpdatesPerSec float64 `json:"updates_per_sec"`
	// MBPerSec is JSON payload decoded per second (10^6 bytes).
	MBPerSec float64 `json:"mb_per_sec"`
	// FramesPerSec is the emulator's frames sent per second.
	FramesPerSec float64 `json:"frames_per_sec"`
	// AllocsPerUpdate is process mallocs (emulator + client) per update.
	AllocsPerUpdate float64 `json:"allocs_per_update"`
	// CPUSeconds is process user+system CPU in the window; CPUPerUpdate
	// the same per update.
	CPUSeconds   float64       `json:"cpu_seconds"`
	CPUPerUpdate time.Duration `json:"cpu_ns_per_update"`
	// PeakRSS is the process's VmHWM at the end of the run (bytes).
	PeakRSS int64 `json:"peak_rss_bytes"`

	// Latency from the emulator's send time to the client's handler, over
	// the window; zero without send times (Rate > 0).
	LatencySamples uint64        `json:"latency_samples"`
	P50            time.Duration `json:"p50_ns"`
	P99            time.Duration `json:"p99_ns"`
	P999           time.Duration `json:"p999_ns"`
	// Arrival* are the same from the send time to the moment the client
	// read the frame off the socket (consumer.Msg.Received), before
	// decoding and routing: what the emulator, the kernel and the
	// reader's scheduling add. Zero without send times or for mapany.
	ArrivalP50  time.Duration `json:"arrival_p50_ns"`
	ArrivalP99  time.Duration `json:"arrival_p99_ns"`
	ArrivalP999 time.Duration `json:"arrival_p999_ns"`
	Max         time.Duration `json:"max_ns"`

	// Disconnects counts connections lost during the run (should be 0).
	Disconnects int64 `json:"disconnects"`

	// EmulatorProcess: the emulator ran in a child process; CPU,
	// allocations and RSS above are then the client's alone, FramesPerSec
	// is not measured and EmulatorCPUSeconds is the child's CPU in the
	// window (Linux).
	EmulatorProcess    bool    `json:"emulator_process,omitempty"`
	EmulatorCPUSeconds float64 `json:"emulator_cpu_seconds,omitempty"`
}

type sample struct {
	at      time.Time
	updates int64
	bytes   int64
	frames  int64
	cpu     time.Duration
	mallocs uint64
	hist    *HistSnapshot
	arrival *HistSnapshot
	emuCPU  time.Duration // the child emulator's, if any
}

func (s *Session) sample() sample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var frames int64
	var emuCPU time.Duration
	if s.emu != nil {
		for _, e := range s.emu.State().Endpoints {
			frames += e.Stats.FramesSent
		}
	}
	if s.proc != nil {
		emuCPU = s.proc.cpu()
	}
	return sample{at: time.Now(), updates: s.updates.Load(), bytes: s.bytes.Load(), frames: frames,
		cpu: CPUTime(), mallocs: ms.Mallocs, hist: s.hist.Snapshot(), arrival: s.arrival.Snapshot(), emuCPU: emuCPU}
}

// Run opens a session, waits Warmup, measures for Duration and closes it.
func Run(ctx context.Context, cfg Config) (Result, error) {
	s, err := Open(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	return s.Measure(ctx)
}

// Measure waits the session's Warmup, then measures for its Duration.
func (s *Session) Measure(ctx context.Context) (Result, error) {
	cfg := s.cfg
	if err := wait(ctx, cfg.Warmup); err != nil {
		return Result{}, err
	}
	a := s.sample()
	if err := wait(ctx, cfg.Duration); err != nil {
		return Result{}, err
	}
	b := s.sample()
	sec := b.at.Sub(a.at).Seconds()
	r := Result{Config: cfg, Name: cfg.Name(), Seconds: sec, Updates: b.updates - a.updates,
		CPUSeconds: (b.cpu - a.cpu).Seconds(), PeakRSS: ReadMemStatus().PeakRSS,
		Disconnects: s.disconnects.Load(), EmulatorProcess: s.proc != nil,
		EmulatorCPUSeconds: (b.emuCPU - a.emuCPU).Seconds()}
	r.UpdatesPerSec = float64(r.Updates) / sec
	r.MBPerSec = float64(b.bytes-a.bytes) / sec / 1e6
	r.FramesPerSec = float64(b.frames-a.frames) / sec
	if r.Updates > 0 {
		// ReadMemStats itself allocates nothing; the window's mallocs are
		// the emulator's and the clients'.
		r.AllocsPerUpdate = float64(b.mallocs-a.mallocs) / float64(r.Updates)
		r.CPUPerUpdate = (b.cpu - a.cpu) / time.Duration(r.Updates)
	}
	h := b.hist.Sub(a.hist)
	r.LatencySamples = h.Count()
	r.P50, r.P99, r.P999, r.Max = h.Quantile(0.50), h.Quantile(0.99), h.Quantile(0.999), h.Max()
	if ah := b.arrival.Sub(a.arrival); ah.Count() > 0 {
		r.ArrivalP50, r.ArrivalP99, r.ArrivalP999 = ah.Quantile(0.50), ah.Quantile(0.99), ah.Quantile(0.999)
	}
	if r.Disconnects > 0 {
		return r, fmt.Errorf("loadtest: %s: %d connection(s) lost during the run", r.Name, r.Disconnects)
	}
	return r, nil
}

func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
