package loadtest

import (
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// Decoder selects the client that reads the stream.
type Decoder string

const (
	// DecoderSDK is the ertkit consumer (trjson decoder, Handler delivery).
	DecoderSDK Decoder = "sdk"
	// DecoderMapAny is the reference line: coder/websocket reads each
	// frame into a fresh buffer and encoding/json decodes it into
	// []map[string]any, as LSEG's Go example does with gorilla.
	DecoderMapAny Decoder = "mapany"
)

// MaxDuration bounds every measured window (the load is bounded in time).
const MaxDuration = 30 * time.Second

// ErrConfig is wrapped by errors about an unusable Config.
var ErrConfig = errors.New("loadtest: invalid config")

// Config describes one load run. Zero fields take the defaults shown.
type Config struct {
	// Plain uses ws:// (and plain HTTP for the token) instead of wss://.
	// Default false: TLS.
	Plain bool
	// Pack is the largest number of messages per frame the emulator
	// sends. Default 1.
	Pack int
	// Rate is the emulator's update rate per item per second; 0 means load
	// mode (updates as fast as each connection drains). Updates carry the
	// send time used for latency in both modes (at a fixed Rate through
	// emulator.Config.SendTimestamps). Default 0.
	Rate float64
	// Items is the number of item streams per connection. Default 10.
	// Items are the emulator's synthetic instruments (see ItemNames): one
	// distinct RIC per stream.
	Items int
	// Conns is the number of client connections (one consumer.Client
	// each). Default 1.
	Conns int
	// Decoder selects the client. Default DecoderSDK.
	Decoder Decoder
	// Cache turns on the consumer's last-value cache. Default false.
	Cache bool
	// DecodeWorkers is consumer.Config.DecodeWorkers. Default 0.
	DecodeWorkers int
	// Warmup runs before the measured window. Default 1 s.
	Warmup time.Duration
	// Duration is the measured window of Run. Default 5 s, at most
	// MaxDuration.
	Duration time.Duration
	// ReadyTimeout bounds connecting and waiting for every Refresh.
	// Default 30 s.
	ReadyTimeout time.Duration
	// EmulatorCommand, when set, runs the emulator as a child process
	// instead of in this one, so that its CPU and garbage collection do
	// not land in the client's latency: it must return the `ert` command
	// for the arguments given (an `ert emulator` command line). The child
	// is killed when the session closes, on every path. Default nil: the
	// emulator runs in this process.
	EmulatorCommand func(args []string) *exec.Cmd `json:"-"`
	// EmulatorArgs are added to the child's command line (e.g. its
	// --cpuprofile and --trace).
	EmulatorArgs []string `json:"-"`
}

func (c Config) withDefaults() (Config, error) {
	if c.Pack == 0 {
		c.Pack = 1
	}
	if c.Items == 0 {
		c.Items = 10
	}
	if c.Conns == 0 {
		c.Conns = 1
	}
	if c.Decoder == "" {
		c.Decoder = DecoderSDK
	}
	if c.Warmup == 0 {
		c.Warmup = time.Second
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
	switch {
	case c.Pack < 1 || c.Items < 1 || c.Conns < 1 || c.Rate < 0:
		return c, fmt.Errorf("%w: Pack, Items and Conns must be ≥ 1 and Rate ≥ 0", ErrConfig)
	case c.Duration < 0 || c.Duration > MaxDuration || c.Warmup < 0 || c.Warmup > MaxDuration:
		return c, fmt.Errorf("%w: Warmup and Duration must be within 0…%s", ErrConfig, MaxDuration)
	case c.Decoder != DecoderSDK && c.Decoder != DecoderMapAny:
		return c, fmt.Errorf("%w: unknown decoder %q", ErrConfig, c.Decoder)
	}
	return c, nil
}

// Name is a short label such as "tls/pack50" or "plain/pack1/rate100".
func (c Config) Name() string {
	t := "tls"
	if c.Plain {
		t = "plain"
	}
	s := fmt.Sprintf("%s/pack%d", t, c.Pack)
	if c.Rate > 0 {
		s += fmt.Sprintf("/rate%g", c.Rate)
	}
	if c.Conns > 1 {
		s += fmt.Sprintf("/conns%d", c.Conns)
	}
	if c.Decoder != DecoderSDK && c.Decoder != "" {
		s += "/" + string(c.Decoder)
	}
	if c.DecodeWorkers > 0 {
		s += fmt.Sprintf("/workers%d", c.DecodeWorkers)
	}
	if c.EmulatorCommand != nil {
		s += "/emuproc"
	}
	return s
}

// ItemNames returns n distinct item names: the emulator's synthetic
// instruments SYN0.X, SYN1.X, … (one hub item each, as distinct RICs are
// on RTO; reusing a few built-in names would fan one tick out to many
// streams at once and distort latency).
func ItemNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("SYN%d.X", i)
	}
	return out
}
