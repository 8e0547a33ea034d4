// Package cli implements the ert command: streaming, snapshots, posting,
// diagnostics and the emulator, built on the ertkit SDK and emulator.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/ertkit/ertkit/emulator"
)

// Version is set at build time with -ldflags "-X github.com/ertkit/ertkit/internal/cli.Version=…".
var Version = "dev"

// Env is what a command sees of its process: streams and environment.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal reports whether Stdout is a terminal (a live board then).
	IsTerminal bool
	// Args are the raw arguments, to warn about secrets on the command line.
	Args []string
	Log  *slog.Logger
}

type grammar struct {
	LogLevel string `name:"log-level" default:"warn" enum:"debug,info,warn,error" help:"Log level on stderr (${enum})."`

	Demo     demoCmd     `cmd:"" help:"Start the embedded emulator and stream live prices through the whole RTO flow; no credentials needed."`
	Stream   streamCmd   `cmd:"" help:"Stream RICs (real RTO or any emulator)."`
	Snapshot snapshotCmd `cmd:"" help:"Take one image of each RIC and exit."`
	Post     postCmd     `cmd:"" help:"Contribute a value to an item and report the Ack or Nak."`
	Discover discoverCmd `cmd:"" help:"List the streaming endpoints of a region."`
	Token    tokenCmd    `cmd:"" help:"Get a token and show its metadata (the token itself is redacted unless --show-token)."`
	Doctor   doctorCmd   `cmd:"" help:"Check every step from DNS to the first refresh, timed, with advice on failures."`
	Emulator emulatorCmd `cmd:"" help:"Run a local RTO emulator: token endpoint, service discovery, streaming endpoints, faults."`
	Gateway  gatewayCmd  `cmd:"" help:"Fan one upstream session (RTO, an ADS, the emulator) out to many WebSocket API clients, as an ADS does."`
	Soak     soakCmd     `cmd:"" help:"Bounded soak test against an embedded emulator: fixed update rate, short tokens, random faults; JSON report."`
	Record   recordCmd   `cmd:"" help:"Record items to a seekable zstd file of JSON lines (every message with its receive time)."`
	Replay   replayCmd   `cmd:"" help:"Play a recording back as JSON lines at its recorded pace, --speed N or --fast, from --from, --loop."`
	Export   exportCmd   `cmd:"" help:"Export a recording: parquet (typed columns) or jsonl (for jq)."`
	Bench    benchCmd    `cmd:"" help:"Load-test the SDK against an in-process emulator on 127.0.0.1: throughput, latency, allocations, CPU, RSS."`
	Version  versionCmd  `cmd:"" help:"Print the version."`
}

// Main runs ert with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	env.Args = args
	var g grammar
	var parseOut strings.Builder
	exited := -1
	parser, err := kong.New(&g,
		kong.Name("ert"),
		kong.Description("ert — LSEG Real-Time -- Optimized (RTO) over the WebSocket API: stream, snapshot, post, diagnose, emulate."),
		kong.UsageOnError(),
		kong.Writers(env.Stdout, &parseOut),
		kong.Exit(func(code int) { exited = code; panic(kongExit{}) }),
		kong.Vars{"version": Version, "emu_user": emulator.DefaultUser, "emu_clientid": emulator.DefaultClientID},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ert: internal error: %v\n", err)
		return ExitFailure
	}
	kctx, perr := parseArgs(parser, args, &exited)
	if exited >= 0 { // --help
		io.WriteString(env.Stderr, parseOut.String())
		return exited
	}
	if perr != nil {
		io.WriteString(env.Stderr, parseOut.String())
		fmt.Fprintf(env.Stderr, "ert: %v\n", perr)
		return ExitUsage
	}
	env.Log = newLogger(env.Stderr, g.LogLevel)
	runner, ok := kctx.Selected().Target.Addr().Interface().(interface {
		run(context.Context, *Env) error
	})
	if !ok {
		fmt.Fprintf(env.Stderr, "ert: internal error: command %q has no runner\n", kctx.Command())
		return ExitFailure
	}
	err = runner.run(ctx, &env)
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return ExitInterrupted
		}
		fmt.Fprintf(env.Stderr, "ert: %s\n", oneLine(err.Error()))
	}
	return exitCode(err)
}

type kongExit struct{}

func parseArgs(p *kong.Kong, args []string, exited *int) (kctx *kong.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(kongExit); !ok {
				panic(r)
			}
		}
	}()
	return p.Parse(args)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

type versionCmd struct{}

func (versionCmd) run(_ context.Context, env *Env) error {
	fmt.Fprintf(env.Stdout, "ert %s\n", Version)
	return nil
}
