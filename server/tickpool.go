package server

import (
	"strconv"
	"sync"

	"github.com/ertkit/ertkit/trjson"
)

// Fixed-rate ticks are recycled instead of allocated: at 100,000 updates/s
// a fresh tick, its field slice and the send-time field cost ~1.5 KB and 5
// allocations per update, garbage whose collection lands in the latency
// of every client sharing the process.
//
// Why reference counting rather than a per-subscriber copy: one tick is
// queued, in order with Refreshes and Statuses, on the single outbound
// queue of every connection that watches the item. Counting the queue
// entries keeps that queue and its ordering as they are, and costs one
// atomic add per subscriber; copying the fields into per-subscriber rings
// would copy them once per subscriber and need a second, separately
// ordered queue.
//
// The rules:
//   - tickPool.get returns a tick holding one reference, the producer's.
//   - Every queue entry holds one more: fanOutLocked adds it before the
//     push (so the writer can never drop the count to zero under the
//     producer) and gives it back at once if the push is refused.
//   - The writer releases its reference once the update is encoded (or
//     skipped: closed, paused, outside the view); fanOutLocked releases
//     the producer's reference after the fan-out.
//   - The last release puts the tick back into the pool.
//
// A reference that is never released (a connection that ends with ticks
// still queued) only means that tick is left to the garbage collector: it
// is never reused while referenced. Ticks built outside the pool (posts)
// have pool == nil and release is a no-op for them.

// maxFreeTicks bounds the pool's free list; beyond it, released ticks are
// left to the garbage collector.
const maxFreeTicks = 1 << 16

type tickPool struct {
	mu   sync.Mutex
	free []*tick
}

// get returns a blank tick with one reference (the caller's).
func (p *tickPool) get() *tick {
	p.mu.Lock()
	var t *tick
	if n := len(p.free); n > 0 {
		t = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if t == nil {
		t = &tick{pool: p}
	}
	t.refs.Store(1)
	return t
}

func (p *tickPool) put(t *tick) {
	// Keep the buffers (fields, map, ConflationInfo), drop every pointer
	// into other objects so a pooled tick keeps nothing alive.
	clear(t.fields)
	t.item = nil
	t.fields = t.fields[:0]
	t.mapRaw, t.confInfo, t.postUserInfo = nil, nil, nil
	t.updateType, t.seq, t.doNotRipple, t.conflated = 0, 0, false, false
	p.mu.Lock()
	if len(p.free) < maxFreeTicks {
		p.free = append(p.free, t)
	}
	p.mu.Unlock()
}

// retain adds a reference (one more queue entry).
func (t *tick) retain() {
	if t.pool != nil {
		t.refs.Add(1)
	}
}

// release drops a reference; the last one returns a pooled tick to its
// pool. The tick must not be used by the caller afterwards.
func (t *tick) release() {
	if t.pool == nil {
		return
	}
	switch n := t.refs.Add(-1); {
	case n == 0:
		t.pool.put(t)
	case n < 0:
		panic("server: tick released more often than retained")
	}
}

// setMap stores a book or symbol-list Map, encoded into the tick's own
// buffer.
func (t *tick) setMap(m *trjson.Map) {
	t.mapBuf = trjson.AppendMap(t.mapBuf[:0], m)
	t.mapRaw = t.mapBuf
}

// setConfInfo stores the ConflationInfo member of a conflated update
// ({"ConflationInfo":{"Count":n,"Time":ms}}) in the tick's own buffer.
func (t *tick) setConfInfo(count, ms int64) {
	b := append(t.confBuf[:0], `{"ConflationInfo":{"Count":`...)
	b = strconv.AppendInt(b, count, 10)
	b = append(b, `,"Time":`...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, "}}"...)
	t.confBuf = b
	t.confInfo = b
}
