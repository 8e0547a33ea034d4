package redact

import (
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://api.example.com/auth/oauth2/v1/token", "https://api.example.com/auth/oauth2/v1/token"},
		{"https://user:pw@api.example.com/x?transport=websocket", "https://api.example.com/x?transport=websocket"},
		{"https://h/x?access_token=abc&transport=websocket#frag", "https://h/x?access_token=REDACTED&transport=websocket"},
		{"https://h/x?client_secret=s3cr3t", "https://h/x?client_secret=REDACTED"},
		{"://bad", "<unparseable URL>"},
	}
	for _, c := range cases {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestForm(t *testing.T) {
	v := url.Values{
		"grant_type": {"password"}, "username": {"GE-A-1"}, "password": {"hunter2"},
		"client_secret": {"cs"}, "refresh_token": {"rt"}, "client_assertion": {"eyJ"}, "newPassword": {"np"},
		"client_id": {"app"},
	}
	got := Form(v)
	for _, secret := range []string{"hunter2", "=cs", "=rt", "eyJ", "=np"} {
		if strings.Contains(got, secret) {
			t.Errorf("Form leaks %q: %s", secret, got)
		}
	}
	for _, keep := range []string{"grant_type=password", "username=GE-A-1", "client_id=app"} {
		if !strings.Contains(got, keep) {
			t.Errorf("Form dropped %q: %s", keep, got)
		}
	}
}

func TestString(t *testing.T) {
	got := String("bad password p@ss w0rd! and p%40ss+w0rd%21 and token abc", "p@ss w0rd!", "abc", "")
	if strings.Contains(got, "p@ss") || strings.Contains(got, "p%40ss") || strings.Contains(got, "abc") {
		t.Fatalf("String left a secret: %q", got)
	}
	if !strings.Contains(got, "bad password") {
		t.Fatalf("String removed non-secret text: %q", got)
	}
}

func TestSecret(t *testing.T) {
	if got := Secret("abcdef"); strings.Contains(got, "abc") || !strings.Contains(got, "6") {
		t.Fatalf("Secret = %q", got)
	}
	if Secret("") != "<empty>" {
		t.Fatal("empty")
	}
}

func TestIsSensitiveKey(t *testing.T) {
	for _, k := range []string{"password", "newPassword", "client_secret", "access_token", "refresh_token", "client_assertion", "Authorization", "AuthenticationToken"} {
		if !IsSensitiveKey(k) {
			t.Errorf("%s not sensitive", k)
		}
	}
	for _, k := range []string{"grant_type", "username", "client_id", "scope", "transport", "takeExclusiveSignOnControl"} {
		if IsSensitiveKey(k) {
			t.Errorf("%s sensitive", k)
		}
	}
}
