package consumer

import (
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// Compression: off by default; when enabled the emulator negotiates
// permessage-deflate and refreshes and updates flow over it.
func TestE2ECompression(t *testing.T) {
	_, info := startEmu(t, emulator.Config{Rate: 20, RateSet: true})
	tokens := tokenManager(t, info, 2, "")
	plain, _ := dialEmu(t, info, tokens, nil)
	if plain.Stats().Conns[0].Compressed {
		t.Error("compression negotiated without Config.Compression")
	}
	uc := newUpdateCounter()
	c, _ := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.Compression = true
		cfg.Cache = true
		cfg.Handler = uc.handle
	})
	if !c.Stats().Conns[0].Compressed {
		t.Fatal("permessage-deflate not negotiated")
	}
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"TRI.N", "IBM.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"TRI.N", "IBM.N"} {
		uc.next(t, n)
	}
	if img := sub.Item().Image(); len(img.Fields) == 0 || img.State.Data != trjson.DataOk {
		t.Errorf("image over a compressed connection: %+v", img.State)
	}
}

// Config.Events receives the lifecycle events without blocking; when its
// buffer is full the events are dropped and counted.
func TestE2EEventsChannel(t *testing.T) {
	_, info := startEmu(t, emulator.Config{})
	tokens := tokenManager(t, info, 2, "")
	events := make(chan Event, 64)
	c, _ := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.OnEvent = nil
		cfg.Events = events
	})
	wait := func(match func(Event) bool) Event {
		t.Helper()
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		for {
			select {
			case ev := <-events:
				if match(ev) {
					return ev
				}
			case <-timer.C:
				t.Fatal("no matching event on Config.Events")
			}
		}
	}
	if ev := wait(func(ev Event) bool { return ev.Kind == EventConnected }); ev.Time.IsZero() || ev.Endpoint == "" {
		t.Errorf("event %+v", ev)
	}
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"TRI.N"})
	if err != nil {
		t.Fatal(err)
	}
	it := sub.Item()
	wait(func(ev Event) bool {
		return ev.Kind == EventItemState && ev.Item == it && ev.State.Data == trjson.DataOk
	})
	if n := c.Stats().EventsDropped; n != 0 {
		t.Errorf("%d events dropped with room in the channel", n)
	}

	// A full channel (one slot, never read): the first event takes the
	// slot and later ones are dropped.
	full := make(chan Event, 1)
	seen := make(chan Event, 16)
	c2, _ := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.Events = full
		cfg.OnEvent = func(ev Event) {
			select {
			case seen <- ev:
			default:
			}
		}
	})
	sub2, err := c2.Subscribe(ctx, []string{"TRI.N", "IBM.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // connected, and the two items' state changes
		select {
		case <-seen:
		case <-ctx.Done():
			t.Fatal("events not delivered to OnEvent")
		}
	}
	// Events go to OnEvent, then to the channel, one at a time: when the
	// third reached OnEvent, the second had found the channel full.
	if n := c2.Stats().EventsDropped; n < 1 {
		t.Errorf("EventsDropped = %d, want ≥ 1", n)
	}
	if ev := <-full; ev.Kind != EventConnected {
		t.Errorf("first event in the channel: %v", ev.Kind)
	}
}
