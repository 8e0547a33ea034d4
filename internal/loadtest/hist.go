package loadtest

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram is a lock-free log-linear latency histogram in nanoseconds:
// exact below 64 ns, then 32 sub-buckets per power of two (relative error
// ≤ 3.2 %), up to 2^41 ns (~36 min); larger values land in the last
// bucket. Memory is fixed (histBuckets counters) whatever the sample count.
type Histogram struct {
	b [histBuckets]atomic.Uint64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits // sub-buckets per power of two
	histMaxExp  = 41
	histBuckets = 2*histSub + (histMaxExp-histSubBits-1)*histSub
)

func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // ≥ 1
	m := v >> e                          // in [histSub, 2*histSub)
	i := 2*histSub + (e-1)*histSub + int(m-histSub)
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histUpper is the largest value that maps to bucket i.
func histUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := (i-2*histSub)/histSub + 1
	m := uint64((i-2*histSub)%histSub + histSub)
	return (m+1)<<e - 1
}

// Record adds one latency; negative values (clock steps) count as 0.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.b[histIndex(uint64(d))].Add(1)
}

// Snapshot copies the counters (a consistent-enough view while recording).
func (h *Histogram) Snapshot() *HistSnapshot {
	s := &HistSnapshot{}
	for i := range h.b {
		s.b[i] = h.b[i].Load()
	}
	return s
}

// HistSnapshot is a copy of a Histogram's counters.
type HistSnapshot struct {
	b [histBuckets]uint64
}

// Sub returns s minus an earlier snapshot of the same histogram.
func (s *HistSnapshot) Sub(earlier *HistSnapshot) *HistSnapshot {
	d := &HistSnapshot{}
	for i := range s.b {
		d.b[i] = s.b[i] - earlier.b[i]
	}
	return d
}

// Add accumulates o into s.
func (s *HistSnapshot) Add(o *HistSnapshot) {
	for i := range s.b {
		s.b[i] += o.b[i]
	}
}

// Count is the number of samples.
func (s *HistSnapshot) Count() uint64 {
	var n uint64
	for _, c := range s.b {
		n += c
	}
	return n
}

// Quantile returns the upper bound of the bucket holding quantile q
// (0 < q ≤ 1), so that the reported value is never an under-estimate;
// 0 without samples.
func (s *HistSnapshot) Quantile(q float64) time.Duration {
	n := s.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var seen uint64
	for i, c := range s.b {
		seen += c
		if seen >= rank {
			return time.Duration(histUpper(i))
		}
	}
	return time.Duration(histUpper(histBuckets - 1))
}

// Max returns the upper bound of the highest non-empty bucket.
func (s *HistSnapshot) Max() time.Duration {
	for i := histBuckets - 1; i >= 0; i-- {
		if s.b[i] != 0 {
			return time.Duration(histUpper(i))
		}
	}
	return 0
}
