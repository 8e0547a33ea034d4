package market

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ertkit/ertkit/dictionary"
	"github.com/ertkit/ertkit/trjson"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// steppingClock starts just before midnight UTC so that long runs cross a
// date change, and advances step per reading.
func steppingClock(step time.Duration) func() time.Time {
	start := time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)
	var n atomic.Int64
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * step) }
}

func testUniverse(seed int64) *Universe {
	return New(Config{Seed: seed, Clock: steppingClock(3 * time.Millisecond)})
}

func sameField(a, b trjson.Field) bool {
	return a.Name == b.Name && a.Kind == b.Kind && a.Int == b.Int && a.Float == b.Float && bytes.Equal(a.Str, b.Str)
}

func sameFields(a, b []trjson.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameField(a[i], b[i]) {
			return false
		}
	}
	return true
}

// sample is one instrument of each class plus the delayed twin.
var sample = []string{"TRI.N", "VOD.L", "7203.T", "EUR=", "JPY=", ".DJI", "ESc1", "US10YT=RR", "/IBM.N"}

func TestDeterminism(t *testing.T) {
	u1, u2, u3 := testUniverse(42), testUniverse(42), testUniverse(43)
	differs := false
	for _, name := range sample {
		a, _ := u1.Lookup(name)
		b, _ := u2.Lookup(name)
		c, _ := u3.Lookup(name)
		ia, sa := a.Image(nil)
		ib, sb := b.Image(nil)
		ic, _ := c.Image(nil)
		if sa != sb || !sameFields(ia, ib) {
			t.Fatalf("%s: images differ for the same seed", name)
		}
		if !sameFields(ia, ic) {
			differs = true
		}
		for i := range 2000 {
			uta, fa, qa := a.Tick(nil)
			utb, fb, qb := b.Tick(nil)
			if uta != utb || qa != qb || !sameFields(fa, fb) {
				t.Fatalf("%s tick %d: %v %v %d vs %v %v %d", name, i, uta, fa, qa, utb, fb, qb)
			}
		}
	}
	if !differs {
		t.Error("seeds 42 and 43 generated identical images")
	}
	// The delayed twin generates the same data as the real-time item.
	rt, _ := testUniverse(7).Lookup("IBM.N")
	dl, _ := testUniverse(7).Lookup("/IBM.N")
	for range 100 {
		_, f1, s1 := rt.Tick(nil)
		_, f2, s2 := dl.Tick(nil)
		if s1 != s2 || !sameFields(f1, f2) {
			t.Fatal("delayed twin diverges")
		}
	}
}

// cache is a consumer-side field cache applying updates with ripple, as a
// receiver does when DoNotRipple is false.
type cache map[string]trjson.Field

func (c cache) apply(d *dictionary.Dictionary, fields []trjson.Field) {
	for _, f := range fields {
		def, _ := d.ByName(f.Name)
		var chain []string
		for def != nil && def.Ripple != "" {
			if _, ok := c[def.Ripple]; !ok {
				break
			}
			chain = append(chain, def.Ripple)
			def, _ = d.ByName(def.Ripple)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			from := f.Name
			if i > 0 {
				from = chain[i-1]
			}
			v := c[from]
			v.Name = chain[i]
			c[chain[i]] = v
		}
		c[f.Name] = f
	}
}

