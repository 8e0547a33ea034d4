package consumer

import (
	"context"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// BenchmarkUpdatePath measures one Update frame through decode, routing,
// the item stage and a Handler (the hot path); allocations are reported.
func BenchmarkUpdatePath(b *testing.B) {
	for _, cache := range []bool{false, true} {
		name := "nocache"
		if cache {
			name = "cache"
		}
		b.Run(name, func(b *testing.B) {
			var sum float64
			cfg := (&Config{Cache: cache, Handler: func(m *Msg) { v, _ := m.Float("BID"); sum += v }}).withDefaults()
			c := &Client{cfg: cfg, log: cfg.Logger, items: map[*Item]struct{}{}}
			c.ctx, c.cancel = context.WithCancel(context.Background())
			defer c.cancel()
			cn := newConn(c, 0, "bench")
			var o options
			cn.open(2, newItem(c, nil, "TRI.N", "ELEKTRON_DD", trjson.DomainMarketPrice, &o))
			cn.handleBytes([]byte(`[{"ID":2,"Type":"Refresh","Fields":{"BID":1.5,"ASK":1.6,"DSPLY_NAME":"X"},"State":{"Stream":"Open","Data":"Ok"}}]`))
			frame := []byte(`[{"ID":2,"Type":"Update","UpdateType":"Quote","SeqNumber":5,"Fields":{"BID":40.74,"ASK":40.75,"BIDSIZE":10,"ASKSIZE":12,"QUOTIM":"15:37:31.678"}}]`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cn.handleBytes(frame)
			}
		})
	}
}
