package emulator_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/emulator"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t testing.TB, cfg emulator.Config) (*emulator.Emulator, *http.Client) {
	t.Helper()
	emu, err := emulator.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := emu.Close(); err != nil {
			t.Error(err)
		}
	})
	hc := &http.Client{Timeout: 10 * time.Second}
	if pem := emu.Info().CAPEM; pem != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	t.Cleanup(hc.CloseIdleConnections)
	return emu, hc
}

// v2Token gets a token the way the v2 examples do (client_credentials).
func v2Token(t testing.TB, emu *emulator.Emulator, hc *http.Client) string {
	t.Helper()
	in := emu.Info()
	resp, err := hc.PostForm(in.AuthURLV2, url.Values{"grant_type": {"client_credentials"}, "client_id": {in.ClientID},
		"client_secret": {in.ClientSecret}, "scope": {"trapi.streaming.pricing.read"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v %d", err, resp.StatusCode)
	}
	return tok.AccessToken
}

// wsClient is a raw tr_json2 client on coder/websocket.
type wsClient struct {
	t       testing.TB
	c       *websocket.Conn
	pending []map[string]any
}

func dialWS(t testing.TB, hc *http.Client, u string) *wsClient {
	return dialWSMode(t, hc, u, websocket.CompressionDisabled)
}

func dialWSMode(t testing.TB, hc *http.Client, u string, mode websocket.CompressionMode) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"tr_json2"}, HTTPClient: hc, CompressionMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "tr_json2" {
		t.Fatal("tr_json2 not selected")
	}
	c.SetReadLimit(16 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}
}

func (w *wsClient) send(s string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) next() map[string]any {
	w.t.Helper()
	for len(w.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, p, err := w.c.Read(ctx)
		cancel()
		if err != nil {
			w.t.Fatal(err)
		}
		if err := json.Unmarshal(p, &w.pending); err != nil {
			w.t.Fatalf("%v: %s", err, p)
		}
	}
	m := w.pending[0]
	w.pending = w.pending[1:]
	if m["Type"] == "Ping" {
		w.send(`{"Type":"Pong"}`)
		return w.next()
	}
	return m
}

func (w *wsClient) until(f func(map[string]any) bool) map[string]any {
	w.t.Helper()
	for range 100000 {
		if m := w.next(); f(m) {
			return m
		}
	}
	w.t.Fatal("not found")
	return nil
}

