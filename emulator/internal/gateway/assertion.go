package gateway

import (
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// maxAssertionBytes bounds a JWT assertion before parsing.
const maxAssertionBytes = 16 << 10

// Assertion failures. Their texts go to the client as error_description,
// so they never include any part of the assertion.
var (
	errAssertionMalformed    = errors.New("client assertion is not a compact JWS with one accepted signature algorithm")
	errAssertionKey          = errors.New("client assertion key id (kid) is not registered")
	errAssertionAlg          = errors.New("client assertion alg does not match the registered key")
	errAssertionSignature    = errors.New("client assertion signature is invalid")
	errAssertionClaims       = errors.New("client assertion claims rejected")
	errAssertionClaimsSyntax = errors.New("client assertion cannot be verified with the registered key or its claims are malformed")
)

// acceptedAlgs are the asymmetric JWS algorithms accepted for
// assertions: what the examples can produce (RSA and EC JWKs), plus PSS.
var acceptedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
}

// assertionVerifier checks v2 JWT client assertions (RFC 7523 §3) against
// registered public keys.
type assertionVerifier struct {
	keys     map[string]jose.JSONWebKey // by kid
	audience string
	clientID string
}

func newAssertionVerifier(jwks [][]byte, audience, clientID string) (*assertionVerifier, error) {
	v := &assertionVerifier{keys: map[string]jose.JSONWebKey{}, audience: audience, clientID: clientID}
	for i, raw := range jwks {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("JWK %d: %w", i, err)
		}
		if k.KeyID == "" {
			return nil, fmt.Errorf("JWK %d: no kid", i)
		}
		if _, dup := v.keys[k.KeyID]; dup {
			return nil, fmt.Errorf("JWK %d: duplicate kid %q", i, k.KeyID)
		}
		if !k.IsPublic() {
			pub := k.Public()
			if !pub.Valid() { // symmetric keys have no public half
				return nil, fmt.Errorf("JWK %d: not an RSA or EC key", i)
			}
			k = pub
		}
		if !k.Valid() {
			return nil, fmt.Errorf("JWK %d: invalid key", i)
		}
		v.keys[k.KeyID] = k
	}
	return v, nil
}

// verify checks the signature and the claims of an assertion at time now
// and returns the client id it asserts. Required: a registered kid, an
// accepted alg (matching the JWK's alg if it names one), iss == sub ==
// the configured client id, aud containing the audience (string or
// array), exp present and not past, iat and nbf not in the future (each
// with AssertionLeeway).
func (v *assertionVerifier) verify(assertion string, now time.Time) (string, error) {
	if len(assertion) > maxAssertionBytes {
		return "", errAssertionMalformed
	}
	tok, err := jwt.ParseSigned(assertion, acceptedAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return "", errAssertionMalformed
	}
	h := tok.Headers[0]
	key, ok := v.keys[h.KeyID]
	if !ok {
		return "", errAssertionKey
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return "", errAssertionAlg
	}
	var c jwt.Claims
	if err := tok.Claims(key.Key, &c); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return "", errAssertionSignature
		}
		// The key cannot verify this alg, or the payload is not a claims
		// object; the inner error may quote payload bytes, so drop it.
		return "", errAssertionClaimsSyntax
	}
	switch {
	case c.Expiry == nil:
		return "", fmt.Errorf("%w: exp is required", errAssertionClaims)
	case c.Issuer != v.clientID:
		return "", fmt.Errorf("%w: iss is not a registered client", errAssertionClaims)
	case c.Subject != c.Issuer:
		return "", fmt.Errorf("%w: sub must equal iss", errAssertionClaims)
	}
	err = c.ValidateWithLeeway(jwt.Expected{
		Issuer:      v.clientID,
		Subject:     v.clientID,
		AnyAudience: jwt.Audience{v.audience},
		Time:        now,
	}, AssertionLeeway)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errAssertionClaims, err)
	}
	return c.Issuer, nil
}
