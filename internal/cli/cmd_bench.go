package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/loadtest"
)

// benchCmd runs load against an in-process emulator on 127.0.0.1. Every
// run is bounded in time (loadtest.MaxDuration) and item count.
type benchCmd struct {
	Load       benchLoadCmd       `cmd:"" default:"withargs" help:"Throughput, latency, allocations, CPU and RSS: emulator load mode → SDK client (default)."`
	Scale      benchScaleCmd      `cmd:"" help:"Many items on one connection: time until every Refresh, RSS per cached item (client in a child process)."`
	Gateway    benchGatewayCmd    `cmd:"" help:"Fan-out through ert gateway: an emulator upstream, many downstream clients of the same items; one upstream stream per item, no update missed or repeated, latency added by the gateway."`
	Compare    benchCompareCmd    `cmd:"" help:"ert stream --output jsonl versus another client program (e.g. LSEG's Go example), messages/s drained from the emulator."`
	ScaleChild benchScaleChildCmd `cmd:"" name:"scale-child" hidden:"" help:"Client side of bench scale (reads its config as JSON on stdin)."`
	StreamProf benchStreamProfCmd `cmd:"" name:"stream-profile" hidden:"" help:"ert stream --output jsonl under a CPU profile (child of bench compare --cpuprofile)."`
}

type benchLoadCmd struct {
	Transport []string      `name:"transport" default:"tls,plain" enum:"tls,plain" help:"Transports to run (tls = wss, plain = ws)."`
	Pack      []int         `name:"pack" default:"1,50" help:"Messages per frame to run."`
	Decoder   []string      `name:"decoder" default:"sdk" enum:"sdk,mapany" help:"sdk = ertkit consumer; mapany = encoding/json into []map[string]any (LSEG example style)."`
	Items     int           `name:"items" default:"10" help:"Item streams per connection."`
	Conns     int           `name:"conns" default:"1" help:"Client connections."`
	Rate      float64       `name:"rate" default:"0" help:"Updates per second per item; 0 = load mode (as fast as the client drains, with send timestamps for latency)."`
	Cache     bool          `name:"cache" help:"Turn on the SDK's last-value cache."`
	Workers   int           `name:"decode-workers" default:"0" help:"Decode goroutines per connection (consumer.Config.DecodeWorkers; 0 = decode on the connection's loop)."`
	Warmup    time.Duration `name:"warmup" default:"1s" help:"Warm-up before each measured window."`
	Duration  time.Duration `name:"duration" default:"5s" help:"Measured window of each run (at most 30s)."`
	Runs      int           `name:"runs" default:"1" help:"Repetitions of each configuration (1–20)."`
	JSON      bool          `name:"json" help:"One JSON object per run instead of a table."`
	// EmulatorProcess runs `ert emulator` (this executable) as a child, so
	// that the emulator's CPU and GC stay out of the client's latency.
	EmulatorProcess bool `name:"emulator-process" help:"Run the emulator as a child process (ert emulator) instead of in this process; CPU, allocations and RSS are then the client's alone."`

	// Profiles of the whole command (warm-up included) and of the
	// emulator child.
	CPUProfile    string `name:"cpuprofile" type:"path" help:"Write a CPU profile of this process (clients, and the emulator unless --emulator-process) to this file."`
	Trace         string `name:"trace" type:"path" help:"Write an execution trace of this process to this file (go tool trace; -pprof=sched gives scheduling latency)."`
	EmuCPUProfile string `name:"emulator-cpuprofile" type:"path" help:"With --emulator-process: the emulator child's CPU profile (each run's child overwrites it: profile one configuration)."`
	EmuTrace      string `name:"emulator-trace" type:"path" help:"With --emulator-process: the emulator child's execution trace (each run's child overwrites it)."`
}

