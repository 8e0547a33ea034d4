package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/gateway"
	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/trjson"
)

// GatewayConfig is a fan-out load test: an emulator upstream, one gateway
// (one upstream connection), Clients downstream WebSocket clients each
// streaming the same Items.
type GatewayConfig struct {
	// Clients downstream. Default 200.
	Clients int
	// Items per client (SYN<n>.X). Default 1000.
	Items int
	// Rate is the upstream update rate per item; the downstream rate is
	// Rate × Items × Clients. Default 0.25 (50,000 updates/s downstream
	// with the defaults).
	Rate float64
	// Duration of the measured phase, after every client has every
	// image. Default 10 s.
	Duration time.Duration
	// Pack is the gateway's messages per downstream frame. Default 20.
	Pack int
	// SettleMax bounds the wait for the set-up's backlog to drain before
	// measuring. Default 1 minute.
	SettleMax time.Duration
}

// GatewayResult is what RunGateway measured.
type GatewayResult struct {
	Clients, Items int
	Rate           float64
	Duration       time.Duration
	// SetUp is the time until every client had every image.
	SetUp time.Duration
	// Settle is the wait after SetUp until the upstream backlog of the
	// set-up had drained (the latest upstream update under 50 ms old),
	// bounded by a minute; Drained is false if it never did.
	Settle  time.Duration
	Drained bool
	// UpstreamStreams is the number of upstream streams the emulator
	// counted per item: 1 for every item, or the test failed.
	UpstreamStreams int
	// Updates received downstream in the measured phase, and per second.
	Updates    int64
	UpdatesSec float64
	// Latency from the emulator's send stamp to the downstream client
	// (total), to the gateway's upstream Handler (upstream), and the
	// gateway's own part: downstream arrival minus upstream arrival of the
	// same update (added).
	Total, Upstream, Added Quantiles
	// CPU of this process (emulator, gateway and clients) per downstream
	// update.
	CPUPerUpdate time.Duration
	RSSMiB       float64
}

// Quantiles of a latency distribution.
type Quantiles struct {
	P50, P99, P999, Max time.Duration
	N                   uint64
}

func quantiles(s *HistSnapshot) Quantiles {
	return Quantiles{P50: s.Quantile(0.5), P99: s.Quantile(0.99), P999: s.Quantile(0.999), Max: s.Max(), N: s.Count()}
}

// ErrLoss is wrapped by RunGateway when a client missed or repeated an
// update, or an item had more than one upstream stream.
var ErrLoss = errors.New("loadtest: fan-out lost, repeated or duplicated data")

