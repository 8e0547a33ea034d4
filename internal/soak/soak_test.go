package soak

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A short run with a fault every 700 ms: the report is complete, nothing
// is lost or duplicated outside reconnect gaps, every item ends Ok, and
// the progress lines are written.
func TestRunShort(t *testing.T) {
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Duration: 4 * time.Second, Rate: 2000, TokenLifetime: 2 * time.Second,
		FaultEvery: 700 * time.Millisecond, SampleEvery: 500 * time.Millisecond, Progress: &progress,
		// Four seconds are warm-up: the RSS bound is for long soaks (it
		// failed at 14 % here with the rest of the suite running).
		MaxRSSDrift: 0.5,
		Faults:      []string{"drop", "item-suspect", "item-closed-recover", "reject-refresh", "delay"}})
	if err != nil {
		t.Fatalf("%v; report %+v", err, rep)
	}
	if rep.Items < 50 || rep.Updates < 1000 || rep.Lost != 0 || rep.Duplicates != 0 || len(rep.NotOk) != 0 {
		t.Errorf("report %+v", rep)
	}
	n := 0
	for _, c := range rep.Faults {
		n += c
	}
	if n < 3 || rep.Reissues < 1 || len(rep.Samples) < 6 {
		t.Errorf("faults %v, reissues %d, samples %d", rep.Faults, rep.Reissues, len(rep.Samples))
	}
	if !strings.Contains(progress.String(), "soak t=") {
		t.Errorf("no progress lines: %q", progress.String())
	}
}

func TestDrift(t *testing.T) {
	ss := make([]Sample, 9)
	for i := range ss {
		ss[i].Goroutines = 10
		if i >= 6 {
			ss[i].Goroutines = 12
		}
	}
	if d := drift(ss, func(s Sample) float64 { return float64(s.Goroutines) }); d < 0.19 || d > 0.21 {
		t.Errorf("drift %v, want 0.2", d)
	}
	if d := drift(ss[:3], func(s Sample) float64 { return 1 }); d != 0 {
		t.Errorf("drift of 3 samples %v, want 0", d)
	}
}
