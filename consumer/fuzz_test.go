package consumer

import (
	"context"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// FuzzHandleFrame feeds arbitrary frames to a connection's routing: any
// input may produce error events, none may panic.
func FuzzHandleFrame(f *testing.F) {
	for _, s := range []string{
		`[{"ID":2,"Type":"Refresh","Fields":{"BID":1},"State":{"Stream":"Open","Data":"Ok"}}]`,
		`[{"ID":2,"Type":"Update","SeqNumber":5,"Fields":{"BID":null}}]`,
		`[{"ID":2,"Type":"Status","State":{"Stream":"ClosedRecover","Data":"Suspect"}}]`,
		`[{"ID":3,"Type":"Refresh","Domain":"MarketByPrice","Map":{"KeyType":"Buffer","Entries":[{"Action":"Add","Key":"QQ==","Fields":{"X":1}}]}}]`,
		`[{"ID":1,"Type":"Status","Domain":"Login","State":{"Stream":"Closed","Data":"Suspect"}}]`,
		`[{"ID":1,"Type":"Ack","AckID":7,"NakCode":"DeniedBySrc"}]`,
		`[{"ID":0,"Type":"Error","Text":"x"}]`,
		`[{"Type":"Ping"}]`,
		`[{"ID":2,"Type":`,
		`{"ID":"2"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := (&Config{Handler: func(*Msg) {}}).withDefaults()
		c := &Client{cfg: cfg, log: cfg.Logger, items: map[*Item]struct{}{}}
		c.ctx, c.cancel = context.WithCancel(context.Background())
		defer c.cancel()
		cn := newConn(c, 0, "fuzz")
		cn.ctx, cn.cancel = context.WithCancelCause(context.Background())
		defer cn.cancel(nil)
		var o options
		cn.open(2, newItem(c, nil, "A.N", "S", trjson.DomainMarketPrice, &o))
		cn.open(3, newItem(c, nil, "B.N", "S", trjson.DomainMarketByPrice, &o))
		cn.handleBytes(b)
		cn.handleBytes(b) // twice: state left by the first must not break the second
	})
}
