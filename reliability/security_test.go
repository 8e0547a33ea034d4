package reliability

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
)

// jwkPair returns a private JWK (JSON) and its public half with kid.
func jwkPair(t *testing.T, kid string) (priv jose.JSONWebKey, privJSON, pubJSON []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv = jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: "ES256", Use: "sig"}
	if privJSON, err = priv.MarshalJSON(); err != nil {
		t.Fatal(err)
	}
	if pubJSON, err = priv.Public().MarshalJSON(); err != nil {
		t.Fatal(err)
	}
	return priv, privJSON, pubJSON
}

// tokenPattern matches what must never be printed: emulator access and
// refresh tokens (64-character base64url) and JWTs (base64url JSON header).
var tokenPattern = regexp.MustCompile(`[A-Za-z0-9_-]{60,}|eyJ[A-Za-z0-9_-]{10,}`)

// recordingSource remembers every token it handed out.
type recordingSource struct {
	*auth.Manager
	mu   sync.Mutex
	seen []string
}

func (r *recordingSource) Token(ctx context.Context) (auth.Token, error) {
	t, err := r.Manager.Token(ctx)
	r.record(t)
	return t, err
}

func (r *recordingSource) Fresh(ctx context.Context) (auth.Token, error) {
	t, err := r.Manager.Fresh(ctx)
	r.record(t)
	return t, err
}

func (r *recordingSource) record(t auth.Token) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.AccessToken != "" {
		r.seen = append(r.seen, t.AccessToken)
	}
}

func (r *recordingSource) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// scanSecrets fails if any secret or token-like string appears in out.
func scanSecrets(t *testing.T, where, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("%s contains a secret (%d chars, starts %q)", where, len(s), s[:min(4, len(s))])
		}
	}
	if m := tokenPattern.FindString(out); m != "" {
		t.Errorf("%s contains a token-like string %q…", where, m[:8])
	}
}

// TestWholeSessionNoSecretsSDK: an SDK session at debug level with v1
// renewals and Login reissues, a reconnect, a refused login and a failed
// password login: neither the SDK's, the auth Manager's nor the
// emulator's logs contain a password, secret or any token handed out.
func TestWholeSessionNoSecretsSDK(t *testing.T) {
	emuLog, sdkLog := &syncBuffer{}, &syncBuffer{}
	emu, info := startEmu(t, emulator.Config{TokenLifetime: 2 * time.Second, Logger: debugLogger(emuLog)})
	src := &recordingSource{Manager: tokens(t, info, v1Grant(info), debugLogger(sdkLog))}
	log := newSeqLog()
	c, ev := dial(t, info, src, func(cfg *consumer.Config) { cfg.Handler = log.handle; cfg.Logger = debugLogger(sdkLog) })
	ctx := scenarioCtx(t)
	sub := subscribeAll(t, ctx, c, matrixItems)
	waitFor(t, ev, 10*time.Second, "2 reissues", func() bool { return c.Stats().LoginReissues >= 2 })
	emu.RefuseLogins(1)
	if _, err := emu.DropConnections(-1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, 10*time.Second, "reconnected", func() bool { return c.Stats().Reconnects >= 1 && allOk(sub.Items()) })
	// A failed password login with a wrong password (its own Manager).
	bad := auth.NewManager(auth.PasswordGrant(auth.PasswordConfig{TokenURL: info.AuthURLV1, Username: info.User,
		Password: "Wrong-Passw0rd-Never-Printed!", ClientID: info.ClientID}), auth.Options{TLSConfig: emuTLS(t, info), MaxAttempts: 1, Logger: debugLogger(sdkLog)})
	_, err := bad.Token(ctx)
	bad.Close()
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	c.Close()
	toks := src.tokens()
	if len(toks) < 2 {
		t.Fatalf("only %d tokens used", len(toks))
	}
	secrets := append([]string{info.Password, info.ClientSecret, "Wrong-Passw0rd-Never-Printed!"}, toks...)
	scanSecrets(t, "SDK debug log", sdkLog.String()+err.Error(), secrets...)
	scanSecrets(t, "emulator debug log", emuLog.String(), secrets...)
	if !strings.Contains(sdkLog.String(), "level=DEBUG") {
		t.Error("no debug lines logged: the scan proves nothing")
	}
}

