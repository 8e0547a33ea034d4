package auth

import (
	"errors"

	"github.com/ertkit/ertkit/internal/platform"
)

// HTTPError is a non-success answer of the token endpoint: Status, the
// server's Code ("error") and Description ("error_description"), and the
// redacted URL. Its Error text names all four. It matches ErrFatal,
// ErrCredentials or ErrUnauthorized through errors.Is according to Status.
// It is the same type as discovery.HTTPError.
type HTTPError = platform.HTTPError

var (
	// ErrFatal matches 403, 404, 410 and 451 answers: the gateway refuses
	// for good (entitlement, wrong URL, retired API, legal block).
	ErrFatal = platform.ErrFatal
	// ErrCredentials matches 400 and 401 answers: the credentials, the
	// refresh token or the assertion were rejected. Not retried, except
	// that a rejected v1 refresh falls back to the password grant.
	ErrCredentials = platform.ErrCredentials
	// ErrUnauthorized matches 401 answers only.
	ErrUnauthorized = platform.ErrUnauthorized
	// ErrRetriesExhausted wraps the last error after every attempt on a
	// retryable failure (5xx, 429, network) was used.
	ErrRetriesExhausted = platform.ErrRetriesExhausted
	// ErrRedirect: a redirect was refused (non-https, other host, more than
	// 3 hops, missing Location).
	ErrRedirect = platform.ErrRedirect
	// ErrInsecureURL: a plain http URL to a host that is not loopback.
	ErrInsecureURL = platform.ErrInsecureURL

	// ErrTokenResponse: the 200 answer is not a usable token response.
	ErrTokenResponse = errors.New("auth: malformed token response")
	// ErrConfig: a grant is missing a required setting.
	ErrConfig = errors.New("auth: invalid configuration")
	// ErrPasswordPolicy: the new password fails LSEG's password policy
	// (checked before it is sent).
	ErrPasswordPolicy = errors.New("auth: new password does not meet the password policy")
	// ErrJWK: the JWK is not a usable private signing key.
	ErrJWK = errors.New("auth: unusable JWK")
	// ErrKeyFilePermissions: a private key file is accessible by group or
	// others.
	ErrKeyFilePermissions = errors.New("auth: private key file is accessible by group or others")
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("auth: token manager closed")
)

// permanent reports errors that repeating the same request cannot fix:
// the gateway's refusals and a server that shares no TLS version with us.
func permanent(err error) bool {
	if platform.TLSVersionMismatch(err) {
		return true
	}
	for _, e := range []error{ErrFatal, ErrCredentials, ErrRedirect, ErrInsecureURL, ErrConfig, ErrPasswordPolicy, ErrJWK} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
