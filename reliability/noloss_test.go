package reliability

import (
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

var lossItems = []string{"TRI.N", "IBM.N", "KO.N", "GS.N"}

// freeze holds every item's updates (Status Open/Suspect, no recovery
// within the test) and waits until the client has received that Status
// for every item, so that the emulator's record and the client's log are
// final and comparable.
func freeze(t *testing.T, emu *emulator.Emulator, log *seqLog, ev *events) {
	t.Helper()
	if _, err := emu.ItemStatus("", emulator.ItemSuspect, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, 10*time.Second, "Suspect Status of every item", func() bool {
		for _, n := range lossItems {
			rs := log.get(n)
			if len(rs) == 0 || rs[len(rs)-1].typ != trjson.TypeStatus || rs[len(rs)-1].data != trjson.DataSuspect {
				return false
			}
		}
		return true
	})
}

// proveNoLoss compares the client's log with what the emulator sent:
// between the first Refresh and the freeze every Update SeqNumber follows
// the previous message's (no loss), none repeats (no duplicate), the last
// one is the emulator's LastSeq, and every SeqNumber in the emulator's
// record (its last 256) within the client's span was delivered.
func proveNoLoss(t *testing.T, emu *emulator.Emulator, log *seqLog) {
	t.Helper()
	sent := map[string]emulator.ItemState{}
	for _, it := range emu.State().Items {
		sent[it.Name] = it
	}
	for _, n := range lossItems {
		rs := log.get(n)
		got := map[int64]int{}
		var first, last int64 = -1, -1
		updates := 0
		for i, r := range rs {
			if r.typ == trjson.TypeStatus {
				continue
			}
			if !r.has {
				t.Fatalf("%s: message %d has no SeqNumber", n, i)
			}
			if first < 0 {
				first = r.seq
			}
			if r.typ == trjson.TypeUpdate {
				updates++
				got[r.seq]++
				if got[r.seq] > 1 {
					t.Errorf("%s: SeqNumber %d delivered twice", n, r.seq)
				}
				if last >= 0 && r.seq != last+1 {
					t.Errorf("%s: update %d after %d (lost %d)", n, r.seq, last, r.seq-last-1)
				}
			} else if r.seq < last {
				t.Errorf("%s: Refresh %d older than %d", n, r.seq, last)
			}
			last = r.seq
		}
		s, ok := sent[n]
		if !ok {
			t.Fatalf("emulator has no record of %s", n)
		}
		if last != s.LastSeq {
			t.Errorf("%s: last delivered SeqNumber %d, emulator's last %d", n, last, s.LastSeq)
		}
		checked := 0
		for _, q := range s.Seqs {
			if q > first && q <= last {
				checked++
				if got[q] != 1 {
					t.Errorf("%s: emulator sent SeqNumber %d, delivered %d times", n, q, got[q])
				}
			}
		}
		if updates < 20 || checked < 20 {
			t.Errorf("%s: too little evidence: %d updates, %d checked against the emulator", n, updates, checked)
		}
		t.Logf("%s: %d updates, SeqNumbers %d..%d, %d cross-checked with the emulator", n, updates, first, last, checked)
	}
}

// Across v1 token renewals (2 s tokens: a Login reissue every ~1.8 s) no
// update is lost or duplicated and the connection is never dropped.
func TestNoLossAcrossTokenReissues(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{TokenLifetime: 2 * time.Second, Rate: 40, RateSet: true})
	log := newSeqLog()
	c, ev := dial(t, info, tokens(t, info, v1Grant(info), nil), func(cfg *consumer.Config) { cfg.Handler = log.handle })
	ctx := scenarioCtx(t)
	subscribeAll(t, ctx, c, lossItems)
	waitFor(t, ev, 15*time.Second, "3 login reissues", func() bool { return c.Stats().LoginReissues >= 3 })
	freeze(t, emu, log, ev)
	if n := ev.count(kind(consumer.EventDisconnected)); n != 0 {
		t.Errorf("%d disconnects during renewals: %s", n, kinds(ev.snapshot()))
	}
	proveNoLoss(t, emu, log)
}

