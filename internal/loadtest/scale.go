package loadtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
)

// ScaleConfig describes a many-items run on one connection.
type ScaleConfig struct {
	// Items is the number of item streams on the one connection. Default
	// 100,000, each a distinct synthetic instrument (ItemNames).
	Items int
	// Plain uses ws:// instead of wss://. Default false.
	Plain bool
	// NoCache turns the consumer's last-value cache off. Default false:
	// the cache is on, since RSS per cached item is the figure.
	NoCache bool
	// Timeout bounds the whole run. Default 60 s.
	Timeout time.Duration
}

// ScaleClientConfig is what the client side of a scale run needs; Scale
// hands it to a child process as JSON on stdin (it holds the emulator's
// client secret, so it never goes on a command line).
type ScaleClientConfig struct {
	Endpoint     string `json:"endpoint"`
	CAPEM        []byte `json:"ca_pem,omitempty"`
	AuthURL      string `json:"auth_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Items        int    `json:"items"`
	Cache        bool   `json:"cache"`
}

// ScaleResult is what the client side measured, in its own process
// unless InProcess is true.
type ScaleResult struct {
	Items     int  `json:"items"`
	InProcess bool `json:"in_process"`
	// RefreshSeconds is the time from Subscribe until every item's
	// Refresh had arrived.
	RefreshSeconds float64 `json:"refresh_seconds"`
	// RSS before dialling and after every Refresh (after a GC), the peak
	// (VmHWM), and the growth per item.
	RSSBefore     int64   `json:"rss_before_bytes"`
	RSSAfter      int64   `json:"rss_after_bytes"`
	PeakRSS       int64   `json:"peak_rss_bytes"`
	RSSPerItem    float64 `json:"rss_per_item_bytes"`
	HeapPerItem   float64 `json:"heap_per_item_bytes"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	CachedFields  int     `json:"cached_fields"`
	NotOK         int     `json:"not_ok"`
	EmulatorState string  `json:"-"`
}

// Scale starts an emulator (no updates: Rate 0.001 per item) and runs
// the client side: in the child process that newChild returns (which must
// call RunScaleClient with the JSON it reads on stdin and print the
// ScaleResult as JSON on stdout), or in this process when newChild is nil.
func Scale(ctx context.Context, cfg ScaleConfig, newChild func() *exec.Cmd) (ScaleResult, error) {
	if cfg.Items == 0 {
		cfg.Items = 100_000
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	emu, err := emulator.Start(ctx, emulator.Config{StreamAddrs: []string{"127.0.0.1:0"}, PlainWS: cfg.Plain,
		RateSet: true, Rate: 0.001, GatewayRateLimit: -1,
		// Every Refresh may be queued at once: the default 65,536-message
		// queue would disconnect a client that asks for 100,000 items.
		QueueLimit: 4 * cfg.Items, QueueBytes: 16 << 10 * cfg.Items})
	if err != nil {
		return ScaleResult{}, fmt.Errorf("loadtest: start emulator: %w", err)
	}
	defer emu.Close()
	info := emu.Info()
	cc := ScaleClientConfig{Endpoint: info.Endpoints[0].URL, AuthURL: info.AuthURLV2, ClientID: info.ClientID,
		ClientSecret: info.ClientSecret, Items: cfg.Items, Cache: !cfg.NoCache}
	if !cfg.Plain {
		cc.CAPEM = info.CAPEM
	}
	if newChild == nil {
		r, err := RunScaleClient(ctx, cc)
		r.InProcess = true
		return r, err
	}
	in, _ := json.Marshal(cc)
	cmd := newChild()
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	if err := cmd.Run(); err != nil {
		return ScaleResult{}, fmt.Errorf("loadtest: scale child: %w: %s", err, bytes.TrimSpace(errb.Bytes()))
	}
	var r ScaleResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("loadtest: scale child output: %w", err)
	}
	return r, nil
}

// RunScaleClient is the client side of Scale: one connection, cc.Items
// streams, time until every Refresh, RSS growth per cached item.
func RunScaleClient(ctx context.Context, cc ScaleClientConfig) (ScaleResult, error) {
	r := ScaleResult{Items: cc.Items}
	runtime.GC()
	before := ReadMemStatus()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := CPUTime()

	var opts auth.Options
	if len(cc.CAPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(cc.CAPEM)
		opts.TLSConfig = &tls.Config{RootCAs: pool}
	}
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: cc.AuthURL, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret}), opts)
	defer tokens.Close()
	cl, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{cc.Endpoint}, TokenSource: tokens,
		TLS: consumer.TLS{CAPEM: cc.CAPEM}, Cache: cc.Cache, Handler: func(*consumer.Msg) {}})
	if err != nil {
		return r, fmt.Errorf("loadtest: dial: %w", err)
	}
	defer cl.Close()
	start := time.Now()
	sub, err := cl.Subscribe(ctx, ItemNames(cc.Items))
	if err != nil {
		return r, fmt.Errorf("loadtest: subscribe: %w", err)
	}
	if err := sub.Wait(ctx); err != nil {
		return r, fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	r.RefreshSeconds = time.Since(start).Seconds()
	r.CPUSeconds = (CPUTime() - cpu0).Seconds()
	for _, it := range sub.Items() {
		st := it.State()
		if st.Stream.String() != "Open" || st.Data.String() != "Ok" {
			r.NotOK++
		}
	}
	runtime.GC()
	after := ReadMemStatus()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	r.RSSBefore, r.RSSAfter, r.PeakRSS = before.RSS, after.RSS, after.PeakRSS
	r.RSSPerItem = float64(after.RSS-before.RSS) / float64(cc.Items)
	r.HeapPerItem = float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse)) / float64(cc.Items)
	// Counted after the RSS reading: Images copies every image.
	if cc.Cache {
		for _, img := range cl.Images() {
			r.CachedFields += len(img.Fields)
		}
	}
	runtime.KeepAlive(sub)
	return r, nil
}
