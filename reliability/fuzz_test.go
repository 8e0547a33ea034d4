package reliability

import (
	"errors"
	"testing"

	"github.com/ertkit/ertkit/auth"
)

// FuzzJWTAssertion feeds arbitrary bytes to the client-side JWK handling
// (auth.JWTAssertion parses the private JWK or JWK set and prepares the
// signer). It must never panic, and every refusal must match auth.ErrJWK
// or be a plain config error, never a crash inside go-jose. The server
// side (the emulator's assertion verifier) is fuzzed by
// emulator/internal/gateway FuzzAssertion.
func FuzzJWTAssertion(f *testing.F) {
	f.Add([]byte(`{"kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLSR6SzjumI6v5VaZrD0K0"}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	f.Add([]byte(`{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB","d":"AQ"}`))
	f.Add([]byte(`{"kty":"oct","kid":"s","k":"c2VjcmV0"}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, jwk []byte) {
		g, err := auth.JWTAssertion(auth.JWTConfig{TokenURL: "https://127.0.0.1:1/token", ClientID: "fuzz", JWK: jwk})
		if err != nil {
			if g != nil {
				t.Fatalf("grant and error both returned: %v", err)
			}
			if !errors.Is(err, auth.ErrJWK) && !errors.Is(err, auth.ErrConfig) {
				t.Fatalf("refusal does not match auth.ErrJWK: %v", err)
			}
			return
		}
		if g.Version() != 2 {
			t.Fatalf("JWT grant reports version %d", g.Version())
		}
	})
}
