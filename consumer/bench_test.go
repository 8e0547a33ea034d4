package consumer

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
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

// BenchmarkBookApply applies one MarketByPrice update (two level changes,
// one level deleted and one added) to a 50-level book; one op = one Map.
func BenchmarkBookApply(b *testing.B) {
	key := func(i int) string {
		return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%.6fA", 50+float64(i)/100)))
	}
	var img strings.Builder
	img.WriteString(`{"KeyType":"Buffer","Summary":{"Fields":{"CURRENCY":"CAD","PR_RNK_RUL":"NOR"}},"Entries":[`)
	for i := range 50 {
		if i > 0 {
			img.WriteByte(',')
		}
		fmt.Fprintf(&img, `{"Action":"Add","Key":%q,"Fields":{"ORDER_PRC":%.2f,"ORDER_SIDE":"ASK","ACC_SIZE":%d,"NO_ORD":%d,"LV_TIM_MS":%d}}`,
			key(i), 50+float64(i)/100, 100+i, 1+i%7, 52000000+i)
	}
	img.WriteString(`]}`)
	bk := newBook()
	if err := bk.apply(trjson.Raw(img.String())); err != nil {
		b.Fatal(err)
	}
	updates := make([]trjson.Raw, 50)
	for i := range updates {
		updates[i] = trjson.Raw(fmt.Sprintf(`{"KeyType":"Buffer","Entries":[`+
			`{"Action":"Update","Key":%q,"Fields":{"ACC_SIZE":%d,"NO_ORD":3}},`+
			`{"Action":"Update","Key":%q,"Fields":{"ACC_SIZE":%d,"LV_TIM_MS":52000999}},`+
			`{"Action":"Delete","Key":%q},`+
			`{"Action":"Add","Key":%q,"Fields":{"ORDER_PRC":%.2f,"ORDER_SIDE":"ASK","ACC_SIZE":10,"NO_ORD":1,"LV_TIM_MS":52001000}}]}`,
			key(i), 200+i, key((i+1)%50), 300+i, key((i+2)%50), key((i+2)%50), 50+float64((i+2)%50)/100))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bk.apply(updates[i%len(updates)]); err != nil {
			b.Fatal(err)
		}
	}
	if len(bk.entries) != 50 {
		b.Fatalf("book has %d levels", len(bk.entries))
	}
}
