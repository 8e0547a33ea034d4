package market

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ertkit/ertkit/dictionary"
	"github.com/ertkit/ertkit/trjson"
)

// Market Maker items exist for Nasdaq equities only; the image has one
// entry per participant with every §33.2 field (dictionary-valid), bids
// below asks; ticks update existing participants with the next sequence
// numbers and keep the quotes uncrossed.
func TestMarketMaker(t *testing.T) {
	u := testUniverse(3)
	d := dictionary.Default()
	for _, name := range []string{"TRI.N", "VOD.L", "EUR=", "SYN1.X"} {
		in, _ := u.Lookup(name)
		if m, _ := in.BookImage(trjson.DomainMarketMaker); m != nil || in.HasBook(trjson.DomainMarketMaker) {
			t.Errorf("%s has market makers", name)
		}
	}
	in, _ := u.Lookup("MSFT.O")
	if !in.HasBook(trjson.DomainMarketMaker) {
		t.Fatal("MSFT.O has no market makers")
	}
	m, seq := in.BookImage(trjson.DomainMarketMaker)
	if m.KeyType != "Buffer" || len(m.Entries) != len(participants) || m.CountHint != int64(len(m.Entries)) || !m.HasSummary {
		t.Fatalf("image %+v", m)
	}
	want := []string{"BID", "ASK", "BIDSIZE", "ASKSIZE", "MKT_MKR_NM", "MMID", "ASK_TIM_MS", "TIMACT_MS", "BID_TIM_MS",
		"PRIMARY_MM", "MM_MODE", "MM_STATE", "PR_TIM_MS", "PR_DATE"}
	quotes := map[string][2]float64{}
	for _, e := range m.Entries {
		if e.Action != trjson.MapAdd || len(e.Fields) != len(want) {
			t.Fatalf("entry %+v", e)
		}
		for i, f := range e.Fields {
			if f.Name != want[i] {
				t.Fatalf("entry %s field %d is %s, want %s", e.Key, i, f.Name, want[i])
			}
			if err := d.Check(&f); err != nil {
				t.Errorf("entry %s: %v", e.Key, err)
			}
		}
		if string(e.Fields[5].Str) != e.Key {
			t.Errorf("key %s, MMID %s", e.Key, e.Fields[5].Str)
		}
		bid, ask := e.Fields[0].Float, e.Fields[1].Float
		if bid <= 0 || ask <= bid || math.Abs(ask-420.55) > 420.55*0.05 {
			t.Errorf("%s quotes %v / %v", e.Key, bid, ask)
		}
		quotes[e.Key] = [2]float64{bid, ask}
	}
	if _, ok := quotes["CTDL"]; !ok {
		t.Error("the spec's CTDL is missing")
	}
	for _, f := range m.Summary {
		if err := d.Check(&f); err != nil {
			t.Errorf("summary: %v", err)
		}
	}
	for i := range 500 {
		tk, s := in.BookTick(trjson.DomainMarketMaker)
		if s != seq+int64(i)+1 || len(tk.Entries) == 0 || tk.HasSummary {
			t.Fatalf("tick %d: seq %d after %d, %+v", i, s, seq, tk)
		}
		for _, e := range tk.Entries {
			q, ok := quotes[e.Key]
			if e.Action != trjson.MapUpdate || !ok {
				t.Fatalf("tick entry %+v", e)
			}
			for _, f := range e.Fields {
				switch f.Name {
				case "BID":
					q[0] = f.Float
				case "ASK":
					q[1] = f.Float
				case "MMID":
					if string(f.Str) != e.Key {
						t.Fatalf("MMID %s in %s", f.Str, e.Key)
					}
				}
				if err := d.Check(&f); err != nil {
					t.Fatal(err)
				}
			}
			if q[1] <= q[0] {
				t.Fatalf("%s crossed: %v", e.Key, q)
			}
			quotes[e.Key] = q
		}
	}
	// The image reflects the ticks.
	m, _ = in.BookImage(trjson.DomainMarketMaker)
	for _, e := range m.Entries {
		if q := quotes[e.Key]; e.Fields[0].Float != q[0] || e.Fields[1].Float != q[1] {
			t.Errorf("%s image %v/%v, ticks said %v", e.Key, e.Fields[0].Float, e.Fields[1].Float, q)
		}
	}
}

