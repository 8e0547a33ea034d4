package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testKeys are generated once per test binary: RSA key generation is slow.
var testKeys = struct {
	rsa, rsaOther *rsa.PrivateKey
	ec, ec384     *ecdsa.PrivateKey
}{
	rsa:      mustRSA(),
	rsaOther: mustRSA(),
	ec:       mustEC(elliptic.P256()),
	ec384:    mustEC(elliptic.P384()),
}

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// publicJWK is the JSON of a public JWK as a client would register it.
func publicJWK(t testing.TB, pub crypto.PublicKey, kid, alg string) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign builds a compact JWS with header {alg, typ: JWT, kid} over the
// given claims, as the examples do.
func sign(t testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// exampleClaims are the claims LSEG's examples put into an assertion.
func exampleClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testClientID, "sub": testClientID, "aud": testAudience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func jwtEnv(t *testing.T) *env {
	return newEnv(t, func(c *Config) {
		c.JWKs = [][]byte{
			publicJWK(t, testKeys.rsa.Public(), "rsa-1", ""),
			publicJWK(t, testKeys.ec.Public(), "ec-1", "ES256"),
			publicJWK(t, testKeys.ec384.Public(), "ec-384", ""),
		}
	})
}

func assertionForm(assertion string, extra ...string) string {
	return form(append([]string{"grant_type", "client_credentials", "client_id", testClientID, "scope", DefaultScope,
		"client_assertion_type", jwtBearerAssertionType, "client_assertion", assertion}, extra...)...)
}

func TestV2ClientSecret(t *testing.T) {
	e := newEnv(t, nil)
	for name, c := range map[string]struct{ body, auth string }{
		"form":  {form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret, "scope", DefaultScope), ""},
		"basic": {form("grant_type", "client_credentials", "scope", DefaultScope), basic(testClientID, testSecret)},
	} {
		r := e.post(PathTokenV2, c.body, c.auth)
		wantStatus(t, r, http.StatusOK)
		if n, ok := r.json["expires_in"].(float64); !ok || n != 300 {
			t.Errorf("%s: expires_in = %#v, want the JSON number 300", name, r.json["expires_in"])
		}
		if _, ok := r.json["refresh_token"]; ok {
			t.Errorf("%s: v2 answer has a refresh_token", name)
		}
		if r.str("token_type") != "Bearer" || r.str("scope") != DefaultScope {
			t.Errorf("%s: body %s", name, r.raw)
		}
		p, _, err := e.store.Validate(r.str("access_token"))
		if err != nil || p.Version != 2 || p.ClientID != testClientID || p.User != "" {
			t.Errorf("%s: principal %+v, %v", name, p, err)
		}
	}
	for name, c := range map[string]struct{ body, auth string }{
		"wrong secret":   {form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", "nope"), ""},
		"no secret":      {form("grant_type", "client_credentials", "client_id", testClientID), ""},
		"wrong client":   {form("grant_type", "client_credentials", "client_id", "other", "client_secret", testSecret), ""},
		"no client":      {form("grant_type", "client_credentials"), ""},
		"basic mismatch": {form("grant_type", "client_credentials", "client_id", testClientID), basic("other", testSecret)},
		"basic wrong":    {form("grant_type", "client_credentials"), basic(testClientID, "nope")},
	} {
		r := e.post(PathTokenV2, c.body, c.auth)
		if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
			t.Errorf("%s: %d %s, want 401 invalid_client", name, r.status, r.raw)
		}
		if strings.Contains(string(r.raw), testSecret) {
			t.Errorf("%s: body echoes the secret", name)
		}
	}
	wantError(t, e.post(PathTokenV2, form("grant_type", "password", "username", testUser, "password", testPassword,
		"client_id", testClientID), ""), http.StatusBadRequest, "unsupported_grant_type")
	wantError(t, e.post(PathTokenV2, form("client_id", testClientID), ""), http.StatusBadRequest, "invalid_request")
}

