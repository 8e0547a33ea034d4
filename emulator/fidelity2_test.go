package emulator_test

// Issue #15: what a real ADS / RTO accepts that the emulator refused,
// checked over raw WebSocket conversations and raw HTTP (not the SDK).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ertkit/ertkit/emulator"
)

// isID matches the first message on stream id.
func isID(id int) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["ID"] == float64(id) }
}

// TestBooleanPrimitives: LSEG's converter takes any JSON primitive for a
// boolean key (true and 1 are true, other primitives false); only
// strings, objects and arrays are errors.
func TestBooleanPrimitives(t *testing.T) {
	emu, hc := start(t, emulator.Config{Rate: 50, RateSet: true})
	c := dialWS(t, hc, emu.Info().Endpoints[0].URL)
	c.login(v2Token(t, emu, hc))

	// "Streaming":1 is a streaming request: a Refresh, then Updates.
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"},"Streaming":1}`)
	if r := c.until(isID(2)); r["Type"] != "Refresh" || get(r, "State", "Stream") != "Open" {
		t.Fatalf("Streaming:1 got %v", r)
	}
	c.until(func(m map[string]any) bool { return m["Type"] == "Update" && m["ID"] == 2.0 })

	// 0 and null (and any other primitive) are false: a snapshot.
	for i, v := range []string{"0", "null", "2", "false"} {
		id := 3 + i
		c.send(fmt.Sprintf(`{"ID":%d,"Key":{"Name":"IBM.N"},"Streaming":%s}`, id, v))
		if r := c.until(isID(id)); r["Type"] != "Refresh" || get(r, "State", "Stream") != "NonStreaming" {
			t.Fatalf("Streaming:%s got %v", v, r)
		}
	}

	// A string is still a type error, answered on the request's ID.
	c.send(`{"ID":9,"Key":{"Name":"TRI.N"},"Streaming":"true"}`)
	e := c.until(func(m map[string]any) bool { return m["Type"] == "Error" })
	if e["ID"] != 9.0 || !strings.Contains(fmt.Sprint(e["Text"]), "Expected 'PRIMITIVE' for key 'Streaming' Received 'STRING'") {
		t.Fatalf("Streaming:\"true\" got %v", e)
	}

	// "Ack":1 on a Post asks for an Ack; "Refresh":0 on a Login reissue
	// suppresses the Login refresh.
	c.send(`{"ID":1,"Type":"Post","Ack":1,"PostID":7,"Key":{"Name":"TRI.N"},"Message":{"ID":0,"Type":"Update","Fields":{"BID":45.55}}}`)
	if a := c.until(func(m map[string]any) bool { return m["Type"] == "Ack" }); a["AckID"] != 7.0 || a["NakCode"] != nil {
		t.Fatalf("Ack:1 got %v", a)
	}
	c.send(`{"ID":1,"Domain":"Login","Refresh":0,"Pause":0,"Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"` + v2Token(t, emu, hc) + `"}}}`)
	// The next answer on a new stream must not be preceded by a Login refresh.
	c.send(`{"ID":10,"Key":{"Name":"T.N"},"Streaming":0}`)
	if m := c.until(func(m map[string]any) bool { return m["ID"] == 10.0 || m["Domain"] == "Login" }); m["ID"] != 10.0 {
		t.Fatalf("Login reissue with Refresh:0 answered %v", m)
	}
}

// specRIC is an item the spec's examples request, in its domain, with the
// service its request sample names ("" for none).
type specRIC struct{ name, domain, service string }

// ricPattern is what an instrument code looks like in the spec.
var ricPattern = regexp.MustCompile(`^[A-Za-z0-9.#=/]+$`)

