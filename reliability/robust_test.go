package reliability

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// rawDial opens a raw tr_json2 WebSocket to url.
func rawDial(ctx context.Context, hc *http.Client, url string) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"tr_json2"}, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(16 << 20)
	return c, nil
}

// rawLogin sends a Login with a fresh v2 token and waits for its Refresh.
func rawLogin(ctx context.Context, c *websocket.Conn, token string) error {
	login := `{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"127.0.0.1/net","AuthenticationToken":"` + token + `"}}}`
	if err := c.Write(ctx, websocket.MessageText, []byte(login)); err != nil {
		return err
	}
	_, p, err := c.Read(ctx)
	if err != nil {
		return err
	}
	if !bytes.Contains(p, []byte(`"Refresh"`)) {
		return fmt.Errorf("login answered %s", p)
	}
	return nil
}

// drain reads and discards until the connection ends.
func drain(c *websocket.Conn) {
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			return
		}
	}
}

// malformed returns the i-th hostile frame: broken JSON, wrong types,
// unknown enumerations, missing keys, deep nesting, huge numbers, binary.
func malformed(i int, r *rand.Rand) (websocket.MessageType, []byte) {
	switch i % 10 {
	case 0:
		b := make([]byte, 1+r.IntN(200))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		return websocket.MessageText, b
	case 1:
		return websocket.MessageText, []byte(`{"ID":` + fmt.Sprint(i) + `,"Key":{"Name":"TRI.N"`)
	case 2:
		return websocket.MessageText, []byte(`{"ID":"2","Key":{"Name":"TRI.N"}}`)
	case 3:
		return websocket.MessageText, []byte(`{"ID":3,"Type":"ExtraInfo","Key":{"Name":"TRI.N"}}`)
	case 4:
		return websocket.MessageText, []byte(`{"Key":{"Name":"TRI.N"}}`)
	case 5:
		return websocket.MessageText, []byte(strings.Repeat("[", 5000) + strings.Repeat("]", 5000))
	case 6:
		return websocket.MessageText, []byte(`[{"ID":1e999999,"Domain":"MarketPrice","Key":{"Name":null}}]`)
	case 7:
		return websocket.MessageBinary, []byte{0, 1, 2, 3, 0xff}
	case 8:
		return websocket.MessageText, []byte(`[{"ID":5,"Type":"Post","PostID":-1,"Message":{"Fields":{"BID":"x"}}},{},null,7]`)
	default:
		return websocket.MessageText, []byte(`{"ID":4,"Domain":"Login","Key":{"Elements":{"AuthenticationToken":123}}}`)
	}
}

// TestEmulatorRobustness: 10,000 malformed frames, oversize frames, a
// request flood and 1,000 connections opening and closing, against the
// endpoint that also serves a well-behaved SDK client. The emulator stays
// up with bounded memory and the SDK client's stream is unaffected: no
// disconnect, no lost or repeated update.
func TestEmulatorRobustnessFrames(t *testing.T) { robustness(t, true, false) }

// TestEmulatorRobustnessChurn: 1,000 connections opening and closing (a
// separate scenario to stay within 30 s under the race detector).
func TestEmulatorRobustnessChurn(t *testing.T) { robustness(t, false, true) }

func robustness(t *testing.T, frames, churn bool) {
	emu, info := startEmu(t, emulator.Config{Rate: 20, RateSet: true})
	ctx := scenarioCtx(t)
	ts := tokens(t, info, v2Grant(info), nil)
	log := newSeqLog()
	c, ev := dial(t, info, ts, func(cfg *consumer.Config) {
		cfg.Handler = log.handle
		cfg.Endpoints = endpoints(info)[:1]
	})
	sub := subscribeAll(t, ctx, c, matrixItems)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: emuTLS(t, info), MaxIdleConnsPerHost: 1}}
	t.Cleanup(hc.CloseIdleConnections)
	url := info.Endpoints[0].URL
	tok, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h0 := heapMB()
	t0 := time.Now()
	phase := func(name string) { t.Logf("%s done at %s", name, time.Since(t0).Round(time.Millisecond)) }
	var peak atomic.Int64
	sampleHeap := func() {
		if h := int64(heapMB()); h > peak.Load() {
			peak.Store(h)
		}
	}

	// 1. 10,000 malformed frames on logged-in connections (re-dialled if
	// the emulator drops one), read concurrently.
	if frames {
		hostileFrames(t, ctx, hc, url, tok.AccessToken, phase)
		sampleHeap()
	}
	if churn {
		connectionChurn(t, ctx, hc, url, tok.AccessToken)
		sampleHeap()
		phase("1,000 connections")
	}
	assertUndisturbed(t, emu, ev, log, sub, h0, peak.Load())
}

