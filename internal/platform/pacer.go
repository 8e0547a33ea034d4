package platform

import (
	"context"
	"sync"
	"time"

	"github.com/ertkit/ertkit/internal/backoff"
)

// Pacer keeps requests under Max per Window (a sliding window). The
// Delivery Platform gateway guards its token endpoint against bursts; a
// reconnect storm of many connections must not turn into a burst of auth
// calls. Slots are reserved in order, so waiting callers are served FIFO.
type Pacer struct {
	Max    int           // requests per window; <= 0 disables pacing
	Window time.Duration // default 1 minute
	Now    func() time.Time
	After  func(time.Duration) <-chan time.Time

	mu   sync.Mutex
	sent []time.Time // send times (possibly reserved in the future), non-decreasing
}

// Wait blocks until a request may be sent, or ctx ends.
func (p *Pacer) Wait(ctx context.Context) error {
	if p == nil || p.Max <= 0 {
		return nil
	}
	d := p.reserve()
	return backoff.Wait(ctx, d, p.After)
}

// reserve takes the next free slot and returns how long to wait for it.
func (p *Pacer) reserve() time.Duration {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	win := p.Window
	if win <= 0 {
		win = time.Minute
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	i := 0
	for i < len(p.sent) && !p.sent[i].After(now.Add(-win)) {
		i++
	}
	p.sent = append(p.sent[:0], p.sent[i:]...)
	at := now
	if len(p.sent) >= p.Max {
		at = p.sent[len(p.sent)-p.Max].Add(win)
	}
	if n := len(p.sent); n > 0 && p.sent[n-1].After(at) {
		at = p.sent[n-1]
	}
	p.sent = append(p.sent, at)
	return at.Sub(now)
}