func (c *benchLoadCmd) run(ctx context.Context, env *Env) error {
	if c.Runs < 1 || c.Runs > 20 {
		return usageError("--runs must be 1–20")
	}
	if c.Duration > loadtest.MaxDuration {
		return usageError("--duration must be at most %s", loadtest.MaxDuration)
	}
	if (c.EmuCPUProfile != "" || c.EmuTrace != "") && !c.EmulatorProcess {
		return usageError("--emulator-cpuprofile and --emulator-trace need --emulator-process")
	}
	var emuArgs []string
	for flag, file := range map[string]string{"--cpuprofile": c.EmuCPUProfile, "--trace": c.EmuTrace} {
		if file != "" {
			abs, err := filepath.Abs(file)
			if err != nil {
				return usageError("%s: %v", flag, err)
			}
			emuArgs = append(emuArgs, flag, abs)
		}
	}
	stopProfiles, err := startProfiles(c.CPUProfile, c.Trace)
	if err != nil {
		return fail(ExitFailure, err, "bench profiling")
	}
	defer stopProfiles()
	var emuCmd func([]string) *exec.Cmd
	if c.EmulatorProcess {
		exe, err := os.Executable()
		if err != nil {
			return fail(ExitFailure, err, "finding the ert executable for the emulator process")
		}
		// Killed by loadtest when the run ends (and by the kernel if
		// this process dies first, on Linux).
		emuCmd = func(args []string) *exec.Cmd { return exec.Command(exe, args...) }
	}
	// Fixed-width rows, printed as each run ends.
	const row = "%-26s %10s %7s %9s %10s %6s %9s %10s %10s %10s %10s %12s\n"
	if !c.JSON {
		fmt.Fprintf(env.Stdout, row, "run", "updates/s", "MB/s", "frames/s", "allocs/upd", "CPU s", "CPU/upd", "p50", "p99", "p99.9", "max", "peak RSS MiB")
	}
	for _, dec := range c.Decoder {
		for _, tr := range c.Transport {
			for _, pack := range c.Pack {
				for range c.Runs {
					cfg := loadtest.Config{Plain: tr == "plain", Pack: pack, Rate: c.Rate, Items: c.Items, Conns: c.Conns,
						Decoder: loadtest.Decoder(dec), Cache: c.Cache, DecodeWorkers: c.Workers, Warmup: c.Warmup, Duration: c.Duration,
						EmulatorCommand: emuCmd, EmulatorArgs: emuArgs}
					r, err := loadtest.Run(ctx, cfg)
					if err != nil {
						return fail(ExitFailure, err, "bench %s", cfg.Name())
					}
					if c.JSON {
						b, _ := json.Marshal(r)
						fmt.Fprintf(env.Stdout, "%s\n", b)
						continue
					}
					fmt.Fprintf(env.Stdout, row, r.Name, f0(r.UpdatesPerSec), f1(r.MBPerSec), f0(r.FramesPerSec),
						fmt.Sprintf("%.2f", r.AllocsPerUpdate), fmt.Sprintf("%.2f", r.CPUSeconds), r.CPUPerUpdate.Round(time.Nanosecond).String(),
						lat(r.P50), lat(r.P99), lat(r.P999), lat(r.Max), f1(float64(r.PeakRSS)/(1<<20)))
					if r.Config.Rate > 0 && r.ArrivalP99 > 0 {
						fmt.Fprintf(env.Stdout, "%-26s read off the socket: p50 %s, p99 %s, p99.9 %s (send time → consumer.Msg.Received)\n", "",
							lat(r.ArrivalP50), lat(r.ArrivalP99), lat(r.ArrivalP999))
					}
					if r.EmulatorProcess {
						fmt.Fprintf(env.Stdout, "%-26s emulator process CPU %.2f s (%s/update)\n", "", r.EmulatorCPUSeconds,
							(time.Duration(r.EmulatorCPUSeconds*1e9) / time.Duration(max(r.Updates, 1))).Round(time.Nanosecond))
					}
				}
			}
		}
	}
	if !c.JSON && c.EmulatorProcess {
		fmt.Fprintln(env.Stdout, "CPU, allocations and RSS are the client process's (the emulator ran in a child process); latency is send time (emulator) → Handler.")
	} else if !c.JSON {
		fmt.Fprintln(env.Stdout, "CPU, allocations and RSS are process totals (emulator and client share the process); latency is send time (emulator) → Handler.")
	}
	return nil
}

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func lat(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(time.Microsecond).String()
}

