package reliability

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// TestSlowConsumerPolicies: an application that reads the Messages
// channel far slower than the feed. Under every policy the heap stays
// bounded (the queue never exceeds Config.Buffer) and the policy's
// counters are exact: with the feed frozen and the channel drained,
// every SeqNumber the emulator sent is either delivered, counted in
// Stats.Drops (DropOldest) or counted in Stats.Conflated (ConflatePerItem).
func TestSlowConsumerPolicies(t *testing.T) {
	for _, p := range []struct {
		name   string
		policy consumer.SlowConsumerPolicy
	}{{"block", consumer.Block}, {"drop-oldest", consumer.DropOldest}, {"conflate-per-item", consumer.ConflatePerItem}} {
		t.Run(p.name, func(t *testing.T) { slowConsumer(t, p.policy) })
	}
}

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

func slowConsumer(t *testing.T, policy consumer.SlowConsumerPolicy) {
	const buffer = 64
	// 4 items × 500 updates/s against a reader of ~200 messages/s.
	emu, info := startEmu(t, emulator.Config{Rate: 500, RateSet: true})
	log := newSeqLog()
	c, _ := dial(t, info, tokens(t, info, v2Grant(info), nil), func(cfg *consumer.Config) {
		cfg.Buffer, cfg.SlowConsumer = buffer, policy
		cfg.Endpoints = endpoints(info)[:1]
	})
	ctx := scenarioCtx(t)
	sub, err := c.Subscribe(ctx, lossItems)
	if err != nil {
		t.Fatal(err)
	}
	// Fast until every item has its Refresh, then slow for 3 s.
	read := func() bool {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				t.Fatal("Messages closed")
			}
			log.handle(m)
			return true
		case <-time.After(5 * time.Second):
			return false
		}
	}
	for !allOk(sub.Items()) {
		if !read() {
			t.Fatal("no message within 5 s")
		}
	}
	// Drain the refreshes so that only updates can be dropped later.
	refreshes := 0
	for refreshes < len(lossItems) {
		if !read() {
			t.Fatal("refreshes not delivered")
		}
		refreshes = 0
		for _, n := range lossItems {
			for _, r := range log.get(n) {
				if r.typ == trjson.TypeRefresh {
					refreshes++
					break
				}
			}
		}
	}
	h0 := heapMB()
	var peak float64
	slow := time.NewTicker(5 * time.Millisecond)
	end := time.NewTimer(3 * time.Second)
	sample := time.NewTicker(500 * time.Millisecond)
loop:
	for {
		select {
		case <-slow.C:
			read()
		case <-sample.C:
			if h := heapMB(); h > peak {
				peak = h
			}
		case <-end.C:
			break loop
		}
	}
	slow.Stop()
	sample.Stop()
	// Freeze the feed, then drain fast until every item's Suspect Status.
	if _, err := emu.ItemStatus("", emulator.ItemSuspect, time.Minute); err != nil {
		t.Fatal(err)
	}
	for {
		done := true
		for _, n := range lossItems {
			rs := log.get(n)
			if len(rs) == 0 || rs[len(rs)-1].typ != trjson.TypeStatus {
				done = false
			}
		}
		if done {
			break
		}
		if !read() {
			t.Fatal("feed not drained within 5 s")
		}
	}
	st := c.Stats()
	sent := map[string]emulator.ItemState{}
	for _, it := range emu.State().Items {
		sent[it.Name] = it
	}
	var missing, delivered int64
	for _, n := range lossItems {
		var last int64 = -1
		for _, r := range log.get(n) {
			if r.typ == trjson.TypeStatus {
				continue
			}
			if r.typ == trjson.TypeUpdate {
				delivered++
				if last >= 0 {
					missing += r.seq - last - 1
				}
			}
			last = r.seq
		}
		if last != sent[n].LastSeq {
			t.Errorf("%s: last delivered %d, emulator's last %d", n, last, sent[n].LastSeq)
		}
	}
	t.Logf("policy %d: delivered %d updates, missing %d, stats drops=%d conflated=%d delivered=%d reconnects=%d; heap %.1f MB → peak %.1f MB",
		policy, delivered, missing, st.Drops, st.Conflated, st.Delivered, st.Reconnects, h0, peak)
	if st.Reconnects != 0 {
		t.Fatalf("the slow consumer was disconnected (%d reconnects): the counters cannot be compared", st.Reconnects)
	}
	switch policy {
	case consumer.Block:
		if missing != 0 || st.Drops != 0 || st.Conflated != 0 {
			t.Errorf("Block lost %d updates (drops %d, conflated %d)", missing, st.Drops, st.Conflated)
		}
	case consumer.DropOldest:
		if uint64(missing) != st.Drops || st.Conflated != 0 || missing == 0 {
			t.Errorf("DropOldest: %d SeqNumbers missing, Stats.Drops %d, Conflated %d", missing, st.Drops, st.Conflated)
		}
	case consumer.ConflatePerItem:
		if uint64(missing) != st.Conflated || st.Drops != 0 || missing == 0 {
			t.Errorf("ConflatePerItem: %d SeqNumbers missing, Stats.Conflated %d, Drops %d", missing, st.Conflated, st.Drops)
		}
	}
	// Bounded: the queue holds at most Buffer messages of ~1 KB; 16 MB
	// of headroom covers GC noise and the emulator's own buffers (it runs
	// in this process).
	if peak > h0+16 {
		t.Errorf("heap grew from %.1f MB to %.1f MB under a slow consumer", h0, peak)
	}
}

