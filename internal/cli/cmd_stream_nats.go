package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/natsbus"
	"github.com/ertkit/ertkit/trjson"
)

// natsFlags are ert stream's NATS JetStream options (docs/NATS.md).
type natsFlags struct {
	PublishNATS string `name:"publish-nats" placeholder:"URL|embedded[:PORT]" help:"Also publish every message into NATS JetStream (nats://HOST:PORT[/PREFIX], or 'embedded' to start a NATS server on 127.0.0.1 whose URL is printed on stderr)."`
}

// parseNATSURL splits nats://host:port[/prefix] (comma-separated for a
// cluster) into the server URLs and the subject prefix ("" for the
// default).
func parseNATSURL(s string) (servers, prefix string, err error) {
	var hosts []string
	for _, part := range strings.Split(s, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Host == "" {
			return "", "", usageError("NATS URL %q: want nats://HOST:PORT[/PREFIX]", redactNATS(part))
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return "", "", usageError("NATS URL %q: scheme must be nats, tls, ws or wss", redactNATS(part))
		}
		if p := strings.Trim(u.Path, "/"); p != "" {
			if prefix != "" && p != prefix {
				return "", "", usageError("NATS URLs name two prefixes, %q and %q", prefix, p)
			}
			prefix = p
		}
		u.Path = ""
		hosts = append(hosts, u.String())
	}
	return strings.Join(hosts, ","), prefix, nil
}

// redactNATS hides user info (a token or password) of a NATS URL.
func redactNATS(s string) string {
	if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
		u.User = url.User("redacted")
		return u.String()
	}
	return s
}

// startPublishNATS connects (or starts the embedded server) and returns
// the Publisher's Handle to tee into, and a stop function that flushes it
// and reports its counters. With no --publish-nats it returns nils.
func (c *streamCmd) startPublishNATS(ctx context.Context, env *Env) (tee func(*consumer.Msg), stop func(), err error) {
	tee, url, stop, err := startNATSPublisher(ctx, env, "--publish-nats", c.PublishNATS, c.Service, c.Stats)
	if err == nil && url != "" && strings.HasPrefix(c.PublishNATS, "embedded") {
		fmt.Fprintf(env.Stderr, "ert: NATS JetStream embedded at %s (read with: ert stream --from %s RIC...)\n", url, url)
	}
	return tee, stop, err
}

// startNATSPublisher starts publishing into NATS JetStream as spec says
// (nats://HOST:PORT[/PREFIX], or embedded[:PORT] for an embedded server
// on 127.0.0.1; "" for nothing). It returns the Publisher's Handle, the
// servers' URL, and stop, which flushes and reports the counters (always
// when verbose, else only after drops). flag names the option in errors.
func startNATSPublisher(ctx context.Context, env *Env, flag, spec, service string, verbose bool) (tee func(*consumer.Msg), url string, stop func(), err error) {
	if spec == "" {
		return nil, "", func() {}, nil
	}
	var (
		srv     *natsbus.Server
		servers string
		prefix  string
	)
	if rest, ok := strings.CutPrefix(spec, "embedded"); ok {
		port := 0
		if p, ok := strings.CutPrefix(rest, ":"); ok {
			if port, err = strconv.Atoi(p); err != nil || port < 0 || port > 65535 {
				return nil, "", nil, usageError("%s %q: want embedded or embedded:PORT", flag, spec)
			}
		} else if rest != "" {
			return nil, "", nil, usageError("%s %q: want embedded or embedded:PORT", flag, spec)
		}
		srv, err = natsbus.StartServer(ctx, natsbus.ServerConfig{Port: port})
		if err != nil {
			return nil, "", nil, fail(ExitFailure, err, "starting the embedded NATS server")
		}
		servers = srv.URL()
	} else if servers, prefix, err = parseNATSURL(spec); err != nil {
		return nil, "", nil, err
	}
	closeSrv := func() {
		if srv != nil {
			srv.Close()
		}
	}
	nc, err := natsbus.Connect(ctx, servers)
	if err != nil {
		closeSrv()
		return nil, "", nil, fail(ExitConnection, err, "NATS")
	}
	pub, err := natsbus.NewPublisher(ctx, natsbus.PublisherConfig{Conn: nc, Streams: natsbus.Streams{Prefix: prefix},
		Service: service, Logger: env.Log})
	if err != nil {
		nc.Close()
		closeSrv()
		return nil, "", nil, fail(ExitConnection, err, "NATS streams")
	}
	stop = func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pub.Close(cctx); err != nil {
			env.Log.Warn("NATS publisher: " + err.Error())
		}
		st := pub.Stats()
		if verbose || st.Dropped > 0 {
			fmt.Fprintf(env.Stderr, "nats: received=%d published=%d retried=%d dropped=%d errors=%d images=%d\n",
				st.Received, st.Published, st.Retried, st.Dropped, st.Errors, st.Images)
		}
		nc.Close()
		closeSrv()
	}
	return pub.Handle, servers, stop, nil
}

