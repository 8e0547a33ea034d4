package server

import (
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// BenchmarkUpdateEncode measures the per-subscriber cost of the hub path
// (Rate mode): building an Update from a shared tick and encoding it into
// a 50-message frame with trjson.FrameBuilder. Load mode avoids this cost
// with pre-encoded templates (see load.go).
func BenchmarkUpdateEncode(b *testing.B) {
	c := &conn{cfg: &Config{Service: DefaultService}}
	s := &sub{c: c, id: 7, domain: trjson.DomainMarketPrice, name: "TRI.N", keyInUpdates: true}
	tk := &tick{updateType: trjson.UpdateQuote, seq: 123456, fields: []trjson.Field{
		trjson.Float("BID", 39.7), trjson.Float("ASK", 39.72), trjson.Int("BIDSIZE", 8), trjson.Int("ASKSIZE", 12),
		trjson.String("QUOTIM", "15:37:34"), trjson.Int("QUOTIM_MS", 56254000), trjson.Float("NETCHNG_1", -0.12),
		trjson.Float("PCTCHNG", -0.3), trjson.String("ACTIV_DATE", "2026-11-23"),
	}}
	var m trjson.Msg
	var fields []trjson.Field
	var fb trjson.FrameBuilder
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%50 == 0 {
			fb.Reset()
		}
		fb.Add(c.updateMsg(&m, &fields, s, tk), DefaultMaxMsgSize)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
