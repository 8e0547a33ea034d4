package market

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

func TestSyntheticInstruments(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC) }
	u := New(Config{Seed: 7, Clock: clock})
	a, ok := u.Lookup("SYN42.X")
	if !ok || a.Delayed || a.HasBook(7) || a.HasBook(8) {
		t.Fatalf("SYN42.X: ok=%v delayed=%v", ok, a != nil && a.Delayed)
	}
	if b, _ := u.Lookup("SYN42.X"); b != a {
		t.Fatal("a second lookup made another instrument")
	}
	d, ok := u.Lookup("/SYN42.X")
	if !ok || !d.Delayed {
		t.Fatal("/SYN42.X is not the delayed twin")
	}
	img, _ := a.Image(nil)
	dimg, _ := d.Image(nil)
	if !reflect.DeepEqual(img, dimg) {
		t.Fatal("the delayed twin does not generate the same data")
	}
	// Same seed, same data; another name, other data.
	img2, _ := func() (any, int64) { x, _ := New(Config{Seed: 7, Clock: clock}).Lookup("SYN42.X"); return x.Image(nil) }()
	if !reflect.DeepEqual(img, img2) {
		t.Fatal("synthetic instruments are not deterministic")
	}
	other, _ := u.Lookup("SYN43.X")
	oimg, _ := other.Image(nil)
	if reflect.DeepEqual(img, oimg) {
		t.Fatal("two synthetic names generate the same image")
	}
	for _, bad := range []string{"SYN.X", "SYN1234567.X", "SYNa.X", "SYN1.Y", "syn1.X", "XSYN1.X", "SYN-1.X"} {
		if _, ok := u.Lookup(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	// Concurrent first lookups agree on one instrument per name.
	var wg sync.WaitGroup
	got := make([]*Instrument, 16)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = u.Lookup(fmt.Sprintf("SYN%d.X", 500)) }()
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Fatal("concurrent lookups created two instruments")
		}
	}
}
