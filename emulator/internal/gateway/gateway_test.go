package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/internal/certs"
	"github.com/ertkit/ertkit/server/tokens"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Credentials of the test gateway. The password satisfies the policy.
const (
	testUser     = "GE-A-01234567-8-9012"
	testPassword = "Initial-Passw0rd-For-Gateway-Tests!"
	testClientID = "app-key-0123456789abcdef"
	testSecret   = "s3cret-client-value"
	testAudience = "https://login.ciam.refinitiv.com/as/token.oauth2"
)

// clock is a settable clock shared by the gateway and its token store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a gateway behind a real TLS loopback listener and an HTTP client
// that trusts only the emulator CA and, like every LSEG example, does not
// follow redirects by itself.
type env struct {
	t      *testing.T
	gw     *Gateway
	store  *tokens.Store
	clock  *clock
	srv    *httptest.Server
	client *http.Client
	logs   *syncBuffer
	bundle *certs.Bundle
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, tweak func(*Config)) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	store := tokens.NewStore(clk.Now)
	logs := &syncBuffer{}
	cfg := Config{
		Store:        store,
		User:         testUser,
		Password:     testPassword,
		ClientID:     testClientID,
		ClientSecret: testSecret,
		Audience:     testAudience,
		Logger:       slog.New(slog.NewJSONHandler(logs, nil)),
		Now:          clk.Now,
		Services: func() []Service {
			return []Service{
				{Endpoint: "127.0.0.1", Port: 14001, Location: []string{"us-east-1a", "us-east-1b"}},
				{Endpoint: "127.0.0.1", Port: 14002, Location: []string{"us-east-1a"}},
				{Endpoint: "localhost", Port: 14003, Location: []string{"eu-west-1a"}, Transport: "tcp"},
			}
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := certs.Generate(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(gw)
	srv.TLS = bundle.ServerTLS.Clone()
	srv.StartTLS()
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: bundle.ClientTLS()},
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	return &env{t: t, gw: gw, store: store, clock: clk, srv: srv, client: client, logs: logs, bundle: bundle}
}

// form builds an application/x-www-form-urlencoded body from key/value
// pairs in the given order, the way the examples' HTTP libraries do.
func form(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// reply is a decoded HTTP answer.
type reply struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (r reply) str(k string) string {
	s, _ := r.json[k].(string)
	return s
}

func (e *env) do(req *http.Request) reply {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.json); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %q", req.Method, req.URL.Path, raw)
		}
	}
	return out
}

// post sends a form body to path (or to a full URL), with an optional
// Authorization header.
func (e *env) post(path, body, authorization string) reply {
	e.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return e.do(req)
}

func (e *env) get(pathOrURL, bearer string) reply {
	e.t.Helper()
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = e.srv.URL + u
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(req)
}

// passwordForm is the Java/C# v1 password grant: client_id in the body,
// no Basic header.
func passwordForm(exclusive bool) string {
	x := "false"
	if exclusive {
		x = "true"
	}
	return form("grant_type", "password", "username", testUser, "password", testPassword,
		"client_id", testClientID, "scope", DefaultScope, "takeExclusiveSignOnControl", x)
}

func (e *env) passwordGrant() reply {
	e.t.Helper()
	r := e.post(PathTokenV1, passwordForm(true), "")
	wantStatus(e.t, r, http.StatusOK)
	return r
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
}

