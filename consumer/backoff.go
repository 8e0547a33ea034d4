package consumer

import (
	"math/rand/v2"
	"time"
)

// backoff computes exponential delays with jitter, bounded by MaxDelay.
type backoff struct {
	p       Reconnect
	current time.Duration
}

// next returns the delay before the next attempt and grows the base delay.
func (b *backoff) next() time.Duration {
	if b.current == 0 {
		b.current = b.p.MinDelay
	}
	d := b.current
	b.current = time.Duration(float64(b.current) * b.p.Multiplier)
	if b.current > b.p.MaxDelay {
		b.current = b.p.MaxDelay
	}
	j := (rand.Float64()*2 - 1) * b.p.Jitter * float64(d)
	d += time.Duration(j)
	if d < 0 {
		d = 0
	}
	if d > b.p.MaxDelay {
		d = b.p.MaxDelay
	}
	return d
}

func (b *backoff) reset() { b.current = 0 }
