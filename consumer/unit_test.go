package consumer

import (
	"testing"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// Back-off grows exponentially, never exceeds MaxDelay, and jitters.
func TestBackoffBounded(t *testing.T) {
	p := (&Config{}).withDefaults().Reconnect
	p.MinDelay, p.MaxDelay = 100*time.Millisecond, time.Second
	b := backoff{p: p}
	var prevBase time.Duration
	for i := 0; i < 50; i++ {
		d := b.next()
		if d < 0 || d > p.MaxDelay {
			t.Fatalf("delay %v out of [0, %v]", d, p.MaxDelay)
		}
		if b.current < prevBase {
			t.Fatalf("base shrank")
		}
		prevBase = b.current
	}
	if b.current != p.MaxDelay {
		t.Errorf("base %v, want capped at %v", b.current, p.MaxDelay)
	}
	b.reset()
	if d := b.next(); d > time.Duration(float64(p.MinDelay)*(1+p.Jitter)) {
		t.Errorf("after reset %v", d)
	}
}

// Hot-standby de-dup by SeqNumber: each sequence delivered once, refresh
// parts of the same sequence pass, wrap-around counts as newer.
func TestDedupBySeq(t *testing.T) {
	var d dedupState
	now := time.Now()
	up := func(seq int64) *trjson.Msg {
		return &trjson.Msg{Type: trjson.TypeUpdate, SeqNumber: seq, HasSeqNumber: true}
	}
	steps := []struct {
		m    *trjson.Msg
		want bool
	}{
		{&trjson.Msg{Type: trjson.TypeRefresh, SeqNumber: 10, HasSeqNumber: true, NotComplete: true}, true},
		{&trjson.Msg{Type: trjson.TypeRefresh, SeqNumber: 10, HasSeqNumber: true, NotComplete: true}, false}, // other conn, part 0
		{&trjson.Msg{Type: trjson.TypeRefresh, SeqNumber: 10, HasSeqNumber: true, PartNumber: 1}, true},
		{up(11), true}, {up(11), false}, {up(12), true}, {up(12), false}, {up(11), false},
		{up(4294967295), false}, // far behind 12 in uint32 space? no: 12-4294967295 wraps to 13 ahead → older
	}
	for i, s := range steps {
		if got := d.admit(s.m, time.Second, now); got != s.want {
			t.Fatalf("step %d seq %d: admit %v want %v", i, s.m.SeqNumber, got, s.want)
		}
	}
	var w dedupState
	w.admit(up(4294967295), time.Second, now)
	if !w.admit(up(0), time.Second, now) {
		t.Error("wrapped sequence 0 after 2^32-1 not admitted")
	}
}

// Without SeqNumber the first arrival wins within the window.
func TestDedupByContent(t *testing.T) {
	var d dedupState
	now := time.Now()
	m := &trjson.Msg{Type: trjson.TypeUpdate, Fields: []trjson.Field{trjson.Float("BID", 1)}}
	m2 := &trjson.Msg{Type: trjson.TypeUpdate, Fields: []trjson.Field{trjson.Float("BID", 2)}}
	if !d.admit(m, time.Second, now) || d.admit(m, time.Second, now) {
		t.Fatal("duplicate within window delivered twice")
	}
	if !d.admit(m2, time.Second, now) {
		t.Fatal("different content suppressed")
	}
	if !d.admit(m, time.Second, now) {
		t.Fatal("third identical message (a genuine repeat) suppressed")
	}
	if !d.admit(m2, time.Second, now.Add(2*time.Second)) {
		t.Fatal("copy outside the window suppressed")
	}
}

func TestParseDateTime(t *testing.T) {
	cases := []struct {
		in   string
		want TimeOfDay
		ok   bool
	}{
		{"15:37:31", TimeOfDay{15, 37, 31, 0}, true},
		{"15:37:31.678", TimeOfDay{15, 37, 31, 678000000}, true},
		{"15:37:31.000001", TimeOfDay{15, 37, 31, 1000}, true},
		{"14:40:32:000:000:000", TimeOfDay{14, 40, 32, 0}, true},
		{"14:40:32:001:002:003", TimeOfDay{14, 40, 32, 1002003}, true},
		{"14:40", TimeOfDay{14, 40, 0, 0}, true},
		{"24:00:00", TimeOfDay{}, false},
		{"1:2:3", TimeOfDay{}, false},
		{"", TimeOfDay{}, false},
	}
	for _, c := range cases {
		got, ok := ParseTimeOfDay([]byte(c.in))
		if ok != c.ok || got != c.want {
			t.Errorf("ParseTimeOfDay(%q) = %v %v", c.in, got, ok)
		}
	}
	if d, ok := ParseDate([]byte("2018-04-06")); !ok || d != (Date{2018, 4, 6}) {
		t.Errorf("ParseDate %v %v", d, ok)
	}
	for _, bad := range []string{"2018-13-01", "2018-4-06", "20180406", "abcd-ef-gh"} {
		if _, ok := ParseDate([]byte(bad)); ok {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}

// Typed access on the hot path does not allocate.
func TestTypedAccessNoAlloc(t *testing.T) {
	m := &Msg{Fields: []trjson.Field{trjson.Float("BID", 1.5), trjson.Int("ACVOL_1", 7),
		trjson.String("TRADE_DATE", "2024-01-02"), trjson.String("SALTIM", "10:11:12.5"), trjson.Null("ASK")}}
	n := testing.AllocsPerRun(100, func() {
		m.Float("BID")
		m.Int("ACVOL_1")
		m.Date("TRADE_DATE")
		m.Time("SALTIM")
		m.IsBlank("ASK")
		m.Bytes("TRADE_DATE")
	})
	if n != 0 {
		t.Errorf("%v allocations per access round", n)
	}
}

// DropOldest drops and counts; ConflatePerItem merges updates of an item.
func TestQueuePolicies(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	var cnt counters
	q := newQueue(DropOldest, 2, &cnt)
	for i := 0; i < 5; i++ {
		q.push(&Msg{SeqNumber: int64(i)}, done)
	}
	if cnt.drops.Load() != 3 || len(q.msgs) != 2 || q.msgs[0].SeqNumber != 3 {
		t.Errorf("DropOldest: drops %d queue %d", cnt.drops.Load(), len(q.msgs))
	}

	var cnt2 counters
	q2 := newQueue(ConflatePerItem, 10, &cnt2)
	it := &Item{Name: "X"}
	q2.push(&Msg{Item: it, Type: trjson.TypeRefresh}, done)
	q2.push(&Msg{Item: it, Type: trjson.TypeUpdate, SeqNumber: 1, Fields: []trjson.Field{trjson.Float("BID", 1), trjson.Float("ASK", 2)}}, done)
	q2.push(&Msg{Item: it, Type: trjson.TypeUpdate, SeqNumber: 2, Fields: []trjson.Field{trjson.Float("BID", 3)}}, done)
	if len(q2.msgs) != 2 || cnt2.conflated.Load() != 1 {
		t.Fatalf("ConflatePerItem: %d queued, %d conflated", len(q2.msgs), cnt2.conflated.Load())
	}
	u := q2.msgs[1]
	if v, _ := u.Float("BID"); v != 3 || u.SeqNumber != 2 {
		t.Errorf("merged BID %v seq %d", v, u.SeqNumber)
	}
	if v, _ := u.Float("ASK"); v != 2 {
		t.Errorf("merged ASK %v", v)
	}
}

func FuzzParseTimeOfDay(f *testing.F) {
	for _, s := range []string{"15:37:31", "15:37:31.678", "14:40:32:000:000:000", "", "99:99"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, ok := ParseTimeOfDay(b)
		if ok && (tm.Hour > 23 || tm.Minute > 59 || tm.Second > 60 || tm.Nanos < 0 || tm.Nanos >= 1e9) {
			t.Fatalf("%q → %+v", b, tm)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2018-04-06", "0000-00-00", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok := ParseDate(b)
		if ok && (d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31) {
			t.Fatalf("%q → %+v", b, d)
		}
	})
}
