package main

// End-to-end tests of the built ert binary against an emulator on loopback.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
)

var ertBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := testutil.BuildErt(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ertBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// ert runs the binary with exactly the given environment (plus PATH/HOME).
func ert(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ertBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running ert %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("ert %v did not finish within 60 s; stderr: %s", args, r.stderr)
	}
	return r
}

func startEmu(t *testing.T, cfg emulator.Config) *emulator.Emulator {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if !cfg.RateSet {
		cfg.Rate, cfg.RateSet = 5, true
	}
	return testutil.StartEmulator(t, cfg)
}

// v1Env are credentials and URLs of the emulator, in the environment only.
func v1Env(info emulator.Info) map[string]string {
	return map[string]string{
		"ERT_USER": info.User, "ERT_PASSWORD": info.Password, "ERT_CLIENTID": info.ClientID,
		"ERT_AUTH_URL": info.AuthURLV1, "ERT_DISCOVERY_URL": info.DiscoveryURL, "ERT_CA_FILE": info.CAFile,
	}
}

func v2Env(info emulator.Info) map[string]string {
	return map[string]string{
		"ERT_CLIENTID": info.ClientID, "ERT_CLIENTSECRET": info.ClientSecret,
		"ERT_AUTH_URL": info.AuthURLV2, "ERT_DISCOVERY_URL": info.DiscoveryURL, "ERT_CA_FILE": info.CAFile,
	}
}

// jsonLines parses stdout as JSON lines and fails on anything else.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON object per line: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func name(m map[string]any) string {
	k, _ := m["Key"].(map[string]any)
	s, _ := k["Name"].(string)
	return s
}

func TestDemo(t *testing.T) {
	r := ert(t, nil, "demo", "--duration", "3s", "--rate", "5")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	msgs := jsonLines(t, r.stdout)
	refreshed := map[string]bool{}
	updates := 0
	for _, m := range msgs {
		switch m["Type"] {
		case "Refresh":
			refreshed[name(m)] = true
		case "Update":
			updates++
		}
	}
	for _, ric := range []string{"TRI.N", "IBM.N", "EUR=", ".DJI"} {
		if !refreshed[ric] {
			t.Errorf("no refresh for %s", ric)
		}
	}
	if updates < 10 {
		t.Errorf("only %d updates in 3 s at 5/s for 7 items", updates)
	}
	for _, step := range []string{"emulator started", "token: v1 token", "connected and logged in"} {
		if !strings.Contains(r.stderr, step) {
			t.Errorf("demo does not narrate %q: %s", step, r.stderr)
		}
	}
}

func TestStreamJSONLCount(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	r := ert(t, v1Env(emu.Info()), "stream", "--count", "12", "--output", "jsonl", "TRI.N", "EUR=")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	msgs := jsonLines(t, r.stdout)
	if len(msgs) < 12 {
		t.Fatalf("want ≥ 12 messages, got %d", len(msgs))
	}
	if msgs[0]["Type"] != "Refresh" {
		t.Fatalf("first message is %v, not a Refresh", msgs[0]["Type"])
	}
	for _, m := range msgs {
		if _, ok := m["ID"]; !ok {
			t.Fatalf("message without ID printed: %v", m)
		}
	}
}

func TestStreamPrettyWithViewV2(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	r := ert(t, v2Env(emu.Info()), "stream", "--count", "3", "--output", "pretty", "--view", "BID,ASK", "IBM.N")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "\n  \"Type\": \"Refresh\"") {
		t.Fatalf("not indented JSON: %s", r.stdout)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if f, ok := m["Fields"].(map[string]any); ok {
			for k := range f {
				if k != "BID" && k != "ASK" {
					t.Fatalf("view BID,ASK but got field %s", k)
				}
			}
		}
	}
}

