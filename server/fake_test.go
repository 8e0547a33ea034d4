package server

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ertkit/ertkit/trjson"
)

// A small deterministic universe for the endpoint's own tests; the
// emulator package tests run against internal/market.

var fakeDict = map[string]int64{
	"PROD_PERM": 1, "DSPLY_NAME": 3, "TRDPRC_1": 6, "BID": 22, "ASK": 25, "BIDSIZE": 30, "ASKSIZE": 31,
	"ACVOL_1": 32, "QUOTIM": 1025, "ORDER_PRC": 3427, "ORDER_SIDE": 3428, "ACC_SIZE": 4356, "NO_ORD": 3430,
	"CURRENCY": 15, "MMID": 3435, "CRV_ID": 30100, "CRV_NAME": 30101, "CASH_RATES": 30141,
}

type fakeDictionary struct{}

func (fakeDictionary) FID(n string) (int64, bool) { f, ok := fakeDict[n]; return f, ok }
func (fakeDictionary) Name(fid int64) (string, bool) {
	for n, f := range fakeDict {
		if f == fid {
			return n, true
		}
	}
	return "", false
}

type fakeUniverse struct {
	mu    sync.Mutex
	insts map[string]*fakeInst
	curve *fakeCurve
}

func newFakeUniverse() *fakeUniverse {
	u := &fakeUniverse{insts: map[string]*fakeInst{}}
	for i, n := range []string{"TRI.N", "IBM.N", "T.N", "/TRI.N", "BOOK.BIG", "VOD.L"} {
		u.insts[n] = &fakeInst{name: n, bid: 100 + float64(i), seq: int64(1000 * (i + 1)), bookSize: 2000}
	}
	// Market makers: MSFT.O has a few, MM.BIG enough for a multi-part
	// refresh; the others have none.
	u.insts["MSFT.O"] = &fakeInst{name: "MSFT.O", bid: 96, seq: 3552, makers: 5}
	u.insts["MM.BIG"] = &fakeInst{name: "MM.BIG", bid: 50, seq: 1, makers: 1500}
	for i := range 40 {
		n := fmt.Sprintf("LOAD%d.N", i)
		u.insts[n] = &fakeInst{name: n, bid: 10 + float64(i), seq: 1}
	}
	return u
}

func (u *fakeUniverse) Lookup(name string) (Instrument, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	in, ok := u.insts[name]
	return in, ok
}

