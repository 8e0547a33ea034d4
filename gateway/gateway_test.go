package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/gateway"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/trjson"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is an emulator (the upstream RTO), a gateway logged in to it with a
// v2 service account, and one plain ws:// downstream endpoint.
type rig struct {
	t    *testing.T
	emu  *emulator.Emulator
	gw   *gateway.Gateway
	addr string // downstream host:port
}

func newRig(t *testing.T, ecfg emulator.Config, gcfg gateway.Config) *rig {
	t.Helper()
	return newRigAuth(t, ecfg, gcfg, false)
}

// newRigAuth is newRig with the upstream logged in with a v1 machine
// account (password grant) when v1 is set: v1 sessions must reissue
// their Login before the token expires.
func newRigAuth(t *testing.T, ecfg emulator.Config, gcfg gateway.Config, v1 bool) *rig {
	t.Helper()
	if !ecfg.RateSet {
		ecfg.Rate, ecfg.RateSet = 20, true
	}
	emu := testutil.StartEmulator(t, ecfg)
	info := emu.Info()
	grant := auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
	})
	if v1 {
		grant = auth.PasswordGrant(auth.PasswordConfig{TokenURL: info.AuthURLV1, Username: info.User,
			Password: info.Password, ClientID: info.ClientID, TakeExclusiveSignOnControl: true})
	}
	tokens := auth.NewManager(grant, auth.Options{TLSConfig: testutil.TLS(t, info)})
	t.Cleanup(func() { tokens.Close() })
	gcfg.Upstream.Endpoints = testutil.Endpoints(info)[:1]
	gcfg.Upstream.TokenSource = tokens
	gcfg.Upstream.TLS = consumer.TLS{CAPEM: info.CAPEM}
	gcfg.Upstream.Reconnect = consumer.Reconnect{MinDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gw, err := gateway.Start(ctx, gcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Serve(ln, nil); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, emu: emu, gw: gw, addr: ln.Addr().String()}
}

// upstreamSubscribers is the number of upstream streams the emulator
// counts for each item.
func (r *rig) upstreamSubscribers() map[string]int {
	out := map[string]int{}
	for _, it := range r.emu.State().Items {
		if it.Subscribers > 0 {
			out[it.Name] = it.Subscribers
		}
	}
	return out
}

// raw is a downstream client written from the spec, as LSEG's ADS
// examples talk: JSON arrays over a plain WebSocket, Pongs to Pings.
type raw struct {
	t       *testing.T
	nc      net.Conn
	r       *bufio.Reader
	pending []map[string]any
	mu      sync.Mutex // writes
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{Protocols: []string{"tr_json2"}}
	nc, br, _, err := d.Dial(ctx, "ws://"+addr+"/WebSocket")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if br == nil {
		br = bufio.NewReader(nc)
	}
	return &raw{t: t, nc: nc, r: br}
}

