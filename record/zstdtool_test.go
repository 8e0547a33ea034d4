package record

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestZstdToolReads checks that the zstd command-line tool decompresses a
// recording to its JSON lines (skipping the header, block headers and
// index), where the tool is installed.
func TestZstdToolReads(t *testing.T) {
	bin, err := exec.LookPath("zstd")
	if err != nil {
		t.Skip("no zstd tool")
	}
	msgs := synthMsgs(2000, []string{"A", "B"}, time.Unix(1_700_000_000, 0), time.Millisecond)
	path := writeRecording(t, msgs, Options{BlockSize: 8 << 10, QueueBlocks: lossless})
	out, err := exec.Command(bin, "-dc", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, m := range msgs {
		want = appendMessageLine(want, m.t, m.name, m.raw)
	}
	if !bytes.Equal(out, want) {
		os.WriteFile(path+".out", out, 0o600)
		t.Fatalf("zstd -dc printed %d bytes, want the %d bytes of JSON lines", len(out), len(want))
	}
}
