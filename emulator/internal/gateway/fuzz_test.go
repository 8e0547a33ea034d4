package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/ertkit/ertkit/server/tokens"
)

// FuzzTokenForm feeds arbitrary Content-Type, body and Authorization
// values to the token-request parser and to the whole token endpoints:
// nothing may panic, and every answer is a known status with a JSON body.
func FuzzTokenForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", passwordForm(true), "")
	f.Add("application/x-www-form-urlencoded", refreshForm("abc"), basic(testClientID, ""))
	f.Add("", form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret), "")
	f.Add("application/x-www-form-urlencoded; charset=utf-8", "grant_type=password&grant_type=x", "Basic Og==")
	f.Add("text/plain", "%zz&&==", "Basic")
	f.Add("application/x-www-form-urlencoded", "newPassword=%E2%82%AC&grant_type=password", "basic "+strings.Repeat("A", 40))

	clk := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clk }
	gw, err := New(Config{
		Store: tokens.NewStore(now), User: testUser, Password: testPassword, ClientID: testClientID,
		ClientSecret: testSecret, RateLimit: -1, Now: now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType, body, authorization string) {
		req, perr := parseTokenRequest(contentType, []byte(body), authorization)
		if perr == nil {
			for k := range req.form {
				_ = req.get(k)
			}
		} else if perr.status != 400 && perr.status != 401 {
			t.Fatalf("parse error status %d", perr.status)
		}
		for _, path := range []string{PathTokenV1, PathTokenBeta1, PathTokenV2} {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			if contentType != "" {
				r.Header["Content-Type"] = []string{contentType}
			}
			if authorization != "" {
				r.Header["Authorization"] = []string{authorization}
			}
			w := httptest.NewRecorder()
			gw.ServeHTTP(w, r)
			switch w.Code {
			case 200, 400, 401:
			default:
				t.Fatalf("%s: status %d", path, w.Code)
			}
			var out map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s: body not JSON: %q", path, w.Body.Bytes())
			}
			if w.Code != 200 && out["error"] == nil {
				t.Fatalf("%s: error answer without error: %q", path, w.Body.Bytes())
			}
		}
	})
}

// FuzzAssertion feeds arbitrary strings to the JWT assertion verifier:
// it must never panic, and must only accept what verifies with a
// registered key and carries the configured client id.
func FuzzAssertion(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	v, err := newAssertionVerifier([][]byte{
		publicJWK(f, testKeys.rsa.Public(), "rsa-1", ""),
		publicJWK(f, testKeys.ec.Public(), "ec-1", "ES256"),
	}, testAudience, testClientID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sign(f, testKeys.rsa, jose.RS256, "rsa-1", exampleClaims(now)))
	f.Add(sign(f, testKeys.ec, jose.ES256, "ec-1", exampleClaims(now)))
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, a string) {
		id, err := v.verify(a, now)
		if err == nil && id != testClientID {
			t.Fatalf("accepted an assertion for %q", id)
		}
		if err != nil && strings.Count(a, ".") >= 2 && len(a) > 20 && strings.Contains(err.Error(), a) {
			t.Fatalf("error text quotes the assertion")
		}
	})
}
