package trjson

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Benchmark inputs, shaped like go-deps.md §1: (a) one Update, (b) 50
// Updates of 5–12 mixed fields (~285 B each), (c) a 200-field Refresh
// with nulls, a \" escape and a \u surrogate pair.

var benchFieldNames = []string{"BID", "ASK", "BIDSIZE", "ASKSIZE", "TRDPRC_1", "TRDVOL_1", "ACVOL_1", "NETCHNG_1",
	"HIGH_1", "LOW_1", "OPEN_PRC", "HST_CLOSE", "PCTCHNG", "TRADE_DATE", "SALTIM", "QUOTIM", "BID_TICK_1",
	"PRCTCK_1", "IRGPRC", "IRGVOL", "NUM_MOVES", "OFF_CD_IND", "BOOK_STATE", "MKT_STATUS"}

const benchUpdate1 = `[{"ID":2,"Type":"Update","Domain":"MarketPrice","UpdateType":"Quote","SeqNumber":40336,` +
	`"Key":{"Service":"ELEKTRON_DD","Name":"TRI.N"},"Fields":{"BID":39.72,"BIDSIZE":1,"ASK":39.74,"ASKSIZE":20,` +
	`"QUOTIM":"15:37:31.678","BID_TICK_1":"⇧","ACVOL_1":8719016}}]`

