package consumer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// Hot standby over two servers: every SeqNumber delivered exactly once,
// and killing one side loses nothing.
func TestHotStandbyDedupFake(t *testing.T) {
	a, b := newFakeADS(t), newFakeADS(t)
	a.seq, b.seq = 100, 100
	var mu sync.Mutex
	var seqs []int64
	got := make(chan int64, 1024)
	c, el := dialFake(t, a, func(cfg *Config) {
		cfg.Endpoints = []string{a.url(), b.url()}
		cfg.HotStandby = true
		cfg.Handler = func(m *Msg) {
			if m.Type == trjson.TypeUpdate {
				mu.Lock()
				seqs = append(seqs, m.SeqNumber)
				mu.Unlock()
				got <- m.SeqNumber
			}
		}
	})
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"HS.N"})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until both servers have the stream open.
	for _, f := range []*fakeADS{a, b} {
		waitFor(t, f, func(m map[string]any) bool { k, _ := m["Key"].(map[string]any); return k != nil && k["Name"] == "HS.N" })
	}
	waitItem(t, el, sub.Item(), trjson.StreamOpen, trjson.DataOk)
	waitOpen := func(f *fakeADS) {
		deadline := time.After(5 * time.Second)
		for {
			f.mu.Lock()
			n := len(f.conns)
			f.mu.Unlock()
			if n > 0 && f.streamID(n-1, "HS.N") != 0 {
				return
			}
			select {
			case <-deadline:
				t.Fatal("stream not open on server")
			case <-f.got:
			}
		}
	}
	waitOpen(a)
	waitOpen(b)
	recv := func(want int64) {
		t.Helper()
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("got seq %d, want %d", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("seq %d not delivered", want)
		}
	}
	for seq := int64(101); seq <= 105; seq++ {
		a.push("HS.N", seq, map[string]any{"BID": float64(seq)})
		b.push("HS.N", seq, map[string]any{"BID": float64(seq)})
		recv(seq)
	}
	// Each seq arrived twice; the second copy of 105 may still be in
	// flight after the first was delivered. Drop a side only when all 5
	// duplicates were seen, or the count below would race the drop.
	dupDeadline := time.NewTimer(5 * time.Second)
	defer dupDeadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for c.Stats().DupsSuppressed < 5 {
		select {
		case <-dupDeadline.C:
			t.Fatalf("dups suppressed %d before the drop, want 5", c.Stats().DupsSuppressed)
		case <-poll.C:
		}
	}
	a.drop()
	for seq := int64(106); seq <= 110; seq++ {
		a.push("HS.N", seq, map[string]any{"BID": float64(seq)}) // gone: no-op
		b.push("HS.N", seq, map[string]any{"BID": float64(seq)})
		recv(seq)
	}
	if st := sub.Item().State(); st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
		t.Errorf("item state with one side down: %+v (want Ok from the live side)", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seqs) != 10 {
		t.Errorf("delivered %v", seqs)
	}
	if c.Stats().DupsSuppressed < 5 {
		t.Errorf("dups suppressed %d", c.Stats().DupsSuppressed)
	}
}

// MarketByPrice: a multi-part refresh with an update between the parts is
// assembled into one book; deletes remove entries; summary is kept.
func TestOrderBookAssembly(t *testing.T) {
	f := newFakeADS(t)
	c, _ := dialFake(t, f, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"TRI.TO"}, WithDomain(trjson.DomainMarketByPrice))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	img := sub.Item().Image()
	if img.Book == nil || !img.Book.Complete {
		t.Fatalf("book %+v", img.Book)
	}
	if len(img.Book.Entries) != 2 {
		t.Fatalf("entries %v", img.Book.Keys())
	}
	acc := img.Book.Entries["50.510000A"]["ACC_SIZE"]
	if v, _ := acc.AsInt(); v != 300 {
		t.Errorf("ACC_SIZE after interleaved update = %v", v)
	}
	if _, ok := img.Book.Entries["61.000000A"]; ok {
		t.Error("deleted entry still present")
	}
	if cur := img.Book.Summary["CURRENCY"]; string(cur.Str) != "CAD" {
		t.Errorf("summary %v", img.Book.Summary)
	}
}

// Snapshot of several items: images with NonStreaming state; unknown
// items come back Closed with the server's text.
func TestSnapshotMany(t *testing.T) {
	f := newFakeADS(t)
	c, _ := dialFake(t, f, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ctx := waitCtx(t)
	imgs, err := c.Snapshot(ctx, []string{"A.N", "B.N", "BAD.RIC"})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs[:2] {
		if img.State.Stream != trjson.StreamNonStreaming || string(img.Fields["DSPLY_NAME"].Str) != img.Name {
			t.Errorf("%s: %+v", img.Name, img)
		}
	}
	if imgs[2].State.Stream != trjson.StreamClosed || imgs[2].State.Text != "The record could not be found" {
		t.Errorf("BAD.RIC: %+v", imgs[2].State)
	}
	m := waitFor(t, f, func(m map[string]any) bool { return m["Streaming"] == false })
	if _, batch := m["Key"].(map[string]any)["Name"].([]any); !batch {
		t.Errorf("snapshot of 3 not sent as a batch: %v", m)
	}
}

// Nothing received for PingTimeout → connection declared dead and
// re-established.
func TestPingTimeoutReconnects(t *testing.T) {
	f := newFakeADS(t)
	f.ping = 1
	_, el := dialFake(t, f, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ev := el.wait(t, 5*time.Second, func(ev Event) bool { return ev.Kind == EventDisconnected })
	if ev.Err == nil || !errorsIs(ev.Err, ErrPingTimeout) {
		t.Errorf("disconnect cause %v", ev.Err)
	}
	waitFor(t, f, func(m map[string]any) bool { return m["Type"] == "Ping" })
	el.wait(t, 5*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
}

// v2 rules: no Login reissue on renewal; a fresh token on reconnect.
func TestV2FreshTokenOnReconnect(t *testing.T) {
	f := newFakeADS(t)
	tokens := newFakeTokens("good-v2", 2)
	c, el := dialFake(t, f, func(cfg *Config) { cfg.TokenSource = tokens; cfg.Handler = func(*Msg) {} })
	tokens.renew("good-v2-b")
	f.drop()
	el.wait(t, 5*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
	tokens.mu.Lock()
	fresh := tokens.fresh
	tokens.mu.Unlock()
	if fresh < 1 {
		t.Error("reconnect did not ask for a fresh token")
	}
	if c.Stats().LoginReissues != 0 {
		t.Error("v2 must not reissue the Login")
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// After RediscoverAfter failed attempts the client asks Config.Discover
// for a new list and connects to the endpoint it names.
func TestRediscoveryAfterFailures(t *testing.T) {
	a, b := newFakeADS(t), newFakeADS(t)
	var mu sync.Mutex
	calls := 0
	discover := func(context.Context) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return []string{a.url()}, nil
		}
		return []string{b.url()}, nil
	}
	_, el := dialFake(t, a, func(cfg *Config) {
		cfg.Endpoints = nil
		cfg.Discover = discover
		cfg.Handler = func(*Msg) {}
		cfg.Reconnect.RediscoverAfter = 2
	})
	a.close() // the whole endpoint goes away
	el.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventRediscovered })
	ev := el.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
	if ev.Endpoint != b.url() {
		t.Errorf("reconnected to %s, want %s", ev.Endpoint, b.url())
	}
}
