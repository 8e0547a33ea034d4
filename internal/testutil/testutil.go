// Package testutil holds the test set-up that several packages share:
// building the ert binary, starting an emulator, trusting its CA and
// listing its endpoints. Test code only.
package testutil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

// BuildErt builds the ert command from pkg (a `go build` package path,
// such as "." or "../cmd/ert") into a temporary directory, for a
// TestMain. cleanup removes the directory.
func BuildErt(pkg string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "ert-test")
	if err != nil {
		return "", func() {}, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "ert")
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", func() {}, fmt.Errorf("building ert: %w", err)
	}
	return bin, cleanup, nil
}

// StartEmulator starts an emulator (bounded at 20 s) that the test's
// cleanup closes.
func StartEmulator(t testing.TB, cfg emulator.Config) *emulator.Emulator {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	emu, err := emulator.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("emulator.Start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// TLS trusts the emulator's CA, verification on.
func TLS(t testing.TB, info emulator.Info) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(info.CAPEM) {
		t.Fatal("emulator CA not PEM")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Endpoints lists the emulator's streaming endpoints as host:port.
func Endpoints(info emulator.Info) []string {
	var eps []string
	for _, e := range info.Endpoints {
		eps = append(eps, fmt.Sprintf("%s:%d", e.Host, e.Port))
	}
	return eps
}