// BASIC has the §34.2.2 sample's fields in its order, dictionary-valid,
// and its outputs follow from its inputs as the sample's do.
func TestYieldCurveBASIC(t *testing.T) {
	// Monday 2018-05-07 20:34:47.315 UTC, the sample's trade date and time.
	clock := func() time.Time { return time.Date(2018, 5, 7, 20, 34, 47, 315e6, time.UTC) }
	u := New(Config{Seed: 1, Clock: clock})
	if _, ok := u.Curve("NOPE"); ok {
		t.Fatal("unknown curve found")
	}
	if names := u.CurveNames(); len(names) != 1 || names[0] != "BASIC" {
		t.Fatalf("curves %v", names)
	}
	if _, ok := u.Lookup("BASIC"); ok {
		t.Fatal("BASIC is not a Market Price instrument")
	}
	c, _ := u.Curve("BASIC")
	fields, seq := c.Image(nil)
	want := []string{"CASH_BASIS", "CS_INT_MTH", "TRADE_DATE", "TIMACT", "CRV_ID", "CRV_NAME", "CCY_CODE", "CRV_TYPE",
		"CRV_STYPE", "CRV_DATE", "CITIES", "VAL_DATE", "SETTL_DATE", "CRV_ALGTHM", "INTER_MTHD", "EXTRP_MTHD", "CC_METHOD",
		"ROLL_CONV", "ZC_BASIS", "SPOT_LAG", "DSCT_FACT", "DSCT_BASIS", "CURVE_STS", "USER_ID", "MOD_USERID", "CRT_DATE",
		"MOD_DATE", "COMMENT", "FWD_BASIS", "FT_INT_MTH", "CASH_RATES", "YLD_CURVE"}
	if len(fields) != len(want) {
		t.Fatalf("%d fields", len(fields))
	}
	byName := map[string]trjson.Field{}
	d := dictionary.Default()
	for i, f := range fields {
		if f.Name != want[i] {
			t.Fatalf("field %d is %s, want %s", i, f.Name, want[i])
		}
		if err := d.Check(&f); err != nil {
			t.Error(err)
		}
		byName[f.Name] = f
	}
	for name, v := range map[string]string{"TRADE_DATE": "2018-05-07", "TIMACT": "20:34:47.315", "CRV_NAME": "BASIC",
		"VAL_DATE": "2018-05-08", "SETTL_DATE": "2018-05-08", "CITIES": "JP"} {
		if f := byName[name]; string(f.Str) != v {
			t.Errorf("%s = %q, want %q", name, f.Str, v)
		}
	}
	type vec struct {
		Summary struct {
			Fields struct {
				TENORS struct {
					Type string
					Data []string
				}
			}
		}
		Entries []struct {
			Index  int
			Action string
			Fields map[string]any
		}
	}
	var cash, out vec
	if err := json.Unmarshal(byName["CASH_RATES"].Str, &cash); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(byName["YLD_CURVE"].Str, &out); err != nil {
		t.Fatal(err)
	}
	if cash.Summary.Fields.TENORS.Type != "AsciiString" || len(cash.Summary.Fields.TENORS.Data) != 2 || len(cash.Entries) != 2 || len(out.Entries) != 2 {
		t.Fatalf("vectors %+v %+v", cash, out)
	}
	for i, maturity := range []string{"2018-06-08", "2018-08-08"} {
		ce, oe := cash.Entries[i], out.Entries[i]
		if ce.Index != i || ce.Action != "Set" || ce.Fields["CASH_SDATE"] != "2018-05-08" || ce.Fields["CASH_MDATE"] != maturity ||
			ce.Fields["CASH_SRC"] != "JPY=" || oe.Fields["YCT_DATE"] != maturity || oe.Action != "Set" {
			t.Errorf("row %d: %v / %v", i, ce, oe)
		}
	}
	// The sample's own figures: 109.08 over 31 days gives the sample's
	// discount factor and zero rate.
	df, zero := cashDeposit(109.08, 31)
	if math.Abs(df-0.91413527373781) > 1e-12 || math.Abs(zero-183.64926925186) > 1e-8 {
		t.Errorf("cashDeposit(109.08, 31) = %v, %v", df, zero)
	}
	rate := cash.Entries[0].Fields["CASH_RATE"].(float64)
	df, _ = cashDeposit(rate, 31)
	if got := out.Entries[0].Fields["YCT_DISFAC"].(float64); math.Abs(got-df) > 1e-13 {
		t.Errorf("YCT_DISFAC %v for rate %v, want %v", got, rate, df)
	}

	ut, upd, s := c.Tick(nil)
	if ut != trjson.UpdateUnspecified || s != seq+1 || len(upd) != 5 || upd[3].Name != "CASH_RATES" || upd[4].Name != "YLD_CURVE" {
		t.Fatalf("update %v %v %d", ut, upd, s)
	}
	var cu vec
	if err := json.Unmarshal(upd[3].Str, &cu); err != nil || len(cu.Entries) != 2 || cu.Entries[0].Action != "Update" ||
		len(cu.Entries[0].Fields) != 1 || cu.Entries[0].Fields["CASH_RATE"] == nil {
		t.Fatalf("CASH_RATES update %s: %v", upd[3].Str, err)
	}
	if _, _, err := c.ApplyPost(nil); !errors.Is(err, ErrNotPostable) {
		t.Errorf("post: %v", err)
	}
}

// Modified Following keeps a maturity in its month.
func TestModifiedFollowing(t *testing.T) {
	day := func(s string) int64 { tm, _ := time.Parse(time.DateOnly, s); return tm.Unix() / 86400 }
	for in, want := range map[string]string{
		"2018-06-08": "2018-06-08", // Friday
		"2018-06-09": "2018-06-11", // Saturday → Monday
		"2018-06-30": "2018-06-29", // Saturday, Monday is July → Friday
		"2018-03-31": "2018-03-30", // Saturday
	} {
		if got := string(dateText(modifiedFollowing(day(in)))); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	if got := string(dateText(addMonths(day("2018-01-31"), 1))); got != "2018-02-28" {
		t.Errorf("Jan 31 + 1M = %s", got)
	}
}
