package consumer

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// The emulator sends a malformed frame mid-stream: the client reports an
// error event, nothing panics, the connection stays up and updates keep
// flowing. An oversize but valid frame is decoded as usual.
func TestE2EMalformedAndOversizeFrames(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{Rate: 20, RateSet: true})
	tokens := tokenManager(t, info, 2, "")
	var updates atomic.Int64
	tick := make(chan struct{}, 1)
	c, events := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.Endpoints = cfg.Endpoints[:1]
		cfg.Handler = func(m *Msg) {
			if m.Type == trjson.TypeUpdate {
				updates.Add(1)
				select {
				case tick <- struct{}{}:
				default:
				}
			}
		}
	})
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"TRI.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, frame := range []string{`[{"ID":2,"Type":"Update","Fields":{"BID":`, `not json at all`, `{"ID":2,"Type":"Update"}]`} {
		if n, err := emu.InjectFrame(0, []byte(frame)); err != nil || n != 1 {
			t.Fatalf("inject: %d %v", n, err)
		}
		ev := events.wait(t, 5*time.Second, func(e Event) bool { return e.Kind == EventError || e.Kind == EventDisconnected })
		if ev.Kind != EventError {
			t.Fatalf("malformed frame %q: got %v (%v), want an error event and no disconnect", frame, ev.Kind, ev.Err)
		}
	}
	// A 200 KB frame of valid messages (bigger than MaxMsgSize, which binds
	// only what the client sends) is read and routed.
	big := `[{"ID":99,"Type":"Generic","Domain":"System","Elements":{"Pad":"` + strings.Repeat("x", 200<<10) + `"}}]`
	if _, err := emu.InjectFrame(0, []byte(big)); err != nil {
		t.Fatal(err)
	}
	before := updates.Load()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for updates.Load() < before+5 {
		select {
		case <-tick:
		case <-timeout.C:
			t.Fatalf("updates stopped after the bad frames (%d → %d)", before, updates.Load())
		}
	}
	if st := sub.Item().State(); st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
		t.Fatalf("item state after bad frames: %+v", st)
	}
	s := c.Stats()
	if s.Reconnects != 0 || s.Errors < 3 {
		t.Fatalf("stats after bad frames: reconnects=%d errors=%d", s.Reconnects, s.Errors)
	}
	if len(s.Conns) != 1 || s.Conns[0].Items != 1 {
		t.Fatalf("connection stats: %+v, want 1 open item", s.Conns)
	}
}