// Hot standby: the active side's endpoint is killed mid-stream while v1
// tokens are being renewed; the standby is promoted and no update is lost
// or duplicated; the killed side comes back (on another endpoint) and
// duplicates are suppressed again.
func TestNoLossHotStandbyFailover(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{TokenLifetime: 2 * time.Second, Rate: 40, RateSet: true})
	eps := endpoints(info)
	log := newSeqLog()
	c, ev := dial(t, info, tokens(t, info, v1Grant(info), nil), func(cfg *consumer.Config) {
		cfg.Handler = log.handle
		cfg.HotStandby = true
		cfg.Endpoints = []string{eps[1], eps[2], eps[0]}
	})
	ctx := scenarioCtx(t)
	subscribeAll(t, ctx, c, lossItems)
	waitFor(t, ev, 10*time.Second, "both sides streaming", func() bool {
		s := c.Stats()
		return s.Conns[0].State == consumer.ConnLoggedIn && s.Conns[1].State == consumer.ConnLoggedIn && s.DupsSuppressed >= 20
	})
	reissues := c.Stats().LoginReissues
	if _, err := emu.KillEndpoint(1, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, 10*time.Second, "slot 0 lost", func() bool { return ev.count(kind(consumer.EventDisconnected)) > 0 })
	log.waitMore(t, 100, 15*time.Second)
	waitFor(t, ev, 15*time.Second, "2 login reissues after the failover", func() bool { return c.Stats().LoginReissues >= reissues+2 })
	waitFor(t, ev, 15*time.Second, "slot 0 back on another endpoint", func() bool {
		s := c.Stats()
		return s.Conns[0].State == consumer.ConnLoggedIn && s.Conns[0].Endpoint != eps[1]
	})
	freeze(t, emu, log, ev)
	proveNoLoss(t, emu, log)
	t.Logf("events: %s; stats %+v", kinds(ev.snapshot()), c.Stats())
}

// After a reconnect every item is re-imaged by a fresh solicited Refresh,
// and between the loss and that Refresh it is visibly Suspect with no
// update delivered. The updates sent while disconnected are the
// documented reconnect gap: the Refresh carries the current image.
func TestReimageAfterReconnect(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{Rate: 40, RateSet: true})
	log := newSeqLog()
	c, ev := dial(t, info, tokens(t, info, v2Grant(info), nil), func(cfg *consumer.Config) {
		cfg.Handler = log.handle
		cfg.Endpoints = endpoints(info)[:1]
	})
	ctx := scenarioCtx(t)
	sub := subscribeAll(t, ctx, c, lossItems)
	log.waitMore(t, 40, 10*time.Second)
	evMark := len(ev.snapshot())
	before := map[string]int{}
	for _, n := range lossItems {
		before[n] = len(log.get(n))
	}
	if _, err := emu.DropConnections(-1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, 10*time.Second, "reconnected", func() bool { return c.Stats().Reconnects >= 1 })
	waitFor(t, ev, 10*time.Second, "every item Ok", func() bool { return allOk(sub.Items()) })
	log.waitMore(t, 40, 10*time.Second)
	evs := ev.snapshot()[evMark:]
	for _, n := range lossItems {
		rs := log.get(n)
		var lastBefore int64 = -1
		for _, r := range rs[:before[n]] {
			if r.typ != trjson.TypeStatus {
				lastBefore = r.seq
			}
		}
		after := rs[before[n]:]
		// The first data message after the loss must be a solicited Refresh Ok.
		i := 0
		for i < len(after) && after[i].typ == trjson.TypeStatus {
			i++
		}
		if i == len(after) || after[i].typ != trjson.TypeRefresh || !after[i].solic || after[i].data != trjson.DataOk {
			t.Errorf("%s: first message after the reconnect is not a solicited Refresh Ok: %+v", n, after)
			continue
		}
		if after[i].seq < lastBefore {
			t.Errorf("%s: re-image SeqNumber %d older than the last delivered %d", n, after[i].seq, lastBefore)
		}
		// Suspect between the loss and the Refresh.
		suspect, ok := false, false
		for _, e := range evs {
			if e.Kind != consumer.EventItemState || e.Item == nil || e.Item.Name != n {
				continue
			}
			if e.State.Data == trjson.DataSuspect && !ok {
				suspect = true
			}
			if e.State.Data == trjson.DataOk && suspect {
				ok = true
			}
		}
		if !suspect || !ok {
			t.Errorf("%s: not Suspect then Ok across the reconnect", n)
		}
		checkNoDupWithinImages(t, n, after[i:])
		t.Logf("%s: last before loss %d, re-imaged at %d (gap of %d updates covered by the Refresh)", n, lastBefore, after[i].seq, after[i].seq-lastBefore)
	}
}

// Decode workers: frames are decoded on several goroutines while the
// reader takes the next ones; every update must still reach the Handler
// once and in order, across Login reissues, with frames of several
// messages.
func TestNoLossDecodeWorkers(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{TokenLifetime: 2 * time.Second, Rate: 400, RateSet: true, Pack: 3})
	log := newSeqLog()
	c, ev := dial(t, info, tokens(t, info, v1Grant(info), nil), func(cfg *consumer.Config) {
		cfg.Handler = log.handle
		cfg.DecodeWorkers = 3
	})
	ctx := scenarioCtx(t)
	subscribeAll(t, ctx, c, lossItems)
	waitFor(t, ev, 15*time.Second, "2 login reissues", func() bool { return c.Stats().LoginReissues >= 2 })
	log.waitMore(t, 2000, 15*time.Second)
	freeze(t, emu, log, ev)
	proveNoLoss(t, emu, log)
}
