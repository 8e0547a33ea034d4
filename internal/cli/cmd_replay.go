package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"time"

	"github.com/ertkit/ertkit/record"
)

type replayCmd struct {
	Files  []string      `arg:"" name:"FILE" help:"Recording files (the files of one rotated recording, in any order)." type:"existingfile"`
	Speed  float64       `name:"speed" default:"1" help:"Play N times faster than recorded (0.5: half speed)."`
	Fast   bool          `name:"fast" help:"As fast as possible, ignoring the recorded pace."`
	From   time.Duration `name:"from" help:"Start this far into the recording, e.g. 90s."`
	Loop   bool          `name:"loop" help:"Start over at the end, until interrupted."`
	Output string        `name:"output" short:"o" enum:"jsonl,messages" default:"jsonl" help:"jsonl: records as stored ({\"t\",\"r\",\"m\"}); messages: the messages alone, as received."`
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
