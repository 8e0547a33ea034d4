package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/ertkit/ertkit/internal/platform"
	"github.com/ertkit/ertkit/internal/redact"
)

// Default endpoints and scope (LSEG's current examples).
const (
	DefaultTokenURLv1 = "https://api.refinitiv.com/auth/oauth2/v1/token"
	DefaultTokenURLv2 = "https://api.refinitiv.com/auth/oauth2/v2/token"
	DefaultScope      = "trapi.streaming.pricing.read"
)

// Grant is one credential's way to obtain tokens. Implementations are
// [PasswordGrant], [ClientCredentials], [JWTAssertion] and [StaticToken];
// the interface is sealed so that every grant follows the gateway etiquette.
type Grant interface {
	// Version is the authentication version: 1 (password/refresh_token)
	// or 2 (client_credentials). Static tokens report 2: they are never
	// renewed nor reissued.
	Version() int
	// fetch obtains a new token. prev is the current token (nil at first);
	// a v1 grant renews with its refresh token.
	fetch(ctx context.Context, e *env, prev *Token) (Token, error)
}

// env is what grants need from their Manager.
type env struct {
	gw  *platform.Client
	now func() time.Time
	log *slog.Logger
}

// post sends a token request and decodes the answer. what names the call
// for errors ("password grant", …); secrets are scrubbed from server text.
func (e *env) post(ctx context.Context, what, tokenURL string, version int, form url.Values, hdr http.Header, secrets ...string) (Token, error) {
	e.log.DebugContext(ctx, "token request", "grant", what, "url", redact.URL(tokenURL), "form", redact.Form(form))
	body, err := e.gw.Do(ctx, platform.Request{Method: http.MethodPost, URL: tokenURL, Form: form, Header: hdr, Secrets: secrets})
	if err != nil {
		return Token{}, fmt.Errorf("auth: %s: %w", what, err)
	}
	tok, err := parseTokenResponse(body, version, e.now())
	if err != nil {
		return Token{}, fmt.Errorf("auth: %s at %s: %w", what, redact.URL(tokenURL), err)
	}
	return tok, nil
}

type staticGrant struct{ tok string }

// StaticToken is a Grant that always yields tok, with no expiry. For tests
// and for tokens obtained elsewhere; it makes no HTTP calls.
func StaticToken(tok string) Grant { return staticGrant{tok: tok} }

func (staticGrant) Version() int { return 2 }

func (g staticGrant) fetch(_ context.Context, e *env, _ *Token) (Token, error) {
	if g.tok == "" {
		return Token{}, fmt.Errorf("%w: empty static token", ErrConfig)
	}
	return Token{AccessToken: g.tok, Obtained: e.now(), Version: 2}, nil
}
