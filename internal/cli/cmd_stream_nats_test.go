package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/natsbus"
)

// syncBuffer is a bytes.Buffer safe for the printer's flush goroutine and
// the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runErt(ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb syncBuffer
	code = Main(ctx, args, Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// TestStreamPublishAndFromNATS: ert stream --publish-nats streams from the
// emulator into NATS JetStream while ert stream --from reads the same
// items back (image, then updates); --snapshot reads the last values.
func TestStreamPublishAndFromNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	emu := testutil.StartEmulator(t, emulator.Config{Rate: 20, RateSet: true})
	info := emu.Info()
	env := map[string]string{"ERT_CLIENTID": info.ClientID, "ERT_CLIENTSECRET": info.ClientSecret,
		"ERT_AUTH_URL": info.AuthURLV2, "ERT_DISCOVERY_URL": info.DiscoveryURL, "ERT_CA_FILE": info.CAFile}
	srv, err := natsbus.StartServer(ctx, natsbus.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := srv.URL() + "/mkt"

	// Publish until the reader has what it wants (bounded by --duration).
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	pubDone := make(chan string, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		code, _, errs := runErt(pubCtx, env, "stream", "--publish-nats", url, "--duration", "30s", "--stats", "-o", "jsonl", "TRI.N", "EUR=")
		pubDone <- fmt.Sprintf("%s (exit %d)", strings.TrimSpace(errs), code)
	}()
	<-started

	// The reader may start before anything is published: retry on exit 6
	// (no stream yet), bounded.
	var out, errs string
	code := ExitItem
	for attempt := 0; attempt < 50 && code == ExitItem; attempt++ {
		code, out, errs = runErt(ctx, nil, "stream", "--from", url, "--count", "10", "-o", "jsonl", "--stats", "TRI.N", "EUR=")
		if code == ExitItem {
			wait := time.NewTimer(200 * time.Millisecond)
			select {
			case <-wait.C:
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
	}
	if code != 0 {
		t.Fatalf("--from exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 10 {
		t.Fatalf("--from printed %d lines:\n%s\nstderr: %s", len(lines), out, errs)
	}
	types := map[string]int{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		typ, _ := m["Type"].(string)
		types[typ]++
	}
	if types["Update"] == 0 || types["Refresh"] == 0 {
		t.Fatalf("types %v in:\n%s", types, out)
	}
	stopPub()
	select {
	case s := <-pubDone:
		if !strings.Contains(s, "nats: received=") || !strings.Contains(s, "dropped=0") {
			t.Fatalf("publisher stderr: %s", s)
		}
	case <-ctx.Done():
		t.Fatal("publisher did not stop")
	}

	// The last values, after the publisher is gone.
	code, out, errs = runErt(ctx, nil, "stream", "--from", url, "--snapshot", "-o", "jsonl", "TRI.N", "EUR=")
	if code != 0 || strings.Count(out, `"Type":"Refresh"`) != 2 {
		t.Fatalf("--from --snapshot exit %d:\n%s\nstderr: %s", code, out, errs)
	}

	// Bad input: another prefix (nothing published), a server that is
	// down, a bad URL.
	if code, _, errs := runErt(ctx, nil, "stream", "--from", srv.URL()+"/other", "--snapshot", "TRI.N"); code != ExitItem || !strings.Contains(errs, "nothing published") {
		t.Fatalf("unknown prefix: exit %d: %s", code, errs)
	}
	down := srv.URL()
	srv.Close()
	if code, _, errs := runErt(ctx, nil, "stream", "--from", down, "TRI.N"); code != ExitConnection || !strings.Contains(errs, "no servers available") {
		t.Fatalf("server down: exit %d: %s", code, errs)
	}
	if code, _, errs := runErt(ctx, nil, "stream", "--from", "http://x:1", "TRI.N"); code != ExitUsage {
		t.Fatalf("bad scheme: exit %d: %s", code, errs)
	}
}
