package consumer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// fakeADS is a tiny scripted tr_json2 server for unit tests of pieces of
// the client (batch IDs, chunking, pings, reissues). It shares no code with
// the client's codec: it reads and writes with encoding/json. The
// acceptance tests run against the real emulator (e2e_test.go).
type fakeADS struct {
	srv        *httptest.Server
	maxMsgSize int
	ping       int   // PingTimeout advertised, seconds
	seq        int64 // SeqNumber of refreshes (tests set it before pushing)

	mu       sync.Mutex
	conns    []*fakeConn
	received []map[string]any // every message received, in order
	frames   []int            // size of every frame received
	got      chan map[string]any
}

type fakeConn struct {
	ws    *websocket.Conn
	mu    sync.Mutex
	names map[string]int64 // open item → stream ID
}

func newFakeADS(t *testing.T) *fakeADS {
	f := &fakeADS{maxMsgSize: 61440, ping: 30, got: make(chan map[string]any, 4096)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.close)
	return f
}

func (f *fakeADS) url() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/WebSocket" }

func (f *fakeADS) close() {
	f.mu.Lock()
	for _, c := range f.conns {
		c.ws.CloseNow()
	}
	f.mu.Unlock()
	f.srv.Close()
}

func (f *fakeADS) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"tr_json2"}})
	if err != nil {
		return
	}
	c := &fakeConn{ws: ws, names: map[string]int64{}}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	ctx := context.Background()
	for {
		_, p, err := ws.Read(ctx)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.frames = append(f.frames, len(p))
		f.mu.Unlock()
		var msgs []map[string]any
		if len(p) > 0 && p[0] == '[' {
			json.Unmarshal(p, &msgs)
		} else {
			var m map[string]any
			json.Unmarshal(p, &m)
			msgs = append(msgs, m)
		}
		for _, m := range msgs {
			// Recorded before it is answered (a test that got the
			// answer finds it in received), signalled after (a test that
			// got the signal finds its effect on the stream table).
			f.mu.Lock()
			f.received = append(f.received, m)
			f.mu.Unlock()
			f.handle(c, m)
			select {
			case f.got <- m:
			default:
			}
		}
	}
}

