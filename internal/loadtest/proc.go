package loadtest

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// CPUTime returns the process's user+system CPU time (getrusage).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MemStatus holds the process's resident set figures from
// /proc/self/status in bytes: VmRSS (now) and VmHWM (peak). Zero when
// unavailable (not Linux).
type MemStatus struct {
	RSS, PeakRSS int64
}

// ReadMemStatus reads /proc/self/status.
func ReadMemStatus() MemStatus {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return MemStatus{}
	}
	var ms MemStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			ms.RSS = kib(line[len("VmRSS:"):])
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			ms.PeakRSS = kib(line[len("VmHWM:"):])
		}
	}
	return ms
}

func kib(b []byte) int64 {
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return n << 10
}
