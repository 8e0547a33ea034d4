package gateway

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ertkit/ertkit/server/tokens"
)

func TestPasswordGrantV1(t *testing.T) {
	cases := map[string]struct{ body, auth string }{
		// Java and C#: client_id in the body, no Basic.
		"form client_id": {passwordForm(true), ""},
		// Python v1 since 2020-08: client_id in the body and Basic "client_id:" (empty secret).
		"python basic empty secret": {form("grant_type", "password", "username", testUser, "password", testPassword,
			"client_id", testClientID, "scope", DefaultScope, "takeExclusiveSignOnControl", "True"), basic(testClientID, "")},
		// Python with --clientsecret: secret in Basic and in the body.
		"python basic with secret": {form("grant_type", "password", "username", testUser, "password", testPassword,
			"client_id", testClientID, "client_secret", testSecret, "scope", DefaultScope, "takeExclusiveSignOnControl", "True"), basic(testClientID, testSecret)},
		// 2019-07: client id only as the Basic user.
		"basic only": {form("grant_type", "password", "username", testUser, "password", testPassword,
			"scope", DefaultScope, "takeExclusiveSignOnControl", "True"), basic(testClientID, "")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.post(PathTokenV1, c.body, c.auth)
			wantStatus(t, r, http.StatusOK)
			if exp, ok := r.json["expires_in"].(string); !ok || exp != "300" {
				t.Errorf("expires_in = %#v, want the JSON string \"300\"", r.json["expires_in"])
			}
			if r.str("token_type") != "Bearer" || r.str("scope") != DefaultScope || r.str("refresh_token") == "" {
				t.Errorf("body %s", r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
			p, exp, err := e.store.Validate(r.str("access_token"))
			if err != nil {
				t.Fatal(err)
			}
			if p.Version != 1 || p.User != testUser || p.ClientID != testClientID {
				t.Errorf("principal %+v", p)
			}
			if got := exp.Sub(e.clock.Now()); got != 300*time.Second {
				t.Errorf("store expiry in %v, want 300s", got)
			}
		})
	}
}

func TestPasswordGrantBeta1SeedEra(t *testing.T) {
	e := newEnv(t, nil)
	// 2018 seed: Basic "username:client_secret" with an empty secret, no
	// client_id anywhere, scope trapi.
	r := e.post(PathTokenBeta1, form("username", testUser, "password", testPassword, "grant_type", "password",
		"takeExclusiveSignOnControl", "true", "scope", "trapi"), basic(testUser, ""))
	wantStatus(t, r, http.StatusOK)
	if r.str("scope") != "trapi" {
		t.Errorf("scope %q", r.str("scope"))
	}
	// Seed-era refresh: still carries takeExclusiveSignOnControl.
	r2 := e.post(PathTokenBeta1, form("username", testUser, "grant_type", "refresh_token",
		"refresh_token", r.str("refresh_token"), "takeExclusiveSignOnControl", "true"), basic(testUser, ""))
	wantStatus(t, r2, http.StatusOK)
	// 2019-07: beta1 with the client id as Basic user.
	wantStatus(t, e.post(PathTokenBeta1, form("grant_type", "password", "username", testUser, "password", testPassword,
		"scope", "trapi"), basic(testClientID, "")), http.StatusOK)
	// Basic user neither the client id nor the user name.
	wantError(t, e.post(PathTokenBeta1, form("grant_type", "password", "username", testUser, "password", testPassword),
		basic("stranger", "")), http.StatusUnauthorized, "invalid_client")
}

func TestPasswordGrantWrongCredentials(t *testing.T) {
	e := newEnv(t, nil)
	// Bad resource-owner credentials: RFC 6749 §5.2 invalid_grant, 400.
	wantError(t, e.post(PathTokenV1, form("grant_type", "password", "username", testUser, "password", "x"+testPassword,
		"client_id", testClientID), ""), http.StatusBadRequest, "invalid_grant")
	wantError(t, e.post(PathTokenV1, form("grant_type", "password", "username", "GE-A-other", "password", testPassword,
		"client_id", testClientID), ""), http.StatusBadRequest, "invalid_grant")
	wantError(t, e.post(PathTokenV1, form("grant_type", "password", "username", testUser,
		"client_id", testClientID), ""), http.StatusBadRequest, "invalid_request")
	r := e.post(PathTokenV1, form("grant_type", "password", "username", testUser, "password", "x"+testPassword,
		"client_id", testClientID), "")
	if strings.Contains(string(r.raw), testPassword) {
		t.Error("error body echoes the password")
	}
}

func TestClientAuthV1(t *testing.T) {
	e := newEnv(t, nil)
	pw := func(extra ...string) string {
		return form(append([]string{"grant_type", "password", "username", testUser, "password", testPassword}, extra...)...)
	}
	// Bad client credentials: invalid_client, 401.
	wantError(t, e.post(PathTokenV1, pw("client_id", "other-app"), ""), http.StatusUnauthorized, "invalid_client")
	wantError(t, e.post(PathTokenV1, pw(), ""), http.StatusUnauthorized, "invalid_client")
	wantError(t, e.post(PathTokenV1, pw("client_id", testClientID, "client_secret", "wrong"), ""), http.StatusUnauthorized, "invalid_client")
	r := e.post(PathTokenV1, pw("client_id", testClientID), basic("other-app", ""))
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("401 after Basic without a Basic challenge: %q", r.header.Get("WWW-Authenticate"))
	}
	r = e.post(PathTokenV1, pw("client_id", testClientID), basic(testClientID, "wrong-secret"))
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
	if strings.Contains(string(r.raw), "wrong-secret") {
		t.Error("error body echoes the secret")
	}
	wantError(t, e.post(PathTokenV1, pw("client_id", testClientID), "Basic !!!not-base64"), http.StatusUnauthorized, "invalid_client")
	// Secret in Basic and body disagreeing.
	wantError(t, e.post(PathTokenV1, pw("client_id", testClientID, "client_secret", "a"), basic(testClientID, "b")),
		http.StatusBadRequest, "invalid_request")
	// A Bearer header on the token endpoint is ignored, not an error.
	wantStatus(t, e.post(PathTokenV1, pw("client_id", testClientID), "Bearer whatever"), http.StatusOK)
}