func TestSnapshotManyRICs(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	rics := []string{"TRI.N", "IBM.N", "VOD.L", "AAPL.O", "MSFT.O", "EUR=", "JPY=", "GBP=", ".DJI", ".SPX", "/TRI.N"}
	r := ert(t, v1Env(emu.Info()), append([]string{"snapshot", "--output", "jsonl"}, rics...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := map[string]bool{}
	for _, m := range jsonLines(t, r.stdout) {
		if m["Type"] == "Update" {
			t.Fatalf("snapshot printed an update")
		}
		if m["Type"] == "Refresh" {
			st := m["State"].(map[string]any)
			if st["Stream"] != "NonStreaming" {
				t.Errorf("%s: snapshot refresh with stream state %v", name(m), st["Stream"])
			}
			got[name(m)] = true
		}
	}
	for _, ric := range rics {
		if !got[ric] {
			t.Errorf("no image of %s", ric)
		}
	}
}

func TestUnknownRIC(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	r := ert(t, v1Env(emu.Info()), "snapshot", "NOSUCH.RIC")
	if r.code != 6 {
		t.Fatalf("exit %d, want 6 (item failure); stderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "could not be found") {
		t.Fatalf("stderr does not carry the server's text: %s", r.stderr)
	}
	r = ert(t, v1Env(emu.Info()), "stream", "--duration", "20s", "NOSUCH.RIC")
	if r.code != 6 || r.took > 15*time.Second {
		t.Fatalf("stream of an unknown RIC: exit %d after %s; stderr: %s", r.code, r.took, r.stderr)
	}
}

func TestBadPassword(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	env := v1Env(emu.Info())
	env["ERT_PASSWORD"] = "wrong-password"
	r := ert(t, env, "stream", "TRI.N")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3 (authentication); stderr: %s", r.code, r.stderr)
	}
	if r.took > 5*time.Second {
		t.Fatalf("took %s to report a bad password", r.took)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "400") || !strings.Contains(last, "invalid_grant") {
		t.Fatalf("message does not name the HTTP status and the server's error: %s", last)
	}
	if strings.Contains(r.stderr, "wrong-password") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("stderr leaks the password or a stack trace: %s", r.stderr)
	}
}

func TestDeadEndpoint(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	env := v1Env(emu.Info())
	r := ert(t, env, "snapshot", "--hostname", "127.0.0.1", "--port", strconv.Itoa(port), "TRI.N")
	if r.code != 5 {
		t.Fatalf("exit %d, want 5 (connection); stderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "refused") {
		t.Fatalf("message does not say what failed: %s", r.stderr)
	}
}

func TestCredentialsFromEnvironmentOnlyAndNoSecretsPrinted(t *testing.T) {
	emu := startEmu(t, emulator.Config{TokenLifetime: 2 * time.Second})
	info := emu.Info()
	env := v1Env(info)
	// Renewals every ~1.8 s over 5 s, at debug level: nothing secret may show.
	r := ert(t, env, "--log-level", "debug", "stream", "--duration", "5s", "--stats", "TRI.N")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "login_reissues=") {
		t.Fatalf("no stats: %s", r.stderr)
	}
	m := regexp.MustCompile(`login_reissues=(\d+)`).FindStringSubmatch(r.stderr)
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Fatalf("no login reissue over 5 s with 2 s tokens: %s", r.stderr)
	}
	all := r.stdout + r.stderr
	for _, secret := range []string{info.Password, info.ClientSecret} {
		if strings.Contains(all, secret) {
			t.Fatalf("output contains a secret")
		}
	}
	// Emulator tokens are 64-character base64url strings (48 random bytes).
	if tok := regexp.MustCompile(`[A-Za-z0-9_-]{60,}`).FindString(all); tok != "" {
		t.Fatalf("output contains a token-like string %q…", tok[:8])
	}
}

