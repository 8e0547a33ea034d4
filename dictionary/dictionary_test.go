package dictionary

import (
	"errors"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// Facts checked against RDMFieldDictionary; a regression here means the table was edited wrongly.
func TestKnownFIDs(t *testing.T) {
	d := Default()
	want := []struct {
		name string
		fid  int16
		typ  Type
	}{
		{"PROD_PERM", 1, UInt}, {"RDNDISPLAY", 2, UInt}, {"DSPLY_NAME", 3, RmtesString},
		{"RDN_EXCHID", 4, Enum}, {"TRDPRC_1", 6, Real}, {"NETCHNG_1", 11, Real}, {"HIGH_1", 12, Real},
		{"LOW_1", 13, Real}, {"PRCTCK_1", 14, Enum}, {"CURRENCY", 15, Enum}, {"TRADE_DATE", 16, Date},
		{"TRDTIM_1", 18, Time}, {"OPEN_PRC", 19, Real}, {"HST_CLOSE", 21, Real}, {"BID", 22, Real},
		{"ASK", 25, Real}, {"BIDSIZE", 30, Real}, {"ASKSIZE", 31, Real}, {"ACVOL_1", 32, Real},
		{"PCTCHNG", 56, Real}, {"TRDVOL_1", 178, Real}, {"SALTIM", 379, Time}, {"SEQNUM", 1021, Real},
		{"QUOTIM", 1025, Time}, {"EXCHTIM", 1067, Time}, {"RDN_EXCHD2", 1709, Enum},
		{"52WK_HIGH", 3265, Real}, {"52WK_LOW", 3266, Real}, {"VWAP", 3404, Real},
		{"ORDER_ID", 3426, RmtesString}, {"ORDER_PRC", 3427, Real}, {"ORDER_SIDE", 3428, Enum},
		{"ORDER_SIZE", 3429, Real}, {"NO_ORD", 3430, UInt}, {"MMID", 3435, RmtesString},
		{"TRDTIM_MS", 3853, UInt}, {"SALTIM_MS", 3854, UInt}, {"QUOTIM_MS", 3855, UInt},
		{"TIMACT_MS", 4148, UInt}, {"ACC_SIZE", 4356, Real}, {"RANK_POS", 6453, UInt},
		{"BOOK_STATE", 6516, Enum}, {"PR_TIM_MS", 6520, UInt}, {"PR_DATE", 6522, Date},
		{"LV_TIM_MS", 6527, UInt}, {"LV_TIM_MSP", 6528, UInt}, {"LV_DATE", 6529, Date},
		{"ACTIV_DATE", 17, Date}, {"LINK_1", 240, AsciiString},
		{"PRIMARY_MM", 5007, Enum}, {"MM_MODE", 5008, Enum}, {"MM_STATE", 5009, Enum},
		{"CRV_ID", 30100, Int}, {"CRV_NAME", 30101, RmtesString}, {"SPOT_LAG", 30115, Int},
		{"TENORS", 30126, Array}, {"CASH_BASIS", 30140, AsciiString}, {"CASH_RATES", 30141, Vector},
		{"CASH_RATE", 30144, Real}, {"YLD_CURVE", 30200, Vector}, {"YCT_DISFAC", 30203, Real},
	}
	for _, w := range want {
		def, ok := d.ByName(w.name)
		if !ok {
			t.Errorf("%s missing", w.name)
			continue
		}
		if def.FID != w.fid || def.Type != w.typ {
			t.Errorf("%s = FID %d %s, want FID %d %s", w.name, def.FID, def.Type, w.fid, w.typ)
		}
		byFID, ok := d.ByFID(w.fid)
		if !ok || byFID != def {
			t.Errorf("ByFID(%d) = %v, %v; want %s", w.fid, byFID, ok, w.name)
		}
	}
}

func TestTableConsistent(t *testing.T) {
	d := Default()
	if d.Len() < 200 {
		t.Fatalf("Len = %d, want at least 200 fields", d.Len())
	}
	var prev int16
	n := 0
	for def := range d.All() {
		n++
		if def.FID <= prev {
			t.Errorf("%s: FID %d not after %d", def.Name, def.FID, prev)
		}
		prev = def.FID
		if def.Type == Unknown || def.Meaning == "" || def.Name == "" {
			t.Errorf("%s: incomplete definition %+v", def.Name, *def)
		}
		if def.Ripple != "" {
			r, ok := d.ByName(def.Ripple)
			if !ok {
				t.Errorf("%s ripples to unknown %s", def.Name, def.Ripple)
			} else if r.Type != def.Type {
				t.Errorf("%s (%s) ripples to %s (%s)", def.Name, def.Type, r.Name, r.Type)
			}
		}
	}
	if n != d.Len() {
		t.Errorf("All yielded %d, Len = %d", n, d.Len())
	}
	if _, ok := d.ByName("NOT_A_FIELD"); ok {
		t.Error("unknown name found")
	}
	if _, ok := d.ByFID(20); ok { // FID 20 is not defined in RDMFieldDictionary
		t.Error("FID 20 found")
	}
	// Early break of the iterator.
	for range d.All() {
		break
	}
}

func TestNewPanicsOnDuplicates(t *testing.T) {
	for _, defs := range [][]Def{
		{{"A", 1, Int, "", "a"}, {"B", 1, Int, "", "b"}},
		{{"A", 1, Int, "", "a"}, {"A", 2, Int, "", "b"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v) did not panic", defs)
				}
			}()
			New(defs)
		}()
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	d := Default()
	nameBytes := []byte("QUOTIM_MS")
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := d.ByName("TRDPRC_1"); !ok {
			t.Fatal("missing")
		}
		if _, ok := d.ByNameBytes(nameBytes); !ok {
			t.Fatal("missing")
		}
		if _, ok := d.ByFID(3427); !ok {
			t.Fatal("missing")
		}
		f := trjson.Float("BID", 1.5)
		if err := d.Check(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("lookups allocate %v times", allocs)
	}
}

