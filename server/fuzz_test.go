package server

import (
	"errors"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// FuzzRequests sends arbitrary frames to a logged-in connection: the
// endpoint must never panic, and the connection must survive unless the
// protocol itself ends it (a Login failure: close 1008; an oversized
// message: close 1009).
func FuzzRequests(f *testing.F) {
	for _, s := range []string{
		`{"ID":2,"Key":{"Name":"TRI.N"}}`,
		`[{"ID":2,"Key":{"Name":["TRI.N","IBM.N"]},"View":["BID",22]},{"ID":[3,4],"Type":"Close"}]`,
		`{"ID":2,"Streaming":false,"Key":{"Name":"NOPE"}}`,
		`{"ID":"2"}`, `{"ID":2,"Type":"ExtraInfo"}`, `[{"ID":1,`, `null`, `[]`, `[1,2]`,
		`{"ID":1,"Type":"Post","Ack":true,"PostID":1,"Key":{"Name":"TRI.N"},"Message":{"ID":0,"Type":"Update","Fields":{"BID":1}}}`,
		`{"ID":2,"Type":"Post","Message":{"ID":0,"Type":"Refresh","Fields":{"X":{"Type":"Int","Data":[1,"a"]}}}}`,
		`{"ID":3,"Domain":"MarketByPrice","Key":{"Name":"BOOK.BIG"}}`,
		`{"ID":3,"Domain":"Source","Key":{"Filter":63}}`,
		`{"ID":5,"Domain":"MarketMaker","Key":{"Name":"MM.BIG"},"View":["BID"]}`,
		`{"ID":6,"Domain":"YieldCurve","Key":{"Service":"ATS201_1","Name":"BASIC"}}`,
		`{"ID":7,"Domain":22,"Key":{"Service":258,"Name":"BASIC"},"Streaming":false}`,
		`{"ID":3,"Domain":"Source","Key":{"Name":"ATS201_1","Filter":1}}`,
		`{"ID":4,"Type":"Generic","Domain":"System","Elements":{"a":{"Type":"UInt","Data":null}}}`,
		`{"ID":1,"Domain":"Login","Type":"Close"}`,
		`{"ID":1,"Domain":"Login","Refresh":false,"Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"x"}}}`,
		`{"Type":"Pong"}`, `{"ID":2,"Pause":true,"Refresh":false,"Key":{"Name":"TRI.N"}}`,
	} {
		f.Add([]byte(s))
	}
	var e *env
	f.Fuzz(func(t *testing.T, frame []byte) {
		if e == nil || e.t != t {
			e = newEnv(t, Config{Rate: 20, MaxMsgSize: 8192}, 1, false)
		}
		c := dial(e, 0)
		c.login(e.token(1, time.Minute))
		// A frame may legitimately end the session; write errors then show
		// up as the close frame below.
		_ = wsutil.WriteClientText(c.nc, frame)
		_ = wsutil.WriteClientText(c.nc, []byte(`{"Type":"Ping"}`))
		for range 100000 {
			m, err := c.tryNext(10 * time.Second)
			if errors.Is(err, errClosed) {
				if c.closeCode == 1008 || c.closeCode == ws.StatusMessageTooBig && len(frame) > 8192 {
					return
				}
				t.Fatalf("closed with %d after %q", c.closeCode, frame)
			}
			if err != nil {
				t.Fatalf("after %q: %v", frame, err)
			}
			if m["Type"] == "Pong" {
				return
			}
		}
		t.Fatal("no Pong")
	})
}
