package loadtest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"testing"

	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/emulator"
)

// fakeEmulatorEnv makes the test binary act as `ert emulator` (the
// flags emulatorArgs passes), so the child-process path runs without
// building ert: "run" serves, "silent" never describes itself.
const fakeEmulatorEnv = "ERT_LOADTEST_FAKE_EMULATOR"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEmulatorEnv); mode != "" {
		os.Exit(fakeEmulator(mode, os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

func fakeEmulator(mode string, args []string) int {
	if mode == "silent" {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		<-c // killed by the parent
		return 0
	}
	if len(args) == 0 || args[0] != "emulator" {
		fmt.Fprintln(os.Stderr, "fake emulator: want the emulator command, got", args)
		return 2
	}
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	api := fs.String("api-addr", "", "")
	stream := fs.String("stream-addr", "", "")
	limit := fs.Int("gateway-rate-limit", 50, "")
	rate := fs.Float64("rate", 1, "")
	pack := fs.Int("pack", 1, "")
	sendTimes := fs.Bool("send-timestamps", false, "")
	plain := fs.Bool("plain", false, "")
	caFile := fs.String("ca-file", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	emu, err := emulator.Start(ctx, emulator.Config{APIAddr: *api, StreamAddrs: []string{*stream}, GatewayRateLimit: *limit,
		RateSet: true, Rate: *rate, Pack: *pack, SendTimestamps: *sendTimes, PlainWS: *plain, CAFile: *caFile})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer emu.Close()
	line, _ := json.Marshal(emu.Info())
	fmt.Printf("%s\n", line)
	<-ctx.Done()
	return 0
}
