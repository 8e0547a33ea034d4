package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	rsaKeyOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
	})
	return rsaKey
}

func marshalJWK(t *testing.T, k jose.JSONWebKey) []byte {
	t.Helper()
	b, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rsaJWK(t *testing.T, kid, alg string) []byte {
	return marshalJWK(t, jose.JSONWebKey{Key: testRSAKey(t), KeyID: kid, Algorithm: alg, Use: "sig"})
}

func TestJWTAssertionClaims(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		jwk     []byte
		pub     any
		alg     jose.SignatureAlgorithm
		aud     string
		wantAud string
	}{
		{"RSA default alg and audience", rsaJWK(t, "kid-rsa", ""), &testRSAKey(t).PublicKey, jose.RS256, "", DefaultAudience},
		{"RSA PS256 custom audience", rsaJWK(t, "kid-ps", "PS256"), &testRSAKey(t).PublicKey, jose.PS256, "https://emulator.test/as/token", "https://emulator.test/as/token"},
		{"EC P-384", marshalJWK(t, jose.JSONWebKey{Key: ecKey, KeyID: "kid-ec", Algorithm: "ES384"}), &ecKey.PublicKey, jose.ES384, "", DefaultAudience},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTokenServer(t, func(w http.ResponseWriter, p posted, n int) { v2Token(w, "J", 600) })
			clk := newFakeClock()
			o := fastOptions(ts, nil)
			o.Now, o.After = clk.Now, clk.After
			g, err := JWTAssertion(JWTConfig{TokenURL: ts.URL + "/auth/oauth2/v2/token", ClientID: "svc-client", JWK: c.jwk, Audience: c.aud})
			if err != nil {
				t.Fatal(err)
			}
			m := newManager(t, g, o)
			if _, err := m.Token(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Fresh(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			reqs := ts.requests()
			var jtis []string
			for _, p := range reqs {
				if p.Header.Get("Authorization") != "" {
					t.Error("Basic header sent with an assertion")
				}
				a := p.Form.Get("client_assertion")
				f := p.Form
				f.Del("client_assertion")
				assertForm(t, f, map[string]string{
					"grant_type": "client_credentials", "client_id": "svc-client", "scope": "trapi.streaming.pricing.read",
					"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
				})
				tok, err := jwt.ParseSigned(a, []jose.SignatureAlgorithm{c.alg})
				if err != nil {
					t.Fatalf("posted assertion does not parse with alg %s: %v", c.alg, err)
				}
				h := tok.Headers[0]
				if h.KeyID != c.name[:0]+kidOf(t, c.jwk) || h.Algorithm != string(c.alg) || h.ExtraHeaders["typ"] != "JWT" {
					t.Fatalf("header %+v", h)
				}
				var cl jwt.Claims
				if err := tok.Claims(c.pub, &cl); err != nil {
					t.Fatalf("signature: %v", err)
				}
				if cl.Issuer != "svc-client" || cl.Subject != "svc-client" {
					t.Fatalf("iss/sub %q %q", cl.Issuer, cl.Subject)
				}
				if len(cl.Audience) != 1 || cl.Audience[0] != c.wantAud {
					t.Fatalf("aud %v", cl.Audience)
				}
				if raw := rawClaims(t, a); !strings.HasPrefix(string(raw["aud"]), `"`) {
					t.Fatalf("aud is not a single string: %s", raw["aud"])
				}
				iat, exp := cl.IssuedAt.Time(), cl.Expiry.Time()
				if !iat.Equal(clk.Now().Truncate(time.Second)) || exp.Sub(iat) > 5*time.Minute || !exp.After(iat) {
					t.Fatalf("iat %v exp %v", iat, exp)
				}
				if len(cl.ID) < 16 {
					t.Fatalf("jti %q", cl.ID)
				}
				jtis = append(jtis, cl.ID)
			}
			if len(jtis) != 2 || jtis[0] == jtis[1] {
				t.Fatalf("jti not unique per request: %v", jtis)
			}
		})
	}
}

func kidOf(t *testing.T, jwk []byte) string {
	var k struct{ Kid string }
	if err := json.Unmarshal(jwk, &k); err != nil {
		t.Fatal(err)
	}
	return k.Kid
}

func rawClaims(t *testing.T, compact string) map[string]json.RawMessage {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJWTAssertionRejectsUnusableKeys(t *testing.T) {
	pub := marshalJWK(t, jose.JSONWebKey{Key: &testRSAKey(t).PublicKey, KeyID: "k", Algorithm: "RS256"})
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	twoKeys, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{rsaJWK(t, "a", ""), rsaJWK(t, "b", "")}})
	oneKeySet, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{rsaJWK(t, "a", "")}})
	cases := []struct {
		name string
		jwk  []byte
		ok   bool
	}{
		{"public key", pub, false},
		{"no kid", rsaJWK(t, "", "RS256"), false},
		{"alg does not fit", marshalJWK(t, jose.JSONWebKey{Key: ec, KeyID: "k", Algorithm: "RS256"}), false},
		{"EC curve mismatch", marshalJWK(t, jose.JSONWebKey{Key: ec, KeyID: "k", Algorithm: "ES384"}), false},
		{"not JSON", []byte("-----BEGIN PRIVATE KEY-----"), false},
		{"symmetric", []byte(`{"kty":"oct","k":"c2VjcmV0","kid":"k"}`), false},
		{"set with two keys", twoKeys, false},
		{"set with one key", oneKeySet, true},
		{"EC default alg", marshalJWK(t, jose.JSONWebKey{Key: ec, KeyID: "k"}), true},
	}
	for _, c := range cases {
		_, err := JWTAssertion(JWTConfig{ClientID: "c", JWK: c.jwk})
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, ErrJWK)) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

func TestReadJWKFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "key.jwk")
	if err := os.WriteFile(path, rsaJWK(t, "k", ""), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := ReadJWKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := JWTAssertion(JWTConfig{ClientID: "c", JWK: b}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := ReadJWKFile(path)
		if !errors.Is(err, ErrKeyFilePermissions) {
			t.Errorf("mode %#o: err = %v", mode, err)
		}
	}
	if _, err := ReadJWKFile(dir); err == nil {
		t.Error("a directory was accepted")
	}
	if _, err := ReadJWKFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
