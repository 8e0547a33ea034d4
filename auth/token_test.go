package auth

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestTokenStringRedacts(t *testing.T) {
	tok := Token{AccessToken: "ACCESS-SECRET-123", RefreshToken: "REFRESH-SECRET-456", ExpiresIn: 300 * time.Second,
		Obtained: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Version: 1, Scope: "trapi.streaming.pricing.read"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("tok", "token", tok)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("tok", "token", tok)
	outputs := []string{tok.String(), fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), logs.String()}
	for _, out := range outputs {
		if strings.Contains(out, "SECRET") {
			t.Errorf("token leaked: %s", out)
		}
	}
	s := tok.String()
	for _, want := range []string{"v1", "5m0s", "trapi.streaming.pricing.read", "17 bytes"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %s lacks %q", s, want)
		}
	}
	if !tok.ExpiresAt().Equal(tok.Obtained.Add(5 * time.Minute)) {
		t.Error("ExpiresAt")
	}
}

func TestParseTokenResponse(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		body    string
		expires time.Duration
		refresh string
		ok      bool
	}{
		{"v1 string expires_in", `{"access_token":"a","refresh_token":"r","expires_in":"300","token_type":"Bearer"}`, 300 * time.Second, "r", true},
		{"v2 numeric expires_in", `{"access_token":"a","expires_in":600,"token_type":"Bearer","scope":"s"}`, 600 * time.Second, "", true},
		{"float expires_in", `{"access_token":"a","expires_in":599.5}`, 599500 * time.Millisecond, "", true},
		{"scope array tolerated", `{"access_token":"a","expires_in":1,"scope":["x","y"]}`, time.Second, "", true},
		{"missing expires_in", `{"access_token":"a"}`, 0, "", false},
		{"null expires_in", `{"access_token":"a","expires_in":null}`, 0, "", false},
		{"zero expires_in", `{"access_token":"a","expires_in":"0"}`, 0, "", false},
		{"negative expires_in", `{"access_token":"a","expires_in":-5}`, 0, "", false},
		{"text expires_in", `{"access_token":"a","expires_in":"soon"}`, 0, "", false},
		{"bool expires_in", `{"access_token":"a","expires_in":true}`, 0, "", false},
		{"huge expires_in", `{"access_token":"a","expires_in":1e300}`, 0, "", false},
		{"NaN string", `{"access_token":"a","expires_in":"NaN"}`, 0, "", false},
		{"no access_token", `{"expires_in":300}`, 0, "", false},
		{"empty access_token", `{"access_token":"","expires_in":300}`, 0, "", false},
		{"access_token not a string", `{"access_token":5,"expires_in":300}`, 0, "", false},
		{"not JSON", `<html>ok</html>`, 0, "", false},
		{"array", `[1]`, 0, "", false},
	}
	for _, c := range cases {
		tok, err := parseTokenResponse([]byte(c.body), 2, now)
		if c.ok != (err == nil) {
			t.Errorf("%s: err = %v", c.name, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrTokenResponse) {
				t.Errorf("%s: %v is not ErrTokenResponse", c.name, err)
			}
			continue
		}
		if tok.ExpiresIn != c.expires || tok.RefreshToken != c.refresh || !tok.Obtained.Equal(now) || tok.Version != 2 {
			t.Errorf("%s: %+v", c.name, tok)
		}
	}
	// Errors never quote the body (it holds tokens).
	_, err := parseTokenResponse([]byte(`{"access_token":"SECRET-TOKEN","expires_in":"x"}`), 1, now)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"a","refresh_token":"r","expires_in":"300","scope":"trapi.streaming.pricing.read","token_type":"Bearer"}`,
		`{"access_token":"a","expires_in":600,"token_type":"Bearer"}`,
		`{"access_token":"a","expires_in":"1e3"}`,
		`{"access_token":"a","expires_in":-1}`,
		`{}`, `null`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := parseTokenResponse(body, 1, now)
		if err != nil {
			if !errors.Is(err, ErrTokenResponse) {
				t.Fatalf("untyped error %v", err)
			}
			if len(body) > 8 && strings.Contains(err.Error(), string(body)) {
				t.Fatalf("error quotes the body")
			}
			return
		}
		if tok.AccessToken == "" || tok.ExpiresIn < time.Second/2 || tok.ExpiresIn > maxLifetime || !tok.Obtained.Equal(now) {
			t.Fatalf("accepted an unusable token: %+v", tok)
		}
		if strings.Contains(tok.String(), tok.AccessToken) && len(tok.AccessToken) > 8 {
			t.Fatalf("String leaks the token")
		}
	})
}
