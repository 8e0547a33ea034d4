package record

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// damagedCopy writes data (a changed copy of a recording) to a new file.
func damagedCopy(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "damaged.ert.zst")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testRecording(t *testing.T) (msgs []testMsg, data []byte, blocks []BlockInfo) {
	t.Helper()
	msgs = synthMsgs(5000, []string{"TRI.N", "EUR="}, time.Unix(1_700_000_000, 0), time.Millisecond)
	path := writeRecording(t, msgs, Options{BlockSize: 8 << 10, QueueBlocks: lossless})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	return msgs, data, rd.Blocks()
}

// recordsBefore is how many records the blocks before block k hold.
func recordsBefore(blocks []BlockInfo, k int) int {
	n := 0
	for _, b := range blocks[:k] {
		n += b.Records
	}
	return n
}

func TestDamage(t *testing.T) {
	msgs, data, blocks := testRecording(t)
	const k = 3 // the damaged block
	b := blocks[k]
	flip := func(off int64) []byte {
		d := bytes.Clone(data)
		d[off] ^= 0x5a
		return d
	}
	for _, c := range []struct {
		name     string
		data     []byte
		offset   int64 // the offset the error must name
		readable int   // records readable before the damage
	}{
		{"cut mid-frame", data[:b.dataOffset()+int64(b.Compressed)/2], b.Offset, recordsBefore(blocks, k)},
		{"cut in a block header", data[:b.Offset+20], b.Offset, recordsBefore(blocks, k)},
		{"cut in a frame header", data[:b.Offset+3], b.Offset, recordsBefore(blocks, k)},
		{"flipped byte in a block", flip(b.dataOffset() + 10), b.dataOffset(), recordsBefore(blocks, k)},
		{"flipped byte in a block header", flip(b.Offset + 12), b.Offset, recordsBefore(blocks, k)},
		{"flipped byte in the index", flip(int64(len(data)) - 30), blocks[len(blocks)-1].end(), len(msgs)},
		{"cut in the index", data[:len(data)-5], blocks[len(blocks)-1].end(), len(msgs)},
	} {
		t.Run(c.name, func(t *testing.T) {
			rd, err := Open(damagedCopy(t, c.data))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer rd.Close()
			got, err := readAll(t, rd, 0)
			var de *DamageError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T), want a *DamageError", err, err)
			}
			if de.Offset != c.offset {
				t.Fatalf("error names offset %d, want %d: %v", de.Offset, c.offset, err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte("offset")) {
				t.Fatalf("error text does not say where: %v", err)
			}
			sameMsgs(t, got, msgs[:c.readable])
		})
	}
}

func TestNotARecording(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("hello, world, not a recording at all"), {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}} {
		_, err := Open(damagedCopy(t, data))
		if !errors.Is(err, ErrNotRecording) {
			t.Errorf("%q: err %v, want ErrNotRecording", data, err)
		}
	}
	// A damaged header is damage at offset 8.
	_, data, _ := testRecording(t)
	d := bytes.Clone(data)
	d[16] = 'x' // the header JSON's opening brace
	_, err := Open(damagedCopy(t, d))
	var de *DamageError
	if !errors.As(err, &de) || de.Offset != frameHeaderSize {
		t.Fatalf("damaged header: %v", err)
	}
}

func TestUnindexedFileReadable(t *testing.T) {
	// A recording whose writer died: no index; the blocks are scanned.
	msgs, data, blocks := testRecording(t)
	rd, err := Open(damagedCopy(t, data[:blocks[len(blocks)-1].end()]))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if rd.Indexed() || len(rd.Blocks()) != len(blocks) {
		t.Fatalf("indexed %v, %d blocks of %d", rd.Indexed(), len(rd.Blocks()), len(blocks))
	}
	got, err := readAll(t, rd, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameMsgs(t, got, msgs)
}

func TestIterFrom(t *testing.T) {
	msgs, data, _ := testRecording(t)
	rd, err := Open(damagedCopy(t, data))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for _, i := range []int{0, 1, 777, 2500, 4999} {
		got, err := readAll(t, rd, msgs[i].t)
		if err != nil {
			t.Fatal(err)
		}
		sameMsgs(t, got, msgs[i:])
	}
	got, _ := readAll(t, rd, msgs[len(msgs)-1].t+1)
	if len(got) != 0 {
		t.Fatalf("%d records after the end", len(got))
	}
}

// FuzzReader opens and reads arbitrary bytes: it must never panic, hang
// or allocate without bound, and any error must be a DamageError or name
// the file as not a recording.
func FuzzReader(f *testing.F) {
	msgs := synthMsgs(300, []string{"TRI.N", "EUR="}, time.Unix(1_700_000_000, 0), time.Millisecond)
	path := writeRecording(f, msgs, Options{BlockSize: 2 << 10, QueueBlocks: lossless})
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(data[:200])
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			var de *DamageError
			if !errors.Is(err, ErrNotRecording) && !errors.As(err, &de) && !bytes.Contains([]byte(err.Error()), []byte("version")) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		defer rd.Close()
		it := rd.Iter(0)
		n := 0
		for it.Next() {
			n++
		}
		if err := it.Err(); err != nil {
			var de *DamageError
			if !errors.As(err, &de) {
				t.Fatalf("iteration error %v is not a DamageError", err)
			}
		}
	})
}
