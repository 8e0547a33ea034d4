package platform

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ertkit/ertkit/internal/redact"
)

// Sentinel errors. An *HTTPError matches ErrFatal, ErrCredentials and
// ErrUnauthorized through errors.Is according to its status.
var (
	// ErrFatal: the gateway said stop (403, 404, 410, 451). LSEG's examples
	// exit on these; retrying cannot help.
	ErrFatal = errors.New("fatal gateway status")
	// ErrCredentials: the request was rejected as unauthenticated or
	// malformed (400, 401): wrong password, expired refresh token, bad
	// client id or assertion. Not retried (except the v1 refresh → password
	// fallback).
	ErrCredentials = errors.New("credentials rejected")
	// ErrUnauthorized: status 401 exactly (for discovery: the bearer token
	// is no longer accepted; get a fresh token once and retry).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRetriesExhausted wraps the last error when every attempt of a
	// retryable failure (5xx, 429, network) was used.
	ErrRetriesExhausted = errors.New("retries exhausted")
	// ErrRedirect: a redirect was refused (scheme, host, hop count or a
	// missing Location).
	ErrRedirect = errors.New("redirect refused")
	// ErrInsecureURL: an http:// URL to a host that is not loopback.
	ErrInsecureURL = errors.New("refusing plain http to a non-loopback host")
)

// HTTPError is a non-success answer of the gateway. Its text names the
// status and the server's error code and description; URL is redacted.
// Secrets sent in the request are scrubbed from Code and Description.
type HTTPError struct {
	Status      int    // HTTP status code
	Code        string // server's "error" (or error.code), may be empty
	Description string // server's "error_description" (or error.message), or the start of a non-JSON body
	URL         string // request URL, redacted (no user info, no secret query values)
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	b.WriteString("HTTP ")
	b.WriteString(strconv.Itoa(e.Status))
	if t := http.StatusText(e.Status); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if e.URL != "" {
		b.WriteString(" from ")
		b.WriteString(e.URL)
	}
	if e.Code != "" || e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
		if e.Code != "" && e.Description != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Description)
	}
	return b.String()
}

// Is classifies the status for errors.Is.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrFatal:
		return IsFatalStatus(e.Status)
	case ErrCredentials:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusUnauthorized
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	}
	return false
}

// IsFatalStatus reports the statuses on which LSEG's examples stop.
func IsFatalStatus(s int) bool {
	switch s {
	case http.StatusForbidden, http.StatusNotFound, http.StatusGone, http.StatusUnavailableForLegalReasons:
		return true
	}
	return false
}

// retryableStatus: server errors and rate limiting.
func retryableStatus(s int) bool {
	return s >= 500 || s == http.StatusTooManyRequests
}

const maxErrorText = 300

// ParseErrorBody extracts the server's error code and description from an
// error response. It understands RFC 6749 bodies
// ({"error":"invalid_grant","error_description":"..."}) and the Delivery
// Platform's nested form ({"error":{"code":"...","message":"..."}}); any
// other body becomes a printable, length-limited Description. Each secret
// is replaced by a mask before the text is shortened, so that no part of a
// secret survives.
func ParseErrorBody(body []byte, secrets ...string) (code, desc string) {
	code, desc = parseErrorBody(body)
	// Scrub, normalise, scrub again (collapsing whitespace could reassemble
	// a secret that contains spaces), and truncate last: a mask is longer
	// than what it replaces, so scrubbing after the cut broke the bound.
	// Cutting text that no longer holds a secret cannot bring one back.
	scrub := func(s string) string {
		return truncate(redact.String(normalize(redact.String(s, secrets...)), secrets...))
	}
	return scrub(code), scrub(desc)
}

func parseErrorBody(body []byte) (code, desc string) {
	var flat struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"error_description"`
		Message     string          `json:"message"`
	}
	if err := json.Unmarshal(body, &flat); err == nil {
		var s string
		var nested struct {
			Code    json.RawMessage `json:"code"`
			Message string          `json:"message"`
			Status  string          `json:"status"`
		}
		switch {
		case len(flat.Error) == 0 || string(flat.Error) == "null":
		case json.Unmarshal(flat.Error, &s) == nil:
			code = s
		case json.Unmarshal(flat.Error, &nested) == nil:
			code = strings.Trim(string(nested.Code), `"`)
			if code == "null" {
				code = ""
			}
			desc = nested.Message
		}
		if flat.Description != "" {
			desc = flat.Description
		}
		if desc == "" {
			desc = flat.Message
		}
		if code != "" || desc != "" {
			return code, desc
		}
	}
	return "", string(body)
}

// normalize makes error text printable on one line: it is echoed into
// error strings and logs.
func normalize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// truncate bounds text to maxErrorText bytes on a rune boundary.
func truncate(s string) string {
	if len(s) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
