package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// hostileServer is a minimal tr_json2 endpoint (plain ws) that serves
// MarketPrice items with consecutive SeqNumbers and, on demand, sends the
// client frames the emulator cannot: malformed frames and oversize frames.
// The emulator has no fault for these (see docs/RELIABILITY.md).
type hostileServer struct {
	url     string
	srv     *http.Server
	ln      net.Listener
	inject  chan []byte // frames to send next, as they are
	logins  atomic.Int64
	wg      sync.WaitGroup
	closing chan struct{}
}

func startHostile(t *testing.T) *hostileServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileServer{ln: ln, inject: make(chan []byte, 20000), closing: make(chan struct{}),
		url: "ws://" + ln.Addr().String() + "/WebSocket"}
	h.srv = &http.Server{Handler: http.HandlerFunc(h.serve), ReadHeaderTimeout: 5 * time.Second}
	h.wg.Add(1)
	go func() { defer h.wg.Done(); h.srv.Serve(ln) }()
	t.Cleanup(func() {
		close(h.closing)
		h.srv.Close()
		h.wg.Wait()
	})
	return h
}

func (h *hostileServer) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"tr_json2"}})
	if err != nil {
		return
	}
	c.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer c.CloseNow()
	type req struct {
		ID     int64
		Domain string
		Type   string
		Key    struct{ Name any }
	}
	var mu sync.Mutex
	items := map[int64]string{}
	seqs := map[int64]int64{}
	write := func(b []byte) error {
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		defer wcancel()
		return c.Write(wctx, websocket.MessageText, b)
	}
	// Reader: Login, item requests, Pongs.
	go func() {
		defer cancel()
		for {
			_, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			var reqs []req
			if bytes.HasPrefix(bytes.TrimSpace(p), []byte("[")) {
				json.Unmarshal(p, &reqs)
			} else {
				var one req
				json.Unmarshal(p, &one)
				reqs = []req{one}
			}
			for _, q := range reqs {
				switch {
				case q.Type == "Ping":
					write([]byte(`{"Type":"Pong"}`))
				case q.Type == "Pong", q.Type == "Close":
				case q.Domain == "Login":
					h.logins.Add(1)
					write([]byte(`[{"ID":` + strconv.FormatInt(q.ID, 10) + `,"Type":"Refresh","Domain":"Login","Key":{"Name":"user","Elements":{"PingTimeout":30,"MaxMsgSize":61440}},"State":{"Stream":"Open","Data":"Ok","Text":"Login accepted"},"Elements":{"PingTimeout":30,"MaxMsgSize":61440}}]`))
				default:
					var names []string
					switch n := q.Key.Name.(type) {
					case string:
						names = []string{n}
					case []any:
						for i, x := range n {
							if s, ok := x.(string); ok {
								names = append(names, s)
								_ = i
							}
						}
					}
					for i, n := range names {
						id := q.ID
						if len(names) > 1 {
							id = q.ID + int64(i) + 1
						}
						mu.Lock()
						items[id] = n
						seqs[id] = 1000
						mu.Unlock()
						write([]byte(fmt.Sprintf(`[{"ID":%d,"Type":"Refresh","Key":{"Service":"ELEKTRON_DD","Name":%q},"State":{"Stream":"Open","Data":"Ok","Text":"All is well"},"SeqNumber":1000,"Fields":{"BID":1.5,"ASK":1.6}}]`, id, n)))
					}
				}
			}
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		case f := <-h.inject:
			if len(f) > 0 && f[0] == 0 {
				c.Write(ctx, websocket.MessageBinary, f)
			} else if write(f) != nil {
				return
			}
		case <-tick.C:
			mu.Lock()
			for id, n := range items {
				seqs[id]++
				if write([]byte(fmt.Sprintf(`[{"ID":%d,"Type":"Update","UpdateType":"Quote","Key":{"Service":"ELEKTRON_DD","Name":%q},"SeqNumber":%d,"Fields":{"BID":1.5}}]`, id, n, seqs[id]))) != nil {
					mu.Unlock()
					return
				}
			}
			mu.Unlock()
		}
	}
}

