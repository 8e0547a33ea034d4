package consumer

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// sameField compares two fields as the cache must keep them (NaN equal to
// NaN, bits compared for floats, nil and empty strings alike).
func sameField(a, b trjson.Field) bool {
	if a.Name != b.Name || a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case trjson.KindInt, trjson.KindBool:
		return a.Int == b.Int
	case trjson.KindFloat:
		return math.Float64bits(a.Float) == math.Float64bits(b.Float)
	case trjson.KindString, trjson.KindRaw:
		return bytes.Equal(a.Str, b.Str)
	}
	return true
}

func checkImage(t *testing.T, got, want map[string]trjson.Field) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("image has %d fields, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || !sameField(g, w) {
			t.Fatalf("field %q = %+v (present %v), want %+v", k, g, ok, w)
		}
	}
}

func TestCacheMergeAndBlank(t *testing.T) {
	var fc fieldCache
	fc.merge([]trjson.Field{trjson.Float("BID", 40.74), trjson.Float("ASK", 40.75), trjson.String("DSPLY_NAME", "THOMSON"),
		trjson.Int("BIDSIZE", 10), {Name: "HALTED", Kind: trjson.KindBool, Int: 1}, trjson.RawField("ARR", trjson.Raw(`[1,2]`))})
	fc.merge([]trjson.Field{trjson.Float("BID", 40.8), trjson.Null("ASK"), trjson.Int("ASKSIZE", -7)})
	checkImage(t, fc.fields(), map[string]trjson.Field{
		"BID": trjson.Float("BID", 40.8), "ASK": trjson.Null("ASK"), "DSPLY_NAME": trjson.String("DSPLY_NAME", "THOMSON"),
		"BIDSIZE": trjson.Int("BIDSIZE", 10), "HALTED": {Name: "HALTED", Kind: trjson.KindBool, Int: 1},
		"ARR": trjson.RawField("ARR", trjson.Raw(`[1,2]`)), "ASKSIZE": trjson.Int("ASKSIZE", -7)})
	// A field may change kind (a price sent as 41, then 41.5).
	fc.merge([]trjson.Field{trjson.Int("BID", 41)})
	if f := fc.fields()["BID"]; f.Kind != trjson.KindInt || f.Int != 41 {
		t.Fatalf("BID after kind change = %+v", f)
	}
}

func TestCacheDuplicateInMessageLastWins(t *testing.T) {
	var fc fieldCache
	fc.merge([]trjson.Field{trjson.Int("A", 1), trjson.Int("B", 2), trjson.Int("A", 3)})
	checkImage(t, fc.fields(), map[string]trjson.Field{"A": trjson.Int("A", 3), "B": trjson.Int("B", 2)})
}

func TestCacheResetReplaces(t *testing.T) {
	var fc fieldCache
	fc.merge([]trjson.Field{trjson.Int("A", 1), trjson.String("B", "x")})
	fc.reset()
	fc.merge([]trjson.Field{trjson.Int("C", 3)})
	checkImage(t, fc.fields(), map[string]trjson.Field{"C": trjson.Int("C", 3)})
}

func TestCacheStringGrowthAndAliasing(t *testing.T) {
	var fc fieldCache
	src := []byte("ab")
	fc.merge([]trjson.Field{trjson.Bytes("S", src), trjson.Int("Z", 9)})
	src[0] = 'X' // the decoder reuses its buffers: the cache must have copied
	img := fc.fields()
	if string(img["S"].Str) != "ab" {
		t.Fatalf("S = %q, want ab", img["S"].Str)
	}
	long := strings.Repeat("y", 5000)
	fc.merge([]trjson.Field{trjson.String("S", long)})
	img2 := fc.fields()
	if string(img2["S"].Str) != long || img2["Z"].Int != 9 {
		t.Fatalf("after growth S has %d bytes, Z = %+v", len(img2["S"].Str), img2["Z"])
	}
	// Images are copies: appending to or writing into one leaves the
	// cache and other fields alone.
	img2["S"].Str[0] = 'Q'
	_ = append(img["S"].Str, "zzz"...)
	if s := fc.fields()["S"].Str; s[0] != 'y' {
		t.Fatalf("writing an Image changed the cache")
	}
	fc.merge([]trjson.Field{trjson.String("S", "")})
	if f := fc.fields()["S"]; f.Kind != trjson.KindString || len(f.Str) != 0 {
		t.Fatalf("empty string = %+v", f)
	}
}

