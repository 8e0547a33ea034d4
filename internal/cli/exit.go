package cli

import (
	"errors"
	"fmt"
)

// Exit codes of ert. Scripts depend on them; never renumber.
const (
	ExitOK          = 0
	ExitFailure     = 1 // anything not classified below
	ExitUsage       = 2 // bad flags or arguments
	ExitAuth        = 3 // the token endpoint refused or could not be reached
	ExitDiscovery   = 4 // service discovery failed
	ExitConnection  = 5 // TCP, TLS, WebSocket or Login to a streaming endpoint failed
	ExitItem        = 6 // every requested item failed (e.g. unknown RIC), or a post was refused
	ExitInterrupted = 130
)

// exitError carries an exit code and a one-line, actionable message.
type exitError struct {
	code int
	msg  string
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil && e.msg == "" {
		return e.err.Error()
	}
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...), err: err}
}

func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitFailure
}
