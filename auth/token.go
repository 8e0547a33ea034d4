package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/ertkit/ertkit/internal/redact"
)

// Token is an access token as issued by the gateway.
type Token struct {
	AccessToken  string        // goes into the Login's AuthenticationToken
	RefreshToken string        // v1 only
	ExpiresIn    time.Duration // lifetime from Obtained; 0 means "does not expire" (static tokens)
	Obtained     time.Time     // when the response arrived (the Manager's clock)
	Version      int           // 1 or 2: the authentication version that issued it
	Scope        string        // granted scope, when the server says
}

// String describes the token for logs without revealing any secret.
func (t Token) String() string {
	return fmt.Sprintf("auth.Token{v%d access=%s refresh=%s expires_in=%s obtained=%s scope=%q}",
		t.Version, redact.Secret(t.AccessToken), redact.Secret(t.RefreshToken), t.ExpiresIn,
		t.Obtained.Format(time.RFC3339), t.Scope)
}

// GoString keeps %#v from printing the fields.
func (t Token) GoString() string { return t.String() }

// LogValue keeps slog from printing the fields.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// ExpiresAt is Obtained + ExpiresIn (zero for tokens that do not expire).
func (t Token) ExpiresAt() time.Time {
	if t.ExpiresIn <= 0 {
		return time.Time{}
	}
	return t.Obtained.Add(t.ExpiresIn)
}

// maxLifetime rejects absurd expires_in values (and Duration overflow).
const maxLifetime = 10 * 365 * 24 * time.Hour

// parseTokenResponse decodes a 200 answer of the token endpoint. expires_in
// may be a JSON string (v1: "300") or number (v2: 600). Errors never quote
// the body: it holds tokens.
func parseTokenResponse(body []byte, version int, now time.Time) (Token, error) {
	var r struct {
		AccessToken  *string         `json:"access_token"`
		RefreshToken *string         `json:"refresh_token"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		Scope        json.RawMessage `json:"scope"`
		TokenType    *string         `json:"token_type"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Token{}, fmt.Errorf("%w: not a JSON object (%d bytes)", ErrTokenResponse, len(body))
	}
	if r.AccessToken == nil || *r.AccessToken == "" {
		return Token{}, fmt.Errorf("%w: no access_token", ErrTokenResponse)
	}
	exp, err := parseExpiresIn(r.ExpiresIn)
	if err != nil {
		return Token{}, err
	}
	t := Token{AccessToken: *r.AccessToken, ExpiresIn: exp, Obtained: now, Version: version}
	if r.RefreshToken != nil {
		t.RefreshToken = *r.RefreshToken
	}
	if len(r.Scope) > 0 && !bytes.Equal(r.Scope, []byte("null")) {
		// Normally a space-separated string; tolerate an array.
		var s string
		var list []string
		switch {
		case json.Unmarshal(r.Scope, &s) == nil:
			t.Scope = s
		case json.Unmarshal(r.Scope, &list) == nil:
			b, _ := json.Marshal(list)
			t.Scope = string(b)
		}
	}
	return t, nil
}

// parseExpiresIn accepts a JSON number or a string holding one, in seconds.
func parseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, fmt.Errorf("%w: no expires_in", ErrTokenResponse)
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, fmt.Errorf("%w: bad expires_in", ErrTokenResponse)
		}
	}
	secs, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, fmt.Errorf("%w: expires_in is not a number", ErrTokenResponse)
	}
	if secs < 1 || secs > maxLifetime.Seconds() {
		return 0, fmt.Errorf("%w: expires_in %g out of range", ErrTokenResponse, secs)
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Millisecond), nil
}
