package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// PasswordConfig configures the v1 password grant (LDP machine accounts).
type PasswordConfig struct {
	// TokenURL of the v1 endpoint. Default DefaultTokenURLv1.
	TokenURL string
	// Username is the machine account ID (e.g. GE-A-…). Required.
	Username string
	// Password of the machine account. Required.
	Password string
	// ClientID is the App Key. Required; always sent in the form body.
	ClientID string
	// ClientSecret is optional; when set it is sent once: in the form body,
	// or as the HTTP Basic password when UseBasicAuth is true.
	ClientSecret string
	// UseBasicAuth sends "Authorization: Basic base64(ClientID:ClientSecret)"
	// as LSEG's Python v1 examples do, instead of client_secret in the form.
	// Default false (Java and C# examples send no Basic header).
	UseBasicAuth bool
	// Scope requested. Default DefaultScope ("trapi.streaming.pricing.read").
	Scope string
	// TakeExclusiveSignOnControl, when true, asks the gateway to sign out
	// the other sessions of this machine account so that this sign-on
	// succeeds. LSEG's examples always send true. Default false here
	// (the zero value): silently evicting other sessions of a shared account
	// is a decision the application should make; with false, a sign-on while
	// another session is active may be refused by the gateway.
	TakeExclusiveSignOnControl bool
	// NewPassword, when set, changes the password first (one password-grant
	// POST with newPassword), then signs on with it. Checked against LSEG's
	// password policy before sending (see ErrPasswordPolicy).
	NewPassword string
}

type passwordGrant struct {
	mu        sync.Mutex
	cfg       PasswordConfig
	changed   bool          // NewPassword already applied
	reference time.Duration // expires_in of the last password grant
}

// PasswordGrant returns the v1 grant: a password grant at first, then
// refresh_token grants, falling back to the password grant when a refresh
// is rejected (400/401) or returns a different expires_in than the password
// grant did. Missing settings are reported by the first fetch (ErrConfig).
func PasswordGrant(cfg PasswordConfig) Grant {
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURLv1
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	return &passwordGrant{cfg: cfg}
}

func (g *passwordGrant) Version() int { return 1 }

func (g *passwordGrant) fetch(ctx context.Context, e *env, prev *Token) (Token, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.cfg
	if c.Username == "" || c.Password == "" || c.ClientID == "" {
		return Token{}, fmt.Errorf("%w: the v1 password grant needs Username, Password and ClientID", ErrConfig)
	}
	if c.NewPassword != "" && !g.changed {
		if err := g.changePassword(ctx, e); err != nil {
			return Token{}, err
		}
	}
	if prev != nil && prev.RefreshToken != "" && g.reference > 0 {
		tok, err := g.refresh(ctx, e, prev.RefreshToken)
		switch {
		case err == nil && tok.ExpiresIn == g.reference:
			return tok, nil
		case err == nil:
			// LSEG's rule: a lifetime different from the password grant's
			// means the refresh token is near its end; sign on again.
			e.log.InfoContext(ctx, "v1 refresh returned a different expires_in; doing a password grant",
				"expires_in", tok.ExpiresIn, "reference", g.reference)
		case errors.Is(err, ErrCredentials):
			e.log.WarnContext(ctx, "v1 refresh rejected; doing a password grant", "error", err)
		default:
			return Token{}, err
		}
	}
	tok, err := g.password(ctx, e)
	if err != nil {
		return Token{}, err
	}
	g.reference = tok.ExpiresIn
	return tok, nil
}

func (g *passwordGrant) baseForm(grantType string) (url.Values, http.Header) {
	c := g.cfg
	f := url.Values{"grant_type": {grantType}, "username": {c.Username}, "client_id": {c.ClientID}}
	var h http.Header
	if c.ClientSecret != "" || c.UseBasicAuth {
		if c.UseBasicAuth {
			r := http.Request{Header: http.Header{}}
			r.SetBasicAuth(c.ClientID, c.ClientSecret)
			h = r.Header
		} else {
			f.Set("client_secret", c.ClientSecret)
		}
	}
	return f, h
}

func (g *passwordGrant) passwordForm() (url.Values, http.Header) {
	f, h := g.baseForm("password")
	f.Set("password", g.cfg.Password)
	f.Set("scope", g.cfg.Scope)
	f.Set("takeExclusiveSignOnControl", fmt.Sprint(g.cfg.TakeExclusiveSignOnControl))
	return f, h
}

func (g *passwordGrant) secrets(extra ...string) []string {
	return append([]string{g.cfg.Password, g.cfg.NewPassword, g.cfg.ClientSecret}, extra...)
}

func (g *passwordGrant) password(ctx context.Context, e *env) (Token, error) {
	f, h := g.passwordForm()
	return e.post(ctx, "v1 password grant", g.cfg.TokenURL, 1, f, h, g.secrets()...)
}

func (g *passwordGrant) refresh(ctx context.Context, e *env, refreshToken string) (Token, error) {
	// No scope, password or takeExclusiveSignOnControl: LSEG dropped them
	// from the refresh grant in 2019.
	f, h := g.baseForm("refresh_token")
	f.Set("refresh_token", refreshToken)
	return e.post(ctx, "v1 refresh_token grant", g.cfg.TokenURL, 1, f, h, g.secrets(refreshToken)...)
}

// changePassword sends the password grant plus newPassword. A 200 means the
// password changed; the answer's tokens are not used (LSEG's examples sign
// on again with the new password).
func (g *passwordGrant) changePassword(ctx context.Context, e *env) error {
	if err := CheckPasswordPolicy(g.cfg.NewPassword); err != nil {
		return err
	}
	f, h := g.passwordForm()
	f.Set("newPassword", g.cfg.NewPassword)
	if _, err := e.post(ctx, "v1 password change", g.cfg.TokenURL, 1, f, h, g.secrets()...); err != nil {
		return err
	}
	e.log.InfoContext(ctx, "v1 password changed", "username", g.cfg.Username)
	g.cfg.Password = g.cfg.NewPassword
	g.changed = true
	return nil
}

// Password policy of LSEG's examples (the server has the final say).
const (
	passwordMinLength = 30
	passwordSpecials  = "~!@#$%^&*()-_=+[]{}|;:,.<>/?"
)

// CheckPasswordPolicy applies LSEG's client-side policy for new passwords:
// at least 30 characters, only letters, digits and ~!@#$%^&*()-_=+[]{}|;:,.<>/?,
// and at least three of the four classes upper, lower, digit, special.
// The error names the failed rules, never the password.
func CheckPasswordPolicy(pw string) error {
	var problems []string
	if len([]rune(pw)) < passwordMinLength {
		problems = append(problems, fmt.Sprintf("shorter than %d characters", passwordMinLength))
	}
	var upper, lower, digit, special, invalid bool
	for _, r := range pw {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		case r < 128 && strings.ContainsRune(passwordSpecials, r):
			special = true
		default:
			invalid = true
		}
	}
	if invalid {
		problems = append(problems, "contains characters outside letters, digits and "+passwordSpecials)
	}
	classes := 0
	for _, b := range []bool{upper, lower, digit, special} {
		if b {
			classes++
		}
	}
	if classes < 3 {
		problems = append(problems, fmt.Sprintf("uses %d of the 4 character classes (upper, lower, digit, special), needs 3", classes))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrPasswordPolicy, strings.Join(problems, "; "))
	}
	return nil
}
