package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

// syncBuf is a bytes.Buffer safe for a writer and a reader.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStreamNewCAReReadThenGiveUp: `ert stream` against an emulator that
// restarts on the same addresses with a new CA. Written to the same
// --ca-file, the new CA is re-read (token renewal and streaming) and the
// stream resumes, with a Status Suspect on stdout while it was down.
// Written elsewhere, every reconnect fails certificate verification and,
// after --max-cert-failures, ert exits 5 with a message naming the
// certificate instead of retrying silently for ever.
func TestStreamNewCAReReadThenGiveUp(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	start := func(api, stream, ca string) *emulator.Emulator {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e, err := emulator.Start(ctx, emulator.Config{APIAddr: api, StreamAddrs: []string{stream}, CAFile: ca,
			Rate: 20, RateSet: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	emu := start("127.0.0.1:0", "127.0.0.1:0", caFile)
	info := emu.Info()
	api := strings.TrimPrefix(strings.TrimSuffix(info.AuthURLV2, "/auth/oauth2/v2/token"), "https://")
	stream := info.Endpoints[0].Host + ":" + strconv.Itoa(info.Endpoints[0].Port)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ertBin, "stream", "--hostname", info.Endpoints[0].Host, "--port", strconv.Itoa(info.Endpoints[0].Port),
		"--max-cert-failures", "2", "--log-level", "error", "TRI.N")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range v2Env(info) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuf{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
	}()
	// waitLine waits for a stdout line of type typ (and Data state data).
	waitLine := func(typ, data string) {
		t.Helper()
		timer := time.NewTimer(20 * time.Second)
		defer timer.Stop()
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("stdout ended before a %s %s; stderr: %s", typ, data, stderr.String())
				}
				st, _ := m["State"].(map[string]any)
				if m["Type"] == typ && (data == "" || st["Data"] == data) {
					return
				}
			case <-timer.C:
				t.Fatalf("no %s %s line within 20s; stderr: %s", typ, data, stderr.String())
			}
		}
	}
	waitLine("Update", "")

	// Same CA file, new CA: Suspect while down, then a fresh image.
	emu.Close()
	emu = start(api, stream, caFile)
	waitLine("Status", "Suspect")
	waitLine("Refresh", "Ok")
	waitLine("Update", "")

	// The new CA elsewhere: Suspect, certificate failures, exit 5.
	emu.Close()
	start(api, stream, filepath.Join(dir, "other.pem"))
	waitLine("Status", "Suspect")
	for range lines {
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("exit %v, want 5; stderr: %s", err, stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "stopped reconnecting") || !strings.Contains(msg, "certificate") || !strings.Contains(msg, "--ca-file") {
		t.Fatalf("exit message does not name the certificate problem: %s", msg)
	}
}

// TestInsecureWarningAtErrorLevel: --insecure warns even when the log
// level hides warnings.
func TestInsecureWarningAtErrorLevel(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	r := ert(t, v2Env(emu.Info()), "snapshot", "--insecure", "--log-level", "error", "TRI.N")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "TLS certificate verification is OFF") {
		t.Fatalf("no --insecure warning at --log-level error: %q", r.stderr)
	}
}