func (c *fakeConn) send(v ...any) {
	b, _ := json.Marshal(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ws.Write(context.Background(), websocket.MessageText, b)
}

func (c *fakeConn) sendRaw(b string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ws.Write(context.Background(), websocket.MessageText, []byte(b))
}

func (f *fakeADS) handle(c *fakeConn, m map[string]any) {
	typ, _ := m["Type"].(string)
	dom, _ := m["Domain"].(string)
	id, _ := m["ID"].(float64)
	key, _ := m["Key"].(map[string]any)
	switch {
	case dom == "Login" && typ == "":
		els, _ := key["Elements"].(map[string]any)
		tok, _ := els["AuthenticationToken"].(string)
		if refresh, ok := m["Refresh"].(bool); ok && !refresh {
			return // reissue: no reply
		}
		if !strings.HasPrefix(tok, "good") {
			c.send(map[string]any{"ID": id, "Type": "Status", "Domain": "Login",
				"State": map[string]any{"Stream": "Closed", "Data": "Suspect", "Code": "NotEntitled", "Text": "token rejected"}})
			return
		}
		c.send(map[string]any{"ID": id, "Type": "Refresh", "Domain": "Login",
			"Elements": map[string]any{"MaxMsgSize": f.maxMsgSize, "PingTimeout": f.ping},
			"Key":      map[string]any{"Elements": map[string]any{"SupportBatchRequests": 7, "SupportViewRequests": 1, "SupportOMMPost": 1}},
			"State":    map[string]any{"Stream": "Open", "Data": "Ok", "Text": "Login accepted"}})
	case typ == "" && dom != "Login":
		var names []string
		batch := false
		switch n := key["Name"].(type) {
		case string:
			names = []string{n}
		case []any:
			batch = true
			for _, x := range n {
				names = append(names, x.(string))
			}
		}
		base := int64(id)
		if batch {
			c.send(map[string]any{"ID": base, "Type": "Status", "State": map[string]any{"Stream": "Closed", "Data": "Ok", "Text": "Processed 1 total items from Batch Request."}})
			base++
		}
		if r, ok := m["Refresh"].(bool); ok && !r {
			return
		}
		stream := "Open"
		if st, ok := m["Streaming"].(bool); ok && !st {
			stream = "NonStreaming"
		}
		for i, n := range names {
			sid := base + int64(i)
			if dom == "MarketByPrice" {
				c.mu.Lock()
				c.names[n] = sid
				c.mu.Unlock()
				// A two-part refresh (§31.3) with an update between the parts.
				c.send(map[string]any{"ID": sid, "Type": "Refresh", "Domain": dom, "Key": map[string]any{"Name": n},
					"Complete": false, "PartNumber": 0, "State": map[string]any{"Stream": stream, "Data": "Ok"},
					"Map": map[string]any{"KeyType": "Buffer", "Summary": map[string]any{"Fields": map[string]any{"CURRENCY": "CAD"}},
						"Entries": []any{map[string]any{"Action": "Add", "Key": "NTAuNTEwMDAwQQ==", "Fields": map[string]any{"ORDER_PRC": 50.51, "ACC_SIZE": 100}}}}})
				c.send(map[string]any{"ID": sid, "Type": "Update", "Domain": dom,
					"Map": map[string]any{"KeyType": "Buffer", "Entries": []any{map[string]any{"Action": "Update", "Key": "NTAuNTEwMDAwQQ==", "Fields": map[string]any{"ACC_SIZE": 300}}}}})
				c.send(map[string]any{"ID": sid, "Type": "Refresh", "Domain": dom, "PartNumber": 1, "ClearCache": false,
					"State": map[string]any{"Stream": stream, "Data": "Ok"},
					"Map": map[string]any{"KeyType": "Buffer", "Entries": []any{
						map[string]any{"Action": "Add", "Key": "NDkuNTAwMDAwQg==", "Fields": map[string]any{"ORDER_PRC": 49.5, "ACC_SIZE": 10}},
						map[string]any{"Action": "Add", "Key": "NjEuMDAwMDAwQQ==", "Fields": map[string]any{"ORDER_PRC": 61, "ACC_SIZE": 5}},
						map[string]any{"Action": "Delete", "Key": "NjEuMDAwMDAwQQ=="}}}})
				continue
			}
			if n == "BAD.RIC" {
				c.send(map[string]any{"ID": sid, "Type": "Status", "Key": map[string]any{"Name": n},
					"State": map[string]any{"Stream": "Closed", "Data": "Suspect", "Code": "NotFound", "Text": "The record could not be found"}})
				continue
			}
			c.mu.Lock()
			c.names[n] = sid
			c.mu.Unlock()
			c.send(map[string]any{"ID": sid, "Type": "Refresh", "Key": map[string]any{"Name": n, "Service": "ELEKTRON_DD"},
				"SeqNumber": f.seq, "State": map[string]any{"Stream": stream, "Data": "Ok", "Text": "All is well"},
				"Fields": map[string]any{"BID": 1.5, "ASK": 2, "DSPLY_NAME": n, "TRADE_DATE": "2024-04-06", "TRDTIM_1": "15:37:31.678", "HST_CLOSE": nil}})
		}
	case typ == "Generic":
		c.send(map[string]any{"ID": id, "Type": "Generic", "Fields": map[string]any{"ECHO": 1}})
	case typ == "Post":
		pid, _ := m["PostID"].(float64)
		msg, _ := m["Message"].(map[string]any)
		fields, _ := msg["Fields"].(map[string]any)
		if _, bad := fields["BAD"]; bad {
			c.send(map[string]any{"ID": id, "Type": "Ack", "AckID": pid, "NakCode": "SymbolUnknown", "Text": "no such item"})
			return
		}
		c.send(map[string]any{"ID": id, "Type": "Ack", "AckID": pid})
	}
}

// conn returns the i-th accepted connection.
func (f *fakeADS) conn(i int) *fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < len(f.conns) {
		return f.conns[i]
	}
	return nil
}

// streamID returns the stream ID the client uses for name on connection i.
func (f *fakeADS) streamID(i int, name string) int64 {
	c := f.conn(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.names[name]
}

func (f *fakeADS) messages() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.received...)
}

// push sends an Update for name on every connection where it is open.
func (f *fakeADS) push(name string, seq int64, fields map[string]any) {
	f.mu.Lock()
	conns := append([]*fakeConn(nil), f.conns...)
	f.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		id, ok := c.names[name]
		c.mu.Unlock()
		if ok {
			c.send(map[string]any{"ID": id, "Type": "Update", "UpdateType": "Quote", "SeqNumber": seq, "Fields": fields})
		}
	}
}

// drop closes every connection abruptly.
func (f *fakeADS) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.ws.CloseNow()
	}
}

// status sends a Status for name on every connection where it is open.
func (f *fakeADS) status(name, stream, text string) {
	f.mu.Lock()
	conns := append([]*fakeConn(nil), f.conns...)
	f.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		id, ok := c.names[name]
		delete(c.names, name)
		c.mu.Unlock()
		if ok {
			c.send(map[string]any{"ID": id, "Type": "Status", "State": map[string]any{"Stream": stream, "Data": "Suspect", "Text": text}})
		}
	}
}
