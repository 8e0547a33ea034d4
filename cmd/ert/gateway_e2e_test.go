package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/ertkit/ertkit/emulator"
)

// gatewayLine is what ert gateway prints when ready.
type gatewayLine struct {
	WS, WSS, CAFile, Metrics, NATS string
}

func startGateway(t *testing.T, env map[string]string, args ...string) gatewayLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	var stderr strings.Builder
	line, stop := runServer(t, ctx, &stderr, env, append([]string{"gateway", "--listen", "127.0.0.1:0"}, args...)...)
	t.Cleanup(stop)
	var raw struct {
		WS      string `json:"ws"`
		WSS     string `json:"wss"`
		CAFile  string `json:"ca_file"`
		Metrics string `json:"metrics"`
		NATS    string `json:"nats"`
	}
	if err := json.Unmarshal([]byte(line), &raw); err != nil {
		t.Fatalf("gateway line %q: %v; stderr: %s", line, err, stderr.String())
	}
	return gatewayLine{raw.WS, raw.WSS, raw.CAFile, raw.Metrics, raw.NATS}
}

// adsClient logs in by name over url, requests TRI.N and returns its
// Refresh, as LSEG's ADS examples do.
func adsClient(t *testing.T, url string, tlsCfg *tls.Config) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := ws.Dialer{Protocols: []string{"tr_json2"}, TLSConfig: tlsCfg}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer nc.Close()
	var r io.Reader = nc
	if br != nil {
		r = br
	}
	send := func(s string) {
		if err := wsutil.WriteClientText(nc, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"ID":1,"Domain":"Login","Key":{"Name":"e2e","Elements":{"ApplicationId":"256","Position":"127.0.0.1"}}}`)
	send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range 100 {
		p, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{r, nc})
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var msgs []map[string]any
		if err := json.Unmarshal(p, &msgs); err != nil {
			t.Fatalf("frame %s: %v", p, err)
		}
		for _, m := range msgs {
			if m["Type"] == "Refresh" && m["ID"] == 2.0 {
				return m
			}
			if m["Type"] == "Status" {
				t.Fatalf("status: %v", m)
			}
		}
	}
	t.Fatal("no refresh")
	return nil
}

// ert gateway in front of the emulator: ws and wss (generated CA)
// downstream, Prometheus metrics, credentials from the environment only.
func TestGatewayCommand(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	g := startGateway(t, v2Env(emu.Info()), "--listen-tls", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	if m := adsClient(t, g.WS, nil); m["Fields"] == nil {
		t.Fatalf("ws refresh: %v", m)
	}
	pem, err := os.ReadFile(g.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	if m := adsClient(t, g.WSS, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}); m["Fields"] == nil {
		t.Fatalf("wss refresh: %v", m)
	}
	// ert stream downstream of the gateway, logging in by name.
	host, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(g.WS, "ws://"), "/WebSocket"))
	if r := ert(t, nil, "stream", "--ws", "--hostname", host, "--port", port, "--login-name", "e2e", "--count", "3", "-o", "jsonl", "IBM.N"); r.code != 0 || strings.Count(r.stdout, `"IBM.N"`) < 3 {
		t.Fatalf("ert stream --login-name through the gateway: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := ert(t, nil, "stream", "--login-name", "e2e", "IBM.N"); r.code != 2 || !strings.Contains(r.stderr, "--hostname") {
		t.Fatalf("--login-name without --hostname: exit %d %s", r.code, r.stderr)
	}
	// The embedded NATS JetStream (the default) holds what went through.
	if g.NATS == "" {
		t.Fatal("no embedded NATS URL in the ready line")
	}
	r := ert(t, nil, "stream", "--from", g.NATS, "--snapshot", "-o", "jsonl", "TRI.N")
	if r.code != 0 || !strings.Contains(r.stdout, `"TRI.N"`) {
		t.Fatalf("ert stream --from %s: exit %d\n%s\n%s", g.NATS, r.code, r.stdout, r.stderr)
	}
	resp, err := http.Get(g.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	found := map[string]bool{}
	for sc.Scan() {
		for _, name := range []string{"ert_gateway_downstream_logins_total", "ert_gateway_upstream_messages_total", "ert_gateway_downstream_messages_sent_total"} {
			if strings.HasPrefix(sc.Text(), name) {
				found[name] = true
			}
		}
	}
	if len(found) != 3 {
		t.Fatalf("metrics found: %v", found)
	}
	// The upstream item stays one stream for both downstream clients.
	for _, it := range emu.State().Items {
		if it.Name == "TRI.N" && it.Subscribers > 1 {
			t.Fatalf("TRI.N has %d upstream streams", it.Subscribers)
		}
	}
}

func TestGatewayUsageErrors(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	env := v2Env(emu.Info())
	bad := filepath.Join(t.TempDir(), "access.json")
	if err := os.WriteFile(bad, []byte(`{"users":[{"name":"a","allow":["["]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"gateway", "--listen", "0.0.0.0:0"}, "not loopback"},
		{[]string{"gateway", "--listen", "0.0.0.0:0", "--insecure-listen"}, "--access"},
		{[]string{"gateway", "--access", bad}, "pattern"},
		{[]string{"gateway", "--listen", ""}, "--listen"},
		{[]string{"gateway", "--cert", "x.pem", "--listen-tls", "127.0.0.1:0"}, "--key"},
	} {
		r := ert(t, env, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q (want exit 2 and %q)", c.args, r.code, r.stderr, c.want)
		}
	}
}

// ert doctor --gateway checks a running gateway and reports its upstream
// session from its metrics.
func TestDoctorGateway(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	g := startGateway(t, v2Env(emu.Info()), "--metrics-addr", "127.0.0.1:0")
	r := ert(t, nil, "doctor", "--gateway", g.WS, "--gateway-metrics", g.Metrics, "--ric", "IBM.N")
	if r.code != 0 || !strings.Contains(r.stdout, "all checks passed") || !strings.Contains(r.stdout, "upstream reconnects") {
		t.Fatalf("doctor --gateway: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = ert(t, nil, "doctor", "--gateway", "ws://127.0.0.1:1/WebSocket")
	if r.code == 0 || !strings.Contains(r.stdout, "FAIL") {
		t.Fatalf("doctor against a dead gateway: exit %d\n%s", r.code, r.stdout)
	}
	r = ert(t, nil, "doctor", "--gateway", "htp:/bad")
	if r.code != 2 {
		t.Fatalf("bad --gateway URL: exit %d %s", r.code, r.stderr)
	}
}
