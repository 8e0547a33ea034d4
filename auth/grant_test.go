package auth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func v1Config(ts *tokenServer) PasswordConfig {
	return PasswordConfig{TokenURL: ts.URL + "/auth/oauth2/v1/token", Username: "GE-A-0001", Password: "pw-Secret-1", ClientID: "app-key-1"}
}

func TestPasswordGrantForm(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v1Token(w, "A", "R", 300) })
		cfg := v1Config(ts)
		cfg.TakeExclusiveSignOnControl = exclusive
		m := newManager(t, PasswordGrant(cfg), fastOptions(ts, nil))
		tok, err := m.Token(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != "A" || tok.RefreshToken != "R" || tok.ExpiresIn != 300*time.Second || tok.Version != 1 {
			t.Fatalf("token = %+v", tok)
		}
		p := ts.requests()[0]
		if p.Method != http.MethodPost || p.Path != "/auth/oauth2/v1/token" {
			t.Fatalf("%s %s", p.Method, p.Path)
		}
		if ct := p.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", ct)
		}
		if p.Header.Get("Authorization") != "" {
			t.Errorf("unexpected Authorization header")
		}
		want := "false"
		if exclusive {
			want = "true"
		}
		assertForm(t, p.Form, map[string]string{
			"grant_type": "password", "username": "GE-A-0001", "password": "pw-Secret-1",
			"client_id": "app-key-1", "scope": "trapi.streaming.pricing.read", "takeExclusiveSignOnControl": want,
		})
	}
}

func TestPasswordGrantClientSecretFormVsBasic(t *testing.T) {
	t.Run("form", func(t *testing.T) {
		ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v1Token(w, "A", "R", 300) })
		cfg := v1Config(ts)
		cfg.ClientSecret, cfg.Scope = "cs-1", "custom.scope"
		m := newManager(t, PasswordGrant(cfg), fastOptions(ts, nil))
		if _, err := m.Token(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		p := ts.requests()[0]
		if p.Header.Get("Authorization") != "" {
			t.Error("secret sent twice: Basic header present")
		}
		assertForm(t, p.Form, map[string]string{
			"grant_type": "password", "username": "GE-A-0001", "password": "pw-Secret-1", "client_id": "app-key-1",
			"client_secret": "cs-1", "scope": "custom.scope", "takeExclusiveSignOnControl": "false",
		})
	})
	t.Run("basic", func(t *testing.T) {
		ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v1Token(w, "A", "R", 300) })
		cfg := v1Config(ts)
		cfg.ClientSecret, cfg.UseBasicAuth = "cs-1", true
		m := newManager(t, PasswordGrant(cfg), fastOptions(ts, nil))
		if _, err := m.Token(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		p := ts.requests()[0]
		r := http.Request{Header: p.Header}
		user, pass, ok := r.BasicAuth()
		if !ok || user != "app-key-1" || pass != "cs-1" {
			t.Errorf("Basic = %q %q %v", user, pass, ok)
		}
		if p.Form.Has("client_secret") {
			t.Error("secret sent twice: also in the form")
		}
		if p.Form.Get("client_id") != "app-key-1" {
			t.Error("client_id missing from the body")
		}
	})
}

func TestRefreshGrantForm(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v1Token(w, "A", "R-first", 300) })
	m := newManager(t, PasswordGrant(v1Config(ts)), fastOptions(ts, nil))
	if _, err := m.Token(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	p := ts.requests()[1]
	assertForm(t, p.Form, map[string]string{
		"grant_type": "refresh_token", "username": "GE-A-0001", "client_id": "app-key-1", "refresh_token": "R-first",
	})
}

