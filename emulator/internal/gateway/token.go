package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ertkit/ertkit/server/tokens"
)

// Grant labels used in counters and logs.
const (
	GrantPassword          = "password"
	GrantChangePassword    = "change_password"
	GrantRefreshToken      = "refresh_token"
	GrantClientSecret      = "client_credentials"
	GrantClientAssertion   = "client_assertion"
	GrantUnsupported       = "unsupported"
	grantUnparsed          = "unparsed"
	jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// grantResult is what a grant handler decided: a JSON body to send with
// 200, or an error; plus who asked, for the log.
type grantResult struct {
	grant, user, client string
	body                any
	err                 *oauthError
}

// v1Response is the v1 token answer; expires_in is a JSON string there
// (Java v1 reads it with getString).
type v1Response struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    string `json:"expires_in"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// serveToken is the common path of the token endpoints: method check,
// injected faults, body parsing, the rate guard, then the grant handler.
func (g *Gateway) serveToken(w http.ResponseWriter, r *http.Request, ep Endpoint, handle func(context.Context, tokenRequest) grantResult) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if st := g.serveFault(w, r, ep); st != 0 {
		g.logGrant(ctx, ep, grantUnparsed, "", "", st, "injected fault")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		g.finish(ctx, w, ep, grantResult{grant: grantUnparsed, err: errInvalidRequest("request body unreadable or too large")})
		return
	}
	req, perr := parseTokenRequest(r.Header.Get("Content-Type"), body, r.Header.Get("Authorization"))
	if perr != nil {
		g.finish(ctx, w, ep, grantResult{grant: grantUnparsed, err: perr})
		return
	}
	if ok, wait := g.limiter.allow(rateKey(req, r), g.cfg.Now()); !ok {
		g.mu.Lock()
		g.stats.RateLimited++
		g.mu.Unlock()
		g.finish(ctx, w, ep, grantResult{
			grant: grantLabel(ep, req), user: req.get("username"), client: req.get("client_id"),
			err: &oauthError{status: http.StatusTooManyRequests, code: "too_many_requests", description: "token request rate limit exceeded", retryAfter: wait},
		})
		return
	}
	g.finish(ctx, w, ep, handle(ctx, req))
}

// finish writes the answer of a token request, counts and logs it.
func (g *Gateway) finish(ctx context.Context, w http.ResponseWriter, ep Endpoint, res grantResult) {
	status, outcome := http.StatusOK, "issued"
	if res.err != nil {
		status, outcome = res.err.status, res.err.code+": "+res.err.description
	}
	g.mu.Lock()
	g.stats.TokenRequests[res.grant]++
	if res.err != nil {
		g.stats.TokenFailures[res.grant]++
	}
	g.mu.Unlock()
	g.logGrant(ctx, ep, res.grant, res.user, res.client, status, outcome)
	if res.err != nil {
		writeOAuthError(w, res.err)
		return
	}
	writeJSON(w, http.StatusOK, res.body)
}

// rateKey is the credential a token request is counted against: the
// claimed user, else the claimed client, else the peer address. Claimed,
// not verified, so that guessing passwords is limited too.
func rateKey(req tokenRequest, r *http.Request) string {
	switch {
	case req.get("username") != "":
		return "user:" + req.get("username")
	case req.get("client_id") != "":
		return "client:" + req.get("client_id")
	case req.basic != nil:
		return "client:" + req.basic.user
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

func grantLabel(ep Endpoint, req tokenRequest) string {
	switch gt := req.get("grant_type"); {
	case ep == EndpointTokenV2 && gt == "client_credentials" && req.has("client_assertion"):
		return GrantClientAssertion
	case ep == EndpointTokenV2 && gt == "client_credentials":
		return GrantClientSecret
	case ep == EndpointTokenV1 && gt == "password" && req.has("newPassword"):
		return GrantChangePassword
	case ep == EndpointTokenV1 && (gt == "password" || gt == "refresh_token"):
		return gt
	}
	return GrantUnsupported
}

func (g *Gateway) tokenV1(ctx context.Context, req tokenRequest) grantResult {
	return g.v1(ctx, req, false)
}

func (g *Gateway) tokenBeta1(ctx context.Context, req tokenRequest) grantResult {
	return g.v1(ctx, req, true)
}

func (g *Gateway) v1(_ context.Context, req tokenRequest, beta bool) grantResult {
	res := grantResult{grant: grantLabel(EndpointTokenV1, req), user: req.get("username")}
	switch req.get("grant_type") {
	case "password", "refresh_token":
	case "":
		res.err = errInvalidRequest("grant_type is required")
		return res
	default:
		res.err = errUnsupportedGrant()
		return res
	}
	client, cerr := g.v1Client(req, beta)
	res.client = client
	if cerr != nil {
		res.err = cerr
		return res
	}
	if req.get("grant_type") == "password" {
		res.body, res.err = g.passwordGrant(req, client)
	} else {
		res.body, res.err = g.refreshGrant(req, client)
	}
	return res
}

// v1Client identifies and authenticates the client of a v1 request. The
// client id comes from the form or, failing that, from the Basic user
// (2019 examples). On beta1 a seed-era Basic "username:client_secret"
// without any client id is accepted as the configured client. A client
// secret is optional on v1 but checked when one is sent.
func (g *Gateway) v1Client(req tokenRequest, beta bool) (string, *oauthError) {
	id, secret := req.get("client_id"), req.get("client_secret")
	challenge := req.basic != nil
	fail := func(desc string) *oauthError {
		e := errInvalidClient(desc)
		e.basicChallenge = challenge
		return e
	}
	if b := req.basic; b != nil {
		switch {
		case id != "" && b.user != id:
			return id, fail("Basic authorization user differs from client_id")
		case id == "" && b.user == g.cfg.ClientID:
			id = b.user
		case id == "" && beta && b.user != "" && b.user == req.get("username"):
			id = g.cfg.ClientID // seed era: no client id at all
		case id == "":
			return "", fail("unknown client")
		}
		if b.pass != "" {
			if secret != "" && secret != b.pass {
				return id, errInvalidRequest("client secret sent twice with different values")
			}
			secret = b.pass
		}
	}
	if id == "" {
		if !beta {
			return "", fail("client_id is required")
		}
		id = g.cfg.ClientID
	}
	if !equal(id, g.cfg.ClientID) {
		return id, fail("unknown client")
	}
	if secret != "" && !equal(secret, g.cfg.ClientSecret) {
		return id, fail("client authentication failed")
	}
	return id, nil
}

func (g *Gateway) passwordGrant(req tokenRequest, client string) (any, *oauthError) {
	user, pass := req.get("username"), req.get("password")
	if user == "" || pass == "" {
		return nil, errInvalidRequest("username and password are required")
	}
	now := g.cfg.Now()
	g.mu.Lock()
	okUser := equal(user, g.cfg.User)
	okPass := equal(pass, g.password)
	g.mu.Unlock()
	if !okUser || !okPass {
		return nil, errInvalidGrant("invalid username or password")
	}
	if req.has("newPassword") {
		np := req.get("newPassword")
		if bits := checkPasswordPolicy(np); bits != 0 {
			return nil, errInvalidRequest(policyDescription(bits))
		}
		if np == pass {
			return nil, errInvalidRequest("new password must differ from the current password")
		}
		g.mu.Lock()
		// Only change if nobody else changed it meanwhile.
		if !equal(pass, g.password) {
			g.mu.Unlock()
			return nil, errInvalidGrant("invalid username or password")
		}
		g.password = np
		g.mu.Unlock()
	}
	scope := req.get("scope")
	if scope == "" {
		scope = DefaultScope
	}
	lifetime := wholeSeconds(g.TokenLifetime())
	end := now.Add(g.cfg.RefreshLifetime)
	p := tokens.Principal{Version: 1, User: user, ClientID: client, Scope: scope}
	iss := g.cfg.Store.Issue(p, lifetime, g.cfg.RefreshLifetime, isTrue(req.get("takeExclusiveSignOnControl")))
	g.rememberSession(iss.Refresh, end, now)
	return v1Body(iss, scope), nil
}

func (g *Gateway) refreshGrant(req tokenRequest, client string) (any, *oauthError) {
	rt := req.get("refresh_token")
	if rt == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	now := g.cfg.Now()
	g.mu.Lock()
	reject := g.faults.takeRejectRefresh()
	end, known := g.sessionEnd[rt]
	g.mu.Unlock()
	if reject {
		return nil, errInvalidGrant("refresh token rejected")
	}
	p, err := g.cfg.Store.RedeemRefresh(rt)
	switch {
	case errors.Is(err, tokens.ErrExpired):
		return nil, errInvalidGrant("refresh token expired")
	case errors.Is(err, tokens.ErrRevoked):
		return nil, errInvalidGrant("refresh token already used or revoked")
	case err != nil:
		return nil, errInvalidGrant("refresh token unknown")
	}
	g.mu.Lock()
	delete(g.sessionEnd, rt)
	g.mu.Unlock()
	if p.Version != 1 || !equal(p.ClientID, client) {
		return nil, errInvalidGrant("refresh token was issued to another client")
	}
	if u := req.get("username"); u != "" && !equal(u, p.User) {
		return nil, errInvalidGrant("refresh token was issued to another user")
	}
	if !known { // issued by another gateway sharing the store
		end = now.Add(g.cfg.RefreshLifetime)
	}
	left := end.Sub(now)
	if left < time.Second {
		return nil, errInvalidGrant("refresh token expired")
	}
	// Near the end of the sign-on session the access token is shortened
	// to the time left, as LDP does; clients see expires_in change.
	lifetime := min(g.TokenLifetime(), left)
	g.mu.Lock()
	shorten := g.faults.takeShortenRefresh()
	g.mu.Unlock()
	if shorten > 0 {
		lifetime = shorten
	}
	lifetime = wholeSeconds(lifetime)
	iss := g.cfg.Store.Issue(p, lifetime, left, false)
	g.rememberSession(iss.Refresh, end, now)
	return v1Body(iss, p.Scope), nil
}

func v1Body(iss tokens.Issued, scope string) v1Response {
	return v1Response{
		AccessToken:  iss.Access,
		RefreshToken: iss.Refresh,
		ExpiresIn:    strconv.Itoa(int(iss.ExpiresIn / time.Second)),
		Scope:        scope,
		TokenType:    "Bearer",
	}
}

// rememberSession records when the sign-on session of a refresh token
// ends, forgetting ended sessions once the map grows.
func (g *Gateway) rememberSession(refresh string, end, now time.Time) {
	if refresh == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.sessionEnd) >= 1024 {
		for k, e := range g.sessionEnd {
			if !now.Before(e) {
				delete(g.sessionEnd, k)
			}
		}
	}
	g.sessionEnd[refresh] = end
}

// wholeSeconds truncates d to whole seconds (at least one), so that the
// expires_in sent and the lifetime recorded in the store agree.
func wholeSeconds(d time.Duration) time.Duration {
	d = d.Truncate(time.Second)
	if d < time.Second {
		d = time.Second
	}
	return d
}

// equal compares credentials in constant time.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