type benchScaleCmd struct {
	Items     int           `name:"items" default:"100000" help:"Item streams on the one connection (1–1000000)."`
	Plain     bool          `name:"plain" help:"ws:// instead of wss://."`
	NoCache   bool          `name:"no-cache" help:"Turn the SDK's last-value cache off."`
	InProcess bool          `name:"in-process" help:"Run the client in this process (RSS is then the process total, emulator included)."`
	Timeout   time.Duration `name:"timeout" default:"60s" help:"Bound of the whole run."`
	JSON      bool          `name:"json" help:"Print the result as one JSON object."`
}

func (c *benchScaleCmd) run(ctx context.Context, env *Env) error {
	if c.Items < 1 || c.Items > 1_000_000 {
		return usageError("--items must be 1–1000000")
	}
	var child func() *exec.Cmd
	if !c.InProcess {
		exe, err := os.Executable()
		if err != nil {
			return fail(ExitFailure, err, "finding the ert executable for the child process")
		}
		child = func() *exec.Cmd { return exec.CommandContext(ctx, exe, "bench", "scale-child") }
	}
	r, err := loadtest.Scale(ctx, loadtest.ScaleConfig{Items: c.Items, Plain: c.Plain, NoCache: c.NoCache, Timeout: c.Timeout}, child)
	if err != nil {
		return fail(ExitFailure, err, "bench scale")
	}
	if c.JSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return nil
	}
	where := "child process (client only)"
	if r.InProcess {
		where = "this process (emulator included)"
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "items\t%d (one connection; %d not Open/Ok)\n", r.Items, r.NotOK)
	fmt.Fprintf(tw, "every Refresh in\t%.2f s\n", r.RefreshSeconds)
	fmt.Fprintf(tw, "client CPU\t%.2f s\n", r.CPUSeconds)
	fmt.Fprintf(tw, "measured in\t%s\n", where)
	fmt.Fprintf(tw, "RSS before / after / peak\t%.1f / %.1f / %.1f MiB\n", mib(r.RSSBefore), mib(r.RSSAfter), mib(r.PeakRSS))
	fmt.Fprintf(tw, "RSS per item\t%.0f B\n", r.RSSPerItem)
	fmt.Fprintf(tw, "heap in use per item\t%.0f B\n", r.HeapPerItem)
	fmt.Fprintf(tw, "cached fields\t%d\n", r.CachedFields)
	return tw.Flush()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

type benchScaleChildCmd struct{}

func (benchScaleChildCmd) run(ctx context.Context, env *Env) error {
	var cc loadtest.ScaleClientConfig
	if err := json.NewDecoder(io.LimitReader(env.Stdin, 1<<20)).Decode(&cc); err != nil {
		return usageError("bench scale-child: reading its config on stdin: %v", err)
	}
	r, err := loadtest.RunScaleClient(ctx, cc)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(r)
	fmt.Fprintf(env.Stdout, "%s\n", b)
	return nil
}

type benchCompareCmd struct {
	Other    string        `name:"other" help:"Path of another client program run with LSEG example flags (--hostname --port --auth_url --clientid --clientsecret --ric), e.g. LSEG's market_price_rto_client_cred_auth built from Refinitiv/websocket-api. It gets SSL_CERT_FILE set to the emulator's CA."`
	RIC      string        `name:"ric" default:"TRI.N" help:"The one item both clients request."`
	Pack     int           `name:"pack" default:"1" help:"Messages per frame."`
	Warmup   time.Duration `name:"warmup" default:"2s" help:"Warm-up before the measured window."`
	Duration time.Duration `name:"duration" default:"10s" help:"Measured window (at most 30s)."`
	// CPUProfile profiles the ert side only: the child then runs `ert
	// bench stream-profile`, the same stream command under
	// runtime/pprof, and is stopped with SIGINT so the profile is written.
	CPUProfile string `name:"cpuprofile" help:"Write a CPU profile of the ert stream child to this file (go tool pprof)."`
}

