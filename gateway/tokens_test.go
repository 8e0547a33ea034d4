package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/gateway"
)

func postForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: body: %v", u, err)
	}
	return resp.StatusCode, body
}

// Clients written for RTO get tokens from the gateway's own token
// endpoint and log in to its streaming endpoint with them.
func TestTokenEndpoint(t *testing.T) {
	acc, err := gateway.ParseAccess([]byte(`{"users":[
		{"name":"svc","client_secret":"s3cret-s3cret","allow":["*"]},
		{"name":"GE-A-1","password":"passw0rd!","allow":["TRI.N"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, emulator.Config{}, gateway.Config{Access: acc})
	h, err := r.gw.TokenHandler(0)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()

	// v2 client credentials.
	code, body := postForm(t, ts.URL+gateway.TokenPathV2, url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"s3cret-s3cret"}, "scope": {"trapi.streaming.pricing.read"}})
	if code != 200 || body["access_token"] == nil || body["expires_in"] != 600.0 {
		t.Fatalf("v2: %d %v", code, body)
	}
	c := dialRaw(t, r.addr)
	c.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"127.0.0.1","AuthenticationToken":"` + body["access_token"].(string) + `"}}}`)
	if m := c.until("login", func(m map[string]any) bool { return m["Domain"] == "Login" }); m["Type"] != "Refresh" {
		t.Fatalf("login with a v2 gateway token: %v", m)
	}
	c.send(`{"ID":2,"Key":{"Name":"EUR="}}`)
	c.until("refresh", is("Refresh", 2))

	// v1 password, then refresh_token.
	code, body = postForm(t, ts.URL+gateway.TokenPathV1, url.Values{"grant_type": {"password"}, "username": {"GE-A-1"}, "password": {"passw0rd!"}, "client_id": {"app"}, "takeExclusiveSignOnControl": {"true"}})
	if code != 200 || body["refresh_token"] == nil || body["expires_in"] != "600" {
		t.Fatalf("v1: %d %v", code, body)
	}
	code, body2 := postForm(t, ts.URL+gateway.TokenPathV1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {"app"}})
	if code != 200 || body2["access_token"] == body["access_token"] {
		t.Fatalf("v1 refresh: %d %v", code, body2)
	}
	if code, _ := postForm(t, ts.URL+gateway.TokenPathV1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}); code != 400 {
		t.Fatalf("a refresh token works once: %d", code)
	}
	c1 := dialRaw(t, r.addr)
	c1.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"` + body2["access_token"].(string) + `"}}}`)
	if m := c1.until("login", func(m map[string]any) bool { return m["Domain"] == "Login" }); m["Type"] != "Refresh" || strings.TrimSpace(m["Key"].(map[string]any)["Name"].(string)) != "GE-A-1" {
		t.Fatalf("login with a v1 gateway token: %v", m)
	}
	c1.send(`{"ID":2,"Key":{"Name":"IBM.N"}}`)
	if m := c1.until("status", is("Status", 2)); state(m, "Code") != "NotEntitled" {
		t.Fatalf("entitlements of a token user: %v", m)
	}

	// Refusals.
	for _, f := range []struct {
		path string
		form url.Values
		code int
	}{
		{gateway.TokenPathV2, url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"wrong"}}, 401},
		{gateway.TokenPathV2, url.Values{"grant_type": {"client_credentials"}, "client_id": {"GE-A-1"}, "client_secret": {"passw0rd!"}}, 401},
		{gateway.TokenPathV1, url.Values{"grant_type": {"password"}, "username": {"GE-A-1"}, "password": {"nope"}}, 400},
		{gateway.TokenPathV1, url.Values{"grant_type": {"client_credentials"}}, 400},
	} {
		if code, body := postForm(t, ts.URL+f.path, f.form); code != f.code || body["access_token"] != nil {
			t.Errorf("%s %v: %d %v", f.path, f.form, code, body)
		}
	}
	resp, err := http.Get(ts.URL + gateway.TokenPathV2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	// A user with a secret cannot log in by name.
	if m := dialRaw(t, r.addr).loginByName("svc"); m["Type"] != "Status" {
		t.Fatalf("name login of a user with a secret: %v", m)
	}
}