func TestTokenRedacted(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	r := ert(t, v1Env(emu.Info()), "token")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"auth version", "v1", "redacted", "expires in", "5m0s", "refresh token"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("token output lacks %q:\n%s", want, r.stdout)
		}
	}
	if regexp.MustCompile(`[A-Za-z0-9_-]{60,}`).MatchString(r.stdout) {
		t.Fatalf("token printed without --show-token:\n%s", r.stdout)
	}
	r = ert(t, v2Env(emu.Info()), "token", "--show-token", "--json")
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if tok, _ := out["access_token"].(string); len(tok) < 60 || out["auth_version"] != float64(2) {
		t.Fatalf("--show-token --json: %v", out)
	}
}

func TestDiscover(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	r := ert(t, v1Env(emu.Info()), "discover")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"ENDPOINT", "us-east-1a,us-east-1b", "primary", "hot standby A", "hot standby B"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("discover output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = ert(t, v1Env(emu.Info()), "discover", "--region", "mars-north-1")
	if r.code != 4 {
		t.Fatalf("unknown region: exit %d, want 4; %s", r.code, r.stderr)
	}
}

func TestPost(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	env := v1Env(emu.Info())
	r := ert(t, env, "post", "TRI.N", "BID=101.25", "ASK=101.5")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Ack on-stream TRI.N") {
		t.Fatalf("on-stream: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	r = ert(t, env, "post", "--offstream", "IBM.N", "BID=99.5")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Ack off-stream IBM.N") {
		t.Fatalf("off-stream: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	r = ert(t, env, "post", "--offstream", "NOSUCH.RIC", "BID=1")
	if r.code != 6 || !strings.Contains(r.stdout, "Nak") {
		t.Fatalf("post to an unknown item: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	r = ert(t, env, "post", "TRI.N", "NOT_A_FIELD=1")
	if r.code != 2 || !strings.Contains(r.stderr, "not in the field dictionary") {
		t.Fatalf("unknown field: exit %d: %s", r.code, r.stderr)
	}
}

func TestDoctorHealthy(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	r := ert(t, v1Env(emu.Info()), "doctor")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, step := range []string{"token endpoint: DNS", "token endpoint: TCP", "token endpoint: TLS", "token: v1 password grant",
		"discovery: query", "discovery: choose for us-east-1", "endpoint: TLS", "endpoint: WebSocket tr_json2", "endpoint: Login",
		"endpoint: first refresh of TRI.N", "all checks passed"} {
		if !strings.Contains(r.stdout, step) {
			t.Errorf("doctor output lacks %q:\n%s", step, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL") {
		t.Errorf("a step failed:\n%s", r.stdout)
	}
}

func TestDoctorFailures(t *testing.T) {
	emu := startEmu(t, emulator.Config{})
	info := emu.Info()
	check := func(t *testing.T, r result, code int, failedStep, advice string) {
		t.Helper()
		if r.code != code {
			t.Fatalf("exit %d, want %d:\n%s\n%s", r.code, code, r.stdout, r.stderr)
		}
		var failLine string
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, "FAIL") {
				failLine = l
			}
		}
		if !strings.Contains(failLine, failedStep) {
			t.Fatalf("want step %q to fail, got %q:\n%s", failedStep, failLine, r.stdout)
		}
		if !strings.Contains(r.stdout, "advice: ") || !strings.Contains(r.stdout, advice) {
			t.Fatalf("no advice containing %q:\n%s", advice, r.stdout)
		}
	}
	t.Run("wrong password", func(t *testing.T) {
		env := v1Env(info)
		env["ERT_PASSWORD"] = "nope"
		check(t, ert(t, env, "doctor"), 3, "token: v1 password grant", "password rejected")
	})
	t.Run("wrong client secret", func(t *testing.T) {
		env := v2Env(info)
		env["ERT_CLIENTSECRET"] = "nope"
		check(t, ert(t, env, "doctor"), 3, "token: v2 client credentials", "client rejected")
	})
	t.Run("untrusted CA", func(t *testing.T) {
		env := v1Env(info)
		delete(env, "ERT_CA_FILE")
		check(t, ert(t, env, "doctor"), 3, "token endpoint: TLS", "--ca-file")
	})
	t.Run("gateway down", func(t *testing.T) {
		env := v1Env(info)
		env["ERT_AUTH_URL"] = "https://127.0.0.1:1/auth/oauth2/v1/token"
		check(t, ert(t, env, "doctor"), 3, "token endpoint: TCP", "refused")
	})
	t.Run("discovery failing", func(t *testing.T) {
		if err := emu.GatewayStatus("discovery", 503, 1); err != nil {
			t.Fatal(err)
		}
		defer emu.ClearGatewayFaults()
		check(t, ert(t, v1Env(info), "doctor"), 4, "discovery: query", "--hostname")
	})
	t.Run("endpoint killed", func(t *testing.T) {
		for i := range info.Endpoints {
			if _, err := emu.KillEndpoint(i, 30*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		check(t, ert(t, v1Env(info), "doctor"), 5, "endpoint: TCP", "refused")
	})
	t.Run("unknown RIC", func(t *testing.T) {
		emu2 := startEmu(t, emulator.Config{})
		check(t, ert(t, v1Env(emu2.Info()), "doctor", "--ric", "NOSUCH.RIC"), 6, "first refresh of NOSUCH.RIC", "RIC does not exist")
	})
}

func TestEmulatorCommandPrintsOneJSONLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	line, stop := runEmulator(t, ctx, nil, "--token-lifetime", "20s")
	defer stop()
	var info emulator.Info
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatalf("first line is not the Info JSON: %q", line)
	}
	var raw map[string]any
	json.Unmarshal([]byte(line), &raw)
	for _, k := range []string{"auth_url_v1", "auth_url_v2", "discovery_url", "endpoints", "ca_file", "admin_url", "user", "password", "clientid", "clientsecret"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("Info line lacks %q: %s", k, line)
		}
	}
	if len(info.Endpoints) != 3 || info.Endpoints[0].Host != "127.0.0.1" {
		t.Fatalf("endpoints: %+v", info.Endpoints)
	}
	// It serves: a token from it works.
	r := ert(t, v1Env(info), "token")
	if r.code != 0 {
		t.Fatalf("token from ert emulator: exit %d: %s", r.code, r.stderr)
	}
	if r := ert(t, nil, "emulator", "--api-addr", "0.0.0.0:0"); r.code != 2 {
		t.Fatalf("non-loopback listen without --insecure-listen: exit %d", r.code)
	}
}

func TestUsageErrors(t *testing.T) {
	r := ert(t, nil, "stream", "--bogus")
	if r.code != 2 || strings.Contains(r.stderr, "goroutine") {
		t.Fatalf("unknown flag: exit %d: %s", r.code, r.stderr)
	}
	r = ert(t, nil, "stream", "TRI.N")
	if r.code != 2 || !strings.Contains(r.stderr, "no credentials") {
		t.Fatalf("no credentials: exit %d: %s", r.code, r.stderr)
	}
	if r := ert(t, nil, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "ert ") {
		t.Fatalf("version: %d %s", r.code, r.stdout)
	}
}

func TestEmulatorFaultFlagsAndSchedule(t *testing.T) {
	dir := t.TempDir()
	faults := filepath.Join(dir, "faults.json")
	os.WriteFile(faults, []byte(`[{"after":"0s","fault":"kill","args":{"endpoint":0,"duration":"1m"}}]`), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	line, stop := runEmulator(t, ctx, &stderr, "--faults", faults, "--refuse-logins", "1")
	defer stop()
	var info emulator.Info
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatal(err)
	}
	ep0 := info.Endpoints[0]
	env := v1Env(info)
	// The scheduled kill lands right after start: wait for it (bounded).
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", net.JoinHostPort(ep0.Host, strconv.Itoa(ep0.Port)))
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("scheduled kill never applied; emulator stderr: %s", stderr.String())
		}
	}
	r := ert(t, env, "doctor", "--hostname", ep0.Host, "--port", strconv.Itoa(ep0.Port))
	if r.code != 5 || !strings.Contains(r.stdout, "FAIL  endpoint: TCP") {
		t.Fatalf("killed endpoint: exit %d\n%s", r.code, r.stdout)
	}
	// --refuse-logins 1: the first Login elsewhere is refused, the next is accepted.
	ep1 := info.Endpoints[1]
	r = ert(t, env, "doctor", "--hostname", ep1.Host, "--port", strconv.Itoa(ep1.Port))
	if r.code != 5 || !strings.Contains(r.stdout, "Already pending login") {
		t.Fatalf("refused login: exit %d\n%s", r.code, r.stdout)
	}
	r = ert(t, env, "doctor", "--hostname", ep1.Host, "--port", strconv.Itoa(ep1.Port))
	if r.code != 0 {
		t.Fatalf("second login: exit %d\n%s", r.code, r.stdout)
	}
}

func TestStreamHotStandbyAndProgress(t *testing.T) {
	emu := startEmu(t, emulator.Config{Rate: 10, RateSet: true})
	env := v2Env(emu.Info())
	r := ert(t, env, "stream", "--hotstandby", "--count", "30", "--stats", "TRI.N", "IBM.N")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// Two connections carry every update; each is printed once.
	seen := map[string]bool{}
	for _, m := range jsonLines(t, r.stdout) {
		if m["Type"] != "Update" {
			continue
		}
		k := fmt.Sprintf("%s/%v", name(m), m["SeqNumber"])
		if seen[k] {
			t.Fatalf("update %s printed twice under hot standby", k)
		}
		seen[k] = true
	}
	if !strings.Contains(r.stderr, "dups_suppressed=") {
		t.Fatalf("no stats: %s", r.stderr)
	}
	m := regexp.MustCompile(`dups_suppressed=(\d+)`).FindStringSubmatch(r.stderr)
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Fatalf("hot standby suppressed no duplicate: %s", r.stderr)
	}

	// Progress for a large subscription: 600 items, most unknown.
	rics := []string{"TRI.N"}
	for i := 0; i < 599; i++ {
		rics = append(rics, fmt.Sprintf("NO%03d.X", i))
	}
	r = ert(t, env, append([]string{"stream", "--duration", "3s"}, rics...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "ert: subscribing: 600/600 items answered (599 closed)") {
		t.Fatalf("no progress line: %s", r.stderr)
	}
}

// The emulator writes its CPU profile and execution trace when it stops.
func TestEmulatorProfiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	cpu, tr := filepath.Join(dir, "emu.cpu"), filepath.Join(dir, "emu.trace")
	_, stop := runEmulator(t, ctx, nil, "--cpuprofile", cpu, "--trace", tr)
	stop()
	for _, f := range []string{cpu, tr} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if r := ert(t, nil, "bench", "load", "--emulator-trace", tr); r.code != 2 || !strings.Contains(r.stderr, "need --emulator-process") {
		t.Errorf("--emulator-trace without --emulator-process: exit %d, %s", r.code, r.stderr)
	}
}

// runEmulator starts `ert emulator args…` and returns it with the JSON
// line it printed when ready; stop interrupts it and waits for it.
func runEmulator(t *testing.T, ctx context.Context, stderr io.Writer, args ...string) (line string, stop func()) {
	t.Helper()
	return runServer(t, ctx, stderr, nil, append([]string{"emulator"}, args...)...)
}

// runServer starts a long-running ert command (emulator, gateway) and
// returns the JSON line it prints when ready; stop interrupts it. env,
// when set, is its whole environment (plus PATH and HOME).
func runServer(t *testing.T, ctx context.Context, stderr io.Writer, env map[string]string, args ...string) (line string, stop func()) {
	t.Helper()
	cmd := exec.CommandContext(ctx, ertBin, args...)
	if env != nil {
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	line, err = bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		t.Fatal(err)
	}
	return line, stop
}