func TestRefreshFallsBackToPasswordOn400And401(t *testing.T) {
	for _, status := range []int{400, 401} {
		ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
			if p.Form.Get("grant_type") == "refresh_token" {
				writeJSON(w, status, `{"error":"invalid_grant","error_description":"refresh token expired"}`)
				return
			}
			v1Token(w, "A"+string(rune('0'+n)), "R", 300)
		})
		m := newManager(t, PasswordGrant(v1Config(ts)), fastOptions(ts, nil))
		got := make(chan Token, 4)
		defer m.Subscribe(func(tk Token) { got <- tk })()
		if _, err := m.Token(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		tok, err := m.Fresh(ctxT(t))
		if err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		if g := strings.Join(ts.grantTypes(), ","); g != "password,refresh_token,password" {
			t.Fatalf("status %d: grants %s", status, g)
		}
		if tok.AccessToken != "A2" {
			t.Fatalf("token %q, want the password grant's A2", tok.AccessToken)
		}
		select {
		case tk := <-got:
			if tk.AccessToken != "A2" {
				t.Fatalf("announced %q", tk.AccessToken)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("renewal not announced")
		}
	}
}

func TestPasswordGrantRejectedIsNotRetried(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		writeJSON(w, 401, `{"error":"invalid_client","error_description":"bad credentials"}`)
	})
	m := newManager(t, PasswordGrant(v1Config(ts)), fastOptions(ts, nil))
	_, err := m.Token(ctxT(t))
	if !errors.Is(err, ErrCredentials) || !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrFatal) {
		t.Fatalf("err = %v", err)
	}
	if n := len(ts.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	if !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "bad credentials") {
		t.Fatalf("error text %q lacks status or server text", err)
	}
}

func TestExpiresInChangedTriggersPasswordGrant(t *testing.T) {
	refreshLifetimes := []int{200, 300} // first refresh shortened, second normal
	refreshes := 0
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) {
		if p.Form.Get("grant_type") == "refresh_token" {
			life := refreshLifetimes[refreshes]
			refreshes++
			v1Token(w, "refreshed", "R", life)
			return
		}
		v1Token(w, "password", "R", 300)
	})
	m := newManager(t, PasswordGrant(v1Config(ts)), fastOptions(ts, nil))
	if _, err := m.Token(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	tok, err := m.Fresh(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "password" || tok.ExpiresIn != 300*time.Second {
		t.Fatalf("after a shortened refresh: %v", tok)
	}
	if g := strings.Join(ts.grantTypes(), ","); g != "password,refresh_token,password" {
		t.Fatalf("grants %s", g)
	}
	tok, err = m.Fresh(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "refreshed" {
		t.Fatalf("a refresh with the reference lifetime was not kept: %v", tok)
	}
	if g := strings.Join(ts.grantTypes(), ","); g != "password,refresh_token,password,refresh_token" {
		t.Fatalf("grants %s", g)
	}
}

const goodNewPassword = "Abcdefghijklmnopqrstuvwxyz0123!"

func TestNewPasswordChangesThenSignsOn(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v1Token(w, "A", "R", 300) })
	cfg := v1Config(ts)
	cfg.NewPassword = goodNewPassword
	m := newManager(t, PasswordGrant(cfg), fastOptions(ts, nil))
	if _, err := m.Token(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	reqs := ts.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want change + sign-on", len(reqs))
	}
	assertForm(t, reqs[0].Form, map[string]string{
		"grant_type": "password", "username": "GE-A-0001", "password": "pw-Secret-1", "client_id": "app-key-1",
		"scope": "trapi.streaming.pricing.read", "takeExclusiveSignOnControl": "false", "newPassword": goodNewPassword,
	})
	assertForm(t, reqs[1].Form, map[string]string{
		"grant_type": "password", "username": "GE-A-0001", "password": goodNewPassword, "client_id": "app-key-1",
		"scope": "trapi.streaming.pricing.read", "takeExclusiveSignOnControl": "false",
	})
	// A later password grant (refresh rejected) uses the new password and does not change it again.
	if _, err := m.Fresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, p := range ts.requests()[2:] {
		if p.Form.Has("newPassword") {
			t.Fatal("password changed twice")
		}
	}
}