func hostileFrames(t *testing.T, ctx context.Context, hc *http.Client, url, token string, phase func(string)) {
	r := rand.New(rand.NewPCG(1, 2))
	sent, redials := 0, 0
	for sent < 10000 && redials < 50 {
		conn, err := rawDial(ctx, hc, url)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if err := rawLogin(ctx, conn, token); err != nil {
			t.Fatalf("login: %v", err)
		}
		done := make(chan struct{})
		go func() { defer close(done); drain(conn) }()
		for ; sent < 10000; sent++ {
			typ, b := malformed(sent, r)
			if err := conn.Write(ctx, typ, b); err != nil {
				break
			}
		}
		conn.Close(websocket.StatusNormalClosure, "")
		<-done
		redials++
	}
	if sent < 10000 {
		t.Fatalf("only %d malformed frames sent", sent)
	}
	phase(fmt.Sprintf("malformed: %d frames over %d connections", sent, redials))

	// 2. Oversize frames: closed with 1009, every time.
	for i := 0; i < 20; i++ {
		conn, err := rawDial(ctx, hc, url)
		if err != nil {
			t.Fatal(err)
		}
		big := append([]byte(`{"ID":2,"Key":{"Name":"`), bytes.Repeat([]byte("A"), 61440+i*1000)...)
		big = append(big, `"}}`...)
		_ = conn.Write(ctx, websocket.MessageText, big)
		_, _, err = conn.Read(ctx)
		if st := websocket.CloseStatus(err); st != websocket.StatusMessageTooBig {
			t.Errorf("oversize frame %d: close status %v (%v), want 1009", i, st, err)
		}
		conn.CloseNow()
	}
	phase("oversize")

	// 3. Request flood: 20,000 item requests without reading a byte.
	conn, err := rawDial(ctx, hc, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := rawLogin(ctx, conn, token); err != nil {
		t.Fatal(err)
	}
	floodCtx, cancelFlood := context.WithTimeout(ctx, 5*time.Second)
	flooded := 0
	for ; flooded < 20000; flooded++ {
		req := fmt.Sprintf(`{"ID":%d,"Key":{"Name":"%s"}}`, flooded+2, matrixItems[flooded%3])
		if err := conn.Write(floodCtx, websocket.MessageText, []byte(req)); err != nil {
			break
		}
	}
	cancelFlood()
	conn.CloseNow()
	phase(fmt.Sprintf("flood: %d requests written before the emulator stopped reading or dropped the client", flooded))

}

// connectionChurn opens and closes 1,000 connections, 50 at a time: half
// close before logging in, half after; a third abruptly.
func connectionChurn(t *testing.T, ctx context.Context, hc *http.Client, url, token string) {
	var wg sync.WaitGroup
	var failed atomic.Int64
	sem := make(chan struct{}, 50)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			conn, err := rawDial(ctx, hc, url)
			if err != nil {
				failed.Add(1)
				return
			}
			if i%2 == 1 {
				if err := rawLogin(ctx, conn, token); err != nil {
					failed.Add(1)
				}
			}
			if i%3 == 0 {
				conn.CloseNow()
			} else {
				conn.Close(websocket.StatusNormalClosure, "")
			}
		}(i)
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of 1,000 connections failed to open or log in", n)
	}
}

func assertUndisturbed(t *testing.T, emu *emulator.Emulator, ev *events, log *seqLog, sub *consumer.Subscription, h0 float64, peak int64) {

	// The emulator is up, back to one connection, and the SDK client's
	// stream was never disturbed.
	waitFor(t, ev, 10*time.Second, "only the SDK client connected", func() bool {
		return emu.State().Endpoints[0].Stats.Connections == 1
	})
	log.waitMore(t, 10, 10*time.Second)
	if n := ev.count(kind(consumer.EventDisconnected)); n > 0 {
		t.Errorf("the well-behaved client was disconnected: %s", kinds(ev.snapshot()))
	}
	if !allOk(sub.Items()) {
		t.Error("the well-behaved client's items are not Ok")
	}
	for _, n := range matrixItems {
		rs := log.get(n)
		refreshes := 0
		for _, r := range rs {
			if r.typ == trjson.TypeRefresh {
				refreshes++
			}
		}
		if refreshes != 1 {
			t.Errorf("%s re-imaged %d times", n, refreshes)
		}
		checkNoDupWithinImages(t, n, rs)
	}
	st := emu.State().Endpoints[0].Stats
	t.Logf("emulator endpoint 0: %+v; heap %.1f MB → peak %d MB", st, h0, peak)
	if float64(peak) > h0+128 {
		t.Errorf("heap grew from %.1f MB to %d MB", h0, peak)
	}
}
