package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	p := Policy{}.WithDefaults()
	if p.Base != 500*time.Millisecond || p.Max != 30*time.Second || p.Attempts != 5 {
		t.Fatalf("defaults = %+v", p)
	}
}

func TestCapGrowsAndSaturates(t *testing.T) {
	p := Policy{Base: time.Second, Max: 10 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 10, 10, 10}
	for n, w := range want {
		if got := p.Cap(n); got != w*time.Second {
			t.Errorf("Cap(%d) = %v, want %v", n, got, w*time.Second)
		}
	}
	if got := p.Cap(1000); got != 10*time.Second {
		t.Errorf("Cap(1000) = %v (overflow?)", got)
	}
}

func TestDelayWithinCap(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	seenLow, seenHigh := false, false
	for i := 0; i < 2000; i++ {
		n := i % 6
		d := p.Delay(n)
		if d < 0 || d > p.Cap(n) {
			t.Fatalf("Delay(%d) = %v outside [0, %v]", n, d, p.Cap(n))
		}
		if n == 5 && d < p.Cap(n)/4 {
			seenLow = true
		}
		if n == 5 && d > 3*p.Cap(n)/4 {
			seenHigh = true
		}
	}
	if !seenLow || !seenHigh {
		t.Errorf("jitter does not spread over the window: low=%v high=%v", seenLow, seenHigh)
	}
}

func TestWaitFiresAndCancels(t *testing.T) {
	fired := make(chan time.Time, 1)
	var asked time.Duration
	after := func(d time.Duration) <-chan time.Time { asked = d; return fired }
	fired <- time.Now()
	if err := Wait(context.Background(), 3*time.Second, after); err != nil {
		t.Fatal(err)
	}
	if asked != 3*time.Second {
		t.Fatalf("after asked %v", asked)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wait(ctx, time.Hour, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on cancelled ctx = %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	never := func(time.Duration) <-chan time.Time { return nil }
	if err := Wait(ctx2, time.Hour, never); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
	if err := Wait(context.Background(), 0, never); err != nil {
		t.Fatalf("zero wait = %v", err)
	}
}