func benchUpdate50() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"ID":%d,"Type":"Update","UpdateType":"%s","SeqNumber":%d,`+
			`"Key":{"Service":"ELEKTRON_DD","Name":"RIC%03d.N"},"Fields":{`, 3+i%20, []string{"Quote", "Trade", "Unspecified"}[i%3], 1000+i, i%20)
		n := 5 + r.IntN(8)
		for j := 0; j < n; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			name := benchFieldNames[(i+j*7)%len(benchFieldNames)]
			switch j % 4 {
			case 0:
				fmt.Fprintf(&b, `"%s":%.2f`, name, 10+r.Float64()*500)
			case 1:
				fmt.Fprintf(&b, `"%s":%d`, name, r.IntN(1000000))
			case 2:
				fmt.Fprintf(&b, `"%s":"%02d:%02d:%02d.%03d"`, name, r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000))
			default:
				fmt.Fprintf(&b, `"%s":%.4f`, name, r.Float64()*100)
			}
		}
		b.WriteString("}}")
	}
	b.WriteByte(']')
	return []byte(b.String())
}

func benchRefresh200() []byte {
	r := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString(`[{"ID":2,"Type":"Refresh","Domain":"MarketPrice","Key":{"Service":"ELEKTRON_DD","Name":"TRI.N"},` +
		`"State":{"Stream":"Open","Data":"Ok","Text":"All is well"},"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"},` +
		`"PermData":"AwEBEBU8","SeqNumber":8416,"Fields":{`)
	for j := 0; j < 200; j++ {
		if j > 0 {
			b.WriteByte(',')
		}
		name := fmt.Sprintf("FLD_%03d", j)
		switch {
		case j == 100:
			fmt.Fprintf(&b, `"%s":"TR \"Q\" caf\u00e9 \u20ac \ud83d\ude00"`, name)
		case j%10 == 9:
			fmt.Fprintf(&b, `"%s":null`, name)
		case j%4 == 0:
			fmt.Fprintf(&b, `"%s":%.3f`, name, r.Float64()*1000)
		case j%4 == 1:
			fmt.Fprintf(&b, `"%s":%d`, name, r.IntN(100000000))
		case j%4 == 2:
			fmt.Fprintf(&b, `"%s":"STR%d"`, name, r.IntN(100000))
		default:
			fmt.Fprintf(&b, `"%s":"2018-04-%02d"`, name, 1+r.IntN(28))
		}
	}
	b.WriteString("}}]")
	return []byte(b.String())
}

type benchCase struct {
	name  string
	frame []byte
	msgs  int
}

func benchCases() []benchCase {
	return []benchCase{
		{"Update1", []byte(benchUpdate1), 1},
		{"Update50", benchUpdate50(), 50},
		{"Refresh200", benchRefresh200(), 1},
	}
}

func TestBenchInputs(t *testing.T) {
	var d Decoder
	for _, c := range benchCases() {
		if !json.Valid(c.frame) {
			t.Fatalf("%s invalid", c.name)
		}
		ms, err := d.Decode(c.frame)
		if err != nil || len(ms) != c.msgs {
			t.Fatalf("%s: %v %d", c.name, err, len(ms))
		}
		for i := range ms {
			if ms[i].Err != nil {
				t.Fatalf("%s: %v", c.name, ms[i].Err)
			}
		}
		// Same content as the encoding/json oracle.
		var ref []map[string]any
		dec := json.NewDecoder(strings.NewReader(string(c.frame)))
		dec.UseNumber()
		if err := dec.Decode(&ref); err != nil {
			t.Fatal(err)
		}
		for i := range ms {
			fields := ref[i]["Fields"].(map[string]any)
			if len(fields) != len(ms[i].Fields) {
				t.Fatalf("%s[%d]: %d fields, oracle %d", c.name, i, len(ms[i].Fields), len(fields))
			}
			for _, f := range ms[i].Fields {
				switch v := fields[f.Name].(type) {
				case nil:
					if f.Kind != KindNull {
						t.Errorf("%s: %s not null", c.name, f.Name)
					}
				case string:
					if f.Kind != KindString || string(f.Str) != v {
						t.Errorf("%s: %s = %q, oracle %q", c.name, f.Name, f.Str, v)
					}
				case json.Number:
					if fv, _ := v.Float64(); f.Kind == KindInt && float64(f.Int) != fv || f.Kind == KindFloat && f.Float != fv {
						t.Errorf("%s: %s = %+v, oracle %s", c.name, f.Name, f, v)
					}
				}
			}
		}
	}
	if n := len(benchUpdate50()) / 50; n < 250 || n > 320 {
		t.Errorf("Update50: %d B/update, want ~285", n)
	}
	if n := len(benchUpdate1); n < 200 || n > 260 {
		t.Errorf("Update1: %d B", n)
	}
}

// TestDecodeSteadyStateAllocs is the "≤ 1 alloc per update" goal as a
// test: after warm-up, decoding the 50-update frame allocates nothing.
func TestDecodeSteadyStateAllocs(t *testing.T) {
	for _, c := range benchCases() {
		var d Decoder
		if _, err := d.Decode(c.frame); err != nil {
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(50, func() {
			if _, err := d.Decode(c.frame); err != nil {
				t.Fatal(err)
			}
		})
		if n > float64(c.msgs) {
			t.Errorf("%s: %.1f allocs per frame of %d messages", c.name, n, c.msgs)
		}
		t.Logf("%s: %.1f allocs/frame", c.name, n)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			var d Decoder
			b.SetBytes(int64(len(c.frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Decode(c.frame); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.msgs)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkDecodeMapAny is the reference line: the way LSEG's Go example
// decodes (encoding/json into []map[string]any).
func BenchmarkDecodeMapAny(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.frame)))
			b.ReportAllocs()
			for b.Loop() {
				var msgs []map[string]any
				if err := json.Unmarshal(c.frame, &msgs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.msgs)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			var d Decoder
			ms, err := d.Decode(c.frame)
			if err != nil {
				b.Fatal(err)
			}
			var fb FrameBuilder
			for i := range ms {
				fb.Add(&ms[i], 0)
			}
			b.SetBytes(int64(len(fb.Frame())))
			b.ReportAllocs()
			for b.Loop() {
				fb.Reset()
				for i := range ms {
					fb.Add(&ms[i], 0)
				}
				_ = fb.Frame()
			}
			b.ReportMetric(float64(c.msgs)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkFieldAccess reads BID, ASK and a string field of every update
// of the 50-update frame, as a consumer's handler would.
func BenchmarkFieldAccess(b *testing.B) {
	var d Decoder
	ms, err := d.Decode(benchUpdate50())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sum float64
	for b.Loop() {
		for i := range ms {
			if f := ms[i].Field("BID"); f != nil {
				v, _ := f.AsFloat()
				sum += v
			}
			if f := ms[i].Field("TRDPRC_1"); f != nil {
				v, _ := f.AsFloat()
				sum += v
			}
			if f := ms[i].Field("QUOTIM"); f != nil {
				sum += float64(len(f.Str))
			}
		}
	}
	b.ReportMetric(50*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	_ = sum
}