// runFromNATS is ert stream --from: the items' images and updates from a
// NATS JetStream bus, printed as ert stream prints messages from RTO.
func (c *streamCmd) runFromNATS(ctx context.Context, env *Env) error {
	if err := c.outputFlags.validate(); err != nil {
		return err
	}
	if c.PublishNATS != "" {
		return usageError("--from and --publish-nats cannot be combined")
	}
	if c.View != "" {
		return usageError("--view does not apply to --from: the bus carries whole messages")
	}
	names := c.names()
	if len(names) == 0 {
		return usageError("name at least one RIC, e.g. ert stream --from nats://127.0.0.1:4222 TRI.N")
	}
	domain, err := parseDomain(c.Domain)
	if err != nil {
		return err
	}
	servers, prefix, err := parseNATSURL(c.From)
	if err != nil {
		return err
	}
	keys := make([]natsbus.Key, 0, len(names))
	for _, n := range names {
		keys = append(keys, natsbus.Key{Service: c.Service, Domain: domain, Name: n})
	}
	nc, err := natsbus.Connect(ctx, servers)
	if err != nil {
		return fail(ExitConnection, err, "NATS")
	}
	defer nc.Close()

	format := c.format(env)
	var (
		store   *boardStore
		printer printer
	)
	if format == "table" {
		store = newBoardStore(nil, nil)
		for _, n := range names {
			store.add(n)
		}
	} else {
		printer = newPrinter(format, env.Stdout, nil)
	}
	var (
		data     atomic.Int64
		done     = make(chan struct{})
		doneOnce sync.Once
		printErr error
		pm       trjson.Msg
	)
	finish := func() { doneOnce.Do(func() { close(done) }) }
	// The Subscription calls the handler on one goroutine at a time.
	handler := func(m *consumer.Msg) {
		pm = trjson.Msg{Type: m.Type, HasState: m.HasState, State: m.State,
			HasSeqNumber: m.HasSeq, SeqNumber: m.SeqNumber, Fields: m.Fields, Raw: m.Raw}
		if store != nil {
			store.apply(m.Name, &pm)
		} else if err := printer.Print(m.Name, &pm); err != nil && printErr == nil {
			printErr = err
			finish()
		}
		if m.Type == trjson.TypeRefresh || m.Type == trjson.TypeUpdate {
			if n := data.Add(1); c.Count > 0 && n >= int64(c.Count) {
				finish()
			}
		}
	}
	onEvent := func(e natsbus.Event) {
		if store != nil {
			store.setNote(time.Now().Format("15:04:05") + " " + e.String())
		}
		switch e.Kind {
		case natsbus.EventNoImage:
			env.Log.Info(e.String())
		default:
			env.Log.Warn(e.String())
		}
	}
	sub, err := natsbus.Subscribe(ctx, natsbus.SubscriberConfig{Conn: nc, Streams: natsbus.Streams{Prefix: prefix},
		Handler: handler, OnEvent: onEvent}, keys)
	if err != nil {
		if printer != nil {
			printer.Close()
		}
		if errors.Is(err, natsbus.ErrNoStream) {
			return fail(ExitItem, err, "nothing published on %s", redactNATS(c.From))
		}
		return fail(ExitConnection, err, "subscribing on NATS")
	}
	if c.Snapshot {
		finish() // the images are delivered by Subscribe
	}
	var boardErr chan error
	if store != nil {
		boardErr = make(chan error, 1)
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			boardErr <- runBoard(bctx, store, "NATS "+redactNATS(c.From), env.Stdin, env.Stdout)
			finish()
		}()
	}
	var stopAfter <-chan time.Time
	if c.Duration > 0 {
		t := time.NewTimer(c.Duration)
		defer t.Stop()
		stopAfter = t.C
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-stopAfter:
	}
	sub.Close() // the handler has returned for good
	if printer != nil {
		printer.Close()
	}
	if c.Stats {
		st := sub.Stats()
		fmt.Fprintf(env.Stderr, "stats: images=%d messages=%d in_image=%d reordered=%d duplicates=%d gaps=%d malformed=%d\n",
			st.Images, st.Messages, st.InImage, st.Reordered, st.Duplicates, st.Gaps, st.Malformed)
	}
	if printErr != nil {
		return fail(ExitFailure, printErr, "writing output")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if c.Snapshot && sub.Stats().Images == 0 {
		return fail(ExitItem, nil, "no image of %s on %s", strings.Join(names, ", "), redactNATS(c.From))
	}
	return nil
}
