package consumer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/trjson"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeTokens is a TokenSource with renewals under the test's control.
type fakeTokens struct {
	mu      sync.Mutex
	tok     string
	version int
	subs    map[int]func(auth.Token)
	n       int
	fresh   int
}

func newFakeTokens(tok string, version int) *fakeTokens {
	return &fakeTokens{tok: tok, version: version, subs: map[int]func(auth.Token){}}
}

func (f *fakeTokens) Token(context.Context) (auth.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return auth.Token{AccessToken: f.tok}, nil
}

func (f *fakeTokens) Fresh(ctx context.Context) (auth.Token, error) {
	f.mu.Lock()
	f.fresh++
	f.mu.Unlock()
	return f.Token(ctx)
}

func (f *fakeTokens) Version() int { return f.version }

func (f *fakeTokens) Subscribe(fn func(auth.Token)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := f.n
	f.subs[id] = fn
	return func() { f.mu.Lock(); delete(f.subs, id); f.mu.Unlock() }
}

func (f *fakeTokens) renew(tok string) {
	f.mu.Lock()
	f.tok = tok
	var fns []func(auth.Token)
	for _, fn := range f.subs {
		fns = append(fns, fn)
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(auth.Token{AccessToken: tok})
	}
}

// eventLog collects events and lets a test wait for one.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
	ch  chan Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan Event, 1024)} }

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
	select {
	case l.ch <- ev:
	default:
	}
}

func (l *eventLog) wait(t *testing.T, d time.Duration, match func(Event) bool) Event {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-l.ch:
			if match(ev) {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no matching event within %v", d)
			return Event{}
		}
	}
}