func TestNewPasswordPolicyCheckedBeforeSending(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v1Token(w, "A", "R", 300) })
	cfg := v1Config(ts)
	cfg.NewPassword = "short1A"
	m := newManager(t, PasswordGrant(cfg), fastOptions(ts, nil))
	_, err := m.Token(ctxT(t))
	if !errors.Is(err, ErrPasswordPolicy) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "short1A") {
		t.Fatal("the error quotes the password")
	}
	if len(ts.requests()) != 0 {
		t.Fatal("a request was sent")
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	cases := []struct {
		pw string
		ok bool
	}{
		{goodNewPassword, true},
		{strings.Repeat("a", 20) + strings.Repeat("B", 10), false},     // 2 classes
		{strings.Repeat("a", 20) + strings.Repeat("B", 9) + "1", true}, // 3 classes
		{strings.Repeat("a", 15) + "B1!", false},                       // too short
		{strings.Repeat("a", 27) + "B1 ", false},                       // space is not allowed
		{strings.Repeat("a", 27) + "B1é", false},                       // non-ASCII
		{strings.Repeat("a", 28) + "|?", false},                        // 2 classes (lower, special)
		{strings.Repeat("a", 27) + "|?9", true},                        // lower, special, digit
	}
	for _, c := range cases {
		err := CheckPasswordPolicy(c.pw)
		if (err == nil) != c.ok {
			t.Errorf("CheckPasswordPolicy(%q) = %v, want ok=%v", c.pw, err, c.ok)
		}
	}
}

func TestClientCredentialsForm(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, "V2", 600) })
	m := newManager(t, ClientCredentials(ClientCredentialsConfig{TokenURL: ts.URL + "/auth/oauth2/v2/token", ClientID: "svc-1", ClientSecret: "svc-secret"}), fastOptions(ts, nil))
	tok, err := m.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "V2" || tok.ExpiresIn != 600*time.Second || tok.RefreshToken != "" || tok.Version != 2 || m.Version() != 2 {
		t.Fatalf("token = %v", tok)
	}
	p := ts.requests()[0]
	if p.Header.Get("Authorization") != "" {
		t.Error("v2 sent a Basic header")
	}
	assertForm(t, p.Form, map[string]string{
		"grant_type": "client_credentials", "client_id": "svc-1", "client_secret": "svc-secret", "scope": "trapi.streaming.pricing.read",
	})
}

func TestMissingSettingsAreConfigErrors(t *testing.T) {
	ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, "V2", 600) })
	for _, g := range []Grant{
		PasswordGrant(PasswordConfig{TokenURL: ts.URL, Username: "u", ClientID: "c"}),
		ClientCredentials(ClientCredentialsConfig{TokenURL: ts.URL, ClientID: "c"}),
		StaticToken(""),
	} {
		m := newManager(t, g, fastOptions(ts, nil))
		if _, err := m.Token(ctxT(t)); !errors.Is(err, ErrConfig) {
			t.Errorf("err = %v, want ErrConfig", err)
		}
	}
	if _, err := JWTAssertion(JWTConfig{}); !errors.Is(err, ErrConfig) {
		t.Errorf("JWT without client id: %v", err)
	}
	if len(ts.requests()) != 0 {
		t.Fatal("requests sent with incomplete settings")
	}
}

func TestStaticToken(t *testing.T) {
	m := newManager(t, StaticToken("static-tok"), Options{})
	tok, err := m.Token(ctxT(t))
	if err != nil || tok.AccessToken != "static-tok" || tok.ExpiresIn != 0 {
		t.Fatalf("%v %v", tok, err)
	}
	tok2, err := m.Fresh(ctxT(t))
	if err != nil || tok2.AccessToken != "static-tok" {
		t.Fatalf("%v %v", tok2, err)
	}
	if m.Version() != 2 {
		t.Fatal("version")
	}
}
