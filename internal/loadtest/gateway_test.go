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
	res, err := RunGateway(ctx, GatewayConfig{Clients: 10, Items: 50, Rate: 4, Duration: 2 * time.Second, SettleMax: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + res.String())
	if res.UpstreamStreams != 1 {
		t.Fatalf("upstream streams per item: %d", res.UpstreamStreams)
	}
	// 10 clients × 50 items × 4/s × 2 s = 4,000 generated; what arrives
	// depends on the machine (the race detector, other load), not on
	// correctness, which RunGateway checked for every update received.
	if res.Updates < 400 {
		t.Fatalf("only %d updates downstream", res.Updates)
	}
	if res.Added.N == 0 || res.Total.N == 0 {
		t.Fatal("no latency samples")
	}
}
