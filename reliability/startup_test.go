package reliability

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/discovery"
	"github.com/ertkit/ertkit/emulator"
)

// gatewayRow is a fault of the Delivery Platform side (token endpoint,
// discovery) or of the Login, injected before the session starts.
type gatewayRow struct {
	name    string
	ep      emulator.GatewayEndpoint
	status  int
	count   int
	refuse  int // RefuseLogins
	ok      bool
	cliCode int    // expected exit code when !ok
	cliText string // expected in stderr when !ok
}

// TestFaultMatrixGateway: transient 5xx/429/redirects are retried within
// bounds and the session starts; persistent failures end quickly with the
// documented exit code and the server's answer, never a retry storm.
func TestFaultMatrixGateway(t *testing.T) {
	rows := []gatewayRow{
		{name: "token-503-twice", ep: "token_v2", status: 503, count: 2, ok: true},
		{name: "token-429-once", ep: "token_v2", status: 429, count: 1, ok: true},
		{name: "token-307-redirect", ep: "token_v2", status: 307, count: 1, ok: true},
		{name: "token-500-persistent", ep: "token_v2", status: 500, count: 1000, cliCode: 3, cliText: "500"},
		{name: "discovery-503-once", ep: "discovery", status: 503, count: 1, ok: true},
		{name: "discovery-302-redirect", ep: "discovery", status: 302, count: 1, ok: true},
		{name: "discovery-503-persistent", ep: "discovery", status: 503, count: 1000, cliCode: 4, cliText: "503"},
		{name: "login-already-pending", refuse: 2, ok: true}, // backs off and retries
	}
	for _, row := range rows {
		t.Run(row.name+"/sdk", func(t *testing.T) { t.Parallel(); runGatewaySDK(t, row) })
		t.Run(row.name+"/cli", func(t *testing.T) { t.Parallel(); runGatewayCLI(t, row) })
	}
}

func injectGateway(t *testing.T, emu *emulator.Emulator, row gatewayRow) {
	t.Helper()
	if row.status != 0 {
		if err := emu.GatewayStatus(row.ep, row.status, row.count); err != nil {
			t.Fatal(err)
		}
	}
	if row.refuse > 0 {
		emu.RefuseLogins(row.refuse)
	}
}

func runGatewaySDK(t *testing.T, row gatewayRow) {
	emu, info := startEmu(t, emulator.Config{})
	m := auth.NewManager(v2Grant(info), auth.Options{TLSConfig: emuTLS(t, info), MaxAttempts: 4,
		RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: 300 * time.Millisecond})
	t.Cleanup(func() { m.Close() })
	injectGateway(t, emu, row)
	ctx := scenarioCtx(t)
	start := time.Now()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: emuTLS(t, info)}, Timeout: 5 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	cfg := consumer.Config{TokenSource: m, TLS: consumer.TLS{CAPEM: info.CAPEM}, Handler: func(*consumer.Msg) {},
		Discover:  consumer.Discovery(info.DiscoveryURL, m, "us-east-1", false, discovery.Options{HTTPClient: hc, MaxAttempts: 4, RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: 300 * time.Millisecond}),
		Reconnect: consumer.Reconnect{MinDelay: 30 * time.Millisecond, MaxDelay: 300 * time.Millisecond}}
	c, err := consumer.Dial(ctx, cfg)
	took := time.Since(start)
	if row.ok {
		if err != nil {
			t.Fatalf("Dial after a transient %d: %v", row.status, err)
		}
		defer c.Close()
		sub, err := c.Subscribe(ctx, []string{"TRI.N"})
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Wait(ctx); err != nil || !allOk(sub.Items()) {
			t.Fatalf("item not Ok: %v %+v", err, sub.Item().State())
		}
		return
	}
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded against a persistent failure")
	}
	var le *consumer.LoginError
	var he *auth.HTTPError
	if !errors.As(err, &le) && !errors.As(err, &he) && !strings.Contains(err.Error(), row.cliText) {
		t.Errorf("error does not carry the server's answer: %v", err)
	}
	if took > 15*time.Second {
		t.Errorf("took %s to give up", took)
	}
	t.Logf("outcome: %v after %s", err, took.Round(time.Millisecond))
}

func runGatewayCLI(t *testing.T, row gatewayRow) {
	emu, info := startEmu(t, emulator.Config{})
	injectGateway(t, emu, row)
	code, out, stderr, took := runCLI(t, cliEnv(info, 2), "snapshot", "TRI.N")
	if row.ok {
		if code != 0 || !strings.Contains(out, `"Refresh"`) {
			t.Fatalf("exit %d after a transient %d; stderr: %s", code, row.status, stderr)
		}
		return
	}
	if code != row.cliCode || !strings.Contains(stderr, row.cliText) {
		t.Errorf("exit %d (want %d), stderr must name %q: %s", code, row.cliCode, row.cliText, stderr)
	}
	if took > 20*time.Second {
		t.Errorf("took %s to give up", took)
	}
	t.Logf("outcome: exit %d after %s: %s", code, took.Round(time.Millisecond), oneLine(stderr))
}