// specRICs extracts the items of the spec's examples from the samples
// checked in under trjson/testdata (cut from the spec text): every
// Key.Name of a non-Login message (batch arrays included), and the
// constituents (base64 Buffer keys) of Symbol List maps; the service is
// the Key.Service of a request sample (a message without Type).
func specRICs(t *testing.T) []specRIC {
	t.Helper()
	files, _ := filepath.Glob("../trjson/testdata/spec/*.json")
	frags, _ := filepath.Glob("../trjson/testdata/spec-fragments/*.json")
	if len(files) < 50 {
		t.Fatalf("spec samples missing (%d)", len(files))
	}
	seen := map[[2]string]int{} // name, domain → index in out
	var out []specRIC
	add := func(name, domain, service string) {
		k := [2]string{name, domain}
		if i, ok := seen[k]; ok {
			if out[i].service == "" {
				out[i].service = service
			}
			return
		}
		seen[k] = len(out)
		out = append(out, specRIC{name, domain, service})
	}
	var walk func(v any, symbolList bool)
	walk = func(v any, symbolList bool) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e, symbolList)
			}
		case map[string]any:
			domain, _ := v["Domain"].(string)
			if domain == "" {
				domain = "MarketPrice"
			}
			if k, ok := v["Key"].(map[string]any); ok && domain != "Login" {
				service := ""
				if _, isMsg := v["Type"]; !isMsg {
					service, _ = k["Service"].(string)
				}
				switch n := k["Name"].(type) {
				case string:
					add(n, domain, service)
				case []any:
					for _, e := range n {
						add(fmt.Sprint(e), domain, service)
					}
				}
			}
			if s, ok := v["Key"].(string); ok && v["Action"] != nil && symbolList {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil && ricPattern.Match(b) {
					add(string(b), "MarketPrice", "")
				}
			}
			for _, e := range v {
				walk(e, symbolList || domain == "SymbolList")
			}
		}
	}
	for _, f := range append(files, frags...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// Fragments are shown alone in the spec; the Symbol List's are its
		// entries (§35.2.2).
		walk(v, strings.Contains(f, "Symbol_List"))
	}
	return out
}

// specTextRICs reads the spec text itself when it is next to the
// repository (../shared/reference, as on the build machine) and returns
// every name it quotes as a Key Name or a Symbol List Buffer key.
func specTextRICs(t *testing.T) ([]string, bool) {
	for _, dir := range []string{"../../shared/reference", "../../../shared/reference"} {
		b, err := os.ReadFile(filepath.Join(dir, "WebsocketAPI_ProtocolSpecification.txt"))
		if err != nil {
			continue
		}
		text := string(b)
		var names []string
		for _, m := range regexp.MustCompile(`"Name"\s*:\s*"([^"]+)"`).FindAllStringSubmatch(text, -1) {
			names = append(names, m[1])
		}
		for _, m := range regexp.MustCompile(`"Name"\s*:\s*\[([^\]]*)\]`).FindAllStringSubmatch(text, -1) {
			for _, q := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(m[1], -1) {
				names = append(names, q[1])
			}
		}
		// Buffer keys name instruments only in the Symbol List sample
		// (§35.2.2); a book's keys are prices and sides.
		sl := text
		if a := regexp.MustCompile(`(?m)^35\.2\.2\s+Symbol List Refresh`).FindStringIndex(sl); a != nil {
			sl = sl[a[0]:]
		}
		if b := regexp.MustCompile(`(?m)^35\.2\.3\s`).FindStringIndex(sl); b != nil {
			sl = sl[:b[0]]
		}
		for _, m := range regexp.MustCompile(`"Key"\s*:\s*"([A-Za-z0-9+/]+=*)"`).FindAllStringSubmatch(sl, -1) {
			if b, err := base64.StdEncoding.DecodeString(m[1]); err == nil && ricPattern.Match(b) {
				names = append(names, string(b))
			}
		}
		return names, true
	}
	return nil, false
}

