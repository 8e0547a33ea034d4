package loadtest

import (
	"context"
	"testing"
	"time"
)

func TestRunSmoke(t *testing.T) {
	for _, cfg := range []Config{
		{Pack: 50},
		{Plain: true, Pack: 1},
		{Pack: 50, Decoder: DecoderMapAny},
	} {
		t.Run(cfg.Name(), func(t *testing.T) {
			cfg.Warmup, cfg.Duration = 100*time.Millisecond, 300*time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", r)
			if r.Updates == 0 || r.LatencySamples == 0 || r.P50 <= 0 || r.P999 < r.P50 || r.MBPerSec <= 0 {
				t.Errorf("implausible result: %+v", r)
			}
		})
	}
}
