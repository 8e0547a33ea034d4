package gateway

import (
	"net/http"
	"testing"
	"time"
)

func TestDiscovery(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.passwordGrant().str("access_token")

	r := e.get(PathDiscovery+"?transport=websocket", tok)
	wantStatus(t, r, http.StatusOK)
	svcs, ok := r.json["services"].([]any)
	if !ok || len(svcs) != 2 {
		t.Fatalf("services: %s", r.raw)
	}
	first := svcs[0].(map[string]any)
	if port, ok := first["port"].(float64); !ok || port != 14001 {
		t.Errorf("port %#v, want the JSON number 14001", first["port"])
	}
	if first["endpoint"] != "127.0.0.1" || first["provider"] != "aws" || first["transport"] != "websocket" {
		t.Errorf("first service %v", first)
	}
	if loc := first["location"].([]any); len(loc) != 2 || loc[0] != "us-east-1a" {
		t.Errorf("location %v", loc)
	}
	if df := first["dataFormat"].([]any); len(df) != 1 || df[0] != "tr_json2" {
		t.Errorf("dataFormat %v", df)
	}

	// Without the trailing slash, and without a transport filter: all entries.
	r = e.get("/streaming/pricing/v1", tok)
	wantStatus(t, r, http.StatusOK)
	if n := len(r.json["services"].([]any)); n != 3 {
		t.Errorf("unfiltered: %d services", n)
	}
	// transport=tcp lists only tcp entries.
	r = e.get(PathDiscovery+"?transport=tcp", tok)
	wantStatus(t, r, http.StatusOK)
	if s := r.json["services"].([]any); len(s) != 1 || s[0].(map[string]any)["dataFormat"].([]any)[0] != "rwf" {
		t.Errorf("tcp: %s", r.raw)
	}
	// An unknown transport: an empty list, not null.
	r = e.get(PathDiscovery+"?transport=carrier-pigeon", tok)
	wantStatus(t, r, http.StatusOK)
	if s, ok := r.json["services"].([]any); !ok || len(s) != 0 {
		t.Errorf("unknown transport: %s", r.raw)
	}

	// A v2 token works too.
	v2 := e.post(PathTokenV2, form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret), "")
	wantStatus(t, e.get(PathDiscovery+"?transport=websocket", v2.str("access_token")), http.StatusOK)
}

func TestDiscoveryRejectsBadTokens(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.passwordGrant().str("access_token")
	for name, bearer := range map[string]string{"missing": "", "unknown": "not-a-token"} {
		r := e.get(PathDiscovery+"?transport=websocket", bearer)
		wantError(t, r, http.StatusUnauthorized, "invalid_token")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
	}
	// Basic instead of Bearer.
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+PathDiscovery, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", basic(testClientID, ""))
	wantError(t, e.do(req), http.StatusUnauthorized, "invalid_token")

	e.clock.Advance(301 * time.Second)
	r := e.get(PathDiscovery+"?transport=websocket", tok)
	wantError(t, r, http.StatusUnauthorized, "invalid_token")
	if r.str("error_description") != "access token expired" {
		t.Errorf("description %q", r.str("error_description"))
	}
}

func TestDiscoveryServicesChangeAtRunTime(t *testing.T) {
	var port = 1000
	e := newEnv(t, func(c *Config) {
		c.Services = func() []Service { port++; return []Service{{Endpoint: "localhost", Port: port}} }
	})
	tok := e.passwordGrant().str("access_token")
	for want := 1001.0; want <= 1002; want++ {
		r := e.get(PathDiscovery, tok)
		wantStatus(t, r, http.StatusOK)
		s := r.json["services"].([]any)[0].(map[string]any)
		if s["port"] != want {
			t.Errorf("port %v, want %v", s["port"], want)
		}
		if l, ok := s["location"].([]any); !ok || len(l) != 0 {
			t.Errorf("nil location not sent as []: %v", s["location"])
		}
	}
}