// TestSpecInstruments requests every item of the spec's examples in the
// spec's domain and checks the answer is realistic.
func TestSpecInstruments(t *testing.T) {
	rics := specRICs(t)
	names := map[string]bool{}
	for _, r := range rics {
		names[r.name] = true
	}
	for _, want := range []string{"TRI.N", "IBM.N", "T.N", "TRI.TO", "MSFT.O", ".AV.N", "F.N", "WFT.N", "NOK.N", "S.N"} {
		if !names[want] {
			t.Errorf("extraction missed %s (got %v)", want, rics)
		}
	}
	if text, ok := specTextRICs(t); ok {
		for _, n := range text {
			if !names[n] && n != "user" && n != "wsapiqa" {
				t.Errorf("the spec text names %q, which the checked-in samples lack", n)
			}
		}
	} else {
		t.Log("spec text not found next to the repository; samples only")
	}

	emu, hc := start(t, emulator.Config{Rate: 20, RateSet: true})
	c := dialWS(t, hc, emu.Info().Endpoints[0].URL)
	c.login(v2Token(t, emu, hc))
	for i, r := range rics {
		id := 10 + i
		svc := ""
		if r.service != "" {
			svc = fmt.Sprintf(`,"Service":%q`, r.service)
		}
		c.send(fmt.Sprintf(`{"ID":%d,"Domain":%q,"Key":{"Name":%q%s},"Streaming":false}`, id, r.domain, r.name, svc))
		m := c.until(isID(id))
		if m["Type"] != "Refresh" || get(m, "Key", "Name") != r.name || r.service != "" && get(m, "Key", "Service") != r.service {
			t.Errorf("%s %s: %.300v", r.domain, r.name, m)
			continue
		}
		switch r.domain {
		case "MarketPrice":
			f, _ := m["Fields"].(map[string]any)
			bid, _ := f["BID"].(float64)
			ask, _ := f["ASK"].(float64)
			name, _ := f["DSPLY_NAME"].(string)
			if len(f) < 20 || bid <= 0 || ask < bid || strings.TrimSpace(name) == "" || f["CURRENCY"] == nil {
				t.Errorf("%s: fields not realistic: %v", r.name, f)
			}
		case "MarketByPrice", "MarketByOrder":
			if e, _ := get(m, "Map", "Entries").([]any); len(e) < 2 {
				t.Errorf("%s %s: book %.300v", r.domain, r.name, m["Map"])
			}
		case "MarketMaker":
			checkMarketMaker(t, m)
		case "YieldCurve":
			checkYieldCurve(t, m)
		case "SymbolList":
			var members []string
			entries, _ := get(m, "Map", "Entries").([]any)
			for _, e := range entries {
				k, _ := e.(map[string]any)["Key"].(string)
				b, _ := base64.StdEncoding.DecodeString(k)
				members = append(members, string(b))
			}
			for _, want := range []string{"F.N", "WFT.N", "NOK.N", "S.N"} {
				if !slices.Contains(members, want) {
					t.Errorf("%s lacks %s: %v", r.name, want, members)
				}
			}
		}
	}
	served := map[string]bool{}
	for _, r := range rics {
		served[r.domain+" "+r.name+" "+r.service] = true
	}
	for _, want := range []string{"MarketMaker MSFT.O ", "YieldCurve BASIC ATS201_1"} {
		if !served[want] {
			t.Errorf("extraction missed %q", want)
		}
	}
	// MSFT.O, the Market Maker example, is a Market Price instrument too.
	c.send(`{"ID":5,"Key":{"Name":"MSFT.O"},"Streaming":false}`)
	if m := c.until(isID(5)); m["Type"] != "Refresh" {
		t.Errorf("MSFT.O Market Price: %v", m)
	}
	// Both stream updates as §33.2.3 and §34.2.3 show them.
	c.send(`{"ID":6,"Domain":"MarketMaker","Key":{"Name":"MSFT.O"}}`)
	c.send(`{"ID":7,"Domain":"YieldCurve","Key":{"Service":"ATS201_1","Name":"BASIC"}}`)
	isUpdate := func(id int) func(map[string]any) bool {
		return func(m map[string]any) bool { return m["Type"] == "Update" && m["ID"] == float64(id) }
	}
	u := c.until(isUpdate(6))
	e, _ := get(u, "Map", "Entries").([]any)
	if len(e) == 0 || e[0].(map[string]any)["Action"] != "Update" || get(e[0].(map[string]any), "Fields", "MMID") == nil {
		t.Errorf("Market Maker update %v", u)
	}
	u = c.until(isUpdate(7))
	if get(u, "Key", "Service") != "ATS201_1" || get(u, "Fields", "CASH_RATES", "Entries") == nil || get(u, "Fields", "YLD_CURVE", "Entries") == nil {
		t.Errorf("Yield Curve update %v", u)
	}
}

// checkMarketMaker: the §33.2.2 shape with realistic content: entries
// keyed by MMID (Buffer) with two-sided quotes and the sample's fields,
// the sample's CTDL among them, the instrument's name in the Summary.
func checkMarketMaker(t *testing.T, m map[string]any) {
	t.Helper()
	if get(m, "Map", "KeyType") != "Buffer" || get(m, "Map", "Summary", "Fields", "DSPLY_NAME") != "MICROSOFT CP" {
		t.Errorf("Market Maker map %.300v", m["Map"])
	}
	entries, _ := get(m, "Map", "Entries").([]any)
	ids := map[string]bool{}
	for _, e := range entries {
		em := e.(map[string]any)
		k, _ := em["Key"].(string)
		id, _ := base64.StdEncoding.DecodeString(k)
		f, _ := em["Fields"].(map[string]any)
		bid, _ := f["BID"].(float64)
		ask, _ := f["ASK"].(float64)
		if f["MMID"] != string(id) || bid <= 0 || ask <= bid || f["MKT_MKR_NM"] == nil || f["PRIMARY_MM"] == nil ||
			f["MM_MODE"] != "N " || f["MM_STATE"] != "A " || f["BID_TIM_MS"] == nil || f["PR_DATE"] == nil {
			t.Errorf("Market Maker entry %v", em)
		}
		ids[string(id)] = true
	}
	if len(entries) < 10 || !ids["CTDL"] || !ids["NSDQ"] {
		t.Errorf("market makers %v", ids)
	}
}

