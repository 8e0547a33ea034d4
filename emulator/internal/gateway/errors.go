package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// oauthError is an RFC 6749 §5.2 error answer. Descriptions are fixed
// texts: they never echo what the client sent, so no secret can leak.
type oauthError struct {
	status      int
	code        string
	description string
	// retryAfter, when > 0, is sent as Retry-After (429).
	retryAfter time.Duration
	// basicChallenge adds WWW-Authenticate: Basic to a 401 (RFC 6749
	// §5.2: required when the client tried Basic authentication).
	basicChallenge bool
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: desc}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", description: desc}
}

func errUnsupportedGrant() *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", description: "grant_type not supported by this endpoint"}
}

func errInvalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: desc}
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(e.retryAfter)))
	}
	if e.basicChallenge && e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="ertkit-emulator"`)
	}
	writeError(w, e.status, e.code, e.description)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, errorBody{Error: code, Description: desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are marshalled; cannot happen
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	// RFC 6749 §5.1: token responses must not be cached.
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ceilSeconds rounds d up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
