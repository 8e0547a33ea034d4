package natsbus

import (
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

func TestJoin(t *testing.T) {
	type in struct {
		streamSeq uint64
		typ       trjson.MsgType
		seq       int64
	}
	U, R := trjson.TypeUpdate, trjson.TypeRefresh
	cases := []struct {
		name    string
		j       join
		msgs    []in
		want    []verdict
		wantGap []bool
	}{
		{"image at 10 (seq 5): 9 and 10 are in it, 11 follows",
			join{updatesSeq: 10, seq: 5, hasSeq: true},
			[]in{{9, U, 4}, {10, U, 5}, {11, U, 6}, {12, U, 7}},
			[]verdict{inImage, inImage, deliver, deliver}, []bool{false, false, false, false}},
		{"gap after the image",
			join{updatesSeq: 10, seq: 5, hasSeq: true},
			[]in{{11, U, 8}, {12, U, 9}},
			[]verdict{deliver, deliver}, []bool{true, false}},
		{"duplicate SeqNumber skipped",
			join{updatesSeq: 0, seq: 5, hasSeq: true},
			[]in{{1, U, 6}, {2, U, 6}, {3, U, 7}},
			[]verdict{deliver, duplicate, deliver}, []bool{false, false, false}},
		{"a Refresh resets the numbering",
			join{updatesSeq: 3, seq: 50, hasSeq: true},
			[]in{{4, R, 7}, {5, U, 8}},
			[]verdict{deliver, deliver}, []bool{false, false}},
		{"no image: everything delivered, checked from the first",
			join{},
			[]in{{1, R, 1}, {2, U, 2}, {3, U, 4}},
			[]verdict{deliver, deliver, deliver}, []bool{false, false, true}},
	}
	for _, c := range cases {
		j := c.j
		for i, m := range c.msgs {
			v, gap, _ := j.admit(m.streamSeq, m.typ, true, m.seq)
			if v != c.want[i] || gap != c.wantGap[i] {
				t.Errorf("%s: msg %d: verdict %d gap %v, want %d %v", c.name, i, v, gap, c.want[i], c.wantGap[i])
			}
		}
	}
}
