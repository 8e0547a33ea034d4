package auth

import (
	"context"
	"fmt"
	"net/url"
)

// ClientCredentialsConfig configures the v2 client_credentials grant with a
// client secret (LDP service accounts).
type ClientCredentialsConfig struct {
	// TokenURL of the v2 endpoint. Default DefaultTokenURLv2.
	TokenURL string
	// ClientID of the service account. Required.
	ClientID string
	// ClientSecret of the service account. Required; sent in the form body
	// (no HTTP Basic header, as in LSEG's v2 examples).
	ClientSecret string
	// Scope requested. Default DefaultScope.
	Scope string
}

type clientCredentials struct{ cfg ClientCredentialsConfig }

// ClientCredentials returns the v2 grant with a client secret. v2 issues
// no refresh token: every fetch is a new client_credentials request.
func ClientCredentials(cfg ClientCredentialsConfig) Grant {
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURLv2
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	return &clientCredentials{cfg: cfg}
}

func (g *clientCredentials) Version() int { return 2 }

func (g *clientCredentials) fetch(ctx context.Context, e *env, _ *Token) (Token, error) {
	c := g.cfg
	if c.ClientID == "" || c.ClientSecret == "" {
		return Token{}, fmt.Errorf("%w: v2 client credentials need ClientID and ClientSecret", ErrConfig)
	}
	f := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "scope": {c.Scope},
	}
	return e.post(ctx, "v2 client_credentials grant", c.TokenURL, 2, f, nil, c.ClientSecret)
}
