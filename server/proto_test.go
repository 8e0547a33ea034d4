package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

func TestPathAndSubprotocol(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	if _, err := dialOpts(e, 0, nil, nil); err == nil {
		t.Fatal("upgrade without tr_json2 accepted")
	} else {
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != http.StatusBadRequest {
			t.Fatalf("err %v, want HTTP 400", err)
		}
	}
	d := ws.Dialer{Protocols: []string{"tr_json2"}, Timeout: 5 * time.Second}
	_, _, _, err := d.Dial(context.Background(), "ws://"+e.servers[0].Addr().String()+"/other")
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != http.StatusNotFound {
		t.Fatalf("err %v, want HTTP 404", err)
	}
	c, err := dialOpts(e, 0, []string{"other", "tr_json2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.login(e.token(1, time.Minute))
}

// Scenario 13: the §22 errors, and the connection survives them.
func TestConverterErrors(t *testing.T) {
	_, c := loggedIn(t, Config{})
	cases := []struct {
		in     string
		id     float64
		text   string
		offset bool
	}{
		{`{"ID":"2","Key":{"Name":"TRI.N"}}`, 0, "JSON Converter Token Type error: Expected 'PRIMITIVE' for key 'ID' Received 'STRING'", true},
		{`{"ID":2,"Type":"ExtraInfo","Key":{"Name":"TRI.N"}}`, 2, "JSON Unexpected Value. Received 'ExtraInfo' for key 'Type'", true},
		{`{"Key":{"Name":"TRI.N"}}`, 0, "JSON Missing required key 'ID'", false},
		{`{"ID":7}`, 7, "JSON Missing required key 'Key'", false},
		{`[{"ID":2,`, 0, "JSON parser error: -3", true},
		{`{"ID":2}}`, 0, "JSON parser error: -2", true},
	}
	for _, tc := range cases {
		c.send(tc.in)
		m := c.next()
		if m["Type"] != "Error" || m["ID"] != tc.id || m["Text"] != tc.text {
			t.Fatalf("%s: got %s", tc.in, mustJSON(m))
		}
		if obj(m, "Debug", "File") != "Converter/jsonToRwfSimple.C" || obj(m, "Debug", "Message") != tc.in || obj(m, "Debug", "Line") == nil {
			t.Fatalf("%s: debug %s", tc.in, mustJSON(m))
		}
		if (obj(m, "Debug", "Offset") != nil) != tc.offset {
			t.Fatalf("%s: offset %s", tc.in, mustJSON(m))
		}
	}
	// One bad message in an array does not stop the others.
	c.send(`[{"ID":"x"},{"ID":2,"Key":{"Name":"TRI.N"}}]`)
	c.until(isType("Error", 0))
	c.until(isType("Refresh", 2))
}

// Scenario 14: an inbound message above MaxMsgSize → close 1009.
func TestOversizedMessage(t *testing.T) {
	e, c := loggedIn(t, Config{MaxMsgSize: 1000})
	c.send(`{"ID":2,"Key":{"Name":"` + strings.Repeat("A", 1000) + `"}}`)
	if code := c.expectClosed(); code != ws.StatusMessageTooBig {
		t.Fatalf("close code %d", code)
	}
	if r := e.waitDrop(); r != ReasonTooBig {
		t.Fatalf("reason %q", r)
	}
}

// Scenario 4: idle client → Ping; no answer → disconnect after PingTimeout.
func TestPingAndTimeout(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 300 * time.Millisecond}, 1, false)
	c := dial(e, 0)
	r := c.login(e.token(1, time.Minute))
	if obj(r, "Elements", "PingTimeout") != 1.0 {
		t.Fatalf("PingTimeout advertised %v", obj(r, "Elements", "PingTimeout"))
	}
	// Answering keeps the connection: three pings in a row.
	for range 3 {
		if m := c.next(); m["Type"] != "Ping" || len(m) != 1 {
			t.Fatalf("got %s", mustJSON(m))
		}
		c.send(`{"Type":"Pong"}`)
	}
	// Not answering: disconnect.
	if m := c.next(); m["Type"] != "Ping" {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.expectClosed()
	if r := e.waitDrop(); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
}

func TestClientPingGetsPong(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.send(`{"Type":"Ping"}`)
	if m := c.next(); m["Type"] != "Pong" || len(m) != 1 {
		t.Fatalf("got %s", mustJSON(m))
	}
}

func TestStopPingsAndIgnorePongs(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 30 * time.Millisecond, PingTimeout: 200 * time.Millisecond}, 1, false)
	e.hub.SetPings(false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	if _, err := c.tryNext(300 * time.Millisecond); err == nil {
		t.Fatal("message received while pings are off")
	}
	e.hub.SetPings(true)
	e.hub.SetIgnorePongs(true)
	for range 20 {
		m, err := c.tryNext(5 * time.Second)
		if err != nil {
			break // closed: pongs were ignored
		}
		if m["Type"] == "Ping" {
			c.send(`{"Type":"Pong"}`)
		}
	}
	if r := e.waitDrop(); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
}

