package consumer

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// hookTransport reports every outbound frame to onWrite.
type hookTransport struct {
	transport
	onWrite func(p []byte)
}

func (t *hookTransport) Write(ctx context.Context, p []byte) error {
	t.onWrite(p)
	return t.transport.Write(ctx, p)
}

// frameWatch counts outbound frames containing a marker and signals each.
type frameWatch struct {
	marker []byte
	mu     sync.Mutex
	n      int
	sig    chan struct{}
}

func (w *frameWatch) dial(ctx context.Context, url string, o dialOptions) (transport, error) {
	t, err := dialWS(ctx, url, o)
	if err != nil {
		return nil, err
	}
	return &hookTransport{transport: t, onWrite: func(p []byte) {
		if bytes.Contains(p, w.marker) {
			w.mu.Lock()
			w.n++
			w.mu.Unlock()
			w.sig <- struct{}{}
		}
	}}, nil
}

func (w *frameWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func waitSig(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
	}
}

// inflightClient dials one endpoint and moves the Client onto a watched
// transport (a reconnect), returning the Client and its connection events.
func inflightClient(t *testing.T, emu *emulator.Emulator, info emulator.Info, w *frameWatch) (*Client, *eventLog) {
	t.Helper()
	tokens := tokenManager(t, info, 2, "")
	life := newEventLog()
	c, _ := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.Endpoints = cfg.Endpoints[:1]
		cfg.Handler = func(*Msg) {}
		cfg.OnEvent = func(ev Event) {
			if ev.Kind != EventItemState {
				life.add(ev)
			}
		}
	})
	c.mu.Lock()
	c.dial = w.dial
	c.mu.Unlock()
	if _, err := emu.DropConnections(0); err != nil {
		t.Fatal(err)
	}
	life.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
	return c, life
}

// A snapshot in flight when the connection is lost is requested again
// after the reconnect and completes without error.
func TestE2ESnapshotResentAfterLoss(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{})
	w := &frameWatch{marker: []byte(`"Streaming":false`), sig: make(chan struct{}, 16)}
	c, life := inflightClient(t, emu, info, w)
	// The server reads the request but its answer never leaves.
	if _, err := emu.Stall(0, emulator.StallWrite, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	type result struct {
		imgs []Image
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		imgs, err := c.Snapshot(ctx, []string{"TRI.N", "IBM.N"})
		done <- result{imgs, err}
	}()
	waitSig(t, w.sig, "snapshot request")
	if _, err := emu.DropConnections(0); err != nil {
		t.Fatal(err)
	}
	life.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Snapshot did not return after the reconnect")
	}
	if r.err != nil {
		t.Fatalf("Snapshot: %v", r.err)
	}
	for _, img := range r.imgs {
		if img.State.Stream != trjson.StreamNonStreaming || img.State.Data != trjson.DataOk || len(img.Fields) == 0 {
			t.Errorf("%s: %+v, %d fields", img.Name, img.State, len(img.Fields))
		}
	}
	if n := w.count(); n != 2 {
		t.Errorf("snapshot request sent %d times, want 2 (once per connection)", n)
	}
}

// A post in flight when the connection is lost fails at once with
// ErrDisconnected and is not re-sent after the reconnect.
func TestE2EPostNotResentAfterLoss(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{})
	w := &frameWatch{marker: []byte(`"Type":"Post"`), sig: make(chan struct{}, 16)}
	c, life := inflightClient(t, emu, info, w)
	if _, err := emu.Stall(0, emulator.StallWrite, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- c.Post(ctx, Post{Name: "TRI.N", Fields: []trjson.Field{trjson.Float("BID", 1.25)}})
	}()
	waitSig(t, w.sig, "post")
	if _, err := emu.DropConnections(0); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Post did not return after the loss")
	}
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Post: %v, want ErrDisconnected", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Post took %v: it waited for its timeout", d)
	}
	life.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
	// A snapshot round trip on the new connection: anything the client
	// queued before it has been written by now.
	if _, err := c.Snapshot(waitCtx(t), []string{"TRI.N"}); err != nil {
		t.Fatal(err)
	}
	if n := w.count(); n != 1 {
		t.Errorf("post sent %d times, want 1 (never re-sent)", n)
	}
}