func (c *benchCompareCmd) run(ctx context.Context, env *Env) error {
	if c.Duration > loadtest.MaxDuration {
		return usageError("--duration must be at most %s", loadtest.MaxDuration)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(ExitFailure, err, "finding the ert executable")
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return fail(ExitFailure, err, "opening %s", os.DevNull)
	}
	defer devnull.Close()
	cfg := loadtest.ExternalConfig{Pack: c.Pack, Warmup: c.Warmup, Duration: c.Duration}

	// ert stream: credentials through the environment, output discarded.
	cfg.Command = func(info emulator.Info) *exec.Cmd {
		args := []string{"stream", "--hostname", info.Endpoints[0].Host,
			"--port", strconv.Itoa(info.Endpoints[0].Port), "--auth_url", info.AuthURLV2, "--ca-file", info.CAFile,
			"--output", "jsonl", c.RIC}
		if c.CPUProfile != "" {
			args = append([]string{"bench", "stream-profile", "--cpuprofile", c.CPUProfile, "--"}, args...)
		}
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env = append(os.Environ(), "ERT_CLIENTID="+info.ClientID, "ERT_CLIENTSECRET="+info.ClientSecret)
		cmd.Stdout, cmd.Stderr = devnull, devnull
		if c.CPUProfile != "" {
			cmd.Stderr = env.Stderr // the profiling child's errors are worth seeing
		}
		return cmd
	}
	cfg.Interrupt = c.CPUProfile != ""
	ert, err := loadtest.External(ctx, cfg)
	if err != nil {
		return fail(ExitFailure, err, "bench compare: ert stream")
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\tmsgs/s\tmessages\tseconds\tclient CPU s (lifetime)\t")
	fmt.Fprintf(tw, "ert stream --output jsonl\t%.0f\t%d\t%.1f\t%.2f\t\n", ert.MsgsPerSec, ert.Messages, ert.Seconds, ert.ChildCPUSec)
	if c.Other == "" {
		return tw.Flush()
	}
	// The other program gets the emulator's built-in default credentials
	// (public constants, not a secret) on its command line, as LSEG's
	// example expects them.
	cfg.Command = func(info emulator.Info) *exec.Cmd {
		cmd := exec.CommandContext(ctx, c.Other, "--hostname", info.Endpoints[0].Host,
			"--port", strconv.Itoa(info.Endpoints[0].Port), "--auth_url", info.AuthURLV2,
			"--clientid", info.ClientID, "--clientsecret", info.ClientSecret, "--ric", c.RIC)
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+info.CAFile)
		cmd.Stdout, cmd.Stderr = devnull, devnull
		return cmd
	}
	cfg.Interrupt = false
	other, err := loadtest.External(ctx, cfg)
	if err != nil {
		return fail(ExitFailure, err, "bench compare: %s", c.Other)
	}
	fmt.Fprintf(tw, "%s\t%.0f\t%d\t%.1f\t%.2f\t\n", c.Other, other.MsgsPerSec, other.Messages, other.Seconds, other.ChildCPUSec)
	tw.Flush()
	fmt.Fprintf(env.Stdout, "ratio ert/other: %.1f×\n", ert.MsgsPerSec/other.MsgsPerSec)
	return nil
}

// benchStreamProfCmd runs the CLI with Args (an `ert stream` command line)
// in this process under a CPU profile, written when the command returns
// (SIGINT ends a stream).
type benchStreamProfCmd struct {
	CPUProfile string   `name:"cpuprofile" required:"" help:"CPU profile file."`
	Args       []string `arg:"" passthrough:"" help:"The command line to run (after --)."`
}

func (c *benchStreamProfCmd) run(ctx context.Context, env *Env) error {
	f, err := os.Create(c.CPUProfile)
	if err != nil {
		return fail(ExitFailure, err, "creating the CPU profile")
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fail(ExitFailure, err, "starting the CPU profile")
	}
	args := c.Args
	if len(args) > 0 && args[0] == "--" { // kong keeps the separator in a passthrough arg
		args = args[1:]
	}
	code := Main(ctx, args, *env)
	pprof.StopCPUProfile()
	if code != 0 && ctx.Err() == nil {
		return fail(ExitFailure, fmt.Errorf("exit code %d", code), "bench stream-profile")
	}
	return nil
}
