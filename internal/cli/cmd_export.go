package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ertkit/ertkit/record"
)

type exportCmd struct {
	Parquet exportParquetCmd `cmd:"" help:"A recording to one Parquet table: a row per message, typed field columns, zstd."`
	JSONL   exportJSONLCmd   `cmd:"" name:"jsonl" help:"A recording to JSON lines on stdout (or --out), for jq."`
}

type exportParquetCmd struct {
	Files []string `arg:"" name:"FILE" help:"Recording files (the files of one rotated recording, in any order)." type:"existingfile"`
	Out   string   `name:"out" short:"O" required:"" help:"Parquet file to write."`
}

type exportJSONLCmd struct {
	Files        []string `arg:"" name:"FILE" help:"Recording files (the files of one rotated recording, in order)." type:"existingfile"`
	Out          string   `name:"out" short:"O" help:"File to write (default stdout)."`
	MessagesOnly bool     `name:"messages-only" help:"Only the messages, as received (as ert stream --output jsonl), without time and RIC."`
}

// openRecording opens the files of a recording, reporting damage as a
// warning (the readable part is still used).
func openRecording(env *Env, paths []string) ([]*record.Reader, func(), error) {
	var rs []*record.Reader
	closeAll := func() {
		for _, r := range rs {
			r.Close()
		}
	}
	for _, p := range paths {
		r, err := record.Open(p)
		if err != nil {
			closeAll()
			return nil, nil, fail(ExitFailure, err, "opening %s", p)
		}
		if d := r.Damage(); d != nil {
			env.Log.Warn("recording damaged: reading what comes before the damage", "err", d)
		}
		rs = append(rs, r)
	}
	return rs, closeAll, nil
}

func (c *exportParquetCmd) run(ctx context.Context, env *Env) error {
	rs, closeAll, err := openRecording(env, c.Files)
	if err != nil {
		return err
	}
	defer closeAll()
	f, err := os.Create(c.Out)
	if err != nil {
		return fail(ExitFailure, err, "creating %s", c.Out)
	}
	bar := newProgressBar(env, "export")
	st, err := record.ExportParquet(ctx, f, rs, record.ParquetOptions{Progress: bar.set})
	bar.done()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(c.Out)
		return exportError(err, c.Out)
	}
	fmt.Fprintf(env.Stderr, "ert: %s: %d rows, %d field columns", c.Out, st.Rows, len(st.Columns))
	if st.Skipped > 0 {
		fmt.Fprintf(env.Stderr, " (%d state-change and gap records have no row)", st.Skipped)
	}
	fmt.Fprintln(env.Stderr)
	if len(st.AsText) > 0 {
		env.Log.Warn("fields written as text: their values do not all fit the dictionary type", "fields", st.AsText)
	}
	return nil
}

func (c *exportJSONLCmd) run(ctx context.Context, env *Env) error {
	rs, closeAll, err := openRecording(env, c.Files)
	if err != nil {
		return err
	}
	defer closeAll()
	var out io.Writer = env.Stdout
	var f *os.File
	if c.Out != "" && c.Out != "-" {
		if f, err = os.Create(c.Out); err != nil {
			return fail(ExitFailure, err, "creating %s", c.Out)
		}
		out = f
	}
	bar := newProgressBar(env, "export")
	_, err = record.ExportJSONL(ctx, out, rs, record.JSONLOptions{MessagesOnly: c.MessagesOnly, Progress: bar.set})
	bar.done()
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return exportError(err, c.Out)
	}
	return nil
}

func exportError(err error, out string) error {
	var de *record.DamageError
	if errors.As(err, &de) {
		return fail(ExitFailure, err, "the recording is damaged; everything before offset %d was exported", de.Offset)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fail(ExitFailure, err, "exporting to %s", out)
}
