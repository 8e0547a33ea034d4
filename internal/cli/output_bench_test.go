package cli

import (
	"io"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// benchUpdate is an update as the emulator's load mode sends it (one
// message of a pack-1 frame).
var benchUpdate = []byte(`[{"ID":2,"Type":"Update","UpdateType":"Quote","DoNotConflate":true,"Key":{"Service":"ELEKTRON_DD","Name":"TRI.N"},"SeqNumber":12345,"Fields":{"BID":40.74,"ASK":40.75,"BIDSIZE":10,"ASKSIZE":12,"QUOTIM":"15:37:31.678","QUOTIM_MS":56251678,"ERT_SEND_NS":1763900000000000000}}]`)

// BenchmarkJSONLPrint is the `ert stream --output jsonl` per-message
// output path: decode the frame, print each message through the jsonl
// printer into a discarding writer.
func BenchmarkJSONLPrint(b *testing.B) {
	var d trjson.Decoder
	msgs, err := d.Decode(benchUpdate)
	if err != nil || len(msgs) != 1 {
		b.Fatalf("decode: %v (%d msgs)", err, len(msgs))
	}
	p := newPrinter("jsonl", io.Discard, nil)
	defer p.Close()
	b.SetBytes(int64(len(msgs[0].Raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Print("TRI.N", &msgs[0]); err != nil {
			b.Fatal(err)
		}
	}
}
