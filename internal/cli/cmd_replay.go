package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ertkit/ertkit/record"
	"github.com/ertkit/ertkit/record/replay"
	"github.com/ertkit/ertkit/server"
)

type replayCmd struct {
	Files          []string      `arg:"" name:"FILE" help:"Recording files (the files of one rotated recording, in any order)." type:"existingfile"`
	Speed          float64       `name:"speed" default:"1" help:"Play N times faster than recorded (0.5: half speed)."`
	Fast           bool          `name:"fast" help:"As fast as possible, ignoring the recorded pace."`
	From           time.Duration `name:"from" help:"Start this far into the recording, e.g. 90s."`
	Loop           bool          `name:"loop" help:"Start over at the end, until interrupted."`
	Output         string        `name:"output" short:"o" enum:"jsonl,messages" default:"jsonl" help:"jsonl: records as stored ({\"t\",\"r\",\"m\"}); messages: the messages alone, as received."`
	Listen         string        `name:"listen" help:"Serve the recording instead: a ws:// tr_json2 endpoint on ADDR (e.g. 127.0.0.1:15000), Login by any user name; playing starts when the first item is opened."`
	InsecureListen bool          `name:"insecure-listen" help:"Allow --listen on a non-loopback address (any user name may open any recorded item)."`
}

func (c *replayCmd) run(ctx context.Context, env *Env) error {
	if c.Speed <= 0 {
		return usageError("--speed %v: must be above 0 (use --fast for as fast as possible)", c.Speed)
	}
	if c.From < 0 {
		return usageError("--from %v: must not be negative", c.From)
	}
	rs, closeAll, err := openRecording(env, c.Files)
	if err != nil {
		return err
	}
	defer closeAll()
	p, err := record.NewPlayer(rs, record.PlayOptions{From: c.From, Speed: c.Speed, Fast: c.Fast, Loop: c.Loop})
	if err != nil {
		return usageError("%v", err)
	}
	if c.Listen != "" {
		return c.serve(ctx, env, rs, p)
	}
	bw := bufio.NewWriterSize(env.Stdout, 1<<16)
	defer bw.Flush()
	bar := newProgressBar(env, "replay")
	defer bar.done()
	lastFlush := time.Now()
	var line []byte
	for {
		r, err := p.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			bw.Flush()
			bar.done()
			var de *record.DamageError
			if errors.As(err, &de) {
				return fail(ExitFailure, err, "the recording is damaged; everything before offset %d was played", de.Offset)
			}
			return err
		}
		line = line[:0]
		if c.Output == "messages" {
			if r.Kind != record.KindMessage {
				continue
			}
			line = append(append(line, r.Msg...), '\n')
		} else {
			line = record.AppendLine(line, r)
		}
		if _, err := bw.Write(line); err != nil {
			return fail(ExitFailure, err, "writing output")
		}
		// At the recorded pace a reader wants each message when it is
		// due; as fast as possible, full buffers are what matters.
		if !c.Fast && time.Since(lastFlush) >= 10*time.Millisecond {
			bw.Flush()
			lastFlush = time.Now()
		}
		played, total := p.Progress()
		if total > 0 {
			bar.set(played%(total+1), total)
		}
	}
	return nil
}

// serve publishes the recording on a tr_json2 endpoint until interrupted.
func (c *replayCmd) serve(ctx context.Context, env *Env, rs []*record.Reader, p *record.Player) error {
	if !c.InsecureListen {
		if err := checkLoopback(c.Listen); err != nil {
			return usageError("%v (pass --insecure-listen to allow it)", err)
		}
	}
	var items []string
	seen := map[string]bool{}
	for _, r := range rs {
		for _, n := range r.Header().Items {
			if !seen[n] {
				seen[n] = true
				items = append(items, n)
			}
		}
	}
	src := replay.NewSource(p, replay.Options{Items: items, Logger: env.Log})
	hub, err := server.NewHub(server.Config{Source: src, ADSMode: true, Logger: env.Log})
	if err != nil {
		return fail(ExitFailure, err, "starting the replay endpoint")
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return usageError("--listen: %v", err)
	}
	srv := server.NewServer(hub, "replay", ln, nil)
	defer srv.Close()
	ready, _ := json.Marshal(map[string]any{"ws": "ws://" + ln.Addr().String() + server.Path, "items": len(items)})
	fmt.Fprintf(env.Stdout, "%s\n", ready)

	bar := newProgressBar(env, "replay")
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				played, total := p.Progress()
				bar.set(played%(total+1), total)
			}
		}
	}()
	err = src.Run(ctx)
	stop()
	bar.done()
	var de *record.DamageError
	switch {
	case errors.As(err, &de):
		env.Log.Error("the recording is damaged; everything before the damage was played", "offset", de.Offset, "err", err)
	case err != nil:
		return err
	default:
		played, _ := p.Progress()
		fmt.Fprintf(env.Stderr, "ert: replay finished (%d records); items keep their last image until interrupted\n", played)
	}
	<-ctx.Done()
	return nil
}
