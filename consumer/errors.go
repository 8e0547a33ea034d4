package consumer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/ertkit/ertkit/internal/platform"
	"github.com/ertkit/ertkit/trjson"
)

var (
	// ErrClosed is returned by calls on a closed Client or Subscription.
	ErrClosed = errors.New("consumer: client closed")
	// ErrNotConnected is returned when no connection is logged in.
	ErrNotConnected = errors.New("consumer: not connected")
	// ErrDisconnected reports a connection lost while a request was pending.
	ErrDisconnected = errors.New("consumer: connection lost")
	// ErrSubprotocol reports a server that did not select tr_json2.
	ErrSubprotocol = errors.New("consumer: server did not select subprotocol tr_json2")
	// ErrPingTimeout reports a connection declared dead: nothing arrived for PingTimeout.
	ErrPingTimeout = errors.New("consumer: nothing received within PingTimeout")
	// ErrNoEndpoints reports an empty endpoint list.
	ErrNoEndpoints = errors.New("consumer: no endpoints")
	// ErrLoginPending matches (errors.Is) a *LoginError whose server text
	// says "Already pending login": the server still holds a previous
	// session of the same user. Dial backs off and retries such a Login
	// (Reconnect.PendingLoginRetries); every other refusal is final.
	ErrLoginPending = errors.New("consumer: login rejected: already pending login")
	// ErrCertificate matches a connection attempt that failed because the
	// server's certificate is not trusted (unknown authority, wrong host
	// name, expired): e.g. the emulator restarted with a new CA. Before
	// each reconnect the client re-reads TLS.CAFile; after
	// Reconnect.MaxCertFailures such failures in a row it gives up.
	ErrCertificate = errors.New("consumer: server certificate not trusted")
	// ErrTLSVersion matches a handshake that failed because the server
	// shares no TLS version with the client (TLS 1.2 is the minimum). It
	// is permanent: the connection gives up at once.
	ErrTLSVersion = errors.New("consumer: server shares no TLS version with the client (TLS 1.2 minimum)")
	// ErrGaveUp is wrapped by the EventError of a connection that stopped
	// reconnecting (after Reconnect.MaxAttempts failures,
	// Reconnect.MaxCertFailures certificate failures in a row, or at once
	// on ErrTLSVersion); the error it wraps says why. The connection
	// stays down until Close; its items stay Suspect.
	ErrGaveUp = errors.New("consumer: connection gave up reconnecting")
)

// classifyTLS marks a dial failure that reconnecting cannot fix by itself.
func classifyTLS(err error) error {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci):
		return fmt.Errorf("%w: %w", ErrCertificate, err)
	case platform.TLSVersionMismatch(err):
		return fmt.Errorf("%w: %w", ErrTLSVersion, err)
	}
	return err
}

// LoginError is a Login rejected by the server (a Login Status, or a Login
// Refresh whose state is not Open/Ok), or a Login stream closed later.
type LoginError struct {
	Endpoint string
	State    trjson.State
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("consumer: login rejected by %s: %s/%s %s: %q",
		e.Endpoint, e.State.Stream, e.State.Data, e.State.Code, e.State.Text)
}

// Is makes errors.Is(err, ErrLoginPending) true for an "Already pending
// login" refusal. RTO sends it with the same Code (NotEntitled) as a bad
// token, so the text is the only thing telling them apart: this is the one
// place where the client reads State.Text (C12.1 otherwise).
func (e *LoginError) Is(target error) bool {
	return target == ErrLoginPending && strings.Contains(strings.ToLower(e.State.Text), "already pending login")
}

// NakError is a negative acknowledgement of a Post.
type NakError struct {
	PostID int64
	Code   trjson.NakCode
	Text   string
}

func (e *NakError) Error() string {
	return fmt.Sprintf("consumer: post %d rejected: %s: %q", e.PostID, e.Code, e.Text)
}

// ServerError is an Error message from the server (spec §22): the request
// it names was not accepted.
type ServerError struct {
	ID   int64
	Text string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("consumer: server error on ID %d: %q", e.ID, e.Text)
}

// TokenError wraps a failure of the TokenSource, which is not retried by
// Dial: bad credentials must not cause a retry storm.
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return "consumer: token: " + e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }
