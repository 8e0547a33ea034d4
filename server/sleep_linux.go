package server

import (
	"syscall"
	"time"
)

// sleepFine sleeps d with nanosleep(2): about 100–200 µs of resolution,
// where a Go timer in an otherwise idle process wakes up on the
// netpoller's millisecond granularity and the 100 µs slots of the
// scheduler would come in 1 ms bursts. The goroutine blocks its thread
// (not a P) for at most fineSleepBelow.
func sleepFine(d time.Duration) bool {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		err := syscall.Nanosleep(&ts, &rem)
		if err != syscall.EINTR {
			return err == nil
		}
		ts = rem // interrupted by a signal (the Go runtime preempts): sleep the rest
	}
}
