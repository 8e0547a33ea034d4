package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// TestPacer checks the schedule's arithmetic with given elapsed times (no
// clock): ticks spread evenly, fractions carried, catch-up bounded to
// one period, and never more than the asked rate.
func TestPacer(t *testing.T) {
	p := newPacer(100) // period 10 ms
	if p.period != 10*time.Millisecond {
		t.Fatalf("period %v", p.period)
	}
	// 1,000 items: a wakeup every 100 µs ticks 10 of them.
	if w := p.wait(1000); w != minSlot {
		t.Fatalf("wait(1000) = %v, want %v", w, minSlot)
	}
	for i := range 100 {
		if k := p.due(100*time.Microsecond, 1000); k != 10 {
			t.Fatalf("wakeup %d: %d due, want 10", i, k)
		}
	}
	// Fractions carry: 40 µs steps give 4 each.
	total := 0
	for range 250 {
		total += p.due(40*time.Microsecond, 1000)
	}
	if total != 1000 {
		t.Fatalf("250 × 40 µs: %d due, want 1000", total)
	}
	// A wakeup 3 periods late catches up at most one period (every item
	// once), and no backlog is kept beyond it.
	if k := p.due(30*time.Millisecond, 1000); k != 1000 {
		t.Fatalf("late wakeup: %d due, want 1000 (one period)", k)
	}
	if k := p.due(100*time.Microsecond, 1000); k != 10 {
		t.Fatalf("after catching up: %d due, want 10", k)
	}
	// Few items: wake once per item slot, at most maxSlot apart.
	if w := p.wait(4); w != 2500*time.Microsecond {
		t.Fatalf("wait(4) = %v", w)
	}
	if w := newPacer(1).wait(3); w != maxSlot {
		t.Fatalf("rate 1, 3 items: wait %v, want %v", w, maxSlot)
	}
	if w := p.wait(0); w != p.period {
		t.Fatalf("no items: wait %v", w)
	}
	// Rates above one tick per minSlot are capped there.
	if q := newPacer(1e6); q.period != minSlot {
		t.Fatalf("rate 1e6: period %v, want %v", q.period, minSlot)
	}
	// No items: nothing due, no credit kept.
	if k := p.due(time.Second, 0); k != 0 || p.credit != 0 {
		t.Fatalf("no items: %d due, credit %v", k, p.credit)
	}
	// Any sequence of wakeups: never more than elapsed × n / period.
	var q pacer = newPacer(250)
	var elapsed time.Duration
	total = 0
	for i := range 5000 {
		d := time.Duration(i%7) * 37 * time.Microsecond
		elapsed += d
		total += q.due(d, 64)
		if limit := int(float64(elapsed) * 64 / float64(q.period)); total > limit {
			t.Fatalf("after %v: %d ticks, more than the rate allows (%d)", elapsed, total, limit)
		}
	}
}

// TestSchedulerRate runs the real scheduler: 40 items at 100 updates/s
// each, counted at a subscriber. The count over the measured time must
// not exceed the asked rate (plus one period of phase), every item must
// tick as often as every other (±1), and the rate must not be far below
// the asked one (loose: the machine is shared).
func TestSchedulerRate(t *testing.T) {
	const items, rate, want = 40, 100.0, 2000 // ≈ 0.5 s of ticks
	h, err := NewHub(Config{Universe: newFakeUniverse(), Dictionary: fakeDictionary{}, ADSMode: true, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := &conn{h: h, cfg: &h.cfg, notify: make(chan struct{}, 1), done: make(chan struct{}), streams: map[int64]*sub{}}
	u := newFakeUniverse()
	start := time.Now()
	h.mu.Lock()
	for i := range items {
		name := fmt.Sprintf("LOAD%d.N", i%40)
		in, _ := u.Lookup(name)
		it := h.itemLocked(trjson.DomainMarketPrice, in, name)
		s := &sub{c: c, id: int64(i + 2), domain: trjson.DomainMarketPrice, name: name, inst: in, streaming: true, item: it}
		it.subs[s] = struct{}{}
	}
	h.mu.Unlock()
	per := map[int64]int{}
	got := 0
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for got < want {
		select {
		case <-c.notify:
		case <-deadline.C:
			t.Fatalf("only %d updates in 20 s (asked %g/s)", got, items*rate)
		}
		b := c.take()
		for _, o := range b {
			per[o.s.id]++
			got++
			o.t.release()
		}
		c.giveBack(b)
	}
	elapsed := time.Since(start)
	limit := elapsed.Seconds()*items*rate + items
	if float64(got) > limit {
		t.Fatalf("%d updates in %v: more than the asked rate allows (%.0f)", got, elapsed, limit)
	}
	if asked := elapsed.Seconds() * items * rate; float64(got) < asked/4 {
		t.Fatalf("%d updates in %v: under a quarter of the asked %.0f", got, elapsed, asked)
	}
	lo, hi := got, 0
	for i := range items {
		n := per[int64(i+2)]
		lo, hi = min(lo, n), max(hi, n)
	}
	// The count stops mid-round: items differ by at most one tick, plus
	// one for an update still queued when the count was taken.
	if hi-lo > 2 {
		t.Fatalf("uneven ticks per item: %d…%d", lo, hi)
	}
	t.Logf("%d updates in %v (%.0f/s, asked %.0f/s); per item %d…%d", got, elapsed, float64(got)/elapsed.Seconds(), items*rate, lo, hi)
}