func TestCheck(t *testing.T) {
	d := Default()
	ok := []trjson.Field{
		trjson.Float("BID", 40.5), trjson.Int("BID", 40), trjson.String("BID", "NaN"), trjson.String("ASK", "-Inf"),
		trjson.Null("BID"), trjson.Int("PROD_PERM", 62), trjson.Float("PROD_PERM", 62),
		trjson.String("TRADE_DATE", "2018-04-06"), trjson.String("QUOTIM", "15:37:31"),
		trjson.String("QUOTIM", "15:37:31.678"), trjson.String("TRDTIM_1", "15:37"),
		trjson.String("QUOTIM", "14:40:32:000:000:000"), trjson.String("CURRENCY", "USD"),
		trjson.Int("CURRENCY", 840), trjson.String("DSPLY_NAME", "THOMSON REUTERS"),
		trjson.Int("BID_SZ_TTL", -1),
	}
	for _, f := range ok {
		if err := d.Check(&f); err != nil {
			t.Errorf("Check(%s %s %q): %v", f.Name, f.Kind, f.AsString(), err)
		}
	}
	bad := []trjson.Field{
		trjson.String("BID", "40.5"), {Name: "BID", Kind: trjson.KindBool, Int: 1},
		trjson.Int("PROD_PERM", -1), trjson.Float("PROD_PERM", 1.5), trjson.String("PROD_PERM", "1"),
		trjson.String("TRADE_DATE", "2018-4-6"), trjson.String("TRADE_DATE", "2018-13-01"),
		trjson.Int("TRADE_DATE", 20180406), trjson.String("QUOTIM", "25:00:00"),
		trjson.String("QUOTIM", "15:37:31."), trjson.String("QUOTIM", "15:37:3"),
		trjson.Float("CURRENCY", 1.5), trjson.Int("DSPLY_NAME", 1), trjson.Int("CURRENCY", -3),
	}
	for _, f := range bad {
		err := d.Check(&f)
		var ve *ValueError
		if !errors.As(err, &ve) || !errors.Is(err, ErrWrongType) || ve.Name != f.Name {
			t.Errorf("Check(%s %s %q) = %v, want a ValueError", f.Name, f.Kind, f.AsString(), err)
		}
	}
	f := trjson.Int("NO_SUCH_FIELD", 1)
	err := d.Check(&f)
	var ue *UnknownFieldError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnknownField) || ue.Name != "NO_SUCH_FIELD" {
		t.Errorf("Check(unknown) = %v", err)
	}
}

func TestTypeNames(t *testing.T) {
	for typ := Int; typ <= Vector; typ++ {
		got, ok := ParseType(typ.String())
		if !ok || got != typ {
			t.Errorf("ParseType(%q) = %v, %v", typ.String(), got, ok)
		}
	}
	if _, ok := ParseType("Unknown"); ok {
		t.Error("ParseType(Unknown) succeeded")
	}
	if Type(200).String() != "Unknown" {
		t.Error("out of range Type name")
	}
	if !Real.IsNumeric() || Enum.IsNumeric() || !RmtesString.IsString() || Buffer.IsString() {
		t.Error("IsNumeric/IsString")
	}
}

func FuzzTimeDate(f *testing.F) {
	for _, s := range []string{"15:37:31", "15:37:31.678", "14:40:32:000:000:000", "2018-04-06", "", "99:99", "2018-04-06T15:37:31Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		if IsTime(b) {
			if len(b) < 5 || b[2] != ':' {
				t.Fatalf("IsTime(%q) accepted a malformed time", s)
			}
		}
		if IsDate(b) && len(b) != 10 {
			t.Fatalf("IsDate(%q) accepted a malformed date", s)
		}
		_ = isDateTime(b)
	})
}
