//go:build !linux

package server

import "time"

// sleepFine is Linux only (see sleep_linux.go); elsewhere the scheduler
// uses a Go timer.
func sleepFine(time.Duration) bool { return false }