func TestTickInvariants(t *testing.T) {
	u := testUniverse(1)
	d := dictionary.Default()
	const ticks = 100_000
	for _, name := range sample {
		in, _ := u.Lookup(name)
		img, seq := in.Image(nil)
		c := cache{}
		for _, f := range img {
			if err := d.Check(&f); err != nil {
				t.Fatalf("%s image: %v", name, err)
			}
			c[f.Name] = f
		}
		acvol := c["ACVOL_1"].Int
		buf := make([]trjson.Field, 0, 32)
		var quotes, trades int
		for i := range ticks {
			ut, fields, s := in.Tick(buf)
			if s != seq+1 {
				t.Fatalf("%s tick %d: seq %d after %d", name, i, s, seq)
			}
			seq = s
			if len(fields) == 0 {
				t.Fatalf("%s tick %d: no fields", name, i)
			}
			switch ut {
			case trjson.UpdateQuote:
				quotes++
			case trjson.UpdateTrade:
				trades++
			default:
				t.Fatalf("%s: update type %v", name, ut)
			}
			for j := range fields {
				f := &fields[j]
				if _, ok := c[f.Name]; !ok {
					t.Fatalf("%s tick %d: field %s not in the image", name, i, f.Name)
				}
				if err := d.Check(f); err != nil {
					t.Fatalf("%s tick %d: %v", name, i, err)
				}
				if ut == trjson.UpdateQuote && (f.Name == "TRDPRC_1" || f.Name == "ACVOL_1") {
					t.Fatalf("%s: quote carries %s", name, f.Name)
				}
				if ut == trjson.UpdateTrade && (f.Name == "BID" || f.Name == "ASK") {
					t.Fatalf("%s: trade carries %s", name, f.Name)
				}
			}
			c.apply(d, fields)
			if bid, ok := c["BID"]; ok {
				if bid.Float >= c["ASK"].Float || bid.Float <= 0 {
					t.Fatalf("%s tick %d: bid %v ask %v", name, i, bid.Float, c["ASK"].Float)
				}
			}
			if v, ok := c["ACVOL_1"]; ok {
				if v.Int < acvol {
					t.Fatalf("%s tick %d: ACVOL_1 fell from %d to %d", name, i, acvol, v.Int)
				}
				acvol = v.Int
			}
			if h, ok := c["HIGH_1"]; ok && h.Float < c["LOW_1"].Float {
				t.Fatalf("%s: HIGH_1 %v < LOW_1 %v", name, h.Float, c["LOW_1"].Float)
			}
		}
		if in.Class == Equity && (quotes < ticks/2 || trades < ticks/5) {
			t.Errorf("%s: %d quotes, %d trades", name, quotes, trades)
		}
		// A receiver that applies every update (with ripple) holds the image.
		img, s := in.Image(nil)
		if s != seq || len(img) != len(c) {
			t.Fatalf("%s: image seq %d (want %d), %d fields (cache %d)", name, s, seq, len(img), len(c))
		}
		for _, f := range img {
			if !sameField(f, c[f.Name]) {
				t.Errorf("%s: image %s = %+v, cache %+v", name, f.Name, f, c[f.Name])
			}
		}
		if in.LastSeq() != seq {
			t.Errorf("%s: LastSeq %d, want %d", name, in.LastSeq(), seq)
		}
	}
}

func TestTimesAndDates(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 4, 6, 15, 37, 31, 678_000_000, time.FixedZone("X", 3600)) }
	u := New(Config{Seed: 1, Clock: clock})
	in, _ := u.Lookup("TRI.N")
	img, _ := in.Image(nil)
	want := map[string]string{"QUOTIM": "14:37:31", "TRDTIM_1": "14:37:00", "SALTIM": "14:37:31", "TRADE_DATE": "2026-04-06"}
	for _, f := range img {
		if w, ok := want[f.Name]; ok && string(f.Str) != w {
			t.Errorf("%s = %q, want %q", f.Name, f.Str, w)
		}
		if f.Name == "QUOTIM_MS" && f.Int != (14*3600+37*60+31)*1000+678 {
			t.Errorf("QUOTIM_MS = %d", f.Int)
		}
	}
	if st := stampOf(time.Unix(-1, 0)); st.day != -1 || st.sec != 86399 {
		t.Errorf("stampOf before the epoch = %+v", st)
	}
}

