package record

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// JSONLOptions configure ExportJSONL. The zero value writes every record.
type JSONLOptions struct {
	// MessagesOnly writes the messages alone, one per line as received
	// (what `ert stream --output jsonl` prints), without the receive time,
	// the item name, state changes and gaps.
	MessagesOnly bool
	// Progress, if set, is called now and then with the records done and
	// the total.
	Progress func(done, total int64)
}

// ExportJSONL writes the records of a recording (its files in order) to
// out as JSON lines, byte for byte as stored:
//
//	{"t":<receive time, Unix ns>,"r":"<RIC>","m":<message as received>}
//	{"t":…,"r":"…","s":{"Stream":…,"Data":…,"Code":…,"Text":…}}   item state change
//	{"t":…,"gap":<messages dropped here>}
//
// It returns the number of lines written.
func ExportJSONL(ctx context.Context, out io.Writer, files []*Reader, opts JSONLOptions) (int64, error) {
	var total, n int64
	for _, f := range files {
		total += f.Records()
	}
	bw := bufio.NewWriterSize(out, 1<<16)
	var line []byte
	var done int64
	for _, f := range files {
		it := f.Iter(0)
		for it.Next() {
			if done%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return n, err
				}
				if opts.Progress != nil {
					opts.Progress(done, total)
				}
			}
			done++
			r := it.Record()
			line = line[:0]
			switch {
			case opts.MessagesOnly && r.Kind != KindMessage:
				continue
			case opts.MessagesOnly:
				line = append(append(line, r.Msg...), '\n')
			default:
				line = AppendLine(line, r)
			}
			if _, err := bw.Write(line); err != nil {
				return n, fmt.Errorf("record: jsonl export: %w", err)
			}
			n++
		}
		if err := it.Err(); err != nil {
			bw.Flush()
			return n, err
		}
	}
	if opts.Progress != nil {
		opts.Progress(done, total)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("record: jsonl export: %w", err)
	}
	return n, nil
}
