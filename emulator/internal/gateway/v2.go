package gateway

import (
	"context"
	"time"

	"github.com/ertkit/ertkit/server/tokens"
)

// v2Response is the v2 token answer; expires_in is a JSON number there
// (Go v2 type-asserts float64). No refresh token.
type v2Response struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	TokenType   string `json:"token_type"`
}

func (g *Gateway) tokenV2(_ context.Context, req tokenRequest) grantResult {
	res := grantResult{grant: grantLabel(EndpointTokenV2, req), client: req.get("client_id")}
	switch req.get("grant_type") {
	case "client_credentials":
	case "":
		res.err = errInvalidRequest("grant_type is required")
		return res
	default:
		res.err = errUnsupportedGrant()
		return res
	}
	client, cerr := g.v2Client(req)
	if client != "" {
		res.client = client
	}
	if cerr != nil {
		res.err = cerr
		return res
	}
	scope := req.get("scope")
	if scope == "" {
		scope = DefaultScope
	}
	lifetime := wholeSeconds(g.TokenLifetime())
	iss := g.cfg.Store.Issue(tokens.Principal{Version: 2, ClientID: client, Scope: scope}, lifetime, 0, false)
	res.body = v2Response{AccessToken: iss.Access, ExpiresIn: int64(iss.ExpiresIn / time.Second), Scope: scope, TokenType: "Bearer"}
	return res
}

// v2Client authenticates a v2 client by exactly one method: a JWT client
// assertion (RFC 7523), or client_id + client_secret in the form or in
// a Basic header.
func (g *Gateway) v2Client(req tokenRequest) (string, *oauthError) {
	id, secret := req.get("client_id"), req.get("client_secret")
	challenge := req.basic != nil
	fail := func(desc string) *oauthError {
		e := errInvalidClient(desc)
		e.basicChallenge = challenge
		return e
	}
	if b := req.basic; b != nil {
		if id != "" && b.user != id {
			return id, fail("Basic authorization user differs from client_id")
		}
		id = b.user
		if b.pass != "" {
			if secret != "" && secret != b.pass {
				return id, errInvalidRequest("client secret sent twice with different values")
			}
			secret = b.pass
		}
	}
	if req.has("client_assertion") || req.has("client_assertion_type") {
		if secret != "" {
			return id, errInvalidRequest("use exactly one client authentication method")
		}
		if req.get("client_assertion_type") != jwtBearerAssertionType {
			return id, errInvalidRequest("client_assertion_type must be " + jwtBearerAssertionType)
		}
		if req.get("client_assertion") == "" {
			return id, errInvalidRequest("client_assertion is required")
		}
		sub, err := g.verifier.verify(req.get("client_assertion"), g.cfg.Now())
		if err != nil {
			return id, fail(err.Error())
		}
		if id != "" && id != sub {
			return id, fail("client_id differs from the assertion's issuer")
		}
		return sub, nil
	}
	switch {
	case id == "":
		return "", fail("client_id is required")
	case secret == "":
		return id, fail("client_secret or client_assertion is required")
	case !equal(id, g.cfg.ClientID) || g.cfg.ClientSecret == "" || !equal(secret, g.cfg.ClientSecret):
		return id, fail("client authentication failed")
	}
	return id, nil
}