func (c GatewayConfig) withDefaults() GatewayConfig {
	if c.Clients <= 0 {
		c.Clients = 200
	}
	if c.Items <= 0 {
		c.Items = 1000
	}
	if c.Rate <= 0 {
		c.Rate = 0.25
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Pack <= 0 {
		c.Pack = 20
	}
	if c.SettleMax <= 0 {
		c.SettleMax = time.Minute
	}
	return c
}

// upstreamArrivals pairs each update's upstream arrival with its
// downstream arrivals: key item index and SeqNumber.
type upstreamArrivals struct {
	mu sync.Mutex
	at map[[2]int64]int64
}

// RunGateway runs the fan-out test in this process, over loopback.
func RunGateway(ctx context.Context, cfg GatewayConfig) (GatewayResult, error) {
	cfg = cfg.withDefaults()
	res := GatewayResult{Clients: cfg.Clients, Items: cfg.Items, Rate: cfg.Rate, Duration: cfg.Duration}
	emu, err := emulator.Start(ctx, emulator.Config{Rate: cfg.Rate, RateSet: true, SendTimestamps: true, PlainWS: true})
	if err != nil {
		return res, err
	}
	defer emu.Close()
	info := emu.Info()
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret}), auth.Options{})
	defer tokens.Close()

	names := ItemNames(cfg.Items)
	index := make(map[string]int64, len(names))
	for i, n := range names {
		index[n] = int64(i)
	}
	var measuring atomic.Bool
	var upHist Histogram
	arr := &upstreamArrivals{at: map[[2]int64]int64{}}
	var lastUp atomic.Int64 // upstream latency of the latest update, ns
	sink := func(m *consumer.Msg) {
		if m.Type != trjson.TypeUpdate {
			return
		}
		f := m.Field(server.SendTimeField)
		if f == nil {
			return
		}
		rcv := m.Received.UnixNano()
		lastUp.Store(rcv - f.Int)
		if !measuring.Load() {
			return
		}
		upHist.Record(time.Duration(rcv - f.Int))
		arr.mu.Lock()
		arr.at[[2]int64{index[m.Name], m.SeqNumber}] = rcv
		arr.mu.Unlock()
	}
	ep := info.Endpoints[0]
	g, err := gateway.Start(ctx, gateway.Config{
		Upstream: consumer.Config{Endpoints: []string{fmt.Sprintf("ws://%s:%d/WebSocket", ep.Host, ep.Port)}, TokenSource: tokens},
		Sinks:    []func(*consumer.Msg){sink},
		Server:   server.Config{Pack: cfg.Pack, QueueLimit: 1 << 20},
	})
	if err != nil {
		return res, err
	}
	defer g.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	if _, err := g.Serve(ln, nil); err != nil {
		return res, err
	}

	var totHist, addHist Histogram
	var updates atomic.Int64
	lossCh := make(chan error, cfg.Clients)
	ready := make(chan struct{}, cfg.Clients)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for ci := range cfg.Clients {
		nc, br, err := dialGateway(runCtx, ln.Addr().String())
		if err != nil {
			return res, fmt.Errorf("client %d: %w", ci, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer nc.Close()
			cl := &fanClient{nc: nc, r: br, items: cfg.Items, lastSeq: make([]int64, cfg.Items), ready: ready,
				measuring: &measuring, tot: &totHist, add: &addHist, updates: &updates, arr: arr}
			if err := cl.run(runCtx, fmt.Sprint("load", ci), names); err != nil && runCtx.Err() == nil {
				lossCh <- fmt.Errorf("client %d: %w", ci, err)
				cancel()
			}
		}()
	}
	stopAll := func() {
		cancel()
		wg.Wait()
	}
	for range cfg.Clients {
		select {
		case <-ready:
		case err := <-lossCh:
			stopAll()
			return res, err
		case <-time.After(5 * time.Minute):
			stopAll()
			return res, fmt.Errorf("loadtest: not every client got every image within 5 minutes")
		}
	}
	res.SetUp = time.Since(start)
	// The set-up's backlog (updates queued upstream while 200,000 images
	// went out) would otherwise be measured as latency.
	settle := time.Now()
	for deadline := time.Now().Add(cfg.SettleMax); time.Now().Before(deadline); {
		if lastUp.Load() < int64(50*time.Millisecond) {
			res.Drained = true
			break
		}
		select {
		case err := <-lossCh:
			stopAll()
			return res, err
		case <-time.After(50 * time.Millisecond):
		}
	}
	res.Settle = time.Since(settle)
	cpu0 := CPUTime()
	measuring.Store(true)
	t0 := time.Now()
	select {
	case err := <-lossCh:
		stopAll()
		return res, err
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
	}
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu := CPUTime() - cpu0
	mem := ReadMemStatus()
	for _, it := range emu.State().Items {
		if it.Subscribers > res.UpstreamStreams {
			res.UpstreamStreams = it.Subscribers
		}
	}
	stopAll()
	select {
	case err := <-lossCh:
		return res, err
	default:
	}
	if res.UpstreamStreams != 1 {
		return res, fmt.Errorf("%w: an item had %d upstream streams", ErrLoss, res.UpstreamStreams)
	}
	res.Updates = updates.Load()
	res.UpdatesSec = float64(res.Updates) / elapsed.Seconds()
	res.Total, res.Upstream, res.Added = quantiles(totHist.Snapshot()), quantiles(upHist.Snapshot()), quantiles(addHist.Snapshot())
	if res.Updates > 0 {
		res.CPUPerUpdate = cpu / time.Duration(res.Updates)
	}
	res.RSSMiB = float64(mem.RSS) / (1 << 20)
	return res, nil
}

func dialGateway(ctx context.Context, addr string) (net.Conn, *bufio.Reader, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d := ws.Dialer{Protocols: []string{"tr_json2"}}
	nc, br, _, err := d.Dial(dctx, "ws://"+addr+"/WebSocket")
	if err != nil {
		return nil, nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, 256<<10)
	}
	return nc, br, nil
}

// fanClient is one downstream client: it logs in by name, requests every
// item in one batch, and checks every update's SeqNumber.
type fanClient struct {
	nc        net.Conn
	r         *bufio.Reader
	items     int
	lastSeq   []int64 // by item index; 0 = no image yet
	ready     chan<- struct{}
	measuring *atomic.Bool
	tot, add  *Histogram
	updates   *atomic.Int64
	arr       *upstreamArrivals
}

// firstItemID is the stream ID of the first item of the batch (the batch
// request has ID 2).
const firstItemID = 3

