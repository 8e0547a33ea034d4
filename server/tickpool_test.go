package server

import (
	"slices"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// TestHubTickAllocs keeps the fixed-rate path allocation-free in steady
// state: generating, fanning out and writing an update (send timestamps
// on) allocates nothing once the pool, the queues and the per-item seq
// history have grown. The bound asked is ≤ 0.1 allocations per update.
func TestHubTickAllocs(t *testing.T) {
	const items = 100
	r := newTickRig(t, items, 4, true)
	// Long enough for every item's SeqNumber history (2 × 256) to reach
	// its final size.
	for range 2*maxSeqHistory + 2 {
		r.tickAll()
		r.drain()
	}
	var n int
	allocs := testing.AllocsPerRun(20, func() {
		r.tickAll()
		n = r.drain()
	})
	if n != items {
		t.Fatalf("%d updates written per period, want %d", n, items)
	}
	if per := allocs / items; per > 0.1 {
		t.Fatalf("%.3f allocations per update (%.0f per period of %d), want ≤ 0.1", per, allocs, items)
	}
}

// twoSubRig is one item watched by one subscription on each of two
// connections.
func twoSubRig(t *testing.T) (*tickRig, *hubItem) {
	t.Helper()
	r := newTickRig(t, 1, 1, true)
	c2 := &conn{h: r.h, cfg: &r.h.cfg, notify: make(chan struct{}, 1), done: make(chan struct{}), streams: map[int64]*sub{}}
	r.conns = append(r.conns, c2)
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	it := r.h.active[0]
	var s1 *sub
	for s := range it.subs {
		s1 = s
	}
	s2 := &sub{c: c2, id: 99, domain: trjson.DomainMarketPrice, name: s1.name, inst: s1.inst, streaming: true, item: it}
	it.subs[s2] = struct{}{}
	return r, it
}

// TestTickSharedUntilLastRelease: a tick queued on two connections is not
// reused while the second one still holds it, and returns to the pool
// after both wrote it.
func TestTickSharedUntilLastRelease(t *testing.T) {
	r, _ := twoSubRig(t)
	r.tickAll()
	q1, q2 := r.conns[0].take(), r.conns[1].take()
	if len(q1) != 1 || len(q2) != 1 || q1[0].t != q2[0].t {
		t.Fatalf("queues %d/%d, want one shared tick each", len(q1), len(q2))
	}
	tk := q2[0].t
	seq, fields := tk.seq, slices.Clone(tk.fields)
	if got := tk.refs.Load(); got != 2 {
		t.Fatalf("refs = %d after the fan-out, want 2 (one per queue entry)", got)
	}
	q1[0].t.release() // connection 1 wrote it
	r.conns[0].giveBack(q1)
	r.tickAll() // the next tick must not reuse tk: connection 2 still holds it
	q1 = r.conns[0].take()
	if len(q1) != 1 || q1[0].t == tk {
		t.Fatal("a tick still queued on connection 2 was reused")
	}
	if tk.seq != seq || !slices.EqualFunc(tk.fields, fields, func(a, b trjson.Field) bool { return a.Name == b.Name && a.Int == b.Int && a.Float == b.Float }) {
		t.Fatal("a tick still queued was modified")
	}
	tk.release() // connection 2 wrote it
	if tk.refs.Load() != 0 || tk.item != nil {
		t.Fatalf("after the last release: refs %d, item %v; want it back in the pool", tk.refs.Load(), tk.item)
	}
	r.h.ticks.mu.Lock()
	pooled := slices.Contains(r.h.ticks.free, tk)
	r.h.ticks.mu.Unlock()
	if !pooled {
		t.Fatal("the tick did not return to the pool")
	}
}

// TestTickRefusedPushReleases: a connection that refuses the push (dead:
// dropped as a slow consumer) does not keep a reference, so the tick
// returns to the pool once the others wrote it.
func TestTickRefusedPushReleases(t *testing.T) {
	r, _ := twoSubRig(t)
	r.conns[1].qmu.Lock()
	r.conns[1].dead = true
	r.conns[1].qmu.Unlock()
	r.tickAll()
	q := r.conns[0].take()
	if len(q) != 1 || len(r.conns[1].take()) != 0 {
		t.Fatal("want the tick queued on the live connection only")
	}
	tk := q[0].t
	if got := tk.refs.Load(); got != 1 {
		t.Fatalf("refs = %d, want 1 (the live queue entry)", got)
	}
	tk.release()
	if tk.refs.Load() != 0 || tk.item != nil {
		t.Fatal("tick not recycled after its only queue entry was written")
	}
}

// TestUnpooledTickRelease: ticks built outside the pool (posts) ignore
// retain and release.
func TestUnpooledTickRelease(t *testing.T) {
	tk := &tick{seq: 5, fields: []trjson.Field{trjson.Int("BID", 1)}}
	tk.retain()
	tk.release()
	tk.release()
	if tk.seq != 5 || len(tk.fields) != 1 {
		t.Fatal("an unpooled tick was reset")
	}
}

// TestTickConfInfo: the ConflationInfo member built into the tick's
// buffer is the §29.2 object.
func TestTickConfInfo(t *testing.T) {
	var tk tick
	tk.setConfInfo(3, 250)
	if got, want := string(tk.confInfo), `{"ConflationInfo":{"Count":3,"Time":250}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	tk.setConfInfo(12, 0)
	if got, want := string(tk.confInfo), `{"ConflationInfo":{"Count":12,"Time":0}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestRecordSeqWindow: the SeqNumber history keeps the last 256 in
// order across the buffer's compactions.
func TestRecordSeqWindow(t *testing.T) {
	var st ItemStats
	for i := int64(1); i <= 3*maxSeqHistory+17; i++ {
		st.recordSeq(i)
		want := max(1, i-maxSeqHistory+1)
		if len(st.Seqs) != int(i-want+1) || st.Seqs[0] != want || st.Seqs[len(st.Seqs)-1] != i || st.LastSeq != i {
			t.Fatalf("after %d: len %d first %d last %d", i, len(st.Seqs), st.Seqs[0], st.Seqs[len(st.Seqs)-1])
		}
	}
	for i := 1; i < len(st.Seqs); i++ {
		if st.Seqs[i] != st.Seqs[i-1]+1 {
			t.Fatalf("history out of order at %d", i)
		}
	}
}
