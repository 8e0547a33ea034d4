package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramQuantiles checks the histogram against exact sorted-sample
// quantiles: never below, at most 1/32 above.
func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 2))
	var xs []time.Duration
	for range 100_000 {
		// log-uniform from 1 ns to ~1 s
		d := time.Duration(math.Exp2(r.Float64() * 30))
		xs = append(xs, d)
		h.Record(d)
	}
	h.Record(-5) // clamped to 0
	xs = append(xs, 0)
	slices.Sort(xs)
	s := h.Snapshot()
	if s.Count() != uint64(len(xs)) {
		t.Fatalf("count %d, want %d", s.Count(), len(xs))
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := xs[int(q*float64(len(xs))+0.5)-1]
		got := s.Quantile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/histSub)+1 {
			t.Errorf("q%.3f = %v, exact %v", q, got, exact)
		}
	}
	if s.Max() < xs[len(xs)-1] {
		t.Errorf("max %v < %v", s.Max(), xs[len(xs)-1])
	}
	if d := s.Sub(s); d.Count() != 0 || d.Quantile(0.5) != 0 {
		t.Error("empty difference not empty")
	}
}

func TestHistIndexMonotonic(t *testing.T) {
	prev := 0
	for v := uint64(0); v < 1<<20; v += 1 + v/50 {
		i := histIndex(v)
		if i < prev || histUpper(i) < v || (i > 0 && histUpper(i-1) >= v) {
			t.Fatalf("v=%d index %d (prev %d) upper %d", v, i, prev, histUpper(i))
		}
		prev = i
	}
}