// TestWholeSessionNoSecretsCLI: ert at --log-level debug through a v1
// session (renewals, reissues, a reconnect after a refused login), a v2
// JWT session, and failed logins; stdout and stderr hold no secret.
func TestWholeSessionNoSecretsCLI(t *testing.T) {
	emuLog := &syncBuffer{}
	_, privJSON, pubJSON := jwkPair(t, "reliability-key")
	emu, info := startEmu(t, emulator.Config{TokenLifetime: 2 * time.Second, JWKs: [][]byte{pubJSON}, Logger: debugLogger(emuLog)})
	secrets := []string{info.Password, info.ClientSecret, "Wrong-Passw0rd-Never-Printed!", string(privJSON)}
	var priv map[string]any
	_ = json.Unmarshal(privJSON, &priv)
	secrets = append(secrets, priv["d"].(string))

	// v1 stream with renewals, a refused login and a reconnect.
	r := startCLI(t, cliEnv(info, 1), "--log-level", "debug", "stream", "-o", "jsonl", "--duration", "6s", "--stats", "TRI.N")
	r.waitLine(t, 0, 10*time.Second, "first update", func(l cliLine) bool { return l.Type == "Update" })
	emu.RefuseLogins(1)
	if _, err := emu.DropConnections(-1); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	errOut := r.stderr.String()
	for _, want := range []string{"login-reissued", "reconnected", "Already pending login", "level=DEBUG"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the session did not exercise %q; stderr:\n%s", want, errOut)
		}
	}
	scanSecrets(t, "v1 stream stdout", r.stdout(), secrets...)
	scanSecrets(t, "v1 stream stderr", errOut, secrets...)

	// v2 with a JWT client assertion.
	dir := t.TempDir()
	jwkFile := filepath.Join(dir, "key.jwk")
	if err := os.WriteFile(jwkFile, privJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ERT_CLIENTID": info.ClientID, "ERT_JWK_FILE": jwkFile, "ERT_AUTH_URL": info.AuthURLV2,
		"ERT_DISCOVERY_URL": info.DiscoveryURL, "ERT_CA_FILE": info.CAFile}
	code, out, stderr, _ := runCLI(t, env, "--log-level", "debug", "snapshot", "TRI.N")
	if code != 0 || !strings.Contains(out, `"Refresh"`) {
		t.Fatalf("JWT session: exit %d: %s", code, stderr)
	}
	scanSecrets(t, "JWT stdout", out, secrets...)
	scanSecrets(t, "JWT stderr", stderr, secrets...)

	// Failed logins: wrong password, wrong secret.
	envBad := cliEnv(info, 1)
	envBad["ERT_PASSWORD"] = "Wrong-Passw0rd-Never-Printed!"
	code, out, stderr, _ = runCLI(t, envBad, "--log-level", "debug", "snapshot", "TRI.N")
	if code != 3 {
		t.Errorf("wrong password: exit %d", code)
	}
	scanSecrets(t, "failed v1 login output", out+stderr, secrets...)
	envBad = cliEnv(info, 2)
	envBad["ERT_CLIENTSECRET"] = "wrong-secret-never-printed"
	code, out, stderr, _ = runCLI(t, envBad, "--log-level", "debug", "snapshot", "TRI.N")
	if code != 3 {
		t.Errorf("wrong secret: exit %d", code)
	}
	scanSecrets(t, "failed v2 login output", out+stderr, append(secrets, "wrong-secret-never-printed")...)
	scanSecrets(t, "emulator debug log", emuLog.String(), secrets...)
}