// Scenarios 11 and 12: posting.
func TestPostOnStreamAndFanOut(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 1})
	other := dial(e, 0)
	other.login(e.token(1, time.Minute))
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Refresh", 2))
	other.send(`{"ID":5,"Key":{"Name":"TRI.N"}}`)
	other.until(isType("Refresh", 5))
	c.send(`{"ID":2,"Type":"Post","Domain":"MarketPrice","Ack":true,"PostID":1,"PostUserInfo":{"Address":"127.0.0.1","UserID":10000},
	  "Message":{"ID":0,"Type":"Update","Domain":"MarketPrice","Fields":{"BID":45.55,"ASK":45.57}}}`)
	isPosted := func(m map[string]any) bool {
		return m["Type"] == "Update" && obj(m, "Fields", "BID") == 45.55
	}
	// The poster is a subscriber too: its Update comes first, then the Ack.
	c.until(isPosted)
	ack := c.until(func(m map[string]any) bool { return m["Type"] == "Ack" })
	if ack["ID"] != 2.0 || ack["AckID"] != 1.0 || ack["NakCode"] != nil || ack["Text"] != "All is well" {
		t.Fatalf("ack %s", mustJSON(ack))
	}
	if u := other.until(isPosted); u["ID"] != 5.0 {
		t.Fatalf("update %s", mustJSON(u))
	}
	// Off-stream on the Login ID with a Key.
	c.send(`{"ID":1,"Type":"Post","Domain":"MarketPrice","Ack":true,"PostID":7,"Key":{"Name":"TRI.N","Service":"ELEKTRON_DD"},
	  "Message":{"ID":0,"Type":"Update","Fields":{"BID":46.5}}}`)
	if ack := c.until(func(m map[string]any) bool { return m["Type"] == "Ack" }); ack["ID"] != 1.0 || ack["AckID"] != 7.0 || ack["NakCode"] != nil {
		t.Fatalf("ack %s", mustJSON(ack))
	}
	other.until(func(m map[string]any) bool { return m["Type"] == "Update" && obj(m, "Fields", "BID") == 46.5 })
}

func TestPostNaksAndErrors(t *testing.T) {
	_, c := loggedIn(t, Config{})
	cases := []struct{ in, nak string }{
		{`{"ID":9,"Type":"Post","Ack":true,"PostID":1,"Message":{"ID":0,"Type":"Update","Fields":{"BID":1}}}`, "NotOpen"},
		{`{"ID":1,"Type":"Post","Ack":true,"PostID":2,"Key":{"Name":"NOPE.X"},"Message":{"ID":0,"Type":"Update","Fields":{"BID":1}}}`, "SymbolUnknown"},
		{`{"ID":1,"Type":"Post","Ack":true,"PostID":3,"Key":{"Name":"TRI.N"},"Message":{"ID":0,"Type":"Update","Fields":{"BID":"abc"}}}`, "InvalidContent"},
		{`{"ID":1,"Type":"Post","Ack":true,"PostID":4,"Key":{"Name":"TRI.N"}}`, "InvalidContent"},
		{`{"ID":1,"Type":"Post","Ack":true,"PostID":5,"Key":{"Name":"TRI.N","Service":"X"},"Message":{"ID":0,"Type":"Update","Fields":{"BID":1}}}`, "SourceUnknown"},
	}
	for _, tc := range cases {
		c.send(tc.in)
		m := c.next()
		if m["Type"] != "Ack" || m["NakCode"] != tc.nak || m["Text"] == nil {
			t.Fatalf("%s: got %s", tc.in, mustJSON(m))
		}
	}
	in := `{"ID":1,"Type":"Post","Ack":true,"PostID":6,"Key":{"Name":"TRI.N"},"Message":{"ID":0,"Type":"Update","Fields":{"BID_CUSTOM":1}}}`
	c.send(in)
	m := c.next()
	if m["Type"] != "Error" || m["ID"] != 1.0 || m["Text"] != "JSON Unexpected FID. Received 'BID_CUSTOM' for key 'Fields'" || obj(m, "Debug", "Message") != in {
		t.Fatalf("got %s", mustJSON(m))
	}
	// Without Ack:true a failed post is silent.
	c.send(`{"ID":9,"Type":"Post","PostID":1,"Message":{"ID":0,"Type":"Update","Fields":{"BID":1}}}`)
	if got := c.sync(); len(got) != 0 {
		t.Fatalf("got %s", mustJSON(got))
	}
}

func TestPostDisabled(t *testing.T) {
	_, c := loggedIn(t, Config{DisablePost: true})
	c.send(`{"ID":1,"Type":"Post","Ack":true,"PostID":1,"Key":{"Name":"TRI.N"},"Message":{"ID":0,"Type":"Update","Fields":{"BID":1}}}`)
	if m := c.next(); m["NakCode"] != "AccessDenied" {
		t.Fatalf("got %s", mustJSON(m))
	}
}

