package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/discovery"
	"github.com/ertkit/ertkit/trjson"
)

type streamCmd struct {
	connFlags
	itemFlags
	outputFlags
	streamKafkaFlags        // cmd_stream_kafka.go
	natsFlags               // cmd_stream_nats.go
	From             string `name:"from" placeholder:"nats://…|kafka://…" help:"Read the items from a bus instead of RTO, no credentials needed: nats://HOST:PORT[/PREFIX] (NATS JetStream; comma-separate a cluster's URLs) or kafka://BROKER[,BROKER]/PREFIX (image from the compacted topic, then the ticks)."`
	Snapshot         bool   `name:"snapshot" help:"One image per item, then exit (same as ert snapshot)."`
}

func (c *streamCmd) run(ctx context.Context, env *Env) error {
	if c.From != "" {
		if strings.HasPrefix(c.From, "kafka://") {
			return c.runFromKafka(ctx, env) // cmd_stream_kafka.go
		}
		return c.runFromNATS(ctx, env) // cmd_stream_nats.go
	}
	if err := c.complete(env); err != nil {
		return err
	}
	kafkaTee, closeKafka, err := c.publisher(ctx, env)
	if err != nil {
		return err
	}
	natsTee, stopNATS, err := c.startPublishNATS(ctx, env)
	if err != nil {
		closeKafka()
		return err
	}
	defer stopNATS()
	err = runItems(ctx, env, itemRun{conn: &c.connFlags, items: &c.itemFlags, out: &c.outputFlags, snapshot: c.Snapshot, tee: teeAll(kafkaTee, natsTee)})
	if cerr := closeKafka(); err == nil {
		err = cerr
	}
	return err
}

