package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// rateLimiter is a sliding-window log: at most limit hits per key within
// window. Its memory is bounded whatever clients send: keys are cut to
// maxRateKeyBytes (a long claimed user name is kept as a prefix and a
// hash), at most rateLimiterMaxKeys keys are kept (idle ones are
// forgotten first, then random ones), and each key holds at most limit
// hits.
type rateLimiter struct {
	limit  int // <0: unlimited
	window time.Duration

	mu   sync.Mutex
	hits map[string][]time.Time
}

const (
	// rateLimiterMaxKeys bounds the table: 4,096 keys of at most
	// maxRateKeyBytes and DefaultRateLimit hits each is about 6 MB.
	rateLimiterMaxKeys = 4096
	// maxRateKeyBytes bounds one key. A user name is claimed, not
	// verified, and may be as long as the 64 KiB form allows.
	maxRateKeyBytes = 128
)

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, hits: map[string][]time.Time{}}
}

// boundKey keeps short keys as they are and replaces longer ones by a
// prefix and a hash of the whole, so that two long names sharing a
// prefix still count separately.
func boundKey(key string) string {
	if len(key) <= maxRateKeyBytes {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	const prefix = maxRateKeyBytes - 1 - 2*16
	return key[:prefix] + "#" + hex.EncodeToString(sum[:16])
}

// allow records a hit for key at now if the key is under its limit; else
// it returns false and how long until the oldest hit leaves the window.
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.limit < 0 {
		return true, 0
	}
	key = boundKey(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	h, known := l.hits[key]
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
	if !known && len(l.hits) >= rateLimiterMaxKeys {
		l.makeRoom(cut)
	}
	if len(h) == 0 {
		h = nil // let a drained slice's array go
	}
	l.hits[key] = append(h, now)
	return true, 0
}

// makeRoom forgets every key idle for a whole window and, when that
// frees less than a sixteenth of the table, further keys in map order
// (random): a flood of new names cannot grow the table, it can only make
// some names' counts restart. Freeing a sixteenth at a time keeps the
// sweep's cost per new key small. Under l.mu.
func (l *rateLimiter) makeRoom(cut time.Time) {
	for k, hs := range l.hits {
		if len(hs) == 0 || !hs[len(hs)-1].After(cut) {
			delete(l.hits, k)
		}
	}
	for k := range l.hits {
		if len(l.hits) <= rateLimiterMaxKeys-rateLimiterMaxKeys/16 {
			break
		}
		delete(l.hits, k)
	}
}

// size returns the number of keys held (for tests).
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hits)
}