func (l *eventLog) count(k EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func dialFake(t *testing.T, f *fakeADS, mod func(*Config)) (*Client, *eventLog) {
	t.Helper()
	el := newEventLog()
	cfg := Config{Endpoints: []string{f.url()}, TokenSource: newFakeTokens("good", 1), OnEvent: el.add,
		Reconnect: Reconnect{MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, el
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A batch request takes ID N and its k names N+1…N+k; the next request
// must use N+k+1 (§6.1). Typed accessors read the refresh fields.
func TestBatchIDsAndTypedFields(t *testing.T) {
	f := newFakeADS(t)
	var mu sync.Mutex
	got := map[string]*Msg{}
	c, _ := dialFake(t, f, func(cfg *Config) {
		cfg.Handler = func(m *Msg) {
			mu.Lock()
			got[m.Name] = m.Clone()
			mu.Unlock()
		}
	})
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"A.N", "B.N", "C.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	one, err := c.Subscribe(ctx, []string{"D.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := one.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"A.N", "B.N", "C.N"} {
		if id := f.streamID(0, n); id != int64(3+i) {
			t.Errorf("%s opened on ID %d, want %d", n, id, 3+i)
		}
		if st := sub.Items()[i].State(); st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
			t.Errorf("%s state %v", n, st)
		}
	}
	if id := f.streamID(0, "D.N"); id != 6 {
		t.Errorf("D.N opened on ID %d, want 6 (after batch 2 + names 3..5)", id)
	}
	mu.Lock()
	m := got["B.N"]
	mu.Unlock()
	if v, ok := m.Float("BID"); !ok || v != 1.5 {
		t.Errorf("BID = %v %v", v, ok)
	}
	if v, ok := m.Float("ASK"); !ok || v != 2 {
		t.Errorf("ASK (integer literal) as float = %v %v", v, ok)
	}
	if d, ok := m.Date("TRADE_DATE"); !ok || d != (Date{2024, 4, 6}) {
		t.Errorf("TRADE_DATE = %v %v", d, ok)
	}
	if tm, ok := m.Time("TRDTIM_1"); !ok || tm != (TimeOfDay{15, 37, 31, 678000000}) {
		t.Errorf("TRDTIM_1 = %v %v", tm, ok)
	}
	if !m.IsBlank("HST_CLOSE") {
		t.Error("HST_CLOSE should be blank")
	}
	if m.String("DSPLY_NAME") != "B.N" || len(m.Raw) == 0 {
		t.Errorf("DSPLY_NAME %q raw %q", m.String("DSPLY_NAME"), m.Raw)
	}
}

// Every outbound frame stays within the advertised MaxMsgSize, and all
// items of a large batch still open on distinct IDs.
func TestBatchChunkedUnderMaxMsgSize(t *testing.T) {
	f := newFakeADS(t)
	f.maxMsgSize = 400
	c, _ := dialFake(t, f, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ctx := waitCtx(t)
	var names []string
	for i := 0; i < 120; i++ {
		names = append(names, "ITEM"+strings.Repeat("X", i%7)+string(rune('A'+i%26))+".N"+string(rune('a'+i/26)))
	}
	sub, err := c.Subscribe(ctx, names, WithView("BID", "ASK"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	frames := append([]int(nil), f.frames...)
	f.mu.Unlock()
	for i, n := range frames[1:] { // frame 0 is the Login
		if n > 400 {
			t.Errorf("frame %d is %d bytes > MaxMsgSize 400", i+1, n)
		}
	}
	seen := map[int64]string{}
	for _, n := range names {
		id := f.streamID(0, n)
		if prev, dup := seen[id]; dup {
			t.Fatalf("ID %d used by %s and %s", id, prev, n)
		}
		seen[id] = n
	}
	batches := 0
	for _, m := range f.messages() {
		if k, ok := m["Key"].(map[string]any); ok {
			if _, ok := k["Name"].([]any); ok {
				batches++
				if _, ok := m["View"]; !ok {
					t.Error("batch without View")
				}
			}
		}
	}
	if batches < 2 {
		t.Errorf("want the 120 names split into several batches, got %d", batches)
	}
}

// A rejected Login is a typed error naming the server's text, at once.
func TestLoginRejected(t *testing.T) {
	f := newFakeADS(t)
	ctx := waitCtx(t)
	start := time.Now()
	_, err := Dial(ctx, Config{Endpoints: []string{f.url()}, TokenSource: newFakeTokens("expired", 1)})
	var le *LoginError
	if !errors.As(err, &le) {
		t.Fatalf("want *LoginError, got %v", err)
	}
	if le.State.Text != "token rejected" || le.State.Code != trjson.CodeNotEntitled {
		t.Errorf("LoginError %+v", le.State)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("login failure took too long")
	}
	// No retry storm: exactly one Login was sent.
	logins := 0
	for _, m := range f.messages() {
		if m["Domain"] == "Login" {
			logins++
		}
	}
	if logins != 1 {
		t.Errorf("%d Logins sent, want 1", logins)
	}
}

// JSON Pings are answered with JSON Pongs; a v1 renewal is a Login reissue
// with Refresh:false and the new token, without a reconnect; the token never
// reaches the log.
func TestPingPongReissueAndRedaction(t *testing.T) {
	f := newFakeADS(t)
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	tokens := newFakeTokens("good-SECRET-1", 1)
	c, el := dialFake(t, f, func(cfg *Config) {
		cfg.TokenSource = tokens
		cfg.Handler = func(*Msg) {}
		cfg.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{w: &logBuf, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	f.conn(0).sendRaw(`[{"Type":"Ping"}]`)
	waitFor(t, f, func(m map[string]any) bool { return m["Type"] == "Pong" })

	tokens.renew("good-SECRET-2")
	m := waitFor(t, f, func(m map[string]any) bool { return m["Domain"] == "Login" && m["Refresh"] == false })
	els := m["Key"].(map[string]any)["Elements"].(map[string]any)
	if els["AuthenticationToken"] != "good-SECRET-2" || m["Key"].(map[string]any)["NameType"] != "AuthnToken" || m["ID"] != float64(1) {
		t.Errorf("reissue %v", m)
	}
	el.wait(t, 5*time.Second, func(ev Event) bool { return ev.Kind == EventLoginReissued })
	if n := el.count(EventDisconnected); n != 0 {
		t.Errorf("%d disconnects during renewal", n)
	}
	if s := c.Stats(); s.LoginReissues != 1 || s.Reconnects != 0 {
		t.Errorf("stats %+v", s)
	}
	c.Close()
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logBuf.String(), "SECRET") {
		t.Errorf("token leaked into the log: %s", logBuf.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func waitFor(t *testing.T, f *fakeADS, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for _, m := range f.messages() {
		if match(m) {
			return m
		}
	}
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case m := <-f.got:
			if match(m) {
				return m
			}
		case <-timer.C:
			t.Fatal("expected message not received by the server")
			return nil
		}
	}
}

// Post returns nil on Ack and a *NakError with code and text on Nak.
func TestPostAckNak(t *testing.T) {
	f := newFakeADS(t)
	c, _ := dialFake(t, f, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ctx := waitCtx(t)
	if err := c.Post(ctx, Post{Name: "MY.RIC", Fields: []trjson.Field{trjson.Float("BID", 1.25)}}); err != nil {
		t.Fatalf("post: %v", err)
	}
	err := c.Post(ctx, Post{Name: "MY.RIC", Fields: []trjson.Field{trjson.Float("BAD", 1)}})
	var nak *NakError
	if !errors.As(err, &nak) || nak.Code != trjson.NakSymbolUnknown || nak.Text != "no such item" {
		t.Fatalf("want NakError, got %v", err)
	}
	m := waitFor(t, f, func(m map[string]any) bool { return m["Type"] == "Post" })
	if m["ID"] != float64(1) || m["Ack"] != true || m["PostUserInfo"] == nil {
		t.Errorf("off-stream post %v", m)
	}
	inner := m["Message"].(map[string]any)
	if inner["Type"] != "Update" || inner["Key"].(map[string]any)["Name"] != "MY.RIC" {
		t.Errorf("nested message %v", inner)
	}
}

// Malformed frames and unknown items produce events and states, never a panic.
func TestMalformedFrameAndUnknownItem(t *testing.T) {
	f := newFakeADS(t)
	c, el := dialFake(t, f, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ctx := waitCtx(t)
	f.conn(0).sendRaw(`[{"ID":2,"Type":`)
	el.wait(t, 5*time.Second, func(ev Event) bool { return ev.Kind == EventError })
	sub, err := c.Subscribe(ctx, []string{"BAD.RIC"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := sub.Item().State()
	if st.Stream != trjson.StreamClosed || st.Text != "The record could not be found" {
		t.Errorf("state %+v", st)
	}
	if s := c.Stats(); s.Conns[0].State != ConnLoggedIn {
		t.Errorf("connection not alive after malformed frame: %+v", s)
	}
}

// Losing the connection marks items Suspect; after reconnect they are
// re-requested and Ok again.
func TestReconnectRecoversItems(t *testing.T) {
	f := newFakeADS(t)
	c, el := dialFake(t, f, func(cfg *Config) { cfg.Handler = func(*Msg) {} })
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"A.N", "B.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	f.conn(0).ws.CloseNow()
	el.wait(t, 5*time.Second, func(ev Event) bool {
		return ev.Kind == EventItemState && ev.State.Data == trjson.DataSuspect
	})
	el.wait(t, 5*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
	for _, it := range sub.Items() {
		waitItem(t, el, it, trjson.StreamOpen, trjson.DataOk)
	}
	if f.streamID(1, "A.N") == 0 {
		t.Error("A.N not re-requested on the new connection")
	}
}

// waitItem waits until it shows the wanted state (checked first, then on
// each item-state event, so no change can be missed).
func waitItem(t *testing.T, el *eventLog, it *Item, stream trjson.StreamState, data trjson.DataState) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		if st := it.State(); st.Stream == stream && st.Data == data {
			return
		}
		select {
		case <-el.ch:
		case <-timer.C:
			t.Fatalf("%s: state %+v, want %v/%v", it.Name, it.State(), stream, data)
		}
	}
}
