package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// pythonClient talks to the gateway the way LSEG's Python examples do
// (requests, Basic "client_id:", Python bool "True", redirects handled by
// hand, CA verification on). It is our own script, not LSEG's code.
const pythonClient = `
import json, os, requests
base, ca = os.environ["GW_URL"], os.environ["GW_CA"]
user, pw, cid, sec = (os.environ[k] for k in ("GW_USER", "GW_PASSWORD", "GW_CLIENT", "GW_SECRET"))
def post(url, data, auth=None):
    for _ in range(3):
        r = requests.post(url, headers={"Accept": "application/json"}, data=data, auth=auth,
                          verify=ca, allow_redirects=False, timeout=10)
        if r.status_code in (301, 302, 307, 308):
            url = r.headers["Location"]
            continue
        return r
    raise SystemExit("too many redirects")
out = {}
r = post(base + "/auth/oauth2/v1/token", {"username": user, "password": pw, "client_id": cid,
        "grant_type": "password", "scope": "trapi.streaming.pricing.read", "takeExclusiveSignOnControl": True},
        auth=(cid, ""))
out["password"] = [r.status_code, type(r.json().get("expires_in")).__name__]
t = r.json()
r = post(base + "/auth/oauth2/v1/token", {"username": user, "client_id": cid, "grant_type": "refresh_token",
        "refresh_token": t["refresh_token"]}, auth=(cid, ""))
out["refresh"] = [r.status_code, r.json().get("expires_in")]
t = r.json()
r = requests.get(base + "/streaming/pricing/v1/", params={"transport": "websocket"},
                 headers={"Authorization": "Bearer " + t["access_token"]}, verify=ca, allow_redirects=False, timeout=10)
s = r.json()["services"][0]
out["discovery"] = [r.status_code, s["endpoint"] + ":" + str(s["port"])]
r = post(base + "/auth/oauth2/v2/token", {"grant_type": "client_credentials", "client_id": cid,
        "client_secret": sec, "scope": "trapi.streaming.pricing.read"})
out["v2"] = [r.status_code, type(r.json().get("expires_in")).__name__]
print(json.dumps(out))
`

// TestPythonRequestsInterop runs when /usr/bin/python3 has requests
// (Debian python3-requests); otherwise it is skipped.
func TestPythonRequestsInterop(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import requests").Run(); err != nil {
		t.Skipf("%s with requests not available: %v", py, err)
	}
	e := newEnv(t, nil)
	if err := e.gw.ForceStatus(EndpointTokenV1, http.StatusTemporaryRedirect, 1); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, e.bundle.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pythonClient)
	cmd.Env = append(os.Environ(), "GW_URL="+e.srv.URL, "GW_CA="+caFile, "GW_USER="+testUser,
		"GW_PASSWORD="+testPassword, "GW_CLIENT="+testClientID, "GW_SECRET="+testSecret)
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
	want := map[string][]any{
		"password":  {200.0, "str"},
		"refresh":   {200.0, "300"},
		"discovery": {200.0, "127.0.0.1:14001"},
		"v2":        {200.0, "int"},
	}
	for k, w := range want {
		g := out[k]
		if len(g) != 2 || g[0] != w[0] || g[1] != w[1] {
			t.Errorf("%s: got %v, want %v", k, g, w)
		}
	}
	if e.gw.Stats().FaultsServed != 1 {
		t.Errorf("the 307 was not served")
	}
}
