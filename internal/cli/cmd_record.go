package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/record"
)

type recordCmd struct {
	connFlags
	itemFlags
	File        string        `name:"file" short:"f" required:"" help:"Recording to write (rotated files are named FILE's stem.0001.ext, .0002…), e.g. rec.ert.zst."`
	Duration    time.Duration `name:"duration" help:"Stop after this long (default: until interrupted)."`
	MaxSizeMB   int64         `name:"max-size-mb" help:"Start a new file once one reaches this many MiB (default: never)."`
	MaxAge      time.Duration `name:"max-age" help:"Start a new file once one is this old, e.g. 1h (default: never)."`
	Level       int           `name:"level" default:"1" help:"zstd level: 1 fastest … 4 best."`
	BlockKB     int           `name:"block-kb" default:"1024" help:"Block size in KiB (JSON lines per zstd frame)."`
	QueueBlocks int           `name:"queue-blocks" default:"16" help:"Blocks that may wait for the disk before messages are dropped (and counted)."`
}

func (c *recordCmd) run(ctx context.Context, env *Env) error {
	if err := c.complete(env); err != nil {
		return err
	}
	names := c.names()
	if len(names) == 0 {
		return usageError("name at least one RIC, e.g. ert record -f rec.ert.zst TRI.N (or --ric TRI.N)")
	}
	domain, err := parseDomain(c.Domain)
	if err != nil {
		return err
	}
	viewNames, viewFIDs, err := c.viewSpec()
	if err != nil {
		return err
	}
	if c.Level < 1 || c.Level > 4 {
		return usageError("--level %d: use 1 to 4", c.Level)
	}
	sess, err := newSession(ctx, &c.connFlags, env)
	if err != nil {
		return err
	}
	defer sess.close()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	sess.runTokens(runCtx)
	cfg := sess.consumerConfig(nil, env)
	w, err := record.Create(c.File, record.Options{
		Items: names, Source: strings.Join(cfg.Endpoints, ","), Program: "ert " + Version,
		BlockSize: c.BlockKB << 10, QueueBlocks: c.QueueBlocks, Level: c.Level,
		MaxBytes: c.MaxSizeMB << 20, MaxAge: c.MaxAge, Logger: env.Log,
	})
	if err != nil {
		return fail(ExitFailure, err, "creating the recording")
	}
	closed := false
	defer func() {
		if !closed {
			w.Close()
		}
	}()
	cfg.Handler = w.Handle
	cfg.OnEvent = func(e consumer.Event) {
		w.Event(e)
		if e.Kind != consumer.EventItemState {
			msg := e.Kind.String()
			if e.Err != nil {
				msg += ": " + oneLine(e.Err.Error())
			}
			env.Log.Info(msg, "endpoint", e.Endpoint)
		}
	}
	client, err := consumer.Dial(ctx, cfg)
	if err != nil {
		var te *consumer.TokenError
		if errors.As(err, &te) {
			return fail(ExitAuth, err, "authentication")
		}
		return fail(ExitConnection, err, "connecting to %v", cfg.Endpoints)
	}
	defer client.Close()
	opts := []consumer.Option{consumer.WithDomain(domain)}
	if len(viewNames) > 0 {
		opts = append(opts, consumer.WithView(viewNames...))
	}
	if len(viewFIDs) > 0 {
		opts = append(opts, consumer.WithViewFIDs(viewFIDs...))
	}
	if _, err := client.Subscribe(ctx, names, opts...); err != nil {
		return fail(ExitConnection, err, "subscribe")
	}
	env.Log.Info("recording", "file", c.File, "items", len(names))

	var stop <-chan time.Time
	if c.Duration > 0 {
		t := time.NewTimer(c.Duration)
		defer t.Stop()
		stop = t.C
	}
	status := newRecordStatus(env)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-stop:
			break loop
		case <-tick.C:
			status.show(w.Stats())
		}
	}
	client.Close()
	closed = true
	err = w.Close()
	status.clear()
	st := w.Stats()
	fmt.Fprintf(env.Stderr, "ert: recorded %d records to %d file(s) (%s on disk, %.1f× smaller than the JSON lines); dropped %d\n",
		st.Records, len(st.Files), humanBytes(st.Bytes), ratio(st.RawBytes, st.Bytes), st.Dropped)
	if st.Dropped > 0 {
		env.Log.Warn("messages were dropped because the disk was slower than the stream; gap records mark where", "dropped", st.Dropped, "gaps", st.Gaps)
	}
	if err != nil {
		return fail(ExitFailure, err, "writing the recording")
	}
	if ctx.Err() != nil && c.Duration == 0 {
		return nil // interrupted: the normal end of an open-ended recording
	}
	return ctx.Err()
}

// recordStatus is a one-line live status on a terminal's stderr.
type recordStatus struct {
	env *Env
	on  bool
}

func newRecordStatus(env *Env) *recordStatus {
	on := false
	if f, ok := env.Stderr.(*os.File); ok {
		on = term.IsTerminal(int(f.Fd()))
	}
	return &recordStatus{env: env, on: on}
}

func (s *recordStatus) show(st record.Stats) {
	if s.on {
		fmt.Fprintf(s.env.Stderr, "\rrecording: %s records, %s on disk, %d file(s), dropped %d ",
			humanCount(st.Records), humanBytes(st.Bytes), len(st.Files), st.Dropped)
	}
}

func (s *recordStatus) clear() {
	if s.on {
		fmt.Fprint(s.env.Stderr, "\r\033[K")
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