// teeAll calls every non-nil sink; nil when there is none.
func teeAll(sinks ...func(*consumer.Msg)) func(*consumer.Msg) {
	var live []func(*consumer.Msg)
	for _, f := range sinks {
		if f != nil {
			live = append(live, f)
		}
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	return func(m *consumer.Msg) {
		for _, f := range live {
			f(m)
		}
	}
}

type snapshotCmd struct {
	connFlags
	itemFlags
	outputFlags
}

func (c *snapshotCmd) run(ctx context.Context, env *Env) error {
	if err := c.complete(env); err != nil {
		return err
	}
	return runItems(ctx, env, itemRun{conn: &c.connFlags, items: &c.itemFlags, out: &c.outputFlags, snapshot: true})
}

// itemRun is one streaming or snapshot run.
type itemRun struct {
	conn     *connFlags
	items    *itemFlags
	out      *outputFlags
	snapshot bool
	// caPEM is trusted in addition (the demo's embedded emulator).
	caPEM []byte
	// title and steps narrate the flow (the demo).
	title    string
	narrate  func(string)
	boardCol []string
	// tee, if set, also receives every message (ert stream --kafka-brokers,
	// --publish-nats).
	tee func(*consumer.Msg)
}

func parseDomain(s string) (trjson.Domain, error) {
	d, ok := trjson.ParseDomain([]byte(s))
	if !ok || d == trjson.DomainLogin {
		return 0, usageError("--domain %q: use MarketPrice, MarketByPrice, MarketByOrder, SymbolList or Source", s)
	}
	return d, nil
}

func runItems(ctx context.Context, env *Env, r itemRun) error {
	if err := r.out.validate(); err != nil {
		return err
	}
	names := r.items.names()
	if len(names) == 0 {
		return usageError("name at least one RIC, e.g. ert stream TRI.N (or --ric TRI.N)")
	}
	domain, err := parseDomain(r.items.Domain)
	if err != nil {
		return err
	}
	viewNames, viewFIDs, err := r.items.viewSpec()
	if err != nil {
		return err
	}
	narrate := r.narrate
	if narrate == nil {
		narrate = func(s string) { env.Log.Info(s) }
	}
	sess, err := newSession(ctx, r.conn, env)
	if err != nil {
		return err
	}
	defer sess.close()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	if sess.tokens != nil {
		tok, _ := sess.tokens.Token(ctx)
		narrate(fmt.Sprintf("token: v%d token from %s, expires in %s", tok.Version, redactURL(r.conn.tokenURL()), tok.ExpiresIn))
		go sess.tokens.Run(runCtx)
	}

	format := r.out.format(env)
	var (
		store   *boardStore
		printer printer
	)
	if format == "table" {
		cols := r.boardCol
		if len(viewNames) > 0 {
			cols = viewNames
		}
		store = newBoardStore(cols, nil)
		for _, n := range names {
			store.add(n)
		}
		narrate = store.setNote // stderr lines would tear the board
	} else {
		printer = newPrinter(format, env.Stdout, viewNames)
	}

	// Stop conditions: --count data messages, --duration, every item final.
	var data atomic.Int64
	done := make(chan struct{})
	var doneOnce sync.Once
	finish := func() { doneOnce.Do(func() { close(done) }) }
	var mu sync.Mutex
	final := map[string]trjson.State{} // items whose stream ended
	okItems := map[string]bool{}
	answered := map[string]bool{} // items with a first complete image or a final state
	var printErr error
	// The handler may run on two connections' goroutines (hot standby):
	// one reused Msg behind a lock keeps the per-message path allocation-free.
	var (
		outMu     sync.Mutex
		pm        trjson.Msg
		outClosed bool                        // set before the printer is closed
		shown     = map[string]trjson.State{} // last state shown per item
	)
	handler := func(m *consumer.Msg) {
		if r.tee != nil {
			r.tee(m)
		}
		outMu.Lock()
		pm = trjson.Msg{Type: m.Type, HasState: m.HasState, State: m.State,
			HasSeqNumber: m.HasSeq, SeqNumber: m.SeqNumber, Fields: m.Fields, Raw: m.Raw}
		if m.HasState {
			shown[m.Name] = m.State
		}
		var err error
		if store != nil {
			store.apply(m.Name, &pm)
		} else {
			err = printer.Print(m.Name, &pm)
		}
		outMu.Unlock()
		if err != nil {
			mu.Lock()
			printErr = err
			mu.Unlock()
			finish()
		}
		if m.Type == trjson.TypeRefresh || m.Type == trjson.TypeUpdate {
			if n := data.Add(1); r.out.Count > 0 && n >= int64(r.out.Count) {
				finish()
			}
		}
		if m.HasState {
			mu.Lock()
			if m.State.Data == trjson.DataOk && m.Type == trjson.TypeRefresh {
				okItems[m.Name] = true
			}
			if (m.Type == trjson.TypeRefresh && m.Complete) || m.State.Stream != trjson.StreamOpen {
				answered[m.Name] = true
			}
			// Closed and NonStreaming end an item; ClosedRecover and
			// Redirected do not: the SDK requests the item again.
			if (m.State.Stream == trjson.StreamClosed || m.State.Stream == trjson.StreamNonStreaming) && m.Complete {
				final[m.Name] = m.State
				if len(final) >= len(names) {
					finish()
				}
			}
			mu.Unlock()
		}
	}
	// suspect shows an item going Suspect without a server message (its
	// connection was lost) as a Status on stdout, like one from the
	// server, so that a consumer of the output knows the data is stale
	// while the SDK reconnects.
	// It has no "ID": the stream ID is the connection's, and ert made it.
	suspect := func(it *consumer.Item, st trjson.State) {
		outMu.Lock()
		defer outMu.Unlock()
		if prev, ok := shown[it.Name]; outClosed || ok && prev == st {
			return
		}
		shown[it.Name] = st
		sm := trjson.Msg{Type: trjson.TypeStatus, Domain: it.Domain, Key: trjson.Key{Name: it.Name, Service: it.Service}, HasState: true, State: st}
		sm.Raw = trjson.AppendMsg(nil, &sm)
		sm.Raw = append(sm.Raw[:1], bytes.TrimPrefix(sm.Raw[1:], []byte(`"ID":0,`))...)
		if store != nil {
			store.apply(it.Name, &sm)
		} else if err := printer.Print(it.Name, &sm); err != nil {
			mu.Lock()
			printErr = err
			mu.Unlock()
			finish()
		}
	}
	// Each connection that gives up (certificate failures, a TLS version
	// mismatch, Reconnect.MaxAttempts) counts; when none is left the run
	// ends with the reason instead of waiting for ever.
	conns, gaveUp := 1, 0
	if r.conn.HotStandby {
		conns = 2
	}
	var gaveUpErr error
	onEvent := func(e consumer.Event) {
		switch e.Kind {
		case consumer.EventItemState:
			if it := e.Item; it != nil && e.State.Data == trjson.DataSuspect && e.State.Stream == trjson.StreamOpen {
				suspect(it, e.State)
			}
			return
		case consumer.EventError:
			if errors.Is(e.Err, consumer.ErrGaveUp) {
				mu.Lock()
				gaveUp++
				if gaveUp >= conns {
					gaveUpErr = e.Err
					finish()
				}
				mu.Unlock()
			}
		}
		msg := e.Kind.String()
		if e.Endpoint != "" {
			msg += " " + e.Endpoint
		}
		if e.Err != nil {
			msg += ": " + oneLine(e.Err.Error())
		}
		if store != nil {
			store.setNote(time.Now().Format("15:04:05") + " " + msg)
		}
		env.Log.Info(msg)
	}

	cfg := sess.consumerConfig(r.caPEM, env)
	cfg.Handler, cfg.OnEvent = handler, onEvent
	narrate(fmt.Sprintf("endpoints: %v", cfg.Endpoints))
	client, err := consumer.Dial(ctx, cfg)
	if err != nil {
		var te *consumer.TokenError
		if errors.As(err, &te) {
			return fail(ExitAuth, err, "authentication")
		}
		return fail(ExitConnection, err, "connecting to %v", cfg.Endpoints)
	}
	defer client.Close()
	narrate(fmt.Sprintf("connected and logged in to %s", cfg.Endpoints[0]))

	opts := []consumer.Option{consumer.WithDomain(domain)}
	if len(viewNames) > 0 {
		opts = append(opts, consumer.WithView(viewNames...))
	}
	if len(viewFIDs) > 0 {
		opts = append(opts, consumer.WithViewFIDs(viewFIDs...))
	}

	var boardErr chan error
	if store != nil {
		boardErr = make(chan error, 1)
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			err := runBoard(bctx, store, r.title, env.Stdin, env.Stdout)
			boardErr <- err
			finish()
		}()
	}
	var stopAfter <-chan time.Time
	if r.out.Duration > 0 {
		t := time.NewTimer(r.out.Duration)
		defer t.Stop()
		stopAfter = t.C
	}
	if r.out.Stats {
		go statsLoop(runCtx, env, client, done)
	}
	if len(names) >= progressThreshold && store == nil {
		go progressLoop(runCtx, env, len(names), func() (int, int) {
			mu.Lock()
			defer mu.Unlock()
			return len(answered), len(final)
		})
	}

	if r.snapshot {
		imgs, err := client.Snapshot(ctx, names, opts...)
		if err != nil {
			return fail(ExitConnection, err, "snapshot")
		}
		failed := 0
		for _, im := range imgs {
			if im.State.Data != trjson.DataOk {
				failed++
				env.Log.Warn("item failed", "ric", im.Name, "state", im.State.Stream.String()+"/"+im.State.Data.String(), "text", im.State.Text)
			}
		}
		outMu.Lock()
		outClosed = true
		outMu.Unlock()
		finishOutput(printer, r.out.Stats, env, client)
		if failed == len(imgs) && failed > 0 {
			return fail(ExitItem, nil, "no item could be retrieved (%s)", imgs[0].State.Text)
		}
		return nil
	}

	if _, err := client.Subscribe(ctx, names, opts...); err != nil {
		return fail(ExitConnection, err, "subscribe")
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-stopAfter:
	}
	cancelRun()
	if boardErr != nil {
		finish()
	}
	outMu.Lock()
	outClosed = true
	outMu.Unlock()
	finishOutput(printer, r.out.Stats, env, client)
	mu.Lock()
	defer mu.Unlock()
	if printErr != nil {
		return fail(ExitFailure, printErr, "writing output")
	}
	if gaveUpErr != nil {
		hint := "the streaming endpoints cannot be reached"
		switch {
		case errors.Is(gaveUpErr, consumer.ErrCertificate):
			hint = "the server's certificate is not trusted (an emulator that restarted has a new CA: pass its ca_file with --ca-file)"
		case errors.Is(gaveUpErr, consumer.ErrTLSVersion):
			hint = "the server does not speak TLS 1.2 or later"
		}
		return fail(ExitConnection, gaveUpErr, "stopped reconnecting: %s", hint)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(final) >= len(names) && len(okItems) == 0 {
		for n, st := range final {
			return fail(ExitItem, nil, "every item closed; %s: %s/%s %s", n, st.Stream, st.Data, st.Text)
		}
	}
	return nil
}

func finishOutput(p printer, stats bool, env *Env, client *consumer.Client) {
	if p != nil {
		p.Close()
	}
	if stats {
		printStats(env, client.Stats())
	}
}

func statsLoop(ctx context.Context, env *Env, client *consumer.Client, done <-chan struct{}) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-t.C:
			printStats(env, client.Stats())
		}
	}
}

func printStats(env *Env, s consumer.Stats) {
	fmt.Fprintf(env.Stderr, "stats: messages=%d refreshes=%d updates=%d statuses=%d delivered=%d reconnects=%d dups_suppressed=%d drops=%d errors=%d login_reissues=%d\n",
		s.Messages, s.Refreshes, s.Updates, s.Statuses, s.Delivered, s.Reconnects, s.DupsSuppressed, s.Drops, s.Errors, s.LoginReissues)
}

func endpointURL(e discovery.Endpoint, plain bool) string {
	if plain {
		return "ws://" + e.Address() + "/WebSocket"
	}
	return e.Address()
}

// progressThreshold is the number of items from which subscribing reports
// progress on stderr.
const progressThreshold = 500

// progressLoop reports, every second until every item has answered, how
// many items have their first image.
func progressLoop(ctx context.Context, env *Env, total int, count func() (answered, closed int)) {
	start := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a, c := count()
		fmt.Fprintf(env.Stderr, "ert: subscribing: %d/%d items answered (%d closed) in %s\n", a, total, c, time.Since(start).Round(time.Second))
		if a >= total {
			return
		}
	}
}