func TestTokenRequestSyntax(t *testing.T) {
	e := newEnv(t, nil)
	wantError(t, e.post(PathTokenV1, form("username", testUser, "client_id", testClientID), ""), http.StatusBadRequest, "invalid_request")
	wantError(t, e.post(PathTokenV1, form("grant_type", "client_credentials", "client_id", testClientID), ""), http.StatusBadRequest, "unsupported_grant_type")
	wantError(t, e.post(PathTokenV1, "grant_type=password&grant_type=password&client_id="+testClientID, ""), http.StatusBadRequest, "invalid_request")
	wantError(t, e.post(PathTokenV1, "%zz", ""), http.StatusBadRequest, "invalid_request")

	req, err := http.NewRequest(http.MethodPost, e.srv.URL+PathTokenV1, strings.NewReader(`{"grant_type":"password"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	wantError(t, e.do(req), http.StatusBadRequest, "invalid_request")

	big := strings.Repeat("a", maxFormBytes+10)
	wantError(t, e.post(PathTokenV1, "grant_type=password&x="+big, ""), http.StatusBadRequest, "invalid_request")
}

func refreshForm(rt string) string {
	return form("grant_type", "refresh_token", "username", testUser, "client_id", testClientID, "refresh_token", rt)
}

func TestRefreshGrantSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	pw := e.passwordGrant()
	e.clock.Advance(270 * time.Second)
	r := e.post(PathTokenV1, refreshForm(pw.str("refresh_token")), "")
	wantStatus(t, r, http.StatusOK)
	if r.str("expires_in") != "300" || r.str("refresh_token") == "" || r.str("refresh_token") == pw.str("refresh_token") {
		t.Errorf("refresh answer %s", r.raw)
	}
	if r.str("scope") != DefaultScope {
		t.Errorf("scope %q", r.str("scope"))
	}
	// The older access token stays valid until it expires (refresh is not
	// an exclusive sign-on).
	if _, _, err := e.store.Validate(pw.str("access_token")); err != nil {
		t.Errorf("older access token: %v", err)
	}
	// Second use of the same refresh token.
	wantError(t, e.post(PathTokenV1, refreshForm(pw.str("refresh_token")), ""), http.StatusBadRequest, "invalid_grant")
	// The new one works once.
	wantStatus(t, e.post(PathTokenV1, refreshForm(r.str("refresh_token")), basic(testClientID, "")), http.StatusOK)
	wantError(t, e.post(PathTokenV1, refreshForm("not-a-token"), ""), http.StatusBadRequest, "invalid_grant")
	wantError(t, e.post(PathTokenV1, form("grant_type", "refresh_token", "client_id", testClientID), ""), http.StatusBadRequest, "invalid_request")
}

func TestRefreshGrantBoundToUserAndClient(t *testing.T) {
	e := newEnv(t, nil)
	pw := e.passwordGrant()
	wantError(t, e.post(PathTokenV1, form("grant_type", "refresh_token", "username", "GE-A-other", "client_id", testClientID,
		"refresh_token", pw.str("refresh_token")), ""), http.StatusBadRequest, "invalid_grant")
	// A v2 access token is not a refresh token.
	v2 := e.post(PathTokenV2, form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret), "")
	wantStatus(t, v2, http.StatusOK)
	wantError(t, e.post(PathTokenV1, refreshForm(v2.str("access_token")), ""), http.StatusBadRequest, "invalid_grant")
}

func TestRefreshExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RefreshLifetime = 20 * time.Minute })
	pw := e.passwordGrant()
	// 18 minutes into the 20-minute session: the next access token is cut
	// to the 2 minutes left, so expires_in changes ("sign on again").
	e.clock.Advance(18 * time.Minute)
	r := e.post(PathTokenV1, refreshForm(pw.str("refresh_token")), "")
	wantStatus(t, r, http.StatusOK)
	if r.str("expires_in") != "120" {
		t.Errorf("expires_in %q near the session end, want \"120\"", r.str("expires_in"))
	}
	// Past the session end the refresh token has expired.
	e.clock.Advance(3 * time.Minute)
	wantError(t, e.post(PathTokenV1, refreshForm(r.str("refresh_token")), ""), http.StatusBadRequest, "invalid_grant")
	// A fresh password grant starts a new session.
	pw2 := e.passwordGrant()
	wantStatus(t, e.post(PathTokenV1, refreshForm(pw2.str("refresh_token")), ""), http.StatusOK)
}

func TestExclusiveSignOn(t *testing.T) {
	e := newEnv(t, nil)
	first := e.passwordGrant()
	// Not exclusive: both stay valid.
	shared := e.post(PathTokenV1, passwordForm(false), "")
	wantStatus(t, shared, http.StatusOK)
	if _, _, err := e.store.Validate(first.str("access_token")); err != nil {
		t.Fatalf("non-exclusive sign-on revoked the older token: %v", err)
	}
	// Exclusive: every older token of the user is revoked.
	third := e.passwordGrant()
	for _, old := range []string{first.str("access_token"), shared.str("access_token")} {
		if _, _, err := e.store.Validate(old); !errors.Is(err, tokens.ErrRevoked) {
			t.Errorf("older token after exclusive sign-on: %v, want ErrRevoked", err)
		}
	}
	if _, _, err := e.store.Validate(third.str("access_token")); err != nil {
		t.Errorf("new token: %v", err)
	}
	wantError(t, e.get(PathDiscovery, first.str("access_token")), http.StatusUnauthorized, "invalid_token")
	wantStatus(t, e.get(PathDiscovery, third.str("access_token")), http.StatusOK)
}

func TestChangePassword(t *testing.T) {
	const newPW = "Brand-New-Passw0rd-For-The-Emulator!"
	change := func(current, np string) string {
		return form("grant_type", "password", "username", testUser, "password", current, "client_id", testClientID,
			"scope", DefaultScope, "takeExclusiveSignOnControl", "true", "newPassword", np)
	}
	e := newEnv(t, nil)
	for name, np := range map[string]string{
		"too short":      "Sh0rt!",
		"invalid char":   "Has a space and is long enough 123 ABC",
		"two categories": "onlylowercaseandsomedigits0123456789",
		"same as old":    testPassword,
	} {
		r := e.post(PathTokenV1, change(testPassword, np), "")
		wantError(t, r, http.StatusBadRequest, "invalid_request")
		if strings.Contains(string(r.raw), np) {
			t.Errorf("%s: error body echoes the new password", name)
		}
	}
	// Wrong current password: no change.
	wantError(t, e.post(PathTokenV1, change("x"+testPassword, newPW), ""), http.StatusBadRequest, "invalid_grant")

	r := e.post(PathTokenV1, change(testPassword, newPW), basic(testClientID, ""))
	wantStatus(t, r, http.StatusOK)
	if r.str("access_token") == "" || r.str("expires_in") != "300" {
		t.Errorf("change-password answer %s", r.raw)
	}
	// The old password is gone; the new one signs on.
	wantError(t, e.post(PathTokenV1, passwordForm(true), ""), http.StatusBadRequest, "invalid_grant")
	wantStatus(t, e.post(PathTokenV1, form("grant_type", "password", "username", testUser, "password", newPW,
		"client_id", testClientID, "scope", DefaultScope, "takeExclusiveSignOnControl", "True"), ""), http.StatusOK)
	if got := e.gw.Stats().TokenRequests[GrantChangePassword]; got != 6 {
		t.Errorf("change_password counter %d, want 6", got)
	}
}

func TestPasswordPolicy(t *testing.T) {
	cases := []struct {
		pw   string
		bits int
	}{
		{"Abcdefghijklmnopqrstuvwxyz0123", 0},             // 30, upper+lower+digit
		{"abcdefghijklmnopqrstuvwxyz012!", 0},             // lower+digit+special
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ01~|", 0},             // upper+digit+special
		{"Abcdefghijklmnopqrstuvwxyz012", policyTooShort}, // 29
		{"abcdefghijklmnopqrstuvwxyzabcd", policyNoUpper | policyNoDigit | policyNoSpecial},
		{"abcdefghijklmnopqrstuvwxyz0123", policyNoUpper | policyNoSpecial},
		{"Abcdefghijklmnopqrstuvwxyz012 ", policyInvalidChar},  // space
		{"Abcdefghijklmnopqrstuvwxyz012é", policyInvalidChar},  // non-ASCII
		{"Abcdefghijklmnopqrstuvwxyz012\"", policyInvalidChar}, // quote is not special
		{"", policyTooShort | policyNoUpper | policyNoLower | policyNoDigit | policyNoSpecial},
	}
	for _, c := range cases {
		if got := checkPasswordPolicy(c.pw); got != c.bits {
			t.Errorf("checkPasswordPolicy(%q) = %#x, want %#x", c.pw, got, c.bits)
		}
	}
	for _, c := range passwordSpecials {
		if checkPasswordPolicy("Abcdefghijklmnopqrstuvwxyz012"+string(c)) != 0 {
			t.Errorf("special %q refused", c)
		}
	}
}
