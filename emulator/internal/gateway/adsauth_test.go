package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGetToken: the ADS /getToken flow of LSEG's authentication examples.
func TestGetToken(t *testing.T) {
	e := newEnv(t, nil)
	r := e.post(PathGetToken, form("username", testUser, "password", testPassword), "")
	if r.status != http.StatusOK || string(r.raw) != "{\"success\":true}\n" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	resp := &http.Response{Header: r.header}
	var tok string
	for _, c := range resp.Cookies() {
		if c.Name == CookieAuthToken {
			tok = c.Value
			if !c.Secure || !c.HttpOnly || c.Path != "/" || c.MaxAge != int(DefaultTokenLifetime/time.Second) {
				t.Errorf("cookie attributes %+v", c)
			}
		}
	}
	if tok == "" {
		t.Fatalf("no AuthToken cookie in %v", r.header)
	}
	p, exp, err := e.store.Validate(tok)
	if err != nil || p.User != testUser || p.Version != 1 || !p.ADS || !exp.Equal(e.clock.Now().Add(DefaultTokenLifetime)) {
		t.Fatalf("store: %+v %v %v", p, exp, err)
	}
	// LSEG's ADS example cuts the cookie out with [[:alnum:]]*.
	if !regexp.MustCompile(`^[[:alnum:]]+$`).MatchString(tok) {
		t.Errorf("token %q is not alphanumeric", tok)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if s := e.gw.Stats(); s.TokenRequests[GrantGetToken] != 1 || s.TokenFailures[GrantGetToken] != 0 {
		t.Errorf("stats %+v", s)
	}
	if strings.Contains(e.logs.String(), tok) || strings.Contains(e.logs.String(), testPassword) {
		t.Error("token or password logged")
	}
}

// TestGetTokenFailures: each refusal is {"success":false}, sets no
// cookie, echoes nothing the client sent and issues no token.
func TestGetTokenFailures(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, method, ctype, body string
		status                    int
	}{
		{"wrong password", "POST", "application/x-www-form-urlencoded", form("username", testUser, "password", "Wrong-Passw0rd-xyz"), 401},
		{"unknown user", "POST", "application/x-www-form-urlencoded", form("username", "root", "password", testPassword), 401},
		{"no password", "POST", "application/x-www-form-urlencoded", form("username", testUser), 400},
		{"empty body", "POST", "application/x-www-form-urlencoded", "", 400},
		{"JSON body", "POST", "application/json", `{"username":"` + testUser + `","password":"` + testPassword + `"}`, 400},
		{"repeated field", "POST", "application/x-www-form-urlencoded", form("username", testUser, "username", testUser, "password", testPassword), 400},
		{"GET", "GET", "", "", 405},
	} {
		req, err := http.NewRequest(tc.method, e.srv.URL+PathGetToken, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		r := e.do(req)
		if r.status != tc.status || string(r.raw) != "{\"success\":false}\n" {
			t.Errorf("%s: %d %s, want %d {\"success\":false}", tc.name, r.status, r.raw, tc.status)
		}
		if c := r.header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("%s: cookie set on failure: %v", tc.name, c)
		}
		if tc.status == 405 && r.header.Get("Allow") != "POST" {
			t.Errorf("%s: Allow %q", tc.name, r.header.Get("Allow"))
		}
	}
	if s := e.gw.Stats(); s.TokenFailures[GrantGetToken] != 7 {
		t.Errorf("failures %d, want 7", s.TokenFailures[GrantGetToken])
	}
	if strings.Contains(e.logs.String(), "Wrong-Passw0rd") || strings.Contains(e.logs.String(), testPassword) {
		t.Error("password logged")
	}
}

// TestGetTokenRateLimited: /getToken shares the per-user rate guard of
// the token endpoints, and says when to come back.
func TestGetTokenRateLimited(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit = 2 })
	ok := form("username", testUser, "password", testPassword)
	for i := range 2 {
		if r := e.post(PathGetToken, ok, ""); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.raw)
		}
	}
	r := e.post(PathGetToken, ok, "")
	if r.status != http.StatusTooManyRequests || string(r.raw) != "{\"success\":false}\n" || r.header.Get("Retry-After") != "60" {
		t.Fatalf("%d %s Retry-After %q", r.status, r.raw, r.header.Get("Retry-After"))
	}
	// The v1 token endpoint counts against the same user.
	if r := e.post(PathTokenV1, form("grant_type", "password", "username", testUser, "password", testPassword, "client_id", testClientID), ""); r.status != http.StatusTooManyRequests {
		t.Fatalf("v1 after getToken: %d", r.status)
	}
	e.clock.Advance(time.Minute)
	if r := e.post(PathGetToken, ok, ""); r.status != 200 {
		t.Fatalf("after the window: %d %s", r.status, r.raw)
	}
	if got := e.gw.Stats().RateLimited; got != 2 {
		t.Errorf("RateLimited %d", got)
	}
}

// pythonGetToken does what LSEG's Python authentication example does with
// /getToken (requests, form data, r.json()['success'], r.cookies), in our
// own words.
const pythonGetToken = `
import json, os, requests
url, ca = os.environ["GW_URL"] + "/getToken", os.environ["GW_CA"]
out = {}
r = requests.post(url, data={"username": os.environ["GW_USER"], "password": os.environ["GW_PASSWORD"]}, verify=ca, timeout=10)
j = r.json()
out["ok"] = [r.status_code, j["success"] is True, r.cookies.get("AuthToken", "")]
r = requests.post(url, data={"username": os.environ["GW_USER"], "password": "wrong"}, verify=ca, timeout=10)
j = r.json()
out["bad"] = [r.status_code, j["success"] is False, "AuthToken" in r.cookies]
print(json.dumps(out))
`

// TestGetTokenPythonRequests: Python requests reads the answer and the
// cookie the way the example does. Skipped without python3-requests.
func TestGetTokenPythonRequests(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import requests").Run(); err != nil {
		t.Skipf("%s with requests not available: %v", py, err)
	}
	e := newEnv(t, nil)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, e.bundle.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pythonGetToken)
	cmd.Env = append(os.Environ(), "GW_URL="+e.srv.URL, "GW_CA="+caFile, "GW_USER="+testUser, "GW_PASSWORD="+testPassword)
	outb, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("python: %v\n%s", err, stderr)
	}
	var out map[string][]any
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("python output %q: %v", outb, err)
	}
	ok, bad := out["ok"], out["bad"]
	if len(ok) != 3 || ok[0] != 200.0 || ok[1] != true {
		t.Fatalf("success: %v", ok)
	}
	if tok, _ := ok[2].(string); tok == "" {
		t.Fatal("requests found no AuthToken cookie")
	} else if p, _, err := e.store.Validate(tok); err != nil || p.User != testUser {
		t.Fatalf("cookie token: %+v %v", p, err)
	}
	if len(bad) != 3 || bad[0] != 401.0 || bad[1] != true || bad[2] != false {
		t.Fatalf("failure: %v", bad)
	}
}
