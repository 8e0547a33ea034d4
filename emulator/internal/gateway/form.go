package gateway

import (
	"encoding/base64"
	"mime"
	"net/url"
	"strings"
)

// maxFormBytes bounds a token request body. The largest legitimate one
// carries a JWT assertion signed with a big RSA key: a few KiB.
const maxFormBytes = 64 << 10

// tokenRequest is a parsed token request: form fields (each present at
// most once) and the HTTP Basic credentials, if any.
type tokenRequest struct {
	form  map[string]string
	basic *basicCreds
}

type basicCreds struct{ user, pass string }

func (r tokenRequest) get(k string) string { return r.form[k] }

// has reports whether field k was sent (even empty).
func (r tokenRequest) has(k string) bool {
	_, ok := r.form[k]
	return ok
}

// parseTokenRequest parses the body and Authorization header of a token
// request. It is pure so that it can be fuzzed; it never panics.
func parseTokenRequest(contentType string, body []byte, authorization string) (tokenRequest, *oauthError) {
	var out tokenRequest
	// A missing Content-Type is tolerated (the body is still a form); any
	// other media type is refused, as the form is the only defined encoding.
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return out, errInvalidRequest("Content-Type must be application/x-www-form-urlencoded")
		}
	}
	if len(body) > maxFormBytes {
		return out, errInvalidRequest("request body too large")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return out, errInvalidRequest("malformed form body")
	}
	out.form = make(map[string]string, len(vals))
	for k, v := range vals {
		// RFC 6749 §3.2: parameters must not be included more than once.
		if len(v) != 1 {
			return out, errInvalidRequest("a parameter is repeated")
		}
		out.form[k] = v[0]
	}
	if authorization != "" {
		b, ok, perr := parseBasic(authorization)
		if perr != nil {
			return out, perr
		}
		if ok {
			out.basic = b
		}
	}
	return out, nil
}

// parseBasic parses an HTTP Basic Authorization header. ok is false for
// other schemes (they are ignored on the token endpoint). The user and
// password are taken verbatim (no form-decoding): the example clients do
// not encode them.
func parseBasic(h string) (*basicCreds, bool, *oauthError) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return nil, false, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return nil, false, &oauthError{status: 401, code: "invalid_client", description: "malformed Basic authorization", basicChallenge: true}
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found {
		return nil, false, &oauthError{status: 401, code: "invalid_client", description: "malformed Basic authorization", basicChallenge: true}
	}
	return &basicCreds{user: user, pass: pass}, true, nil
}

// isTrue reads a boolean form field as the examples send it: "True"
// (Python, C#) or "true" (Java); "1" is accepted too.
func isTrue(s string) bool {
	return strings.EqualFold(s, "true") || s == "1"
}