func (c *raw) send(s string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := wsutil.WriteClientText(c.nc, []byte(s)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *raw) tryNext(d time.Duration) (map[string]any, error) {
	for len(c.pending) == 0 {
		c.nc.SetReadDeadline(time.Now().Add(d))
		p, op, err := wsutil.ReadServerData(c.nc)
		if err != nil {
			return nil, err
		}
		if op != ws.OpText {
			continue
		}
		var arr []map[string]any
		if err := json.Unmarshal(p, &arr); err != nil {
			return nil, fmt.Errorf("frame is not a JSON array: %w: %s", err, p)
		}
		c.pending = arr
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

// until returns the first message f accepts; Pings are answered.
func (c *raw) until(what string, f func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 100000 {
		m, err := c.tryNext(10 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if m["Type"] == "Ping" {
			c.send(`{"Type":"Pong"}`)
		}
		if f(m) {
			return m
		}
	}
	c.t.Fatalf("no %s", what)
	return nil
}

func (c *raw) loginByName(name string) map[string]any {
	c.send(`{"ID":1,"Domain":"Login","Key":{"Name":"` + name + `","Elements":{"ApplicationId":"256","Position":"127.0.0.1/net"}}}`)
	return c.until("login reply", func(m map[string]any) bool { return m["Domain"] == "Login" })
}

func is(typ string, id float64) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["Type"] == typ && m["ID"] == id }
}

func state(m map[string]any, k string) any {
	st, _ := m["State"].(map[string]any)
	return st[k]
}

func field(m map[string]any, k string) any {
	f, _ := m["Fields"].(map[string]any)
	return f[k]
}

// An ADS-style client (login by name, plain ws) gets Refresh, Updates,
// Pings, and Pongs to its own Pings, through the gateway.
func TestADSStyleClient(t *testing.T) {
	r := newRig(t, emulator.Config{}, gateway.Config{Server: server.Config{PingTimeout: 3 * time.Second}})
	c := dialRaw(t, r.addr)
	if m := c.loginByName("alice"); m["Type"] != "Refresh" || state(m, "Data") != "Ok" {
		t.Fatalf("login: %v", m)
	}
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	ref := c.until("refresh", is("Refresh", 2))
	if field(ref, "BID") == nil || ref["SeqNumber"] == nil {
		t.Fatalf("refresh without BID or SeqNumber: %v", ref)
	}
	seq := ref["SeqNumber"].(float64)
	up := c.until("update", is("Update", 2))
	if up["SeqNumber"].(float64) != seq+1 {
		t.Fatalf("first update SeqNumber %v after refresh %v", up["SeqNumber"], seq)
	}
	c.until("ping from the gateway", func(m map[string]any) bool { return m["Type"] == "Ping" })
	c.send(`{"Type":"Ping"}`)
	c.until("pong", func(m map[string]any) bool { return m["Type"] == "Pong" })
	if got := r.upstreamSubscribers()["TRI.N"]; got != 1 {
		t.Fatalf("upstream streams of TRI.N: %d", got)
	}
}

// Many downstream streams of the same items cost one upstream stream
// each; every downstream client gets every update once, in order; the
// last Close closes the upstream stream.
func TestOneUpstreamStreamPerItem(t *testing.T) {
	r := newRig(t, emulator.Config{}, gateway.Config{})
	items := []string{"TRI.N", "IBM.N", "EUR=", "/TRI.N"}
	const clients = 6
	var cs []*raw
	for i := range clients {
		c := dialRaw(t, r.addr)
		c.loginByName(fmt.Sprint("user", i))
		c.send(`{"ID":2,"Key":{"Name":["` + strings.Join(items, `","`) + `"]}}`)
		cs = append(cs, c)
	}
	// Per client and item: the refresh, then 10 updates in SeqNumber
	// order, none missing, none twice.
	for ci, c := range cs {
		last := map[float64]float64{}
		updates := map[float64]int{}
		c.until("10 updates of every item", func(m map[string]any) bool {
			id, _ := m["ID"].(float64)
			switch m["Type"] {
			case "Refresh":
				last[id] = m["SeqNumber"].(float64)
			case "Update":
				prev, ok := last[id]
				if !ok {
					t.Fatalf("client %d: update before refresh: %v", ci, m)
				}
				if s := m["SeqNumber"].(float64); s != prev+1 {
					t.Fatalf("client %d stream %v: SeqNumber %v after %v", ci, id, s, prev)
				}
				last[id] = m["SeqNumber"].(float64)
				updates[id]++
			}
			if len(updates) < len(items) {
				return false
			}
			for _, n := range updates {
				if n < 10 {
					return false
				}
			}
			return true
		})
	}
	subs := r.upstreamSubscribers()
	for _, it := range items {
		if subs[it] != 1 {
			t.Fatalf("upstream streams: %v", subs)
		}
	}
	if n := len(r.gw.Hub().SourceItems()); n != len(items) {
		t.Fatalf("gateway items: %d", n)
	}
	for i, c := range cs {
		for j := range items {
			c.send(fmt.Sprintf(`{"ID":%d,"Type":"Close"}`, 3+j))
		}
		if i < len(cs)-1 && len(r.gw.Hub().SourceItems()) != len(items) {
			t.Fatal("an upstream item closed while downstream streams remain")
		}
	}
	waitFor(t, "upstream streams closed", func() bool { return len(r.upstreamSubscribers()) == 0 })
}

// waitFor polls a condition the system reaches asynchronously, bounded.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		<-tick.C
	}
}

