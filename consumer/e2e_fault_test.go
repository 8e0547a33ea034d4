package consumer

import (
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// An endpoint killed mid-stream: the client fails over to the next
// endpoint of its list, re-requests every item, and all come back Ok.
func TestE2EEndpointKilledFailover(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{Rate: 20, RateSet: true})
	tokens := tokenManager(t, info, 2, "")
	uc := newUpdateCounter()
	c, el := dialEmu(t, info, tokens, func(cfg *Config) { cfg.Handler = uc.handle })
	ctx := waitCtx(t)
	names := []string{"TRI.N", "IBM.N", "JPM.N", "GS.N"}
	sub, err := c.Subscribe(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	uc.next(t, "TRI.N")
	if _, err := emu.KillEndpoint(0, time.Minute); err != nil {
		t.Fatalf("KillEndpoint: %v", err)
	}
	el.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventDisconnected })
	sw := el.wait(t, 15*time.Second, func(ev Event) bool { return ev.Kind == EventEndpointSwitched })
	if sw.Endpoint == emuEndpoints(info)[0] {
		t.Errorf("switched to the dead endpoint %s", sw.Endpoint)
	}
	for _, it := range sub.Items() {
		waitItem(t, el, it, trjson.StreamOpen, trjson.DataOk)
	}
	uc.drain()
	for _, n := range names {
		uc.next(t, n)
	}
	if s := c.Stats(); s.Reconnects < 1 || s.Conns[0].Endpoint == emuEndpoints(info)[0] {
		t.Errorf("stats %+v", s)
	}
}

// Hot standby with one side killed: per item, every delivered Update has
// the next SeqNumber after the last delivered message (no gap), and no
// SeqNumber is delivered twice (no duplicate).
func TestE2EHotStandbyKillOneSide(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{Rate: 25, RateSet: true})
	tokens := tokenManager(t, info, 2, "")
	eps := emuEndpoints(info)
	type rec struct {
		typ trjson.MsgType
		seq int64
		has bool
	}
	var mu sync.Mutex
	got := map[string][]rec{}
	sig := make(chan struct{}, 4096)
	c, el := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.HotStandby = true
		cfg.Endpoints = []string{eps[1], eps[2], eps[0]} // the single-location pair first
		cfg.Handler = func(m *Msg) {
			if m.Type != trjson.TypeRefresh && m.Type != trjson.TypeUpdate {
				return
			}
			mu.Lock()
			got[m.Name] = append(got[m.Name], rec{m.Type, m.SeqNumber, m.HasSeq})
			mu.Unlock()
			select {
			case sig <- struct{}{}:
			default:
			}
		}
	})
	ctx := waitCtx(t)
	names := []string{"TRI.N", "IBM.N", "KO.N"}
	sub, err := c.Subscribe(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// Both connections must be streaming: duplicates are being suppressed.
	waitUntil(t, el, func() bool {
		s := c.Stats()
		return s.Conns[0].State == ConnLoggedIn && s.Conns[1].State == ConnLoggedIn && s.DupsSuppressed >= 10
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, rs := range got {
			n += len(rs)
		}
		return n
	}
	before := count()
	if _, err := emu.KillEndpoint(1, time.Minute); err != nil { // slot 0's endpoint
		t.Fatalf("KillEndpoint: %v", err)
	}
	el.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventDisconnected && ev.Conn == 0 })
	// Keep receiving from the survivor for a while (≥ 40 more messages).
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	for count() < before+40 {
		select {
		case <-sig:
		case <-timer.C:
			t.Fatalf("stream stalled after killing one side: %d messages", count()-before)
		}
	}
	for _, it := range sub.Items() {
		if st := it.State(); st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
			t.Errorf("%s visible state %+v while the standby is up", it.Name, st)
		}
	}
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	for _, n := range names {
		rs := got[n]
		if len(rs) < 5 {
			t.Errorf("%s: only %d messages", n, len(rs))
			continue
		}
		seen := map[int64]bool{}
		for i, r := range rs {
			if !r.has {
				t.Fatalf("%s message %d has no SeqNumber", n, i)
			}
			if r.typ == trjson.TypeUpdate && seen[r.seq] {
				t.Errorf("%s: duplicate SeqNumber %d", n, r.seq)
			}
			seen[r.seq] = true
			if i == 0 {
				continue
			}
			prev := rs[i-1].seq
			if r.typ == trjson.TypeUpdate && r.seq != prev+1 {
				t.Errorf("%s: gap: update %d after %d", n, r.seq, prev)
			}
			if r.typ == trjson.TypeRefresh && r.seq <= prev {
				t.Errorf("%s: stale refresh %d after %d", n, r.seq, prev)
			}
		}
	}
	if c.Stats().DupsSuppressed == 0 {
		t.Error("no duplicates suppressed: the standby was not delivering")
	}
}

// waitUntil re-checks cond on every event (and every 50 ms, for counters
// that have no event), bounded at 15 s.
func waitUntil(t *testing.T, el *eventLog, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-el.ch:
		case <-tick.C:
		case <-deadline.C:
			t.Fatal("condition not reached within 15s")
		}
	}
}
