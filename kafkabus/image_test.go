package kafkabus

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// fieldImage against a plain map on random field lists: names in and out
// of order, new names, resets, strings growing and shrinking (the reused
// buffers must never leak an old value).
func TestFieldImageMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"BID", "ASK", "TRDPRC_1", "DSPLY_NAME", "TRDVOL_1", "QUOTIM", "NEWS"}
	var im fieldImage
	ref := map[string]string{}
	for step := 0; step < 5000; step++ {
		if r.IntN(50) == 0 {
			im.reset()
			clear(ref)
		}
		var fs []trjson.Field
		start := r.IntN(len(names))
		for j := 0; j < 1+r.IntN(4); j++ {
			name := names[(start+j)%len(names)]
			if r.IntN(5) == 0 {
				name = names[r.IntN(len(names))]
			}
			var f trjson.Field
			switch r.IntN(3) {
			case 0:
				f = trjson.String(name, fmt.Sprintf("%0*d", r.IntN(20), step))
			case 1:
				f = trjson.Float(name, float64(step)/4)
			default:
				f = trjson.Null(name)
			}
			fs = append(fs, f)
		}
		// The caller's buffers are reused after merge: scribble on them.
		im.merge(fs)
		for _, f := range fs {
			ref[f.Name] = fieldText(f)
		}
		for i := range fs {
			for k := range fs[i].Str {
				fs[i].Str[k] = '#'
			}
		}
		if len(im.fields) != len(ref) {
			t.Fatalf("step %d: %d fields, want %d", step, len(im.fields), len(ref))
		}
		for _, f := range im.fields {
			if got := fieldText(f); got != ref[f.Name] {
				t.Fatalf("step %d: %s = %s, want %s", step, f.Name, got, ref[f.Name])
			}
		}
	}
}
