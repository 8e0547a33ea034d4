// Command ert streams, snapshots and posts LSEG Real-Time -- Optimized data
// over the WebSocket API, diagnoses connectivity, and runs a local emulator.
//
//	go run ./cmd/ert demo
//
// See `ert --help` and docs/CLI.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ertkit/ertkit/internal/cli"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		IsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
	})
	stop()
	os.Exit(code)
}