// Curve serves one Yield Curve, BASIC (CurveUniverse).
func (u *fakeUniverse) Curve(name string) (Instrument, bool) {
	if name != "BASIC" {
		return nil, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.curve == nil {
		u.curve = &fakeCurve{seq: 10, rate: 109.08}
	}
	return u.curve, true
}

func (u *fakeUniverse) Chain(name string) ([]string, bool) {
	if name != "0#.DJI" {
		return nil, false
	}
	var out []string
	for i := range 30 {
		out = append(out, fmt.Sprintf("DJI%02d.N", i))
	}
	return out, true
}

type fakeInst struct {
	name     string
	bid      float64
	vol      int64
	seq      int64
	n        int64
	bookSize int
	makers   int // Market Maker entries; 0: no Market Maker item
}

func (f *fakeInst) Image(dst []trjson.Field) ([]trjson.Field, int64) {
	return append(dst[:0],
		trjson.Int("PROD_PERM", 62),
		trjson.String("DSPLY_NAME", strings.TrimPrefix(f.name, "/")),
		trjson.Float("TRDPRC_1", f.bid+0.01),
		trjson.Float("BID", f.bid),
		trjson.Float("ASK", f.bid+0.02),
		trjson.Int("BIDSIZE", 100),
		trjson.Int("ASKSIZE", 200),
		trjson.Int("ACVOL_1", f.vol),
		trjson.Null("QUOTIM"),
	), f.seq
}

func (f *fakeInst) Tick(dst []trjson.Field) (trjson.UpdateType, []trjson.Field, int64) {
	f.n++
	f.seq++
	if f.n%3 == 0 {
		f.vol += 100
		return trjson.UpdateTrade, append(dst[:0], trjson.Float("TRDPRC_1", f.bid+0.01), trjson.Int("ACVOL_1", f.vol)), f.seq
	}
	f.bid += 0.01
	return trjson.UpdateQuote, append(dst[:0], trjson.Float("BID", f.bid), trjson.Float("ASK", f.bid+0.02), trjson.String("QUOTIM", "12:00:00")), f.seq
}

func (f *fakeInst) ApplyPost(fields []trjson.Field) ([]trjson.Field, int64, error) {
	for _, x := range fields {
		if x.Name == "BID" {
			v, ok := x.AsFloat()
			if !ok {
				return nil, 0, errors.New("BID must be a number")
			}
			f.bid = v
		}
	}
	f.seq++
	return fields, f.seq, nil
}

func (f *fakeInst) PermData() string { return "AwEBEBU8" }

func (f *fakeInst) book(n int) *trjson.Map {
	m := &trjson.Map{KeyType: "Buffer", HasSummary: true, Summary: []trjson.Field{trjson.String("CURRENCY", "USD")}}
	for i := range n {
		m.Entries = append(m.Entries, trjson.MapEntry{Action: trjson.MapAdd, Key: fmt.Sprintf("%.6fB", f.bid-float64(i)*0.01),
			Fields: []trjson.Field{trjson.Float("ORDER_PRC", f.bid-float64(i)*0.01), trjson.String("ORDER_SIDE", "BID"), trjson.Int("NO_ORD", 3), trjson.Int("ACC_SIZE", 500)}})
	}
	return m
}

// maker is market maker i's entry.
func (f *fakeInst) maker(i int, a trjson.MapAction) trjson.MapEntry {
	id := fmt.Sprintf("M%03d", i)
	return trjson.MapEntry{Action: a, Key: id, Fields: []trjson.Field{trjson.Float("BID", f.bid-float64(i%7)*0.01),
		trjson.Float("ASK", f.bid+0.05+float64(i%5)*0.01), trjson.Int("BIDSIZE", 100), trjson.Int("ASKSIZE", 100),
		trjson.String("MKT_MKR_NM", "MAKER "+id), trjson.String("MMID", id)}}
}

func (f *fakeInst) BookImage(d trjson.Domain) (*trjson.Map, int64, bool) {
	if d == trjson.DomainMarketMaker {
		if f.makers == 0 {
			return nil, 0, false
		}
		m := &trjson.Map{KeyType: "Buffer", HasSummary: true, CountHint: int64(f.makers),
			Summary: []trjson.Field{trjson.Int("PROD_PERM", 3056), trjson.String("DSPLY_NAME", f.name)}}
		for i := range f.makers {
			m.Entries = append(m.Entries, f.maker(i, trjson.MapAdd))
		}
		return m, f.seq, true
	}
	if f.bookSize == 0 {
		return nil, 0, false
	}
	return f.book(f.bookSize), f.seq, true
}

func (f *fakeInst) BookTick(d trjson.Domain) (*trjson.Map, int64, bool) {
	if d == trjson.DomainMarketMaker {
		if f.makers == 0 {
			return nil, 0, false
		}
		f.seq++
		f.n++
		e := f.maker(int(f.n)%f.makers, trjson.MapUpdate)
		e.Fields = []trjson.Field{e.Fields[0], trjson.Int("BIDSIZE", 100+f.n), e.Fields[5]}
		return &trjson.Map{KeyType: "Buffer", Entries: []trjson.MapEntry{e}}, f.seq, true
	}
	if f.bookSize == 0 {
		return nil, 0, false
	}
	f.seq++
	m := f.book(1)
	m.HasSummary = false
	m.Entries[0].Action = trjson.MapUpdate
	return m, f.seq, true
}

// fakeCurve is a Yield Curve with one Vector field.
type fakeCurve struct {
	seq  int64
	rate float64
}

func (c *fakeCurve) vector(action string) trjson.Raw {
	return trjson.Raw(fmt.Sprintf(`{"Entries":[{"Index":0,"Action":%q,"Fields":{"CASH_RATE":%v}}]}`, action, c.rate))
}

func (c *fakeCurve) Image(dst []trjson.Field) ([]trjson.Field, int64) {
	return append(dst[:0], trjson.String("CRV_NAME", "BASIC"), trjson.Int("CRV_ID", 1), trjson.RawField("CASH_RATES", c.vector("Set"))), c.seq
}

func (c *fakeCurve) Tick(dst []trjson.Field) (trjson.UpdateType, []trjson.Field, int64) {
	c.seq++
	c.rate += 0.01
	return trjson.UpdateUnspecified, append(dst[:0], trjson.Int("CRV_ID", 1), trjson.RawField("CASH_RATES", c.vector("Update"))), c.seq
}

func (c *fakeCurve) ApplyPost([]trjson.Field) ([]trjson.Field, int64, error) {
	return nil, 0, errors.New("not postable")
}
func (c *fakeCurve) PermData() string                                   { return "AwEA0AybITw=" }
func (c *fakeCurve) BookImage(trjson.Domain) (*trjson.Map, int64, bool) { return nil, 0, false }
func (c *fakeCurve) BookTick(trjson.Domain) (*trjson.Map, int64, bool)  { return nil, 0, false }
