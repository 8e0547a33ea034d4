package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ertkit/ertkit/server/tokens"
)

// PathGetToken is the token endpoint of a deployed ADS's authentication
// server, which LSEG's market_price_authentication examples (Python,
// Java, R, C#) call before opening ws://…/WebSocket with cookies: a form
// POST of username and password, answered with the JSON {"success":true}
// and the token in a cookie named AuthToken. The streaming endpoints
// then log the connection in from the AuthToken, AuthPosition and
// applicationId cookies (spec §5.1, §5.4) with no Login request.
const PathGetToken = "/getToken"

// GrantGetToken labels /getToken requests in Stats and logs.
const GrantGetToken = "get_token"

// EndpointGetToken names /getToken in logs.
const EndpointGetToken Endpoint = "get_token"

// CookieAuthToken is the name of the cookie /getToken sets (the ADS
// default of *ads*authTokenName, spec §5.1).
const CookieAuthToken = "AuthToken"

// getTokenBody is the whole /getToken answer. The examples read only
// "success" (and the cookie); neither the spec nor the examples show
// more, so nothing more is invented.
type getTokenBody struct {
	Success bool `json:"success"`
}

// serveGetToken issues an ADS authentication token for the configured
// machine account. Every refusal is {"success":false} with a status the
// examples all treat as a failure: 405 for another method, 400 for a
// body that is not a form or lacks username/password, 401 for wrong
// credentials, 429 (with Retry-After) above the per-user rate limit. The
// Python, Java and R examples read the JSON whatever the status; the C#
// one stops at a non-2xx status. The body never echoes the request.
func (g *Gateway) serveGetToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		g.finishGetToken(ctx, w, "", http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		g.finishGetToken(ctx, w, "", http.StatusBadRequest, "request body unreadable or too large")
		return
	}
	req, perr := parseTokenRequest(r.Header.Get("Content-Type"), body, "")
	if perr != nil {
		g.finishGetToken(ctx, w, "", http.StatusBadRequest, perr.description)
		return
	}
	user, pass := req.get("username"), req.get("password")
	if ok, wait := g.limiter.allow(rateKey(req, r), g.cfg.Now()); !ok {
		g.mu.Lock()
		g.stats.RateLimited++
		g.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(wait)))
		g.finishGetToken(ctx, w, user, http.StatusTooManyRequests, "token request rate limit exceeded")
		return
	}
	if user == "" || pass == "" {
		g.finishGetToken(ctx, w, user, http.StatusBadRequest, "username and password are required")
		return
	}
	g.mu.Lock()
	okUser, okPass := equal(user, g.cfg.User), equal(pass, g.password)
	g.mu.Unlock()
	if !okUser || !okPass {
		g.finishGetToken(ctx, w, user, http.StatusUnauthorized, "invalid username or password")
		return
	}
	// A v1-style principal marked ADS: the streaming side names the
	// session after the user (spec §5.4.1 "Name"); an ADS authentication
	// token is not an RTO OAuth token, so the session outlives it unless
	// server.Config.CloseADSSessionsAtExpiry says otherwise (LSEG's ADS
	// example never reissues its Login).
	iss := g.cfg.Store.Issue(tokens.Principal{Version: 1, User: user, ADS: true}, wholeSeconds(g.TokenLifetime()), 0, false)
	http.SetCookie(w, &http.Cookie{
		Name: CookieAuthToken, Value: iss.Access, Path: "/",
		MaxAge:   int(iss.ExpiresIn / time.Second),
		HttpOnly: true,
		// Secure only over TLS: a client of a plain-HTTP emulator must
		// still be able to keep the cookie.
		Secure: r.TLS != nil,
	})
	g.finishGetToken(ctx, w, user, http.StatusOK, "issued")
}

// finishGetToken counts, logs and writes a /getToken answer.
func (g *Gateway) finishGetToken(ctx context.Context, w http.ResponseWriter, user string, status int, outcome string) {
	g.mu.Lock()
	g.stats.TokenRequests[GrantGetToken]++
	if status != http.StatusOK {
		g.stats.TokenFailures[GrantGetToken]++
	}
	g.mu.Unlock()
	g.logGrant(ctx, EndpointGetToken, GrantGetToken, user, "", status, outcome)
	writeJSON(w, status, getTokenBody{Success: status == http.StatusOK})
}
