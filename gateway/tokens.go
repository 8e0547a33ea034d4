package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/ertkit/ertkit/server/tokens"
)

// Downstream clients written for RTO (LSEG's RTO examples, RTO SDKs) get a
// token from an OAuth2 token endpoint, then log in to a streaming endpoint
// with it. The gateway can be that token endpoint for its own users, so
// that such clients point at it unmodified: TokenHandler serves the v1
// password and refresh_token grants and the v2 client_credentials grant,
// for the users of the access file that have a password (v1) or a client
// secret (v2); the tokens it issues are valid Logins on the gateway's
// streaming endpoints, and nowhere else. Upstream credentials are never
// involved.

// Token endpoint paths, as on the Delivery Platform.
const (
	TokenPathV1 = "/auth/oauth2/v1/token"
	TokenPathV2 = "/auth/oauth2/v2/token"
)

// DefaultTokenLifetime is the lifetime of tokens the gateway issues.
const DefaultTokenLifetime = 10 * time.Minute

// maxTokenForm bounds a token request body.
const maxTokenForm = 16 << 10

// TokenHandler returns the gateway's token endpoint (v1 and v2 paths).
// It needs a Gateway started with an Access configuration.
func (g *Gateway) TokenHandler(lifetime time.Duration) (http.Handler, error) {
	if g.cfg.Access == nil || g.store == nil {
		return nil, errors.New("gateway: a token endpoint needs an access file")
	}
	if lifetime <= 0 {
		lifetime = DefaultTokenLifetime
	}
	th := &tokenHandler{a: g.cfg.Access, s: g.store, lifetime: lifetime}
	mux := http.NewServeMux()
	mux.HandleFunc(TokenPathV1, th.v1)
	mux.HandleFunc(TokenPathV2, th.v2)
	return mux, nil
}

type tokenHandler struct {
	a        *Access
	s        *tokens.Store
	lifetime time.Duration
}

func oauthError(w http.ResponseWriter, status int, code, text string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": text})
}

// form parses a POSTed form; false when it answered an error.
func form(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "application/x-www-form-urlencoded body required")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return false
	}
	return true
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (th *tokenHandler) v1(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		return
	}
	var p tokens.Principal
	switch r.PostForm.Get("grant_type") {
	case "password":
		u := th.a.byName[r.PostForm.Get("username")]
		if u == nil || u.Password == "" || !equal(u.Password, r.PostForm.Get("password")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid username or password.")
			return
		}
		p = tokens.Principal{Version: 1, User: u.Name, ClientID: r.PostForm.Get("client_id")}
	case "refresh_token":
		var err error
		if p, err = th.s.RedeemRefresh(r.PostForm.Get("refresh_token")); err != nil || p.Version != 1 {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token.")
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
		return
	}
	// A refresh token lives a few access-token lifetimes, as LSEG's do.
	is := th.s.Issue(p, th.lifetime, 4*th.lifetime, false)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]string{"access_token": is.Access, "refresh_token": is.Refresh,
		"expires_in": strconv.Itoa(int(th.lifetime / time.Second)), "token_type": "Bearer",
		"scope": r.PostForm.Get("scope")})
}

func (th *tokenHandler) v2(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	u := th.a.byName[id]
	if u == nil || u.ClientSecret == "" || !equal(u.ClientSecret, secret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client or client credentials.")
		return
	}
	is := th.s.Issue(tokens.Principal{Version: 2, ClientID: u.Name}, th.lifetime, 0, false)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"access_token": is.Access, "expires_in": int(th.lifetime / time.Second),
		"token_type": "Bearer", "scope": r.PostForm.Get("scope")})
}
