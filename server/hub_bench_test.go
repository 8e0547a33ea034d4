package server

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ertkit/ertkit/internal/market"
	"github.com/ertkit/ertkit/trjson"
)

// marketInst adapts *market.Instrument (the emulator's real generator) to
// Instrument for the hub's benchmarks, as the emulator package does.
type marketInst struct{ *market.Instrument }

func (i marketInst) BookImage(d trjson.Domain) (*trjson.Map, int64, bool) {
	m, seq := i.Instrument.BookImage(d)
	return m, seq, m != nil
}

func (i marketInst) BookTick(d trjson.Domain) (*trjson.Map, int64, bool) {
	m, seq := i.Instrument.BookTick(d)
	return m, seq, m != nil
}

func (i marketInst) PermData() string { return "AwEBEBU8" }

// tickRig is a hub whose scheduler never fires (Rate 1e-9) with n
// distinct synthetic instruments, each watched by one subscription on
// one of conns connections, and a writer stand-in that drains a
// connection as writeLoop does (take, build each Update, encode it,
// give the batch back).
type tickRig struct {
	h     *Hub
	conns []*conn
	fb    trjson.FrameBuilder
	m     trjson.Msg
	view  []trjson.Field
}

func newTickRig(tb testing.TB, n, conns int, sendTimes bool) *tickRig {
	tb.Helper()
	u := market.New(market.Config{Seed: 1})
	h, err := NewHub(Config{Universe: newFakeUniverse(), Dictionary: fakeDictionary{}, ADSMode: true,
		Rate: 1e-9, SendTimestamps: sendTimes, Pack: 50})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
	r := &tickRig{h: h}
	for range conns {
		r.conns = append(r.conns, &conn{h: h, cfg: &h.cfg, notify: make(chan struct{}, 1), done: make(chan struct{}), streams: map[int64]*sub{}})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range n {
		name := fmt.Sprintf("SYN%d.X", i)
		in, ok := u.Lookup(name)
		if !ok {
			tb.Fatalf("no %s", name)
		}
		it := h.itemLocked(trjson.DomainMarketPrice, marketInst{in}, name)
		s := &sub{c: r.conns[i%conns], id: int64(i + 2), domain: trjson.DomainMarketPrice, name: name, inst: marketInst{in}, streaming: true, item: it}
		it.subs[s] = struct{}{}
		it.stat.Subscribers = len(it.subs)
	}
	return r
}

// drain is the writer side for every connection; it returns the number
// of Updates encoded.
func (r *tickRig) drain() int {
	n := 0
	for _, c := range r.conns {
		batch := c.take()
		for _, o := range batch {
			if o.t == nil {
				continue
			}
			if m := c.updateMsg(&r.m, &r.view, o.s, o.t); m != nil {
				if r.fb.Count() >= 50 {
					r.fb.Reset()
				}
				r.fb.Add(m, DefaultMaxMsgSize)
				n++
			}
			o.t.release()
		}
		c.giveBack(batch)
	}
	return n
}

// BenchmarkHubTick measures the hub's fixed-rate tick path for 1,000
// distinct instruments, one subscription each on 10 connections, send
// timestamps on: generate every item's tick, fan it out, and drain the
// queues as the writers do (one op = one update). allocs/update covers
// the hub and the writer side; it must stay ≈ 0 (TestHubTickAllocs).
func BenchmarkHubTick(b *testing.B) {
	r := newTickRig(b, 1000, 10, true)
	// Fill the tick pool and grow the queues and field slices once.
	for range 3 {
		r.tickAll()
		r.drain()
	}
	var ms0, ms1 runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	runtime.ReadMemStats(&ms0)
	updates := 0
	for updates < b.N {
		r.tickAll()
		updates += r.drain()
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(updates), "allocs/update")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(updates), "B/update")
}

// tickAll ticks every item once, as the scheduler does over one period.
func (r *tickRig) tickAll() {
	h := r.h
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range h.active {
		h.tickItemLocked(it, now)
	}
}
