package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// TestRecordExportReplay records two emulator items with `ert record`,
// exports the recording to JSON lines and Parquet, plays it back, and
// checks that a damaged copy is reported with its offset.
func TestRecordExportReplay(t *testing.T) {
	emu := startEmu(t, emulator.Config{Rate: 20, RateSet: true})
	env := v2Env(emu.Info())
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec.ert.zst")
	r := ert(t, env, "record", "-f", rec, "--duration", "2s", "SYN1.X", "SYN2.X")
	expectRun(t, r, 0, "recorded", "dropped 0")

	r = ert(t, nil, "export", "jsonl", rec)
	expectRun(t, r, 0)
	lines := jsonLines(t, r.stdout)
	var msgs int
	for _, l := range lines {
		if _, ok := l["m"]; ok {
			msgs++
			if l["r"] != "SYN1.X" && l["r"] != "SYN2.X" {
				t.Fatalf("line for %v", l["r"])
			}
		}
	}
	if msgs < 20 {
		t.Fatalf("%d messages in 2 s of 2 items at 20/s", msgs)
	}

	only := ert(t, nil, "export", "jsonl", "--messages-only", rec)
	played := ert(t, nil, "replay", "--fast", "-o", "messages", rec)
	expectRun(t, played, 0)
	if only.stdout != played.stdout || strings.Count(only.stdout, "\n") != msgs {
		t.Fatalf("replay --fast differs from the export (%d and %d bytes)", len(played.stdout), len(only.stdout))
	}

	out := filepath.Join(dir, "rec.parquet")
	expectRun(t, ert(t, nil, "export", "parquet", rec, "-O", out), 0, "rows")
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != int64(msgs) {
		t.Fatalf("%d rows for %d messages", f.NumRows(), msgs)
	}
	if leaf, ok := f.Schema().Lookup("BID"); !ok || leaf.Node.Type().Kind() != parquet.Double {
		t.Fatal("no DOUBLE column BID")
	}

	raw, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.ert.zst")
	if err := os.WriteFile(cut, raw[:len(raw)-40], 0o600); err != nil {
		t.Fatal(err)
	}
	expectRun(t, ert(t, nil, "export", "jsonl", cut), 1, "damaged at offset")
}

// expectRun checks an ert run's exit code and that stderr holds each of
// want.
func expectRun(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("stderr lacks %q: %s", w, r.stderr)
		}
	}
}

// TestReplayServes serves a recording with `ert replay --listen` and
// takes an image of a recorded item with the SDK (Login by name).
func TestReplayServes(t *testing.T) {
	emu := startEmu(t, emulator.Config{Rate: 20, RateSet: true})
	rec := filepath.Join(t.TempDir(), "rec.ert.zst")
	expectRun(t, ert(t, v2Env(emu.Info()), "record", "-f", rec, "--duration", "1s", "SYN1.X"), 0, "recorded")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ertBin, "replay", "--listen", "127.0.0.1:0", "--fast", rec)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no ready line: %v; stderr: %s", err, stderr.String())
	}
	var ready struct{ WS string }
	if err := json.Unmarshal(line, &ready); err != nil || !strings.HasPrefix(ready.WS, "ws://127.0.0.1:") {
		t.Fatalf("ready line %s: %v", line, err)
	}
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{ready.WS}, UserName: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	imgs, err := c.Snapshot(ctx, []string{"SYN1.X"})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].State.Data != trjson.DataOk || len(imgs[0].Fields) == 0 {
		t.Fatalf("image %+v", imgs)
	}
	// ert stream itself, logging in by name (no credentials).
	host, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(ready.WS, "ws://"), "/WebSocket"))
	r := ert(t, nil, "stream", "--ws", "--hostname", host, "--port", port, "--login-name", "tester", "--snapshot", "-o", "jsonl", "SYN1.X")
	if r.code != 0 || !strings.Contains(r.stdout, `"SYN1.X"`) {
		t.Fatalf("ert stream --login-name from the replay: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