func (c *fanClient) run(ctx context.Context, user string, names []string) error {
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	defer stop()
	send := func(s string) error { return wsutil.WriteClientText(c.nc, []byte(s)) }
	if err := send(`{"ID":1,"Domain":"Login","Key":{"Name":"` + user + `"}}`); err != nil {
		return err
	}
	if err := send(`{"ID":2,"Key":{"Name":["` + strings.Join(names, `","`) + `"]}}`); err != nil {
		return err
	}
	var dec trjson.Decoder
	images := 0
	var buf []byte
	for {
		// Frames are read by hand (no UTF-8 validation, one reused
		// buffer): the clients share the machine with what they measure.
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return err
		}
		if h.Length > 16<<20 {
			return fmt.Errorf("frame of %d bytes", h.Length)
		}
		if int64(cap(buf)) < h.Length {
			buf = make([]byte, h.Length)
		}
		p := buf[:h.Length]
		if _, err := io.ReadFull(c.r, p); err != nil {
			return err
		}
		at := time.Now().UnixNano()
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpClose:
			return io.EOF
		case ws.OpPing:
			if err := wsutil.WriteClientMessage(c.nc, ws.OpPong, p); err != nil {
				return err
			}
			continue
		case ws.OpText:
		default:
			continue
		}
		if !h.Fin {
			return fmt.Errorf("fragmented frame (not expected from the gateway)")
		}
		msgs, err := dec.Decode(p)
		if err != nil {
			return fmt.Errorf("bad frame: %w", err)
		}
		for i := range msgs {
			m := &msgs[i]
			switch m.Type {
			case trjson.TypePing:
				if err := send(`{"Type":"Pong"}`); err != nil {
					return err
				}
				continue
			case trjson.TypeStatus:
				if m.ID >= firstItemID {
					return fmt.Errorf("%w: item stream %d: Status %s/%s %s", ErrLoss, m.ID, m.State.Stream, m.State.Data, m.State.Text)
				}
				continue
			case trjson.TypeRefresh, trjson.TypeUpdate:
			default:
				continue
			}
			k := int(m.ID - firstItemID)
			if k < 0 || k >= c.items {
				continue // the Login refresh
			}
			if m.Type == trjson.TypeRefresh {
				if c.lastSeq[k] == 0 {
					images++
					if images == c.items {
						c.ready <- struct{}{}
					}
				}
				c.lastSeq[k] = m.SeqNumber
				continue
			}
			if c.lastSeq[k] == 0 {
				return fmt.Errorf("%w: update before the image of item %d", ErrLoss, k)
			}
			if m.SeqNumber != c.lastSeq[k]+1 {
				return fmt.Errorf("%w: item %d SeqNumber %d after %d", ErrLoss, k, m.SeqNumber, c.lastSeq[k])
			}
			c.lastSeq[k] = m.SeqNumber
			if !c.measuring.Load() {
				continue
			}
			c.updates.Add(1)
			for j := range m.Fields {
				if m.Fields[j].Name == server.SendTimeField {
					c.tot.Record(time.Duration(at - m.Fields[j].Int))
				}
			}
			c.arr.mu.Lock()
			up, ok := c.arr.at[[2]int64{int64(k), m.SeqNumber}]
			c.arr.mu.Unlock()
			if ok {
				c.add.Record(time.Duration(at - up))
			}
		}
	}
}

// String is a one-paragraph report.
func (r GatewayResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d clients × %d items at %s/s per item: every client had every image after %s (backlog drained %v after %s); one upstream stream per item\n",
		r.Clients, r.Items, strconv.FormatFloat(r.Rate, 'g', -1, 64), r.SetUp.Round(time.Millisecond), r.Drained, r.Settle.Round(time.Millisecond))
	fmt.Fprintf(&b, "%d updates downstream in %s (%.0f/s), none missed or repeated; CPU %s per downstream update (emulator+gateway+clients); RSS %.0f MiB\n",
		r.Updates, r.Duration, r.UpdatesSec, r.CPUPerUpdate, r.RSSMiB)
	q := func(name string, q Quantiles) {
		fmt.Fprintf(&b, "%-9s p50 %-9s p99 %-9s p99.9 %-9s max %-9s (n=%d)\n", name, q.P50.Round(time.Microsecond), q.P99.Round(time.Microsecond),
			q.P999.Round(time.Microsecond), q.Max.Round(time.Microsecond), q.N)
	}
	q("total", r.Total)
	q("upstream", r.Upstream)
	q("added", r.Added)
	return b.String()
}