func TestGenericEcho(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.send(`{"ID":5,"Type":"Generic","Domain":"System","Key":{"Name":"x"},"SeqNumber":3,"Elements":{"A":1}}`)
	m := c.next()
	if m["Type"] != "Generic" || m["ID"] != 5.0 || m["Domain"] != "System" || obj(m, "Elements", "A") != 1.0 || m["SeqNumber"] != 3.0 {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.send(`{"ID":5,"Type":"Generic","Key":{"Name":"x"},"Fields":{"BID":1}}`)
	if got := c.sync(); len(got) != 0 {
		t.Fatalf("generic on MarketPrice answered: %s", mustJSON(got))
	}
}

// A client that stops reading is dropped; another client on the same
// endpoint keeps receiving.
func TestSlowClientIsolation(t *testing.T) {
	// 10 items at 300/s: slow enough that the fast client keeps up under
	// -race on a loaded 2-core machine (at 1000/s it was itself dropped as
	// a slow consumer), fast enough to back the slow one up in seconds.
	e := newEnv(t, Config{Rate: 300, QueueLimit: 500}, 1, false)
	tok := e.token(1, time.Minute)
	fast := dial(e, 0)
	// The slow client has a tiny receive buffer so that it backs up soon.
	d := ws.Dialer{Protocols: []string{"tr_json2"}, Timeout: 5 * time.Second,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			nc, err := nd.DialContext(ctx, network, addr)
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.SetReadBuffer(4096)
			}
			return nc, err
		}}
	snc, sbr, _, err := d.Dial(context.Background(), e.url(0))
	if err != nil {
		t.Fatal(err)
	}
	defer snc.Close()
	slow := &client{t: t, nc: snc, r: snc}
	if sbr != nil {
		slow.r = sbr
	}
	slow.login(tok)
	fast.login(tok)
	var req []string
	for i := range 10 {
		req = append(req, fmt.Sprintf(`{"ID":%d,"Key":{"Name":"LOAD%d.N"}}`, i+2, i))
	}
	all := "[" + strings.Join(req, ",") + "]"
	slow.send(all)
	fast.send(all)
	// The slow client never reads again; the fast one keeps going until
	// the slow one is dropped, and after.
	dropped := make(chan string, 1)
	go func() { dropped <- e.waitDrop() }()
	for got := 0; ; got++ {
		fast.until(func(m map[string]any) bool { return m["Type"] == "Update" })
		select {
		case r := <-dropped:
			if r != ReasonSlowConsumer {
				t.Fatalf("reason %q", r)
			}
			for range 100 {
				fast.until(func(m map[string]any) bool { return m["Type"] == "Update" })
			}
			fast.sync() // still connected
			if e.servers[0].Stats().SlowDisconnects < 1 {
				t.Fatal("counter")
			}
			return
		default:
		}
		if got > 2_000_000 {
			t.Fatal("slow client never dropped")
		}
	}
}

// Load mode: updates as fast as the client drains them, packed, with a
// send timestamp and per-stream increasing SeqNumbers.
func TestLoadMode(t *testing.T) {
	e := newEnv(t, Config{LoadMode: true, Pack: 10}, 1, false)
	c := dial(e, 0)
	tok := e.token(1, time.Minute)
	c.login(tok)
	c.send(`[{"ID":2,"Key":{"Name":"LOAD1.N"}},{"ID":3,"Key":{"Name":"LOAD2.N"}}]`)
	c.until(isType("Refresh", 2))
	c.until(isType("Refresh", 3))
	last := map[float64]float64{}
	for range 500 {
		u := c.until(func(m map[string]any) bool { return m["Type"] == "Update" })
		id, seq := u["ID"].(float64), u["SeqNumber"].(float64)
		if prev, ok := last[id]; ok && seq != prev+1 {
			t.Fatalf("stream %v: seq %v after %v", id, seq, prev)
		}
		last[id] = seq
		ns, ok := obj(u, "Fields", SendTimeField).(float64)
		if !ok || ns <= 0 {
			t.Fatalf("no %s: %s", SendTimeField, mustJSON(u))
		}
	}
	if len(last) != 2 {
		t.Fatalf("streams %v", last)
	}
	// Pause everything (Login pause): no updates; resume: updates again.
	c.send(`{"ID":1,"Domain":"Login","Pause":true,"Refresh":false,"Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"` + tok + `"}}}`)
	c.sync()
	if got := c.sync(); len(got) != 0 {
		t.Fatalf("%d messages while paused", len(got))
	}
	c.send(`{"ID":1,"Domain":"Login","Refresh":false,"Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"` + tok + `"}}}`)
	c.until(isType("Update", 2))
	c.send(`{"ID":2,"Type":"Close"}`)
	c.send(`{"ID":3,"Type":"Close"}`)
	c.sync()
}
