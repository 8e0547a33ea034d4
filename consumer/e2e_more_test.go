package consumer

import (
	"errors"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// "Login rejected. Already pending login." after a disconnect: the client
// backs off between attempts (no storm) and recovers when the server
// accepts again.
func TestE2EAlreadyPendingLoginBacksOff(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{})
	tokens := tokenManager(t, info, 2, "")
	c, el := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.Handler = func(*Msg) {}
		cfg.Endpoints = emuEndpoints(info)[:1]
		cfg.Reconnect = Reconnect{MinDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second, Jitter: 0.1}
	})
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"TRI.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	emu.RefuseLogins(3)
	if _, err := emu.DropConnections(0); err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for len(times) < 3 {
		ev := el.wait(t, 10*time.Second, func(ev Event) bool {
			var le *LoginError
			return ev.Kind == EventError && errors.As(ev.Err, &le)
		})
		times = append(times, ev.Time)
	}
	el.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
	waitItem(t, el, sub.Item(), trjson.StreamOpen, trjson.DataOk)
	// Delays grow: 100ms·2^k ± 10 %.
	d1, d2 := times[1].Sub(times[0]), times[2].Sub(times[1])
	if d1 < 150*time.Millisecond || d2 < 300*time.Millisecond || d2 <= d1 {
		t.Errorf("no exponential back-off between refused logins: %v, %v", d1, d2)
	}
}

// Status ClosedRecover: the item is re-requested after a back-off and
// becomes Ok again; Closed is final, with the server's text.
func TestE2EItemClosedRecoverAndClosed(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{Rate: 10, RateSet: true})
	tokens := tokenManager(t, info, 2, "")
	c, el := dialEmu(t, info, tokens, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"IBM.N", "GS.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.ItemStatus("IBM.N", emulator.ItemClosedRecover, 0); err != nil {
		t.Fatal(err)
	}
	el.wait(t, 10*time.Second, func(ev Event) bool {
		return ev.Kind == EventItemState && ev.Item == sub.Items()[0] && ev.State.Stream == trjson.StreamClosedRecover
	})
	waitItem(t, el, sub.Items()[0], trjson.StreamOpen, trjson.DataOk)

	if _, err := emu.ItemStatus("GS.N", emulator.ItemClosed, 0); err != nil {
		t.Fatal(err)
	}
	waitItem(t, el, sub.Items()[1], trjson.StreamClosed, trjson.DataSuspect)
	if sub.Items()[1].State().Text == "" {
		t.Error("Closed without the server's text")
	}
}

// Nothing arrives (the endpoint stops writing): the connection is declared
// dead after PingTimeout and re-established.
func TestE2EPingTimeout(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{PingTimeout: 2 * time.Second, Rate: 0.0001, RateSet: true})
	tokens := tokenManager(t, info, 2, "")
	_, el := dialEmu(t, info, tokens, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	if _, err := emu.Stall(0, emulator.StallWrite, time.Minute); err != nil {
		t.Fatal(err)
	}
	ev := el.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventDisconnected })
	if !errors.Is(ev.Err, ErrPingTimeout) {
		t.Errorf("disconnect cause %v, want ErrPingTimeout", ev.Err)
	}
	el.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
}

// Order book (MarketByPrice) and a chain (SymbolList) from the emulator.
func TestE2EBookAndChain(t *testing.T) {
	_, info := startEmu(t, emulator.Config{})
	tokens := tokenManager(t, info, 2, "")
	c, _ := dialEmu(t, info, tokens, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ctx := waitCtx(t)
	imgs, err := c.Snapshot(ctx, []string{"TRI.N"}, WithDomain(trjson.DomainMarketByPrice))
	if err != nil {
		t.Fatal(err)
	}
	if b := imgs[0].Book; b == nil || !b.Complete || len(b.Entries) == 0 {
		t.Fatalf("MBP book %+v state %+v", b, imgs[0].State)
	}
	ric := "0#.DJI"
	syms, err := c.Symbols(ctx, ric)
	if err != nil {
		t.Fatal(err)
	}
	if len(syms) == 0 {
		t.Fatalf("chain %s empty", ric)
	}
}