func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.str("error"), status, code, r.raw)
	}
	if r.str("error_description") == "" {
		t.Errorf("error without error_description: %s", r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	store := tokens.NewStore(nil)
	for name, cfg := range map[string]Config{
		"no store":    {User: "u", Password: "p", ClientID: "c"},
		"no user":     {Store: store, Password: "p", ClientID: "c"},
		"no password": {Store: store, User: "u", ClientID: "c"},
		"no client":   {Store: store, User: "u", Password: "p"},
		"bad jwk":     {Store: store, User: "u", Password: "p", ClientID: "c", JWKs: [][]byte{[]byte(`{"kty":"oct","k":"AAAA","kid":"x"}`)}},
		"kid missing": {Store: store, User: "u", Password: "p", ClientID: "c", JWKs: [][]byte{[]byte(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`)}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestUnknownPathAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	wantError(t, e.get("/nope", ""), http.StatusNotFound, "not_found")
	r := e.get(PathTokenV1, "")
	wantError(t, r, http.StatusMethodNotAllowed, "invalid_request")
	if r.header.Get("Allow") != http.MethodPost {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	r = e.post(PathDiscovery, "", "")
	wantError(t, r, http.StatusMethodNotAllowed, "invalid_request")
}

func TestLogsNeverCarrySecrets(t *testing.T) {
	e := newEnv(t, nil)
	pw := e.passwordGrant()
	rf := e.post(PathTokenV1, form("grant_type", "refresh_token", "username", testUser, "client_id", testClientID,
		"refresh_token", pw.str("refresh_token")), basic(testClientID, ""))
	wantStatus(t, rf, http.StatusOK)
	v2 := e.post(PathTokenV2, form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret), "")
	wantStatus(t, v2, http.StatusOK)
	bad := e.post(PathTokenV1, form("grant_type", "password", "username", testUser, "password", "Wrong-"+testPassword,
		"client_id", testClientID), "")
	wantError(t, bad, http.StatusBadRequest, "invalid_grant")

	logs := e.logs.String()
	if strings.Count(logs, `"msg":"token request"`) != 4 {
		t.Errorf("want 4 token-request log records, got:\n%s", logs)
	}
	for _, secret := range []string{testPassword, testSecret, pw.str("access_token"), pw.str("refresh_token"),
		rf.str("access_token"), rf.str("refresh_token"), v2.str("access_token")} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret or token")
		}
	}
	if !strings.Contains(logs, testUser) || !strings.Contains(logs, testClientID) {
		t.Errorf("log lacks user or client id:\n%s", logs)
	}
}

func TestStatsCount(t *testing.T) {
	e := newEnv(t, nil)
	e.passwordGrant()
	wantStatus(t, e.post(PathTokenV2, form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", "nope"), ""), http.StatusUnauthorized)
	wantStatus(t, e.post(PathTokenV2, form("grant_type", "password"), ""), http.StatusBadRequest)
	e.get(PathDiscovery, "unknown")
	st := e.gw.Status()
	if st.Stats.TokenRequests[GrantPassword] != 1 || st.Stats.TokenFailures[GrantPassword] != 0 {
		t.Errorf("password counters: %+v", st.Stats)
	}
	if st.Stats.TokenRequests[GrantClientSecret] != 1 || st.Stats.TokenFailures[GrantClientSecret] != 1 {
		t.Errorf("client_credentials counters: %+v", st.Stats)
	}
	if st.Stats.TokenFailures[GrantUnsupported] != 1 {
		t.Errorf("unsupported counters: %+v", st.Stats)
	}
	if st.Stats.Discovery != 1 || st.Stats.DiscoveryFailures != 1 {
		t.Errorf("discovery counters: %+v", st.Stats)
	}
	if st.TokenLifetime != DefaultTokenLifetime || st.RateLimit != DefaultRateLimit {
		t.Errorf("status settings: %+v", st)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Errorf("Status is not JSON-encodable: %v", err)
	}
}

func TestConcurrentGrants(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit = -1 })
	const workers, rounds = 6, 8
	errs := make(chan string, workers*rounds*3)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				pw := e.post(PathTokenV1, passwordForm(false), "")
				if pw.status != http.StatusOK {
					errs <- "password: " + string(pw.raw)
					continue
				}
				rf := e.post(PathTokenV1, refreshForm(pw.str("refresh_token")), "")
				if rf.status != http.StatusOK {
					errs <- "refresh: " + string(rf.raw)
				}
				if d := e.get(PathDiscovery, rf.str("access_token")); d.status != http.StatusOK {
					errs <- "discovery: " + string(d.raw)
				}
				_ = e.gw.Status()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if got := e.gw.Stats().TokenRequests[GrantRefreshToken]; got != workers*rounds {
		t.Errorf("refresh grants %d, want %d", got, workers*rounds)
	}
}
