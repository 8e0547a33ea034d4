//go:build !linux

package loadtest

import "os/exec"

// setParentDeathSignal is Linux only; elsewhere the child is stopped by
// Session.Close on every exit path of the bench.
func setParentDeathSignal(*exec.Cmd) {}