func TestNoAllocation(t *testing.T) {
	in, _ := testUniverse(1).Lookup("TRI.N")
	img := make([]trjson.Field, 0, in.FieldCount())
	upd := make([]trjson.Field, 0, 32)
	in.Tick(upd) // warm the time tables
	if n := testing.AllocsPerRun(1000, func() { img, _ = in.Image(img) }); n != 0 {
		t.Errorf("Image allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _, upd, _ = in.Tick(upd) }); n != 0 {
		t.Errorf("Tick allocates %v times", n)
	}
	post := []trjson.Field{trjson.Float("BID", 170.01), trjson.Int("BIDSIZE", 300)}
	if n := testing.AllocsPerRun(1000, func() {
		var err error
		if upd, _, err = in.AppendPost(upd, post); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendPost allocates %v times", n)
	}
}

func TestApplyPost(t *testing.T) {
	in, _ := testUniverse(1).Lookup("TRI.N")
	seq := in.LastSeq()
	for _, tc := range []struct {
		fields []trjson.Field
		want   error
	}{
		{[]trjson.Field{trjson.Float("BID", 1), trjson.Int("NOT_A_FIELD", 1)}, dictionary.ErrUnknownField},
		{[]trjson.Field{trjson.String("BID", "cheap")}, dictionary.ErrWrongType},
		{[]trjson.Field{trjson.Float("TRADE_DATE", 1)}, dictionary.ErrWrongType},
		{[]trjson.Field{trjson.Float("BID", 171), trjson.Float("ASK", 170)}, ErrCrossed},
	} {
		before, _ := in.Image(nil)
		_, s, err := in.ApplyPost(tc.fields)
		var pe *PostError
		if !errors.Is(err, tc.want) || !errors.As(err, &pe) || pe.Item != "TRI.N" || pe.NakCode() != trjson.NakInvalidContent {
			t.Errorf("ApplyPost(%v) = %v, want %v", tc.fields, err, tc.want)
		}
		after, _ := in.Image(nil)
		if s != seq || in.LastSeq() != seq || !sameFields(before, after) {
			t.Errorf("a refused post changed the item")
		}
	}

	name := []byte("POSTED NAME")
	changed, s, err := in.ApplyPost([]trjson.Field{
		trjson.Bytes("DSPLY_NAME", name), trjson.Float("BID", 500), trjson.Null("NEWS"), trjson.Float("IRGPRC", 1.5),
		trjson.Float("OPINT_1", 7), // not carried by equities: added to the image
	})
	if err != nil || s != seq+1 {
		t.Fatalf("ApplyPost = %v, seq %d (was %d)", err, s, seq)
	}
	copy(name, "XXXXXXXXXXX") // the post's buffer is reused by the decoder
	img, _ := in.Image(nil)
	got := map[string]trjson.Field{}
	for _, f := range img {
		got[f.Name] = f
	}
	if string(got["DSPLY_NAME"].Str) != "POSTED NAME" || got["BID"].Float != 500 || got["OPINT_1"].Float != 7 {
		t.Errorf("image after post: %v %v %v", got["DSPLY_NAME"], got["BID"], got["OPINT_1"])
	}
	if got["ASK"].Float <= 500 {
		t.Errorf("ASK %v not moved above the posted BID", got["ASK"].Float)
	}
	if len(changed) != 6 || changed[5].Name != "ASK" {
		t.Errorf("changed = %v", changed)
	}
	// Ticks continue from the posted price.
	_, fields, _ := in.Tick(nil)
	c := cache{}
	c.apply(dictionary.Default(), img)
	c.apply(dictionary.Default(), fields)
	if b := c["BID"].Float; b < 499 || b > 501 {
		t.Errorf("BID after a tick = %v, want near 500", b)
	}
	if _, s2, err := in.ApplyPost(nil); err != nil || s2 != in.LastSeq() {
		t.Errorf("empty post: %v %d", err, s2)
	}
}

func TestLookupAndChains(t *testing.T) {
	u := testUniverse(1)
	if _, ok := u.Lookup("NOPE.N"); ok {
		t.Error("unknown item found")
	}
	if _, ok := u.Lookup("/NOPE.N"); ok {
		t.Error("unknown delayed item found")
	}
	rt, ok1 := u.Lookup("TRI.N")
	dl, ok2 := u.Lookup("/TRI.N")
	if !ok1 || !ok2 || rt == dl || rt.Delayed || !dl.Delayed || dl.Name != "/TRI.N" {
		t.Fatalf("TRI.N / delayed lookup wrong")
	}
	again, _ := u.Lookup("TRI.N")
	if again != rt {
		t.Error("Lookup returns a different instrument for the same name")
	}
	counts := map[Class]int{}
	for _, n := range u.Names() {
		in, ok := u.Lookup(n)
		if !ok || in.DisplayName == "" || in.Currency == "" || in.TickSize <= 0 {
			t.Fatalf("%s incomplete", n)
		}
		counts[in.Class]++
		if in.Class == Equity && !in.HasBook(trjson.DomainMarketByPrice) {
			t.Errorf("%s has no book", n)
		}
	}
	if counts[Equity] < 40 || counts[FX] < 5 || counts[Index] < 4 || counts[Future] < 2 || counts[Bond] < 1 {
		t.Errorf("universe too small: %v", counts)
	}
	for _, cn := range u.ChainNames() {
		members, ok := u.Chain(cn)
		if !ok || len(members) == 0 {
			t.Fatalf("chain %s empty", cn)
		}
		for _, m := range members {
			if _, ok := u.Lookup(m); !ok {
				t.Errorf("chain %s: %s not in the universe", cn, m)
			}
		}
	}
	if dji, _ := u.Chain("0#.DJI"); len(dji) != 30 {
		t.Errorf("0#.DJI has %d members", len(dji))
	}
	if _, ok := u.Chain("0#.NOPE"); ok {
		t.Error("unknown chain found")
	}
	if fx, _ := u.Lookup("EUR="); fx.HasBook(trjson.DomainMarketByOrder) {
		t.Error("FX has a book")
	}
	if m, _ := rt.BookImage(trjson.DomainMarketPrice); m != nil {
		t.Error("BookImage(MarketPrice) not nil")
	}
}

func TestBookConsistency(t *testing.T) {
	d := dictionary.Default()
	for _, name := range []string{"TRI.N", "VOD.L", "7203.T"} {
		in, _ := testUniverse(3).Lookup(name)
		for _, kind := range []trjson.Domain{trjson.DomainMarketByPrice, trjson.DomainMarketByOrder} {
			img, seq := in.BookImage(kind)
			book := map[string]map[string]trjson.Field{}
			apply := func(e trjson.MapEntry) {
				switch e.Action {
				case trjson.MapAdd:
					if _, ok := book[e.Key]; ok {
						t.Fatalf("%s %v: Add of existing key %s", name, kind, e.Key)
					}
					book[e.Key] = map[string]trjson.Field{}
				case trjson.MapUpdate, trjson.MapDelete:
					if _, ok := book[e.Key]; !ok {
						t.Fatalf("%s %v: %v of missing key %s", name, kind, e.Action, e.Key)
					}
				}
				if e.Action == trjson.MapDelete {
					if len(e.Fields) != 0 {
						t.Fatalf("Delete carries fields")
					}
					delete(book, e.Key)
					return
				}
				for _, f := range e.Fields {
					if err := d.Check(&f); err != nil {
						t.Fatalf("%s %v: %v", name, kind, err)
					}
					book[e.Key][f.Name] = f
				}
			}
			for _, f := range img.Summary {
				if err := d.Check(&f); err != nil {
					t.Fatalf("summary: %v", err)
				}
			}
			for _, e := range img.Entries {
				apply(e)
			}
			if img.KeyType != "Buffer" || int(img.CountHint) != len(book) {
				t.Fatalf("%s %v: KeyType %q CountHint %d, %d keys", name, kind, img.KeyType, img.CountHint, len(book))
			}
			for i := range 20_000 {
				m, s := in.BookTick(kind)
				if s != seq+1 || len(m.Entries) == 0 {
					t.Fatalf("%s %v tick %d: seq %d after %d, %d entries", name, kind, i, s, seq, len(m.Entries))
				}
				seq = s
				for _, e := range m.Entries {
					apply(e)
				}
			}
			img, s := in.BookImage(kind)
			if s != seq || len(img.Entries) != len(book) {
				t.Fatalf("%s %v: image has %d entries, replayed book %d", name, kind, len(img.Entries), len(book))
			}
			bestBid, bestAsk, bids, asks := -1.0, 1e18, 0, 0
			for _, e := range img.Entries {
				row, ok := book[e.Key]
				if !ok {
					t.Fatalf("%s %v: image key %s not in the replayed book", name, kind, e.Key)
				}
				for _, f := range e.Fields {
					if !sameField(f, row[f.Name]) {
						t.Fatalf("%s %v %s: %s = %+v, replay %+v", name, kind, e.Key, f.Name, f, row[f.Name])
					}
				}
				prc := row["ORDER_PRC"].Float
				if string(row["ORDER_SIDE"].Str) == "BID" {
					bids++
					bestBid = max(bestBid, prc)
				} else {
					asks++
					bestAsk = min(bestAsk, prc)
				}
				if kind == trjson.DomainMarketByPrice {
					if e.Key[len(e.Key)-1] != string(row["ORDER_SIDE"].Str)[0] {
						t.Fatalf("key %s does not end with the side", e.Key)
					}
				} else if string(row["ORDER_ID"].Str) != e.Key {
					t.Fatalf("ORDER_ID %q != key %q", row["ORDER_ID"].Str, e.Key)
				}
			}
			if bestBid >= bestAsk || bids < 10 || asks < 10 {
				t.Errorf("%s %v: best bid %v, best ask %v, %d bids, %d asks", name, kind, bestBid, bestAsk, bids, asks)
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	in, _ := testUniverse(5).Lookup("IBM.N")
	start := in.LastSeq()
	const workers, each = 6, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]trjson.Field, 0, 100)
			for i := range each {
				switch (w + i) % 4 {
				case 0, 1:
					_, buf, _ = in.Tick(buf)
				case 2:
					if _, _, err := in.ApplyPost([]trjson.Field{trjson.Int("BIDSIZE", int64(i+1))}); err != nil {
						t.Error(err)
						return
					}
				case 3:
					buf, _ = in.Image(buf)
					in.BookTick(trjson.DomainMarketByOrder)
					in.BookImage(trjson.DomainMarketByPrice)
				}
			}
		}()
	}
	wg.Wait()
	// Each worker ticked or posted on 3 of every 4 iterations.
	if got, want := in.LastSeq()-start, int64(workers*each*3/4); got != want {
		t.Errorf("seq advanced by %d, want %d", got, want)
	}
}

func BenchmarkTick(b *testing.B) {
	in, _ := NewUniverse(1).Lookup("TRI.N")
	buf := make([]trjson.Field, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		_, buf, _ = in.Tick(buf)
	}
}

func BenchmarkImage(b *testing.B) {
	in, _ := NewUniverse(1).Lookup("TRI.N")
	buf := make([]trjson.Field, 0, in.FieldCount())
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = in.Image(buf)
	}
}

func BenchmarkApplyPost(b *testing.B) {
	in, _ := NewUniverse(1).Lookup("TRI.N")
	post := []trjson.Field{trjson.Float("BID", 170.01), trjson.Int("BIDSIZE", 300)}
	buf := make([]trjson.Field, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		buf, _, _ = in.AppendPost(buf, post)
	}
}

func BenchmarkBookTick(b *testing.B) {
	in, _ := NewUniverse(1).Lookup("TRI.N")
	b.ReportAllocs()
	for b.Loop() {
		in.BookTick(trjson.DomainMarketByPrice)
	}
}
