package consumer

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// restartEmu closes emu and starts another on the same streaming address
// (a new CA, written to caFile).
func restartEmu(t *testing.T, emu *emulator.Emulator, addr, caFile string) *emulator.Emulator {
	t.Helper()
	emu.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := emulator.Start(ctx, emulator.Config{ADSMode: true, CAFile: caFile, StreamAddrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestE2ENewCAFileReReadOrGiveUp: the emulator restarts with a new CA.
// Written to the same CA file, the client re-reads it and reconnects;
// written elsewhere (the file still holds the old CA), every reconnect
// fails certificate verification, the item is Suspect meanwhile, and
// after MaxCertFailures the connection gives up with an error matching
// ErrGaveUp and ErrCertificate instead of retrying silently for ever.
func TestE2ENewCAFileReReadOrGiveUp(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	emu, err := emulator.Start(ctx, emulator.Config{ADSMode: true, CAFile: caFile, StreamAddrs: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	addr := emuEndpoints(emu.Info())[0]
	el := newEventLog()
	uc := newUpdateCounter()
	c, err := Dial(ctx, Config{Endpoints: []string{addr}, UserName: "user1", TLS: TLS{CAFile: caFile},
		Handler: uc.handle, OnEvent: el.add,
		Reconnect: Reconnect{MinDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond, MaxCertFailures: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx, []string{"TRI.N"}); err != nil {
		t.Fatal(err)
	}
	uc.next(t, "TRI.N")

	// Same file: re-read, reconnected, updating again.
	emu = restartEmu(t, emu, addr, caFile)
	el.wait(t, 10*time.Second, func(e Event) bool { return e.Kind == EventReconnected })
	uc.drain()
	uc.next(t, "TRI.N")

	// Another file: the old CA stays in caFile.
	restartEmu(t, emu, addr, filepath.Join(dir, "other.pem"))
	el.wait(t, 10*time.Second, func(e Event) bool {
		return e.Kind == EventItemState && e.Item.Name == "TRI.N" && e.State.Data == trjson.DataSuspect
	})
	ev := el.wait(t, 10*time.Second, func(e Event) bool { return e.Kind == EventError && errors.Is(e.Err, ErrGaveUp) })
	if !errors.Is(ev.Err, ErrCertificate) {
		t.Fatalf("gave up with %v, want a certificate failure", ev.Err)
	}
	if n := el.countErr(ErrCertificate); n != 3+1 { // 3 attempts, then the give-up
		t.Errorf("%d certificate errors reported, want 3 failures and the give-up", n)
	}
	if st := c.Stats(); st.Reconnects != 1 {
		t.Errorf("%d reconnects, want 1", st.Reconnects)
	}
}

// TestE2EBackoffResetAfterRediscovery: a successful rediscovery restarts
// the back-off at MinDelay, so that a new endpoint list is tried at once
// instead of after the delay grown against the dead one.
func TestE2EBackoffResetAfterRediscovery(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{ADSMode: true})
	eps := emuEndpoints(info)
	delays := make(chan time.Duration, 64)
	el := newEventLog()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{Endpoints: eps[:1], UserName: "user1", TLS: TLS{CAPEM: info.CAPEM}, OnEvent: el.add,
		Handler:  func(*Msg) {},
		Discover: func(context.Context) ([]string, error) { return eps[1:2], nil },
		Reconnect: Reconnect{MinDelay: 10 * time.Millisecond, MaxDelay: 10 * time.Second, Multiplier: 4, Jitter: 0.01,
			SwitchAfter: 100, RediscoverAfter: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.mu.Lock()
	c.backoffHook = func(d time.Duration) { delays <- d }
	c.mu.Unlock()
	if _, err := emu.KillEndpoint(0, time.Minute); err != nil {
		t.Fatal(err)
	}
	el.wait(t, 10*time.Second, func(e Event) bool { return e.Kind == EventRediscovered })
	el.wait(t, 10*time.Second, func(e Event) bool { return e.Kind == EventReconnected })
	// Delays: after the loss, after failures 1, 2 and 3 (rediscovery).
	var got []time.Duration
	for len(got) < 4 {
		select {
		case d := <-delays:
			got = append(got, d)
		case <-time.After(5 * time.Second):
			t.Fatalf("delays %v: fewer than 4", got)
		}
	}
	if got[2] < 100*time.Millisecond || got[3] > 20*time.Millisecond {
		t.Fatalf("delays %v: want growth to ~640ms, then MinDelay after the rediscovery", got)
	}
}

// countErr counts EventErrors matching target.
func (l *eventLog) countErr(target error) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if ev.Kind == EventError && errors.Is(ev.Err, target) {
			n++
		}
	}
	return n
}

// TestDialTLSVersionMismatchPermanent: a server that speaks only TLS 1.0
// and 1.1 cannot be reached with TLS 1.2 as the minimum: Dial fails with
// ErrTLSVersion after one handshake instead of trying the next endpoints
// (the same server) or backing off.
func TestDialTLSVersionMismatchPermanent(t *testing.T) {
	var handshakes atomic.Int32
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			handshakes.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := srv.Listener.Addr().String()
	_, err := Dial(ctx, Config{Endpoints: []string{addr, addr, addr}, UserName: "user1", TLS: TLS{CAPEM: ca}})
	if !errors.Is(err, ErrTLSVersion) {
		t.Fatalf("Dial: %v, want ErrTLSVersion", err)
	}
	if n := handshakes.Load(); n != 1 {
		t.Fatalf("%d handshakes, want 1", n)
	}
}