// rawLoginResult logs in on a raw connection and returns the first
// message's type and state text, and whether the connection then ended.
func rawLoginResult(t *testing.T, hc *http.Client, u, token string) (typ, text string, closed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rawDial(ctx, hc, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	login := `{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"127.0.0.1/net","AuthenticationToken":"` + token + `"}}}`
	if err := c.Write(ctx, websocket.MessageText, []byte(login)); err != nil {
		t.Fatal(err)
	}
	_, p, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []struct {
		Type  string
		State struct{ Text string }
	}
	if err := json.Unmarshal(p, &msgs); err != nil || len(msgs) == 0 {
		t.Fatalf("login answer %s: %v", p, err)
	}
	if msgs[0].Type == "Refresh" {
		return msgs[0].Type, "", false
	}
	for {
		if _, _, err := c.Read(ctx); err != nil {
			closed = ctx.Err() == nil
			break
		}
	}
	return msgs[0].Type, msgs[0].State.Text, closed
}

func v2TokenFor(t *testing.T, hc *http.Client, info emulator.Info) string {
	t.Helper()
	resp, err := hc.PostForm(info.AuthURLV2, url.Values{"grant_type": {"client_credentials"}, "client_id": {info.ClientID},
		"client_secret": {info.ClientSecret}, "scope": {"trapi.streaming.pricing.read"}})
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

// TestEmulatorRejectsBadTokens: a Login with an expired, revoked, forged
// or altered token gets a Login Status (never a Refresh) and a disconnect.
func TestEmulatorRejectsBadTokens(t *testing.T) {
	emu, info := startEmu(t, emulator.Config{})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: emuTLS(t, info)}, Timeout: 5 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	u := info.Endpoints[0].URL
	// Positive control.
	good := v2TokenFor(t, hc, info)
	if typ, _, _ := rawLoginResult(t, hc, u, good); typ != "Refresh" {
		t.Fatalf("a valid token was refused: %s", typ)
	}
	altered := []byte(v2TokenFor(t, hc, info))
	altered[len(altered)/2] ^= 1
	cases := map[string]func() string{
		"forged":  func() string { return strings.Repeat("A", 64) },
		"altered": func() string { return string(altered) },
		"jwt-shaped": func() string {
			return "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
		},
		"expired": func() string { tok := v2TokenFor(t, hc, info); emu.ExpireTokens(); return tok },
		"revoked": func() string { tok := v2TokenFor(t, hc, info); emu.RevokeTokens("test"); return tok },
	}
	for name, tok := range cases {
		typ, text, closed := rawLoginResult(t, hc, u, tok())
		if typ != "Status" || !closed {
			t.Errorf("%s token: answer %s %q, closed %v; want a Status and a disconnect", name, typ, text, closed)
		}
		t.Logf("%s token: %s %q", name, typ, text)
	}
}

// TestEmulatorRejectsBadAssertions: the v2 token endpoint accepts a
// correctly signed JWT assertion (control) and refuses one signed by
// another key under the registered kid, one for another audience, and
// an expired one.
func TestEmulatorRejectsBadAssertions(t *testing.T) {
	priv, _, pubJSON := jwkPair(t, "k1")
	other, _, _ := jwkPair(t, "k1")
	_, info := startEmu(t, emulator.Config{JWKs: [][]byte{pubJSON}})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: emuTLS(t, info)}, Timeout: 5 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	now := time.Now()
	claims := func(aud string, exp time.Time) jwt.Claims {
		return jwt.Claims{Issuer: info.ClientID, Subject: info.ClientID, Audience: jwt.Audience{aud},
			Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)), ID: "jti-" + exp.String()}
	}
	sign := func(k jose.JSONWebKey, c jwt.Claims) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		out, err := jwt.Signed(s).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	post := func(assertion string) int {
		resp, err := hc.PostForm(info.AuthURLV2, url.Values{"grant_type": {"client_credentials"}, "client_id": {info.ClientID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion}, "scope": {"trapi.streaming.pricing.read"}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(sign(priv, claims(emulator.DefaultAudience, now.Add(2*time.Minute)))); st != 200 {
		t.Fatalf("control: a valid assertion got HTTP %d", st)
	}
	for name, a := range map[string]string{
		"wrong-signature": sign(other, claims(emulator.DefaultAudience, now.Add(2*time.Minute))),
		"wrong-audience":  sign(priv, claims("https://attacker.example/token", now.Add(2*time.Minute))),
		"expired":         sign(priv, claims(emulator.DefaultAudience, now.Add(-2*time.Minute))),
		"alg-none":        "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ." + strings.Split(sign(priv, claims(emulator.DefaultAudience, now.Add(time.Minute))), ".")[1] + ".",
	} {
		if st := post(a); st != 400 && st != 401 {
			t.Errorf("%s assertion: HTTP %d, want 400 or 401", name, st)
		} else {
			t.Logf("%s assertion: HTTP %d", name, st)
		}
	}
}

// TestLoopbackOnlyByDefault: the emulator (streaming, token, discovery
// and admin endpoints) listens on loopback unless told otherwise, and
// `ert emulator` refuses other addresses without --insecure-listen.
func TestLoopbackOnlyByDefault(t *testing.T) {
	_, info := startEmu(t, emulator.Config{})
	for _, u := range []string{info.AuthURLV1, info.AuthURLV2, info.DiscoveryURL, info.AdminURL} {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if ip := net.ParseIP(pu.Hostname()); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s is not on loopback", u)
		}
	}
	for _, e := range info.Endpoints {
		if ip := net.ParseIP(e.Host); ip == nil || !ip.IsLoopback() {
			t.Errorf("endpoint %s is not on loopback", e.URL)
		}
	}
	for _, args := range [][]string{
		{"emulator", "--api-addr", "0.0.0.0:0"},
		{"emulator", "--stream-addr", "0.0.0.0:0"},
		{"emulator", "--api-addr", "[::]:0"},
	} {
		code, _, stderr, _ := runCLI(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "--insecure-listen") {
			t.Errorf("ert %v: exit %d, want 2 naming --insecure-listen: %s", args, code, stderr)
		}
	}
}

// TestTLSVerificationOnByDefault: without the emulator's CA the CLI and
// the SDK refuse the emulator's certificate; --insecure connects and
// warns on every start.
func TestTLSVerificationOnByDefault(t *testing.T) {
	_, info := startEmu(t, emulator.Config{})
	env := cliEnv(info, 2)
	delete(env, "ERT_CA_FILE")
	code, _, stderr, _ := runCLI(t, env, "snapshot", "TRI.N")
	if code == 0 || !strings.Contains(stderr, "certificate") {
		t.Errorf("untrusted certificate accepted: exit %d: %s", code, stderr)
	}
	for i := 0; i < 2; i++ {
		code, out, stderr, _ := runCLI(t, env, "snapshot", "--insecure", "TRI.N")
		if code != 0 || !strings.Contains(out, `"Refresh"`) {
			t.Fatalf("--insecure: exit %d: %s", code, stderr)
		}
		if !strings.Contains(stderr, "TLS certificate verification is OFF") {
			t.Errorf("start %d with --insecure did not warn: %s", i+1, stderr)
		}
	}
	// SDK: the zero TLS config verifies against the system roots only.
	ts := consumer.TokenSource(auth.NewManager(auth.StaticToken("x"), auth.Options{}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := consumer.Dial(ctx, consumer.Config{Endpoints: endpoints(info)[:1], TokenSource: ts, Handler: func(*consumer.Msg) {}})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("SDK accepted an untrusted certificate: %v", err)
	}
}

// TestConfigFileWithSecretRefusedWhenReadableByOthers: --config holding
// a password is refused when group/world-readable, accepted at 0600.
func TestConfigFileWithSecretRefusedWhenReadableByOthers(t *testing.T) {
	_, info := startEmu(t, emulator.Config{})
	dir := t.TempDir()
	f := filepath.Join(dir, "ert.json")
	cfg, _ := json.Marshal(map[string]string{"user": info.User, "password": info.Password, "clientid": info.ClientID,
		"auth_url": info.AuthURLV1, "discovery_url": info.DiscoveryURL, "ca-file": info.CAFile})
	if err := os.WriteFile(f, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr, _ := runCLI(t, nil, "snapshot", "--config", f, "TRI.N")
	if code == 0 || !strings.Contains(stderr, "readable by others") {
		t.Errorf("world-readable config with a password accepted: exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, info.Password) {
		t.Error("the refusal prints the password")
	}
	if err := os.Chmod(f, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr, _ := runCLI(t, nil, "snapshot", "--config", f, "TRI.N")
	if code != 0 || !strings.Contains(out, `"Refresh"`) {
		t.Errorf("0600 config refused: exit %d: %s", code, stderr)
	}
}
