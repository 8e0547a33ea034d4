package loadtest

import (
	"context"
	"testing"
	"time"
)

// The fan-out test at a scale that fits the race detector in CI: every
// client gets every update once, in order, and each item has one
// upstream stream (RunGateway fails otherwise). The full scale (200 ×
// 1,000) is `ert bench gateway` (docs/BENCHMARKS.md).
func TestGatewayFanOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := RunGateway(ctx, GatewayConfig{Clients: 20, Items: 100, Rate: 5, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + res.String())
	if res.UpstreamStreams != 1 {
		t.Fatalf("upstream streams per item: %d", res.UpstreamStreams)
	}
	// 20 clients × 100 items × 5/s × 2 s = 20,000; the scheduler paces
	// the emulator, so expect most of them.
	if res.Updates < 10000 {
		t.Fatalf("only %d updates downstream", res.Updates)
	}
	if res.Added.N == 0 || res.Total.N == 0 {
		t.Fatal("no latency samples")
	}
}
