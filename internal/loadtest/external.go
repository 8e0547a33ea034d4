package loadtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

// ExternalConfig describes a run of an external client program (`ert
// stream`, LSEG's Go example) against an emulator in load mode.
type ExternalConfig struct {
	// Plain serves ws:// instead of wss://. Default false.
	Plain bool
	// Pack is the emulator's messages per frame. Default 1.
	Pack int
	// Warmup and Duration of the measured window. Defaults 2 s and 10 s;
	// Duration at most MaxDuration.
	Warmup, Duration time.Duration
	// Command returns the client process for the started emulator. Its
	// output should go to /dev/null: the emulator's counters measure it.
	Command func(info emulator.Info) *exec.Cmd
	// Interrupt stops the program with SIGINT (then kills it if it has
	// not exited within 5 s), so that it can finish, e.g. write a CPU
	// profile. Default false: killed at once.
	Interrupt bool
}

// ExternalResult is what the emulator sent while the program drained it.
type ExternalResult struct {
	Seconds     float64 `json:"seconds"`
	Messages    int64   `json:"messages"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	FramesSent  int64   `json:"frames"`
	ChildCPUSec float64 `json:"child_cpu_seconds"` // whole life of the child
}

// External starts an emulator in load mode, runs the program, counts the
// messages the emulator sent during the window and kills the program.
// In load mode the emulator sends only as fast as the client drains, so
// messages sent per second is the client's throughput (to within the
// socket buffers).
func External(ctx context.Context, cfg ExternalConfig) (ExternalResult, error) {
	if cfg.Pack == 0 {
		cfg.Pack = 1
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = 2 * time.Second
	}
	if cfg.Duration == 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Duration > MaxDuration || cfg.Command == nil {
		return ExternalResult{}, fmt.Errorf("%w: Duration ≤ %s and a Command are required", ErrConfig, MaxDuration)
	}
	emu, err := emulator.Start(ctx, emulator.Config{StreamAddrs: []string{"127.0.0.1:0"}, PlainWS: cfg.Plain,
		RateSet: true, Rate: 0, Pack: cfg.Pack, GatewayRateLimit: -1})
	if err != nil {
		return ExternalResult{}, fmt.Errorf("loadtest: start emulator: %w", err)
	}
	defer emu.Close()
	cmd := cfg.Command(emu.Info())
	if err := cmd.Start(); err != nil {
		return ExternalResult{}, fmt.Errorf("loadtest: start %s: %w", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		// Only the process we started, by its pid.
		if cfg.Interrupt && cmd.Process.Signal(os.Interrupt) == nil {
			t := time.NewTimer(5 * time.Second)
			defer t.Stop()
			select {
			case err := <-exited:
				exited <- err
				return
			case <-t.C:
			}
		}
		_ = cmd.Process.Kill()
		<-exited
	}
	count := func() (msgs, frames int64) {
		for _, e := range emu.State().Endpoints {
			msgs += e.Stats.MessagesSent
			frames += e.Stats.FramesSent
		}
		return
	}
	window := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case err := <-exited:
			exited <- err
			return fmt.Errorf("loadtest: %s exited early: %v", cmd.Path, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := window(cfg.Warmup); err != nil {
		stop()
		return ExternalResult{}, err
	}
	m0, f0 := count()
	t0 := time.Now()
	if err := window(cfg.Duration); err != nil {
		stop()
		return ExternalResult{}, err
	}
	m1, f1 := count()
	sec := time.Since(t0).Seconds()
	stop()
	r := ExternalResult{Seconds: sec, Messages: m1 - m0, MsgsPerSec: float64(m1-m0) / sec, FramesSent: f1 - f0}
	if ps := cmd.ProcessState; ps != nil {
		r.ChildCPUSec = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	if r.Messages == 0 {
		return r, fmt.Errorf("loadtest: %s received nothing", cmd.Path)
	}
	return r, nil
}