func TestCacheManyFields(t *testing.T) {
	var fc fieldCache
	want := map[string]trjson.Field{}
	var fs []trjson.Field
	for i := range 3000 {
		f := trjson.Float(fmt.Sprintf("MANY_%d", i), float64(i)+0.25)
		fs = append(fs, f)
		want[f.Name] = f
	}
	fc.merge(fs)
	checkImage(t, fc.fields(), want)
	if n := fc.len(); n != 3000 {
		t.Fatalf("len = %d", n)
	}
}

func TestCacheFloatsExact(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 40.74, 0.1, 1e-9, 123456.789, 1e300, -1e-300,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 1 << 60, 9007199254740993}
	for _, v := range vals {
		var fc fieldCache
		fc.merge([]trjson.Field{trjson.Float("F", v)})
		got := fc.fields()["F"]
		if math.Float64bits(got.Float) != math.Float64bits(v) {
			t.Errorf("float %v (bits %x) came back as %v (bits %x)", v, math.Float64bits(v), got.Float, math.Float64bits(got.Float))
		}
	}
	var fc fieldCache
	fc.merge([]trjson.Field{trjson.Float("F", 40.74)})
	if len(fc.rec) > 6 { // key (1–3 B) + kind + 2-byte mantissa
		t.Errorf("40.74 takes %d bytes", len(fc.rec))
	}
}

// TestCacheInlineNames covers names beyond the name table: they are
// stored inline, ordered by name, and merge like interned ones.
func TestCacheInlineNames(t *testing.T) {
	cacheNames.Lock()
	saved := maxCacheNames
	maxCacheNames = len(cacheNames.list) // full from here on
	cacheNames.Unlock()
	defer func() {
		cacheNames.Lock()
		maxCacheNames = saved
		cacheNames.Unlock()
	}()
	var fc fieldCache
	fc.merge([]trjson.Field{trjson.Int("INL_B", 2), trjson.Int("INL_A", 1), trjson.String("INL_C", "c")})
	fc.merge([]trjson.Field{trjson.Null("INL_A"), trjson.Int("INL_0", 0), trjson.String("INL_C", "cc")})
	checkImage(t, fc.fields(), map[string]trjson.Field{"INL_A": trjson.Null("INL_A"), "INL_B": trjson.Int("INL_B", 2),
		"INL_C": trjson.String("INL_C", "cc"), "INL_0": trjson.Int("INL_0", 0)})
	if k, _, _ := readKey(fc.rec); k != 0 {
		t.Fatalf("first record has key %d, want an inline name", k)
	}
	if fc.len() != 4 {
		t.Fatalf("len = %d", fc.len())
	}
}