// Upstream faults reach every downstream client as the right Status, and
// recover.
func TestUpstreamFaults(t *testing.T) {
	r := newRigAuth(t, emulator.Config{}, gateway.Config{}, true)
	a, b := dialRaw(t, r.addr), dialRaw(t, r.addr)
	for i, c := range []*raw{a, b} {
		c.loginByName(fmt.Sprint("u", i))
		c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
		c.until("refresh", is("Refresh", 2))
	}

	t.Run("unknown RIC", func(t *testing.T) {
		a.send(`{"ID":5,"Key":{"Name":"NO-SUCH.RIC"}}`)
		m := a.until("status", is("Status", 5))
		if state(m, "Stream") != "Closed" || state(m, "Code") != "NotFound" {
			t.Fatalf("unknown RIC: %v", m)
		}
	})

	t.Run("endpoint killed", func(t *testing.T) {
		if _, err := r.emu.KillEndpoint(0, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*raw{a, b} {
			m := c.until("suspect", is("Status", 2))
			if state(m, "Stream") != "Open" || state(m, "Data") != "Suspect" {
				t.Fatalf("after kill: %v", m)
			}
			m = c.until("recovery", is("Refresh", 2))
			if m["Solicited"] != false || state(m, "Data") != "Ok" {
				t.Fatalf("recovery: %v", m)
			}
			c.until("update after recovery", is("Update", 2))
		}
	})

	t.Run("item Suspect", func(t *testing.T) {
		if _, err := r.emu.ItemStatus("TRI.N", emulator.ItemSuspect, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*raw{a, b} {
			m := c.until("suspect", is("Status", 2))
			if state(m, "Data") != "Suspect" {
				t.Fatalf("suspect: %v", m)
			}
			if m := c.until("recovery", is("Refresh", 2)); state(m, "Data") != "Ok" {
				t.Fatalf("recovery: %v", m)
			}
		}
	})

	t.Run("token expiry", func(t *testing.T) {
		// The emulator ends the v1 session whose token expired; the
		// upstream session signs on again and recovers its items;
		// downstream sees at most Suspect, then an unsolicited Refresh
		// Ok, then updates again.
		before := r.gw.Upstream().Stats().Reconnects
		if n := r.emu.ExpireTokens(); n == 0 {
			t.Fatal("no token expired")
		}
		waitFor(t, "upstream reconnect", func() bool { return r.gw.Upstream().Stats().Reconnects > before })
		for _, c := range []*raw{a, b} {
			suspect := false
			c.until("updates after the reconnect", func(m map[string]any) bool {
				if m["ID"] != 2.0 {
					return false
				}
				switch m["Type"] {
				case "Status":
					if state(m, "Stream") != "Open" || state(m, "Data") != "Suspect" {
						t.Fatalf("status after token expiry: %v", m)
					}
					suspect = true
				case "Refresh":
					if !suspect || state(m, "Data") != "Ok" || m["Solicited"] != false {
						t.Fatalf("refresh after token expiry: %v (suspect before: %v)", m, suspect)
					}
					suspect = false
					return true
				}
				return false
			})
			c.until("update", is("Update", 2))
		}
	})

	t.Run("ClosedRecover", func(t *testing.T) {
		if _, err := r.emu.ItemStatus("TRI.N", emulator.ItemClosedRecover, 0); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*raw{a, b} {
			m := c.until("closed recover", is("Status", 2))
			if state(m, "Stream") != "ClosedRecover" {
				t.Fatalf("closed recover: %v", m)
			}
		}
		// The client re-requests, as the state tells it to.
		a.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
		if m := a.until("refresh", is("Refresh", 2)); state(m, "Data") != "Ok" {
			t.Fatalf("re-request: %v", m)
		}
	})
}

// A downstream client sending garbage, flooding, or never reading cannot
// hurt other clients or the upstream session.
func TestBadDownstreamClients(t *testing.T) {
	r := newRig(t, emulator.Config{Rate: 200, RateSet: true}, gateway.Config{Server: server.Config{QueueLimit: 2000}})
	good := dialRaw(t, r.addr)
	good.loginByName("good")
	good.send(`{"ID":2,"Key":{"Name":["TRI.N","IBM.N"]}}`)
	good.until("refresh", is("Refresh", 3))

	bad := dialRaw(t, r.addr)
	bad.loginByName("bad")
	bad.send(`this is not JSON`)
	if m := bad.until("error", func(m map[string]any) bool { return m["Type"] == "Error" }); m["Text"] == nil {
		t.Fatalf("error: %v", m)
	}
	// Oversize: the connection is closed with 1009, others go on.
	huge := dialRaw(t, r.addr)
	huge.loginByName("huge")
	huge.send(`[` + strings.Repeat(`{"Type":"Ping"},`, 10000) + `{"Type":"Ping"}]`)
	if _, err := huge.tryNext(5 * time.Second); err == nil {
		for {
			if _, err = huge.tryNext(5 * time.Second); err != nil {
				break
			}
		}
	}
	// A flood of requests and pings.
	flood := dialRaw(t, r.addr)
	flood.loginByName("flood")
	for i := range 2000 {
		flood.send(fmt.Sprintf(`{"ID":%d,"Key":{"Name":"TRI.N"}}`, 10+i%50))
	}
	// A client that never reads: dropped as a slow consumer once its
	// queue is full.
	slow := dialRaw(t, r.addr)
	slow.loginByName("slow")
	slow.send(`{"ID":2,"Key":{"Name":["TRI.N","IBM.N","EUR=","JPY=","GBP=","AAPL.O","MSFT.O","VOD.L"]}}`)
	waitFor(t, "slow consumer dropped", func() bool {
		for _, s := range r.gw.Stats().Downstream {
			if s.SlowDisconnects > 0 {
				return true
			}
		}
		return false
	})
	// The good client still gets contiguous updates, and the upstream
	// session never reconnected.
	last := -1.0
	for range 20 {
		m := good.until("update", is("Update", 3))
		s := m["SeqNumber"].(float64)
		if last >= 0 && s != last+1 {
			t.Fatalf("good client: SeqNumber %v after %v", s, last)
		}
		last = s
	}
	if rc := r.gw.Upstream().Stats().Reconnects; rc != 0 {
		t.Fatalf("upstream reconnected %d times", rc)
	}
}

// Access control: unknown users are refused, items outside a user's
// allow-list get NotEntitled, token users log in with their token.
func TestAccessControl(t *testing.T) {
	const tok = "0123456789abcdef-risk"
	acc, err := gateway.ParseAccess([]byte(`{"users":[
		{"name":"alice","allow":["*.N"],"deny":["IBM.N"]},
		{"name":"risk","token":"` + tok + `","allow":["*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, emulator.Config{}, gateway.Config{Access: acc})

	m := dialRaw(t, r.addr).loginByName("mallory")
	if m["Type"] != "Status" || state(m, "Stream") != "Closed" {
		t.Fatalf("unknown user: %v", m)
	}
	if m := dialRaw(t, r.addr).loginByName("risk"); m["Type"] != "Status" {
		t.Fatalf("token user by name: %v", m)
	}
	a := dialRaw(t, r.addr)
	a.loginByName("alice")
	a.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	a.until("refresh", is("Refresh", 2))
	for i, n := range []string{"IBM.N", "EUR="} {
		a.send(fmt.Sprintf(`{"ID":%d,"Key":{"Name":%q}}`, 3+i, n))
		if m := a.until("status", is("Status", float64(3+i))); state(m, "Code") != "NotEntitled" {
			t.Fatalf("%s: %v", n, m)
		}
	}
	tc := dialRaw(t, r.addr)
	tc.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"127.0.0.1","AuthenticationToken":"` + tok + `"}}}`)
	if m := tc.until("login", func(m map[string]any) bool { return m["Domain"] == "Login" }); m["Type"] != "Refresh" {
		t.Fatalf("token login: %v", m)
	}
	tc.send(`{"ID":2,"Key":{"Name":"EUR="}}`)
	tc.until("refresh", is("Refresh", 2))
	bad := dialRaw(t, r.addr)
	bad.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"wrong-token-000000"}}}`)
	if m := bad.until("login", func(m map[string]any) bool { return m["Domain"] == "Login" }); m["Type"] != "Status" {
		t.Fatalf("wrong token: %v", m)
	}
}

func TestAccessFileErrors(t *testing.T) {
	for _, c := range []string{
		`{"users":[{"name":"a","allow":["["]}]}`,
		`{"users":[{"name":"a"},{"name":"a"}]}`,
		`{"users":[{"name":"a","token":"short"}]}`,
		`{"users":[{"nam":"a"}]}`,
		`{"users":[{"allow":["*"]}]}`,
		`not json`,
		`{"users":[]} {"users":[{"name":"extra","allow":["*"]}]}`,
	} {
		if _, err := gateway.ParseAccess([]byte(c)); !errors.Is(err, gateway.ErrAccess) {
			t.Errorf("%s: %v", c, err)
		}
	}
}

// The SDK itself works downstream of the gateway (login by name), posts
// are forwarded upstream and acknowledged.
func TestSDKDownstreamAndPost(t *testing.T) {
	r := newRig(t, emulator.Config{}, gateway.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{"ws://" + r.addr + "/WebSocket"}, UserName: "sdk"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, []string{"TRI.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Post(ctx, consumer.Post{Name: "TRI.N", Fields: []trjson.Field{trjson.Float("BID", 123.25)}}); err != nil {
		t.Fatalf("post through the gateway: %v", err)
	}
	// The post reaches the emulator, whose update comes back downstream.
	for {
		select {
		case m := <-c.Messages():
			if v, ok := m.Float("BID"); ok && v == 123.25 && m.Type == trjson.TypeUpdate {
				return
			}
		case <-ctx.Done():
			t.Fatal("the posted value never came back downstream")
		}
	}
}

// With a hot-standby pair upstream, losing one endpoint is invisible
// downstream: no Status, no gap, no repeat.
func TestUpstreamHotStandby(t *testing.T) {
	emu := testutil.StartEmulator(t, emulator.Config{Rate: 50, RateSet: true})
	info := emu.Info()
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
	}), auth.Options{TLSConfig: testutil.TLS(t, info)})
	defer tokens.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	eps := testutil.Endpoints(info)
	gw, err := gateway.Start(ctx, gateway.Config{Upstream: consumer.Config{Endpoints: eps[:2], HotStandby: true,
		TokenSource: tokens, TLS: consumer.TLS{CAPEM: info.CAPEM},
		Reconnect: consumer.Reconnect{MinDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Serve(ln, nil); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, ln.Addr().String())
	c.loginByName("hs")
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	last := c.until("refresh", is("Refresh", 2))["SeqNumber"].(float64)
	check := func(n int) {
		for range n {
			m := c.until("update", func(m map[string]any) bool { return m["ID"] == 2.0 })
			if m["Type"] != "Update" {
				t.Fatalf("downstream saw %v", m)
			}
			if s := m["SeqNumber"].(float64); s != last+1 {
				t.Fatalf("SeqNumber %v after %v", s, last)
			}
			last = m["SeqNumber"].(float64)
		}
	}
	check(10)
	if _, err := emu.KillEndpoint(0, time.Second); err != nil {
		t.Fatal(err)
	}
	check(100) // two seconds at 50/s: across the loss and the return
	if subs := emu.State().Items; len(subs) == 0 {
		t.Fatal("no upstream items")
	}
}

// applyBook applies a Map payload (Refresh part or Update) to a book of
// entries by key.
func applyBook(book map[string]map[string]any, m map[string]any) {
	mp, _ := m["Map"].(map[string]any)
	entries, _ := mp["Entries"].([]any)
	for _, e := range entries {
		en := e.(map[string]any)
		k := fmt.Sprint(en["Key"])
		fields, _ := en["Fields"].(map[string]any)
		switch en["Action"] {
		case "Delete":
			delete(book, k)
		case "Update":
			if book[k] == nil {
				book[k] = map[string]any{}
			}
			for f, v := range fields {
				book[k][f] = v
			}
		default:
			book[k] = map[string]any{}
			for f, v := range fields {
				book[k][f] = v
			}
		}
	}
}

// Order books go through the gateway: one upstream stream, and a later
// client's cached image equals what an earlier client built from the
// same SeqNumber.
func TestOrderBookThroughGateway(t *testing.T) {
	r := newRig(t, emulator.Config{}, gateway.Config{})
	a := dialRaw(t, r.addr)
	a.loginByName("a")
	a.send(`{"ID":2,"Domain":"MarketByPrice","Key":{"Name":"TRI.N"}}`)
	book := map[string]map[string]any{}
	states := map[float64]string{} // SeqNumber → canonical book
	record := func(m map[string]any) {
		applyBook(book, m)
		b, _ := json.Marshal(book)
		states[m["SeqNumber"].(float64)] = string(b)
	}
	complete := false
	for !complete {
		m := a.until("book refresh", is("Refresh", 2))
		applyBook(book, m)
		complete = m["Complete"] != false
		if complete {
			record(map[string]any{"SeqNumber": m["SeqNumber"]})
		}
	}
	if len(book) == 0 {
		t.Fatal("empty book")
	}
	for range 5 {
		record(a.until("book update", is("Update", 2)))
	}
	b := dialRaw(t, r.addr)
	b.loginByName("b")
	b.send(`{"ID":7,"Domain":"MarketByPrice","Key":{"Name":"TRI.N"}}`)
	bbook := map[string]map[string]any{}
	var seq float64
	for complete = false; !complete; {
		m := b.until("cached book", is("Refresh", 7))
		applyBook(bbook, m)
		complete, seq = m["Complete"] != false, m["SeqNumber"].(float64)
	}
	// a may be behind b: read a's updates up to b's SeqNumber.
	for states[seq] == "" {
		m := a.until("book update", is("Update", 2))
		if m["SeqNumber"].(float64) > seq {
			t.Fatalf("a jumped past %v to %v", seq, m["SeqNumber"])
		}
		record(m)
	}
	got, _ := json.Marshal(bbook)
	if string(got) != states[seq] {
		t.Fatalf("cached book at %v differs from the book built from updates:\n%s\n%s", seq, got, states[seq])
	}
	for _, it := range r.emu.State().Items {
		if strings.Contains(it.Name, "TRI.N") && it.Subscribers > 1 {
			t.Fatalf("%s has %d upstream streams", it.Name, it.Subscribers)
		}
	}
}

// A request while the upstream connection is down gets Open/Suspect at
// once, then its Refresh when the upstream is back.
func TestRequestWhileUpstreamDown(t *testing.T) {
	r := newRig(t, emulator.Config{}, gateway.Config{})
	c := dialRaw(t, r.addr)
	c.loginByName("u")
	if _, err := r.emu.KillEndpoint(0, 700*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "upstream down", func() bool {
		for _, cs := range r.gw.Upstream().Stats().Conns {
			if cs.State == consumer.ConnLoggedIn {
				return false
			}
		}
		return true
	})
	c.send(`{"ID":2,"Key":{"Name":"IBM.N"}}`)
	m := c.until("status", func(m map[string]any) bool { return m["ID"] == 2.0 })
	if m["Type"] != "Status" || state(m, "Stream") != "Open" || state(m, "Data") != "Suspect" {
		t.Fatalf("while upstream down: %v", m)
	}
	m = c.until("refresh", is("Refresh", 2))
	if state(m, "Data") != "Ok" || m["Solicited"] == false {
		t.Fatalf("after recovery: %v", m)
	}
}

// The same RIC in two domains is two upstream items, each answered on its
// own stream, and the upstream's PermData reaches downstream clients.
func TestSameNameTwoDomains(t *testing.T) {
	r := newRig(t, emulator.Config{}, gateway.Config{})
	c := dialRaw(t, r.addr)
	c.loginByName("d")
	c.send(`[{"ID":2,"Key":{"Name":"TRI.N"}},{"ID":3,"Domain":"MarketByPrice","Key":{"Name":"TRI.N"}}]`)
	mp := c.until("MarketPrice refresh", is("Refresh", 2))
	if mp["Domain"] != nil && mp["Domain"] != "MarketPrice" {
		t.Fatalf("stream 2 got %v", mp)
	}
	if mp["PermData"] == nil || mp["PermData"] == "" {
		t.Errorf("MarketPrice refresh without the upstream's PermData: %v", mp)
	}
	if f := mp["Fields"].(map[string]any); f["BID"] == nil {
		t.Errorf("MarketPrice refresh without BID: %v", mp)
	}
	mbp := c.until("MarketByPrice refresh", is("Refresh", 3))
	if mbp["Domain"] != "MarketByPrice" || mbp["Map"] == nil {
		t.Fatalf("stream 3 got %v", mbp)
	}
	// Updates keep flowing on both streams.
	c.until("MarketPrice update", is("Update", 2))
	c.until("MarketByPrice update", is("Update", 3))
}
