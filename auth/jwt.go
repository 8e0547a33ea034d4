package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultAudience is the "aud" of client assertions in LSEG's examples.
const DefaultAudience = "https://login.ciam.refinitiv.com/as/token.oauth2"

// maxAssertionLifetime bounds the assertion's exp-iat. LSEG's examples use
// an hour; a short lifetime limits the damage of a leaked assertion.
const maxAssertionLifetime = 5 * time.Minute

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// JWTConfig configures the v2 client_credentials grant with a JWT client
// assertion signed by the service account's private key.
type JWTConfig struct {
	// TokenURL of the v2 endpoint. Default DefaultTokenURLv2.
	TokenURL string
	// ClientID of the service account: the assertion's iss and sub. Required.
	ClientID string
	// JWK is the private key as a JSON Web Key (RSA or EC, with "kid"), or a
	// JWK set holding exactly one private key. Use ReadJWKFile to load it.
	// The header "alg" is the JWK's "alg", else RS256 for RSA and
	// ES256/ES384/ES512 by curve.
	JWK []byte
	// Audience ("aud", a single string). Default DefaultAudience.
	Audience string
	// Scope requested. Default DefaultScope.
	Scope string
	// Lifetime of each assertion (exp - iat). Default and maximum 5 minutes.
	Lifetime time.Duration
}

type jwtGrant struct {
	cfg    JWTConfig
	signer jose.Signer
}

// JWTAssertion returns the v2 grant with a JWT client assertion. A new
// assertion (fresh iat, exp and random jti) is signed for every request.
// It fails with ErrJWK if the key is not a private RSA or EC key with a kid.
func JWTAssertion(cfg JWTConfig) (Grant, error) {
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURLv2
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.Lifetime <= 0 || cfg.Lifetime > maxAssertionLifetime {
		cfg.Lifetime = maxAssertionLifetime
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("%w: the JWT assertion grant needs ClientID", ErrConfig)
	}
	key, err := parsePrivateJWK(cfg.JWK)
	if err != nil {
		return nil, err
	}
	alg, err := signingAlg(key)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWK, err)
	}
	cfg.JWK = nil // the signer holds the key; do not keep a second copy
	return &jwtGrant{cfg: cfg, signer: signer}, nil
}

func (g *jwtGrant) Version() int { return 2 }

func (g *jwtGrant) fetch(ctx context.Context, e *env, _ *Token) (Token, error) {
	assertion, err := g.assertion(e.now())
	if err != nil {
		return Token{}, err
	}
	f := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {g.cfg.ClientID}, "scope": {g.cfg.Scope},
		"client_assertion_type": {assertionType}, "client_assertion": {assertion},
	}
	return e.post(ctx, "v2 client_credentials grant (JWT assertion)", g.cfg.TokenURL, 2, f, nil, assertion)
}

func (g *jwtGrant) assertion(now time.Time) (string, error) {
	var jti [16]byte
	if _, err := io.ReadFull(rand.Reader, jti[:]); err != nil {
		return "", fmt.Errorf("auth: jti: %w", err)
	}
	claims := jwt.Claims{
		Issuer:   g.cfg.ClientID,
		Subject:  g.cfg.ClientID,
		Audience: jwt.Audience{g.cfg.Audience}, // one element: serialised as a string
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(g.cfg.Lifetime)),
		ID:       hex.EncodeToString(jti[:]),
	}
	s, err := jwt.Signed(g.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("%w: signing: %v", ErrJWK, err)
	}
	return s, nil
}

// parsePrivateJWK accepts a JWK or a JWK set with exactly one private key.
func parsePrivateJWK(b []byte) (jose.JSONWebKey, error) {
	var probe struct {
		Keys json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("%w: not JSON", ErrJWK)
	}
	var key jose.JSONWebKey
	if len(probe.Keys) > 0 {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(b, &set); err != nil {
			return key, fmt.Errorf("%w: bad JWK set: %v", ErrJWK, err)
		}
		n := 0
		for _, k := range set.Keys {
			if !k.IsPublic() {
				key, n = k, n+1
			}
		}
		if n != 1 {
			return jose.JSONWebKey{}, fmt.Errorf("%w: the JWK set holds %d private keys, want 1", ErrJWK, n)
		}
	} else if err := key.UnmarshalJSON(b); err != nil {
		return key, fmt.Errorf("%w: %v", ErrJWK, err)
	}
	if key.IsPublic() {
		return jose.JSONWebKey{}, fmt.Errorf("%w: the JWK holds a public key; the private key is needed", ErrJWK)
	}
	if key.KeyID == "" {
		return jose.JSONWebKey{}, fmt.Errorf("%w: the JWK has no \"kid\" (the gateway finds the public key by it)", ErrJWK)
	}
	return key, nil
}

func signingAlg(k jose.JSONWebKey) (jose.SignatureAlgorithm, error) {
	alg := jose.SignatureAlgorithm(k.Algorithm)
	switch key := k.Key.(type) {
	case *rsa.PrivateKey:
		switch alg {
		case "":
			return jose.RS256, nil
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return alg, nil
		}
	case *ecdsa.PrivateKey:
		want := map[elliptic.Curve]jose.SignatureAlgorithm{
			elliptic.P256(): jose.ES256, elliptic.P384(): jose.ES384, elliptic.P521(): jose.ES512,
		}[key.Curve]
		if want == "" {
			return "", fmt.Errorf("%w: unsupported EC curve", ErrJWK)
		}
		if alg == "" || alg == want {
			return want, nil
		}
	default:
		return "", fmt.Errorf("%w: key type %T is neither RSA nor EC", ErrJWK, k.Key)
	}
	return "", fmt.Errorf("%w: alg %q does not fit the key", ErrJWK, alg)
}

// maxJWKFile bounds what ReadJWKFile reads.
const maxJWKFile = 64 << 10

// ReadJWKFile reads a private JWK file. Except on Windows, it refuses files
// that grant any permission to group or others (like ssh does for private
// keys): chmod 600.
func ReadJWKFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrJWK, path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o; run chmod 600 %s", ErrKeyFilePermissions, path, fi.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxJWKFile+1))
	if err != nil {
		return nil, fmt.Errorf("auth: reading %s: %w", path, err)
	}
	if len(b) > maxJWKFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrJWK, path, maxJWKFile)
	}
	return b, nil
}