// checkYieldCurve: the §34.2.2 shape: the curve's definition fields, and
// CASH_RATES and YLD_CURVE as Vectors with a TENORS summary and one Set
// entry per tenor, outputs consistent (discount factors in (0, 1)).
func checkYieldCurve(t *testing.T, m map[string]any) {
	t.Helper()
	f, _ := m["Fields"].(map[string]any)
	if f["CRV_NAME"] != "BASIC" || f["CRV_TYPE"] != "Swap" || f["CASH_BASIS"] != "ACT/360" || f["CRV_ALGTHM"] == nil {
		t.Errorf("Yield Curve fields %.400v", f)
	}
	for _, v := range []string{"CASH_RATES", "YLD_CURVE"} {
		tenors, _ := get(f, v, "Summary", "Fields", "TENORS", "Data").([]any)
		entries, _ := get(f, v, "Entries").([]any)
		if len(tenors) != 2 || tenors[0] != "1M" || len(entries) != len(tenors) {
			t.Errorf("%s: %.400v", v, f[v])
			continue
		}
		for i, e := range entries {
			em := e.(map[string]any)
			ef, _ := em["Fields"].(map[string]any)
			if em["Index"] != float64(i) || em["Action"] != "Set" {
				t.Errorf("%s entry %v", v, em)
			}
			if v == "CASH_RATES" && (ef["CASH_SRC"] != "JPY=" || ef["CASH_RATE"] == nil) {
				t.Errorf("cash entry %v", em)
			}
			if df, _ := ef["YCT_DISFAC"].(float64); v == "YLD_CURVE" && (df <= 0 || df >= 1 || ef["YCT_ZRATE"] == nil) {
				t.Errorf("curve entry %v", em)
			}
		}
	}
}

// getToken posts the form LSEG's ADS authentication examples send.
func getToken(t *testing.T, hc *http.Client, u, user, pass string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := hc.PostForm(u, url.Values{"username": {user}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("getToken body: %v", err)
	}
	return resp, body
}

// dialCookies opens a tr_json2 WebSocket with a Cookie header, as the
// examples build it by hand.
func dialCookies(t *testing.T, hc *http.Client, u, cookie string) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"tr_json2"}, HTTPClient: hc,
		HTTPHeader: http.Header{"Cookie": {cookie}}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(16 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}, nil
}

// TestADSGetTokenFlow: spec §5.4 with the ADS authentication server, in
// every combination of TLS on the API and the streaming side.
func TestADSGetTokenFlow(t *testing.T) {
	for _, mode := range []struct {
		name                  string
		plainAPI, plainStream bool
		api, ws               string
	}{
		{"https+wss", false, false, "https://", "wss://"},
		{"https+ws (ADS examples)", false, true, "https://", "ws://"},
		{"http+wss", true, false, "http://", "wss://"},
		{"http+ws", true, true, "http://", "ws://"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			emu, hc := start(t, emulator.Config{PlainAPI: mode.plainAPI, PlainStream: mode.plainStream, StreamAddrs: []string{"127.0.0.1:0"}})
			in := emu.Info()
			if !strings.HasPrefix(in.GetTokenURL, mode.api) || !strings.HasSuffix(in.GetTokenURL, "/getToken") ||
				!strings.HasPrefix(in.AuthURLV2, mode.api) || !strings.HasPrefix(in.Endpoints[0].URL, mode.ws) {
				t.Fatalf("info %+v", in)
			}
			if (in.CAFile != "") != (!mode.plainAPI || !mode.plainStream) {
				t.Fatalf("CAFile %q in mode %s", in.CAFile, mode.name)
			}

			resp, body := getToken(t, hc, in.GetTokenURL, in.User, in.Password)
			if resp.StatusCode != 200 || body["success"] != true {
				t.Fatalf("getToken: %d %v", resp.StatusCode, body)
			}
			var tok string
			for _, ck := range resp.Cookies() {
				if ck.Name == "AuthToken" {
					tok = ck.Value
				}
			}
			if tok == "" {
				t.Fatalf("no AuthToken cookie: %v", resp.Header.Values("Set-Cookie"))
			}

			c, err := dialCookies(t, hc, in.Endpoints[0].URL, "AuthToken="+tok+";AuthPosition=10.91.161.165;applicationId=555;")
			if err != nil {
				t.Fatal(err)
			}
			// No Login sent: the endpoint logs in from the cookies (§5.4.1).
			m := c.next()
			if m["Type"] != "Refresh" || m["Domain"] != "Login" || m["ID"] != -1.0 || get(m, "Key", "Name") != in.User ||
				get(m, "Key", "Elements", "ApplicationId") != "555" || get(m, "Key", "Elements", "Position") != "10.91.161.165" ||
				get(m, "Key", "Elements", "AuthenticationErrorText") != "Success" || get(m, "State", "Text") != "Login accepted by host." {
				t.Fatalf("automatic login: %v", m)
			}
			c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
			if r := c.until(isID(2)); r["Type"] != "Refresh" {
				t.Fatalf("item: %v", r)
			}
			c.send(`{"ID":-1,"Domain":"Login","Type":"Close"}`)
		})
	}
}

