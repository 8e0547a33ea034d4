// Package backoff computes retry delays: exponential growth with full jitter
// ("sleep a uniformly random time between 0 and the exponential cap"), a
// bounded number of attempts, and a context-aware wait.
//
// Full jitter spreads the retries of many clients that failed at the same
// moment (a gateway restart, a zone outage) over the whole window instead of
// having them return together, which is what the fixed 5 s retries of
// LSEG's examples do.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes a bounded retry schedule. The zero value is usable: every
// zero field takes the default shown.
type Policy struct {
	// Base is the cap of the first retry delay. Default 500ms.
	Base time.Duration
	// Max caps every delay. Default 30s.
	Max time.Duration
	// Attempts is the total number of tries, the first included. Default 5.
	// A value of 1 disables retries.
	Attempts int
}

// WithDefaults returns p with its zero fields replaced by the defaults.
func (p Policy) WithDefaults() Policy {
	if p.Base <= 0 {
		p.Base = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	return p
}

// Cap returns the upper bound of the delay before retry number n (n = 0 for
// the first retry): min(Max, Base·2ⁿ). Defaults apply.
func (p Policy) Cap(n int) time.Duration {
	p = p.WithDefaults()
	if n < 0 {
		n = 0
	}
	d := p.Base
	for i := 0; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Delay returns a random delay in [0, Cap(n)] (full jitter).
func (p Policy) Delay(n int) time.Duration {
	c := p.Cap(n)
	return time.Duration(rand.Int64N(int64(c) + 1))
}

// Wait blocks for d or until ctx ends, whichever comes first, and returns
// ctx.Err() in the second case. after creates the timer channel; nil means
// time.After (tests pass a fake clock's).
func Wait(ctx context.Context, d time.Duration, after func(time.Duration) <-chan time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	var ch <-chan time.Time
	if after != nil {
		ch = after(d)
	} else {
		t := time.NewTimer(d)
		defer t.Stop()
		ch = t.C
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
