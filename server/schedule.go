package server

import (
	"time"
)

// The fixed-rate scheduler. Every active item ticks once per period
// (1/Config.Rate), and the items' phases are spread evenly over the
// period: item i of n ticks at about (i + k·n) / (n·Rate). A burst of
// thousands of updates generated at the same instant would queue behind
// each other and show up as latency that RTO does not have.
//
// The scheduler wakes every period/n (at least minSlot, at most maxSlot)
// and ticks the items that became due since its last wakeup, in
// round-robin order: time elapsed × n / period items, with the fraction
// carried to the next wakeup. A late wakeup (a loaded machine, coarse
// timers) catches up by ticking more items at once, but at most one
// period's worth (n) per wakeup and no backlog beyond that, so the
// average rate never exceeds the asked one.

const (
	// minSlot is the shortest wait between two wakeups; it also bounds an
	// item's rate (at most one tick per item per wakeup: 10,000/s).
	minSlot = 100 * time.Microsecond
	// maxSlot is the longest wait, so that new subscriptions are picked
	// up soon even at low rates.
	maxSlot = 50 * time.Millisecond
	// fineSleepBelow: shorter waits use sleepFine (the Go timer wakes
	// up at millisecond granularity when the process is idle).
	fineSleepBelow = 2 * time.Millisecond
)

// pacer decides how many item ticks are due at each wakeup.
type pacer struct {
	period time.Duration
	credit float64 // item ticks due and not yet done (fraction carried)
}

func newPacer(rate float64) pacer {
	return pacer{period: max(time.Duration(float64(time.Second)/rate), minSlot)}
}

// due adds the ticks that elapsed made due for n items (the number
// active during that time) and returns how many to do now: at most n.
func (p *pacer) due(elapsed time.Duration, n int) int {
	if n <= 0 || elapsed <= 0 {
		p.credit = 0
		return 0
	}
	p.credit = min(p.credit+float64(elapsed)*float64(n)/float64(p.period), float64(n))
	k := int(p.credit)
	p.credit -= float64(k)
	return k
}

// wait is the time until the next wakeup with n items.
func (p pacer) wait(n int) time.Duration {
	if n <= 0 {
		return min(p.period, maxSlot)
	}
	return min(max(p.period/time.Duration(n), minSlot), maxSlot)
}

func (h *Hub) run() {
	defer h.wg.Done()
	p := newPacer(h.cfg.Rate)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	last := time.Now()
	n := 0      // active items at the last wakeup
	cursor := 0 // next item of h.active to tick
	for {
		if !h.sleep(t, p.wait(n)) {
			return
		}
		now := time.Now()
		k := p.due(now.Sub(last), n)
		last = now
		h.mu.Lock()
		// Items added since the last wakeup start accruing now: a
		// subscription of thousands of items does not tick them all at
		// once on the next wakeup.
		n = len(h.active)
		for range min(k, n) {
			if cursor >= len(h.active) {
				cursor = 0
			}
			h.tickItemLocked(h.active[cursor], now)
			cursor++
		}
		h.mu.Unlock()
	}
}

// sleep waits d or until the hub closes (false).
func (h *Hub) sleep(t *time.Timer, d time.Duration) bool {
	if d < fineSleepBelow && sleepFine(d) {
		select {
		case <-h.stop:
			return false
		default:
			return true
		}
	}
	t.Reset(d)
	select {
	case <-h.stop:
		return false
	case <-t.C:
		return true
	}
}
