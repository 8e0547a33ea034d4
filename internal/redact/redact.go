// Package redact removes secrets from text that goes to logs and errors:
// URLs (user info, sensitive query values), form values, and known secret
// strings echoed back by a server.
package redact

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Mask replaces a secret in output. It is fixed so that logs and tests can
// recognise redacted places.
const Mask = "REDACTED"

// sensitiveParts are lower-case substrings of parameter names whose values
// are secret. Matching on substrings covers client_secret, newPassword,
// access_token, refresh_token, client_assertion, AuthenticationToken, etc.
var sensitiveParts = []string{"password", "secret", "token", "assertion", "passwd", "key", "code", "authorization", "signature"}

// IsSensitiveKey reports whether a form, query or header name carries a
// secret value.
func IsSensitiveKey(name string) bool {
	n := strings.ToLower(name)
	for _, p := range sensitiveParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

// Secret describes a secret without revealing any of it: only its length,
// which is enough to tell "empty" from "present" when debugging.
func Secret(s string) string {
	if s == "" {
		return "<empty>"
	}
	return "<" + Mask + " " + strconv.Itoa(len(s)) + " bytes>"
}

// URL returns raw with user info removed, sensitive query values masked
// and the fragment dropped. Unparseable input yields a fixed placeholder so
// that nothing of it leaks.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = Mask
		} else {
			u.RawQuery = encode(q)
		}
	}
	return u.String()
}

// Form renders form values for a log line with sensitive values masked.
func Form(v url.Values) string { return encode(v) }

func encode(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, val := range v[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			if IsSensitiveKey(k) {
				b.WriteString(Mask)
			} else {
				b.WriteString(url.QueryEscape(val))
			}
		}
	}
	return b.String()
}

// String replaces every occurrence of each non-empty secret in s (as is,
// and URL-encoded, since servers may echo form input either way) with Mask.
// Longer secrets are replaced first so that a secret containing another is
// fully masked.
func String(s string, secrets ...string) string {
	list := make([]string, 0, 2*len(secrets))
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		list = append(list, sec)
		if q := url.QueryEscape(sec); q != sec {
			list = append(list, q)
		}
	}
	sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	for _, sec := range list {
		s = strings.ReplaceAll(s, sec, Mask)
	}
	return s
}