func TestV2SecretDisabledWhenEmpty(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ClientSecret = "" })
	wantError(t, e.post(PathTokenV2, form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", ""), ""),
		http.StatusUnauthorized, "invalid_client")
	wantError(t, e.post(PathTokenV2, form("grant_type", "client_credentials"), basic(testClientID, "")),
		http.StatusUnauthorized, "invalid_client")
}

func TestV2AssertionAccepted(t *testing.T) {
	e := jwtEnv(t)
	now := e.clock.Now()
	arrayAud := exampleClaims(now)
	arrayAud["aud"] = []string{"https://other.example", testAudience}
	noIat := exampleClaims(now)
	delete(noIat, "iat")
	for name, a := range map[string]string{
		"RS256":     sign(t, testKeys.rsa, jose.RS256, "rsa-1", exampleClaims(now)),
		"RS512":     sign(t, testKeys.rsa, jose.RS512, "rsa-1", exampleClaims(now)),
		"PS256":     sign(t, testKeys.rsa, jose.PS256, "rsa-1", exampleClaims(now)),
		"ES256":     sign(t, testKeys.ec, jose.ES256, "ec-1", exampleClaims(now)),
		"ES384":     sign(t, testKeys.ec384, jose.ES384, "ec-384", exampleClaims(now)),
		"aud array": sign(t, testKeys.rsa, jose.RS256, "rsa-1", arrayAud),
		"no iat":    sign(t, testKeys.rsa, jose.RS256, "rsa-1", noIat),
	} {
		r := e.post(PathTokenV2, assertionForm(a), "")
		if r.status != http.StatusOK {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
			continue
		}
		if n, ok := r.json["expires_in"].(float64); !ok || n != 300 {
			t.Errorf("%s: expires_in %#v", name, r.json["expires_in"])
		}
		if p, _, err := e.store.Validate(r.str("access_token")); err != nil || p.ClientID != testClientID || p.Version != 2 {
			t.Errorf("%s: principal %+v %v", name, p, err)
		}
	}
	// client_id in the form is optional with an assertion (RFC 7523).
	r := e.post(PathTokenV2, form("grant_type", "client_credentials", "client_assertion_type", jwtBearerAssertionType,
		"client_assertion", sign(t, testKeys.ec, jose.ES256, "ec-1", exampleClaims(now))), "")
	wantStatus(t, r, http.StatusOK)
	if got := e.gw.Stats().TokenRequests[GrantClientAssertion]; got != 8 {
		t.Errorf("client_assertion counter %d, want 8", got)
	}
}

