package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/ertkit/ertkit/emulator"
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
