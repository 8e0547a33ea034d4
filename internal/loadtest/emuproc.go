package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

// emuProc is an emulator running as a child process (`ert emulator`), so
// that its CPU and garbage collection stay out of the client's process.
type emuProc struct {
	cmd    *exec.Cmd
	info   emulator.Info
	dir    string
	exited chan struct{}
	stderr *tailBuffer

	stopOnce sync.Once
}

// emulatorArgs is the `ert emulator` command line for cfg: one streaming
// endpoint on loopback, no token rate limit, the fixed rate with send
// timestamps (or load mode), the CA written to caFile.
func emulatorArgs(cfg Config, caFile string) []string {
	args := []string{"emulator", "--api-addr", "127.0.0.1:0", "--stream-addr", "127.0.0.1:0",
		"--gateway-rate-limit=-1", "--rate=" + strconv.FormatFloat(cfg.Rate, 'g', -1, 64),
		"--pack", strconv.Itoa(cfg.Pack)}
	if cfg.Rate > 0 {
		args = append(args, "--send-timestamps")
	}
	if cfg.Plain {
		args = append(args, "--plain")
	} else {
		args = append(args, "--ca-file", caFile)
	}
	return append(args, cfg.EmulatorArgs...)
}

// startEmuProc starts the child that cfg.EmulatorCommand returns and
// waits (within ReadyTimeout) for the one JSON line describing it. On any
// error the child is killed before returning.
func startEmuProc(ctx context.Context, cfg Config) (*emuProc, error) {
	dir, err := os.MkdirTemp("", "ert-bench-emu-")
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	p := &emuProc{dir: dir, exited: make(chan struct{}), stderr: &tailBuffer{max: 4 << 10}}
	p.cmd = cfg.EmulatorCommand(emulatorArgs(cfg, filepath.Join(dir, "ca.pem")))
	p.cmd.Stderr = p.stderr
	setParentDeathSignal(p.cmd)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("loadtest: emulator process: %w", err)
	}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("loadtest: start emulator process: %w", err)
	}
	lines := make(chan []byte, 1)
	go func() {
		// The first line is the emulator's Info; the rest (none
		// expected) is drained so the child never blocks on its stdout.
		br := bufio.NewReader(stdout)
		line, _ := br.ReadBytes('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, br)
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t := time.NewTimer(cfg.ReadyTimeout)
	defer t.Stop()
	var line []byte
	select {
	case line = <-lines:
	case <-t.C:
		p.stop()
		return nil, fmt.Errorf("loadtest: emulator process not ready within %s", cfg.ReadyTimeout)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	if err := json.Unmarshal(line, &p.info); err != nil || len(p.info.Endpoints) == 0 {
		p.stop()
		return nil, fmt.Errorf("loadtest: emulator process did not describe itself (%v): %s", err, p.stderr.String())
	}
	if !cfg.Plain {
		if p.info.CAPEM, err = os.ReadFile(p.info.CAFile); err != nil {
			p.stop()
			return nil, fmt.Errorf("loadtest: emulator process CA: %w", err)
		}
	}
	return p, nil
}

// stop interrupts the child (only it, by its pid), so that it shuts down
// and writes its profiles, kills it if it has not exited within 5 s, and
// waits for it, at most 10 s more; then it removes its directory. Safe to
// call more than once.
func (p *emuProc) stop() {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		grace := time.NewTimer(5 * time.Second)
		defer grace.Stop()
		select {
		case <-p.exited:
		case <-grace.C:
			_ = p.cmd.Process.Kill()
			t := time.NewTimer(10 * time.Second)
			defer t.Stop()
			select {
			case <-p.exited:
			case <-t.C:
			}
		}
		os.RemoveAll(p.dir)
	})
}

// cpu returns the child's user+system CPU time so far, from
// /proc/<pid>/stat (0 when unavailable).
func (p *emuProc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces) in ")";
	// utime and stime are fields 14 and 15 of the whole line.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on
// every Linux configuration Go supports.
const clockTicks = 100

// tailBuffer keeps the last max bytes written (the child's stderr, for
// error messages).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}