func TestV2AssertionRejected(t *testing.T) {
	e := jwtEnv(t)
	now := e.clock.Now()
	claims := func(mut func(map[string]any)) map[string]any {
		c := exampleClaims(now)
		mut(c)
		return c
	}
	good := sign(t, testKeys.rsa, jose.RS256, "rsa-1", exampleClaims(now))
	parts := strings.Split(good, ".")
	longer := exampleClaims(now)
	longer["exp"] = now.Add(24 * time.Hour).Unix()
	payload, err := json.Marshal(longer)
	if err != nil {
		t.Fatal(err)
	}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	cases := map[string]string{
		"wrong signature key": sign(t, testKeys.rsaOther, jose.RS256, "rsa-1", exampleClaims(now)),
		"tampered payload":    tampered,
		"unknown kid":         sign(t, testKeys.rsa, jose.RS256, "rsa-unknown", exampleClaims(now)),
		"alg not the JWK alg": sign(t, testKeys.ec, jose.ES256, "rsa-1", exampleClaims(now)),
		"wrong aud":           sign(t, testKeys.rsa, jose.RS256, "rsa-1", claims(func(c map[string]any) { c["aud"] = "https://elsewhere.example" })),
		"expired":             sign(t, testKeys.rsa, jose.RS256, "rsa-1", claims(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() })),
		"no exp":              sign(t, testKeys.rsa, jose.RS256, "rsa-1", claims(func(c map[string]any) { delete(c, "exp") })),
		"iat in future":       sign(t, testKeys.rsa, jose.RS256, "rsa-1", claims(func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() })),
		"wrong iss":           sign(t, testKeys.rsa, jose.RS256, "rsa-1", claims(func(c map[string]any) { c["iss"] = "other"; c["sub"] = "other" })),
		"sub differs":         sign(t, testKeys.rsa, jose.RS256, "rsa-1", claims(func(c map[string]any) { c["sub"] = "other" })),
		"HS256":               hs256(t, exampleClaims(now)),
		"not a JWT":           "abc.def.ghi",
	}
	for name, a := range cases {
		r := e.post(PathTokenV2, assertionForm(a), "")
		if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
			t.Errorf("%s: %d %s, want 401 invalid_client", name, r.status, r.raw)
		}
		if strings.Contains(string(r.raw), a) {
			t.Errorf("%s: body echoes the assertion", name)
		}
	}
	// Within the leeway an expired assertion still passes.
	within := sign(t, testKeys.rsa, jose.RS256, "rsa-1", claims(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() }))
	wantStatus(t, e.post(PathTokenV2, assertionForm(within), ""), http.StatusOK)

	// Request-level errors: 400.
	wantError(t, e.post(PathTokenV2, assertionForm(good, "client_secret", testSecret), ""), http.StatusBadRequest, "invalid_request")
	wantError(t, e.post(PathTokenV2, form("grant_type", "client_credentials", "client_id", testClientID,
		"client_assertion_type", "urn:example:other", "client_assertion", good), ""), http.StatusBadRequest, "invalid_request")
	wantError(t, e.post(PathTokenV2, form("grant_type", "client_credentials", "client_id", testClientID,
		"client_assertion_type", jwtBearerAssertionType), ""), http.StatusBadRequest, "invalid_request")
	// client_id in the form differs from the assertion's issuer.
	wantError(t, e.post(PathTokenV2, form("grant_type", "client_credentials", "client_id", "other",
		"client_assertion_type", jwtBearerAssertionType, "client_assertion", good), ""), http.StatusUnauthorized, "invalid_client")
}

// hs256 signs with a symmetric key; the gateway must refuse the alg.
func hs256(t *testing.T, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "rsa-1"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAssertionVerifierErrors(t *testing.T) {
	v, err := newAssertionVerifier([][]byte{publicJWK(t, testKeys.rsa.Public(), "rsa-1", "RS256")}, testAudience, testClientID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	if id, err := v.verify(sign(t, testKeys.rsa, jose.RS256, "rsa-1", exampleClaims(now)), now); err != nil || id != testClientID {
		t.Fatalf("valid assertion: %q %v", id, err)
	}
	for name, c := range map[string]struct {
		a    string
		want error
	}{
		"signature": {sign(t, testKeys.rsaOther, jose.RS256, "rsa-1", exampleClaims(now)), errAssertionSignature},
		"kid":       {sign(t, testKeys.rsa, jose.RS256, "nope", exampleClaims(now)), errAssertionKey},
		"alg":       {sign(t, testKeys.rsa, jose.PS256, "rsa-1", exampleClaims(now)), errAssertionAlg},
		"claims":    {sign(t, testKeys.rsa, jose.RS256, "rsa-1", exampleClaims(now.Add(-2*time.Hour))), errAssertionClaims},
		"malformed": {"x", errAssertionMalformed},
		"too long":  {strings.Repeat("a", maxAssertionBytes+1), errAssertionMalformed},
	} {
		if _, err := v.verify(c.a, now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A private JWK is accepted as configuration; only its public half is kept.
	priv, err := json.Marshal(jose.JSONWebKey{Key: testKeys.ec, KeyID: "ec-priv"})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := newAssertionVerifier([][]byte{priv}, testAudience, testClientID)
	if err != nil {
		t.Fatal(err)
	}
	if k := v2.keys["ec-priv"]; !k.IsPublic() {
		t.Error("private key kept")
	}
}