func (w *wsClient) login(token string) {
	w.t.Helper()
	w.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"127.0.0.1/net","AuthenticationToken":"` + token + `"}}}`)
	if m := w.next(); m["Type"] != "Refresh" {
		w.t.Fatalf("login: %v", m)
	}
}

func get(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, _ := v.(map[string]any)
		v = mm[p]
	}
	return v
}

// The RTO example flow end to end: v2 token, discovery, wss, Login, the
// example's item request, refresh and updates.
func TestRTOExampleFlow(t *testing.T) {
	emu, hc := start(t, emulator.Config{Rate: 20, RateSet: true})
	in := emu.Info()
	if len(in.Endpoints) != 3 || in.CAFile == "" || !strings.HasPrefix(in.Endpoints[0].URL, "wss://") {
		t.Fatalf("info %+v", in)
	}
	if _, err := os.Stat(in.CAFile); err != nil {
		t.Fatal(err)
	}
	tok := v2Token(t, emu, hc)

	req, _ := http.NewRequest(http.MethodGet, in.DiscoveryURL+"?transport=websocket", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Services []struct {
			Endpoint string   `json:"endpoint"`
			Port     int      `json:"port"`
			Location []string `json:"location"`
		} `json:"services"`
	}
	json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	var multi, single []string
	for _, s := range disc.Services {
		if !strings.HasPrefix(s.Location[0], "us-east-1") {
			continue
		}
		hp := fmt.Sprintf("%s:%d", s.Endpoint, s.Port)
		if len(s.Location) >= 2 {
			multi = append(multi, hp)
		} else {
			single = append(single, hp)
		}
	}
	if len(disc.Services) != 9 || len(multi) != 1 || len(single) != 2 {
		t.Fatalf("discovery %+v", disc)
	}

	c := dialWS(t, hc, "wss://"+multi[0]+"/WebSocket")
	c.login(tok)
	c.send(`{"ID":2,"Key":{"Name":"/TRI.N","Service":"ELEKTRON_DD"}}`)
	r := c.next()
	if r["Type"] != "Refresh" || get(r, "Key", "Name") != "/TRI.N" || get(r, "Qos", "Timeliness") != "Delayed" || r["PermData"] == nil {
		t.Fatalf("refresh %v", r)
	}
	if f, _ := r["Fields"].(map[string]any); len(f) < 20 || f["BID"] == nil || f["DSPLY_NAME"] == nil {
		t.Fatalf("refresh fields %v", r["Fields"])
	}
	u := c.until(func(m map[string]any) bool { return m["Type"] == "Update" })
	if u["ID"] != 2.0 || get(u, "Key", "Name") != "/TRI.N" || u["SeqNumber"] == nil {
		t.Fatalf("update %v", u)
	}
	c.send(`{"ID":3,"Domain":"MarketByPrice","Key":{"Name":"TRI.N"}}`)
	b := c.until(func(m map[string]any) bool { return m["ID"] == 3.0 })
	if b["Type"] != "Refresh" || get(b, "Map", "KeyType") != "Buffer" {
		t.Fatalf("book %.400v", b)
	}
	c.send(`{"ID":4,"Domain":"SymbolList","Key":{"Name":"0#.DJI"}}`)
	if s := c.until(func(m map[string]any) bool { return m["ID"] == 4.0 }); s["Type"] != "Refresh" {
		t.Fatalf("symbol list %.400v", s)
	}
	c.send(`{"ID":1,"Type":"Post","Ack":true,"PostID":1,"Key":{"Name":"/TRI.N"},"Message":{"ID":0,"Type":"Update","Fields":{"BID":45.55}}}`)
	c.until(func(m map[string]any) bool { return m["Type"] == "Update" && get(m, "Fields", "BID") == 45.55 })
	if a := c.until(func(m map[string]any) bool { return m["Type"] == "Ack" }); a["AckID"] != 1.0 || a["NakCode"] != nil {
		t.Fatalf("ack %v", a)
	}

	caFile := in.CAFile
	if err := emu.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(caFile); !os.IsNotExist(err) {
		t.Fatalf("CA file left behind: %v", err)
	}
}

// Hot standby: the two single-location endpoints deliver the same
// updates under the same SeqNumbers.
func TestHotStandbyPair(t *testing.T) {
	emu, hc := start(t, emulator.Config{Rate: 50, RateSet: true})
	tok := v2Token(t, emu, hc)
	in := emu.Info()
	a, b := dialWS(t, hc, in.Endpoints[1].URL), dialWS(t, hc, in.Endpoints[2].URL)
	a.login(tok)
	b.login(tok)
	a.send(`{"ID":2,"Key":{"Name":"IBM.N"}}`)
	b.send(`{"ID":2,"Key":{"Name":"IBM.N"}}`)
	seen := func(c *wsClient) map[float64]string {
		out := map[float64]string{}
		for len(out) < 20 {
			u := c.until(func(m map[string]any) bool { return m["Type"] == "Update" })
			f, _ := json.Marshal(u["Fields"])
			out[u["SeqNumber"].(float64)] = string(f)
		}
		return out
	}
	sa, sb := seen(a), seen(b)
	common := 0
	for s, f := range sa {
		if g, ok := sb[s]; ok {
			common++
			if g != f {
				t.Fatalf("seq %v: %s vs %s", s, f, g)
			}
		}
	}
	if common < 10 {
		t.Fatalf("%d common SeqNumbers", common)
	}
	st := emu.State()
	if st.Endpoints[1].Stats.Logins != 1 || st.Endpoints[2].Stats.Logins != 1 || st.Endpoints[1].Stats.MessagesSent == 0 {
		t.Fatalf("stats %+v", st.Endpoints)
	}
}

func adminPost(t *testing.T, hc *http.Client, base, fault, body string) (int, string) {
	t.Helper()
	resp, err := hc.Post(base+"faults/"+fault, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminAPI(t *testing.T) {
	emu, hc := start(t, emulator.Config{Rate: 50, RateSet: true, PlainWS: true})
	in := emu.Info()
	if !strings.HasPrefix(in.AdminURL, "http://") || !strings.HasPrefix(in.Endpoints[0].URL, "ws://") || in.CAFile != "" {
		t.Fatalf("plain info %+v", in)
	}
	tok := v2Token(t, emu, hc)
	c := dialWS(t, hc, in.Endpoints[0].URL)
	c.login(tok)
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(func(m map[string]any) bool { return m["Type"] == "Update" })

	resp, err := hc.Get(in.AdminURL + "state")
	if err != nil {
		t.Fatal(err)
	}
	var st emulator.State
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if len(st.Endpoints) != 3 || st.Endpoints[0].Stats.Connections != 1 || len(st.Items) == 0 || st.Items[0].Name != "TRI.N" || st.Items[0].LastSeq == 0 {
		t.Fatalf("state %+v", st)
	}

	if code, body := adminPost(t, hc, in.AdminURL, "item", `{"name":"TRI.N","state":"Suspect","recover_after":"50ms"}`); code != 200 || !strings.Contains(body, `"affected":1`) {
		t.Fatalf("%d %s", code, body)
	}
	s := c.until(func(m map[string]any) bool { return m["Type"] == "Status" })
	if get(s, "State", "Data") != "Suspect" {
		t.Fatalf("status %v", s)
	}
	c.until(func(m map[string]any) bool { return m["Type"] == "Refresh" && m["Solicited"] == false })

	c.send(`{"ID":3,"Key":{"Name":"IBM.N"}}`)
	c.until(func(m map[string]any) bool { return m["Type"] == "Refresh" && m["ID"] == 3.0 })
	if code, body := adminPost(t, hc, in.AdminURL, "item", `{"name":"IBM.N","state":"Redirected","redirect_to":"IBM.L"}`); code != 200 || !strings.Contains(body, `"affected":1`) {
		t.Fatalf("%d %s", code, body)
	}
	r := c.until(func(m map[string]any) bool { return m["Type"] == "Status" && m["ID"] == 3.0 })
	if get(r, "State", "Stream") != "Redirected" || get(r, "Key", "Name") != "IBM.L" {
		t.Fatalf("status %v", r)
	}

	for _, tc := range []struct{ fault, body string }{
		{"item", `{"name":"NOPE","state":"Closed"}`},
		{"item", `{"name":"TRI.N","state":"Redirected"}`},
		{"item", `{"name":"TRI.N","state":"Weird"}`},
		{"stall", `{"mode":"sideways"}`},
		{"kill", `{"endpoint":7}`},
		{"nope", `{}`},
		{"tokens", `{"action":"burn"}`},
		{"gateway", `{"target":"nowhere","status":500,"count":1}`},
		{"delay", `not json`},
	} {
		if code, body := adminPost(t, hc, in.AdminURL, tc.fault, tc.body); code == 200 {
			t.Fatalf("%s %s accepted: %s", tc.fault, tc.body, body)
		}
	}
	if code, body := adminPost(t, hc, in.AdminURL, "gateway", `{"target":"token_v2","status":503,"count":1}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	resp, err = hc.PostForm(in.AuthURLV2, url.Values{"grant_type": {"client_credentials"}, "client_id": {in.ClientID}, "client_secret": {in.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("gateway fault not applied: %d", resp.StatusCode)
	}

	if code, body := adminPost(t, hc, in.AdminURL, "tokens", `{"action":"revoke","reason":"admin says no"}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if s := c.until(func(m map[string]any) bool { return m["Type"] == "Status" && m["Domain"] == "Login" }); get(s, "State", "Text") != "admin says no" {
		t.Fatalf("status %v", s)
	}
	if code, body := adminPost(t, hc, in.AdminURL, "kill", `{"endpoint":0,"duration":"1ms"}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if code, _ := adminPost(t, hc, in.AdminURL, "pings", `{"send":true,"ignore_pongs":false}`); code != 200 {
		t.Fatal(code)
	}
	if code, _ := adminPost(t, hc, in.AdminURL, "refuse-logins", `{"count":0}`); code != 200 {
		t.Fatal(code)
	}
}

func TestStartErrors(t *testing.T) {
	for _, cfg := range []emulator.Config{
		{CertFile: "x"},
		{Topology: []emulator.Service{{Endpoint: 5, Location: []string{"a"}}}},
		{StreamAddrs: []string{"256.0.0.1:0"}},
	} {
		if emu, err := emulator.Start(context.Background(), cfg); err == nil {
			emu.Close()
			t.Fatalf("%+v accepted", cfg)
		}
	}
}

// permessage-deflate interop with another library (coder/websocket, which
// offers context takeover; the emulator answers without it).
func TestDeflateInterop(t *testing.T) {
	emu, hc := start(t, emulator.Config{Rate: 50, RateSet: true})
	for _, mode := range []websocket.CompressionMode{websocket.CompressionContextTakeover, websocket.CompressionNoContextTakeover} {
		c := dialWSMode(t, hc, emu.Info().Endpoints[0].URL, mode)
		c.login(v2Token(t, emu, hc))
		c.send(`{"ID":2,"Key":{"Name":["TRI.N","IBM.N"]}}`)
		for range 5 {
			c.until(func(m map[string]any) bool { return m["Type"] == "Update" })
		}
	}
}
