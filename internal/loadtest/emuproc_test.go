package loadtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fakeCommand returns an EmulatorCommand running this test binary as a
// fake `ert emulator` in mode, and the commands it started.
func fakeCommand(mode string) (func([]string) *exec.Cmd, *[]*exec.Cmd) {
	var started []*exec.Cmd
	return func(args []string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), fakeEmulatorEnv+"="+mode)
		started = append(started, cmd)
		return cmd
	}, &started
}

// TestRunEmulatorProcess measures with the emulator in a child process
// at a fixed rate with send timestamps, and checks that the child is
// gone when Run returns.
func TestRunEmulatorProcess(t *testing.T) {
	for _, plain := range []bool{false, true} {
		cmd, started := fakeCommand("run")
		cfg := Config{Plain: plain, Rate: 200, Items: 20, Pack: 10, Warmup: 100 * time.Millisecond,
			Duration: 400 * time.Millisecond, EmulatorCommand: cmd}
		t.Run(cfg.Name(), func(t *testing.T) {
			if !strings.HasSuffix(cfg.Name(), "/emuproc") {
				t.Fatalf("name %q", cfg.Name())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !r.EmulatorProcess || r.Updates == 0 || r.LatencySamples == 0 || r.P50 <= 0 {
				t.Fatalf("result %+v: want updates with latency from the child emulator", r)
			}
			if len(*started) != 1 || (*started)[0].ProcessState == nil {
				t.Fatal("the emulator process is still running after Run")
			}
		})
	}
}

// TestEmulatorProcessNotReady: a child that never describes itself is
// killed when ReadyTimeout ends, and Open fails.
func TestEmulatorProcessNotReady(t *testing.T) {
	cmd, started := fakeCommand("silent")
	_, err := Open(context.Background(), Config{Rate: 10, Items: 1, ReadyTimeout: 300 * time.Millisecond, EmulatorCommand: cmd})
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("err = %v, want not ready", err)
	}
	if len(*started) != 1 || (*started)[0].ProcessState == nil {
		t.Fatal("the silent emulator process was not stopped")
	}
}

// TestEmulatorProcessContext: cancelling the context while the child
// starts stops it too.
func TestEmulatorProcessContext(t *testing.T) {
	cmd, started := fakeCommand("silent")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Open(ctx, Config{Rate: 10, Items: 1, ReadyTimeout: 20 * time.Second, EmulatorCommand: cmd})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if len(*started) != 1 || (*started)[0].ProcessState == nil {
		t.Fatal("the emulator process was not stopped")
	}
}

func TestEmulatorArgs(t *testing.T) {
	got := strings.Join(emulatorArgs(Config{Rate: 100, Pack: 10}, "/tmp/x/ca.pem"), " ")
	want := "emulator --api-addr 127.0.0.1:0 --stream-addr 127.0.0.1:0 --gateway-rate-limit=-1 --rate=100 --pack 10 --send-timestamps --ca-file /tmp/x/ca.pem"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := strings.Join(emulatorArgs(Config{Plain: true, Pack: 1}, "x"), " "); strings.Contains(got, "send-timestamps") || !strings.Contains(got, "--rate=0") || !strings.Contains(got, "--plain") {
		t.Fatalf("load mode, plain: %s", got)
	}
	got = strings.Join(emulatorArgs(Config{Pack: 1, EmulatorArgs: []string{"--trace", "/tmp/t"}}, "x"), " ")
	if !strings.HasSuffix(got, " --trace /tmp/t") {
		t.Fatalf("extra arguments not passed: %s", got)
	}
}