// TestCacheProperty applies random Refresh/Update/blank sequences to the
// cache and to a map reference (the previous implementation's semantics)
// and compares after every step.
func TestCacheProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := make([]string, 80)
	for i := range names {
		names[i] = fmt.Sprintf("PROP_%02d", i)
	}
	randField := func() trjson.Field {
		n := names[r.IntN(len(names))]
		switch r.IntN(7) {
		case 0:
			return trjson.Null(n)
		case 1:
			return trjson.Int(n, r.Int64N(1<<40)-1<<39)
		case 2:
			return trjson.Float(n, float64(r.IntN(1_000_000))/100)
		case 3:
			return trjson.Float(n, r.NormFloat64()*1e6)
		case 4:
			return trjson.String(n, strings.Repeat("s", r.IntN(300)))
		case 5:
			return trjson.Field{Name: n, Kind: trjson.KindBool, Int: int64(r.IntN(2))}
		default:
			return trjson.RawField(n, trjson.Raw(fmt.Sprintf(`[%d]`, r.IntN(1000))))
		}
	}
	for seq := range 200 {
		var fc fieldCache
		ref := map[string]trjson.Field{}
		for step := range 40 {
			if r.IntN(10) == 0 { // a Refresh with ClearCache
				fc.reset()
				clear(ref)
			}
			fs := make([]trjson.Field, r.IntN(60))
			for i := range fs {
				fs[i] = randField()
			}
			fc.merge(fs)
			for _, f := range fs {
				ref[f.Name] = f.Clone()
			}
			// Decoder buffers are reused: scribble over the inputs.
			for i := range fs {
				for j := range fs[i].Str {
					fs[i].Str[j] = '#'
				}
			}
			got := fc.fields()
			if len(got) != len(ref) {
				t.Fatalf("seq %d step %d: %d fields, want %d", seq, step, len(got), len(ref))
			}
			for k, w := range ref {
				if g, ok := got[k]; !ok || !sameField(g, w) {
					t.Fatalf("seq %d step %d: field %q = %+v (present %v), want %+v", seq, step, k, g, ok, w)
				}
			}
		}
	}
}

func TestItemApplyCacheSemantics(t *testing.T) {
	c := &Client{}
	var o options
	it := newItem(c, nil, "TRI.N", "ELEKTRON_DD", trjson.DomainMarketPrice, &o)
	refresh := func(fields ...trjson.Field) *trjson.Msg {
		return &trjson.Msg{Type: trjson.TypeRefresh, HasFields: true, Fields: fields, ClearCache: true}
	}
	update := func(fields ...trjson.Field) *trjson.Msg {
		return &trjson.Msg{Type: trjson.TypeUpdate, HasFields: true, Fields: fields}
	}
	it.apply(refresh(trjson.Float("BID", 1.5), trjson.Float("ASK", 1.6)), true)
	it.apply(update(trjson.Float("BID", 1.7), trjson.Null("ASK")), true)
	dnc := update(trjson.Float("BID", 99))
	dnc.DoNotCache = true
	it.apply(dnc, true)
	checkImage(t, it.Image().Fields, map[string]trjson.Field{"BID": trjson.Float("BID", 1.7), "ASK": trjson.Null("ASK")})
	it.apply(refresh(trjson.Int("TRDPRC_1", 3)), true)
	checkImage(t, it.Image().Fields, map[string]trjson.Field{"TRDPRC_1": trjson.Int("TRDPRC_1", 3)})
	it.apply(update(trjson.Int("X", 1)), false) // cache off: nothing kept
	checkImage(t, it.Image().Fields, map[string]trjson.Field{"TRDPRC_1": trjson.Int("TRDPRC_1", 3)})
}

func BenchmarkCacheMerge(b *testing.B) {
	var fc fieldCache
	var fs []trjson.Field
	for i := range 58 {
		switch i % 3 {
		case 0:
			fs = append(fs, trjson.Float(fmt.Sprintf("BF_%d", i), 40.74+float64(i)))
		case 1:
			fs = append(fs, trjson.Int(fmt.Sprintf("BF_%d", i), int64(i*1000)))
		default:
			fs = append(fs, trjson.String(fmt.Sprintf("BF_%d", i), "SOME TEXT"))
		}
	}
	fc.merge(fs)
	upd := []trjson.Field{trjson.Float("BF_0", 41.01), trjson.Float("BF_3", 41.02), trjson.Int("BF_4", 10), trjson.String("BF_5", "OTHER TEXT")}
	b.ReportAllocs()
	b.Logf("58-field record: %d bytes", len(fc.rec))
	for b.Loop() {
		fc.merge(upd)
	}
}