// TestSlowConsumerDisconnectedByServer: an application that stops
// reading altogether (SDK: a Handler that blocks; CLI: stdout not read)
// fills the emulator's bounded per-connection queue; the emulator drops
// that connection (ADS behaviour) without delaying anyone else, and the
// client reconnects and re-images every item once it reads again.
func TestSlowConsumerDisconnectedByServer(t *testing.T) {
	cfg := emulator.Config{Rate: 2000, RateSet: true, QueueLimit: 256}
	t.Run("sdk", func(t *testing.T) {
		emu, info := startEmu(t, cfg)
		log := newSeqLog()
		release := make(chan struct{})
		var blocked atomic.Bool
		c, ev := dial(t, info, tokens(t, info, v2Grant(info), nil), func(cc *consumer.Config) {
			cc.Endpoints = endpoints(info)[:1]
			cc.Handler = func(m *consumer.Msg) {
				if blocked.Load() {
					<-release
				}
				log.handle(m)
			}
		})
		ctx := scenarioCtx(t)
		sub := subscribeAll(t, ctx, c, lossItems)
		blocked.Store(true)
		waitFor(t, ev, 20*time.Second, "the emulator drops the slow client", func() bool {
			return emu.State().Endpoints[0].Stats.SlowDisconnects >= 1
		})
		blocked.Store(false)
		close(release)
		waitFor(t, ev, 10*time.Second, "reconnected and Ok", func() bool { return c.Stats().Reconnects >= 1 && allOk(sub.Items()) })
		log.waitMore(t, 20, 5*time.Second)
		for _, n := range lossItems {
			checkNoDupWithinImages(t, n, log.get(n))
		}
	})
	t.Run("cli", func(t *testing.T) {
		emu, info := startEmu(t, cfg)
		r := startCLI(t, cliEnv(info, 2), "--log-level", "info", "stream", "-o", "jsonl", "--duration", "25s", "TRI.N", "IBM.N")
		r.waitLine(t, 0, 10*time.Second, "first update", func(l cliLine) bool { return l.Type == "Update" })
		r.gate.Lock()
		deadline := time.Now().Add(20 * time.Second)
		for emu.State().Endpoints[0].Stats.SlowDisconnects == 0 && time.Now().Before(deadline) {
			hold(50 * time.Millisecond)
		}
		mark := len(r.snapshot())
		r.gate.Unlock()
		if emu.State().Endpoints[0].Stats.SlowDisconnects == 0 {
			t.Fatal("the emulator never dropped the CLI that stopped reading")
		}
		for _, n := range []string{"TRI.N", "IBM.N"} {
			i := r.waitLine(t, mark, 20*time.Second, "re-image of "+n, func(l cliLine) bool { return l.Type == "Refresh" && l.Name == n })
			r.waitLine(t, i+1, 10*time.Second, "update of "+n, func(l cliLine) bool { return l.Type == "Update" && l.Name == n })
		}
		r.cmd.Process.Signal(interruptSignal)
		r.wait(t)
		if !strings.Contains(r.stderr.String(), "reconnected") {
			t.Errorf("no reconnect logged: %s", r.stderr.String())
		}
	})
}
