package gateway

import (
	"sync"
	"time"
)

// rateLimiter is a sliding-window log: at most limit hits per key within
// window. Memory is bounded by limit hits per key, and keys idle for a
// whole window are forgotten once there are many.
type rateLimiter struct {
	limit  int // <0: unlimited
	window time.Duration

	mu   sync.Mutex
	hits map[string][]time.Time
}

const rateLimiterMaxKeys = 4096

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, hits: map[string][]time.Time{}}
}

// allow records a hit for key at now if the key is under its limit; else
// it returns false and how long until the oldest hit leaves the window.
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.limit < 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hits[key]
	cut := now.Add(-l.window)
	i := 0
	for i < len(h) && !h[i].After(cut) {
		i++
	}
	h = h[i:]
	if len(h) >= l.limit {
		l.hits[key] = h
		var wait time.Duration
		if len(h) > 0 {
			wait = h[0].Add(l.window).Sub(now)
		}
		return false, max(wait, time.Second)
	}
	if len(l.hits) >= rateLimiterMaxKeys {
		for k, hs := range l.hits {
			if len(hs) == 0 || !hs[len(hs)-1].After(cut) {
				delete(l.hits, k)
			}
		}
	}
	l.hits[key] = append(h, now)
	return true, 0
}
