package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

// cliEnv is the emulator's v1 (or v2) credentials and URLs, in the
// environment only.
func cliEnv(info emulator.Info, version int) map[string]string {
	env := map[string]string{"ERT_CLIENTID": info.ClientID, "ERT_DISCOVERY_URL": info.DiscoveryURL, "ERT_CA_FILE": info.CAFile}
	if version == 1 {
		env["ERT_USER"], env["ERT_PASSWORD"], env["ERT_AUTH_URL"] = info.User, info.Password, info.AuthURLV1
	} else {
		env["ERT_CLIENTSECRET"], env["ERT_AUTH_URL"] = info.ClientSecret, info.AuthURLV2
	}
	return env
}

// cliLine is one JSON line of `ert stream -o jsonl` with its arrival order.
type cliLine struct {
	Type      string
	Name      string
	Seq       int64
	HasSeq    bool
	DataState string
	Stream    string
}

// cliRun is a running ert process whose stdout is parsed line by line.
type cliRun struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	mu     sync.Mutex
	lines  []cliLine
	raw    bytes.Buffer
	sig    chan struct{}
	done   chan struct{}
	// gate is held by a test to stop reading stdout (a slow reader).
	gate sync.Mutex
	code int
}

// startCLI starts ert with exactly env (plus PATH and HOME) and args.
func startCLI(t *testing.T, env map[string]string, args ...string) *cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	cmd := exec.CommandContext(ctx, ertBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	r := &cliRun{cmd: cmd, stderr: &syncBuffer{}, sig: make(chan struct{}, 1), done: make(chan struct{}), code: -1}
	cmd.Stderr = r.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		defer cancel()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			r.waitGate()
			r.add(sc.Bytes())
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			r.code = 0
		case errors.As(err, &ee):
			r.code = ee.ExitCode()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// waitGate returns once no test holds the gate.
func (r *cliRun) waitGate() {
	r.gate.Lock()
	defer r.gate.Unlock()
}

func (r *cliRun) add(b []byte) {
	var m struct {
		Type      string
		Key       struct{ Name string }
		SeqNumber *int64
		State     struct{ Stream, Data string }
	}
	l := cliLine{Type: "?"}
	if json.Unmarshal(b, &m) == nil {
		l = cliLine{Type: m.Type, Name: m.Key.Name, DataState: m.State.Data, Stream: m.State.Stream}
		if m.SeqNumber != nil {
			l.Seq, l.HasSeq = *m.SeqNumber, true
		}
	}
	r.mu.Lock()
	r.lines = append(r.lines, l)
	r.raw.Write(b)
	r.raw.WriteByte('\n')
	r.mu.Unlock()
	select {
	case r.sig <- struct{}{}:
	default:
	}
}

func (r *cliRun) snapshot() []cliLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cliLine(nil), r.lines...)
}

func (r *cliRun) stdout() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raw.String()
}

// waitLine waits for a line after index from matching f and returns its index.
func (r *cliRun) waitLine(t *testing.T, from int, d time.Duration, what string, f func(cliLine) bool) int {
	t.Helper()
	d = bounded(t, d)
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		ls := r.snapshot()
		for i := from; i < len(ls); i++ {
			if f(ls[i]) {
				return i
			}
		}
		select {
		case <-r.sig:
		case <-r.done:
			ls := r.snapshot()
			for i := from; i < len(ls); i++ {
				if f(ls[i]) {
					return i
				}
			}
			t.Fatalf("ert exited (%d) before %s; stderr: %s", r.code, what, r.stderr.String())
		case <-deadline.C:
			t.Fatalf("no %s within %s; stderr: %s", what, d, r.stderr.String())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (r *cliRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(scenarioLimit):
		t.Fatalf("ert did not exit; stderr: %s", r.stderr.String())
	}
	return r.code
}

// runCLI runs ert to completion.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string, took time.Duration) {
	t.Helper()
	start := time.Now()
	r := startCLI(t, env, args...)
	code = r.wait(t)
	return code, r.stdout(), r.stderr.String(), time.Since(start)
}