// hostileFramesToClient are malformed frames a broken or hostile server
// might send.
func hostileFramesToClient(n int) [][]byte {
	kinds := [][]byte{
		[]byte(`[{"ID":2,"Type":"Update","SeqNumber":"x","Fields":{"BID":`),
		[]byte(`[{"ID":"2","Type":"Update"}]`),
		[]byte(`[{"ID":2,"Type":"Bogus"}]`),
		[]byte(`{"Type":`),
		[]byte(strings.Repeat("[", 3000) + strings.Repeat("]", 3000)),
		[]byte(`[{"ID":999998,"Type":"Update","Fields":{"BID":1e99999}}]`),
		[]byte(`[null,7,"x",{}]`),
		[]byte("\xff\xfe\x00garbage"),
		{0, 1, 2, 3}, // binary frame
		[]byte(`[{"ID":999999,"Type":"Update","Fields":{}}]`),
	}
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, kinds[i%len(kinds)])
	}
	return out
}

// TestClientMalformedAndOversizeFrames: malformed frames from the server
// are counted and skipped without losing the connection or any update;
// a frame over the client's ReadLimit costs the connection, after which
// every item is re-imaged.
func TestClientMalformedAndOversizeFrames(t *testing.T) {
	h := startHostile(t)
	log := newSeqLog()
	ev := newEvents()
	ctx := scenarioCtx(t)
	ts := auth.NewManager(auth.StaticToken("opaque"), auth.Options{})
	defer ts.Close()
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{h.url}, TokenSource: ts,
		Handler: log.handle, OnEvent: ev.add, ReadLimit: 1 << 20,
		Reconnect: consumer.Reconnect{MinDelay: 30 * time.Millisecond, MaxDelay: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, []string{"AAA.N", "BBB.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	log.waitMore(t, 10, 5*time.Second)
	errs0 := c.Stats().Errors
	for _, f := range hostileFramesToClient(1000) {
		h.inject <- f
	}
	waitFor(t, ev, 15*time.Second, "malformed frames counted", func() bool { return c.Stats().Errors >= errs0+500 })
	log.waitMore(t, 20, 5*time.Second)
	if n := ev.count(kind(consumer.EventDisconnected)); n != 0 {
		t.Errorf("malformed frames cost the connection: %s", kinds(ev.snapshot()))
	}
	for _, n := range []string{"AAA.N", "BBB.N"} {
		checkNoDupWithinImages(t, n, log.get(n))
	}
	t.Logf("malformed: Stats.Errors %d → %d", errs0, c.Stats().Errors)

	// Oversize: 2 MiB against a 1 MiB ReadLimit.
	h.inject <- []byte(`[{"ID":2,"Type":"Update","Fields":{"X":"` + strings.Repeat("A", 2<<20) + `"}}]`)
	waitFor(t, ev, 10*time.Second, "reconnect after the oversize frame", func() bool { return c.Stats().Reconnects >= 1 })
	waitFor(t, ev, 10*time.Second, "items Ok", func() bool { return allOk(sub.Items()) })
	log.waitMore(t, 10, 5*time.Second)
	for _, n := range []string{"AAA.N", "BBB.N"} {
		refreshes := 0
		for _, r := range log.get(n) {
			if r.typ == trjson.TypeRefresh {
				refreshes++
			}
		}
		if refreshes < 2 {
			t.Errorf("%s not re-imaged after the oversize frame", n)
		}
	}
	t.Logf("oversize: %s", kinds(ev.snapshot()))
}

// TestCLIMalformedFrames: the CLI keeps streaming through malformed
// frames and prints no garbage on stdout.
func TestCLIMalformedFrames(t *testing.T) {
	h := startHostile(t)
	_, info := startEmu(t, emulator.Config{})
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimSuffix(h.url, "/WebSocket"), "ws://"))
	r := startCLI(t, cliEnv(info, 2), "stream", "-o", "jsonl", "--duration", "20s", "--ws", "--hostname", host, "--port", port, "AAA.N")
	r.waitLine(t, 0, 10*time.Second, "first update", func(l cliLine) bool { return l.Type == "Update" })
	for _, f := range hostileFramesToClient(1000) {
		h.inject <- f
	}
	mark := len(r.snapshot())
	r.waitLine(t, mark+50, 15*time.Second, "50 more updates", func(l cliLine) bool { return l.Type == "Update" })
	for _, l := range r.snapshot() {
		if l.Type != "Update" && l.Type != "Refresh" {
			t.Errorf("stdout carries a non-data line: %+v", l)
			break
		}
	}
	if h.logins.Load() != 1 {
		t.Errorf("the CLI logged in %d times: malformed frames cost the connection", h.logins.Load())
	}
	r.cmd.Process.Signal(interruptSignal)
	r.wait(t)
}