// TestADSGetTokenFailures: refused credentials get {"success":false} and
// no cookie; a made-up AuthToken cookie gets the Login Status and the
// connection is closed.
func TestADSGetTokenFailures(t *testing.T) {
	emu, hc := start(t, emulator.Config{PlainStream: true, StreamAddrs: []string{"127.0.0.1:0"}})
	in := emu.Info()
	for _, tc := range []struct{ user, pass string }{{in.User, "wrong"}, {"root", in.Password}, {in.User, ""}} {
		resp, body := getToken(t, hc, in.GetTokenURL, tc.user, tc.pass)
		if resp.StatusCode < 400 || body["success"] != false || len(resp.Cookies()) != 0 {
			t.Errorf("%q: %d %v cookies %v", tc.user, resp.StatusCode, body, resp.Cookies())
		}
	}
	resp, err := hc.Get(in.GetTokenURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /getToken: %d", resp.StatusCode)
	}

	c, err := dialCookies(t, hc, in.Endpoints[0].URL, "AuthToken=not-a-token;AuthPosition=10.0.0.1;applicationId=555;")
	if err != nil {
		t.Fatal(err)
	}
	m := c.next()
	if m["Type"] != "Status" || m["ID"] != -1.0 || get(m, "State", "Stream") != "Closed" {
		t.Fatalf("bad cookie: %v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := c.c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("connection after a refused cookie login: %v", err)
	}
}

// TestInterleavedClientWrites: a client that writes from two goroutines
// (serialised by its WebSocket library, in no particular order) is
// served every request; the emulator depends on no write order beyond
// the spec's (Login first).
func TestInterleavedClientWrites(t *testing.T) {
	emu, hc := start(t, emulator.Config{})
	c := dialWS(t, hc, emu.Info().Endpoints[0].URL)
	c.login(v2Token(t, emu, hc))
	const perWriter = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for i := range perWriter {
				id := 100 + w*perWriter + i
				msg := fmt.Sprintf(`{"ID":%d,"Key":{"Name":"TRI.N"},"Streaming":false}`, id)
				// coder/websocket serialises concurrent writers itself.
				if err := c.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := map[float64]bool{}
	for len(got) < 2*perWriter {
		m := c.next()
		if m["Type"] != "Refresh" {
			t.Fatalf("got %v", m)
		}
		got[m["ID"].(float64)] = true
	}
}

// TestADSCookieSessionOutlivesToken: a session logged in with the
// /getToken cookie is not closed when that token expires (an ADS token is
// not an RTO OAuth token; LSEG's ADS example never reissues its Login).
func TestADSCookieSessionOutlivesToken(t *testing.T) {
	emu, hc := start(t, emulator.Config{TokenLifetime: time.Second, Rate: 20, RateSet: true})
	in := emu.Info()
	resp, _ := getToken(t, hc, in.GetTokenURL, in.User, in.Password)
	var tok string
	for _, ck := range resp.Cookies() {
		if ck.Name == "AuthToken" {
			tok = ck.Value
		}
	}
	if !regexp.MustCompile(`^[[:alnum:]]+$`).MatchString(tok) {
		t.Fatalf("cookie token %q is not alphanumeric", tok)
	}
	c, err := dialCookies(t, hc, in.Endpoints[0].URL, "AuthToken="+tok+";AuthPosition=127.0.0.1;applicationId=256;")
	if err != nil {
		t.Fatal(err)
	}
	if m := c.next(); m["Type"] != "Refresh" || m["Domain"] != "Login" {
		t.Fatalf("login %v", m)
	}
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	// Updates keep coming well past the token's expiry (1 s) with no Login
	// Status; bounded by count and by the item's rate (20/s).
	past := time.Now().Add(2 * time.Second)
	for n := 0; time.Now().Before(past); n++ {
		if n > 1000 {
			t.Fatal("too many messages")
		}
		m := c.next()
		if m["Domain"] == "Login" || m["Type"] == "Status" {
			t.Fatalf("session ended at token expiry: %v", m)
		}
	}
}
