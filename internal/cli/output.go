package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// printer writes received messages in one output format. Implementations
// are safe for concurrent use.
type printer interface {
	// Print writes one message; name is the item's name (the message may
	// carry no Key when KeyInUpdates is off).
	Print(name string, m *trjson.Msg) error
	// Close flushes what is buffered.
	Close() error
}

func newPrinter(format string, w io.Writer, viewNames []string) printer {
	switch format {
	case "pretty":
		return &prettyPrinter{w: newFlushWriter(w)}
	case "csv":
		return newCSVPrinter(w, viewNames)
	default:
		return &jsonlPrinter{w: newFlushWriter(w)}
	}
}

// flushWriter buffers output and flushes it at most every 50 ms while data
// flows, and within 100 ms after it stops, so that a pipe reader sees data
// promptly without a write syscall per message.
type flushWriter struct {
	mu    sync.Mutex
	bw    *bufio.Writer
	err   error
	stop  chan struct{}
	done  chan struct{}
	dirty bool
}

func newFlushWriter(w io.Writer) *flushWriter {
	f := &flushWriter{bw: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go f.loop()
	return f
}

func (f *flushWriter) loop() {
	defer close(f.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			f.mu.Lock()
			if f.dirty && f.err == nil {
				f.err = f.bw.Flush()
				f.dirty = false
			}
			f.mu.Unlock()
		}
	}
}

// write runs fn with the buffered writer under the lock.
func (f *flushWriter) write(fn func(*bufio.Writer) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.dirty = true
	f.err = fn(f.bw)
	return f.err
}

func (f *flushWriter) Close() error {
	close(f.stop)
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	return f.bw.Flush()
}

// jsonlPrinter writes each message as one compact JSON object per line,
// exactly as received (compacted only when the server sent whitespace).
type jsonlPrinter struct{ w *flushWriter }

func (p *jsonlPrinter) Print(_ string, m *trjson.Msg) error {
	raw := m.Raw
	if hasLayout(raw) {
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err == nil {
			raw = c.Bytes()
		}
	}
	return p.w.write(func(bw *bufio.Writer) error {
		bw.Write(raw)
		return bw.WriteByte('\n')
	})
}

// hasLayout reports whether raw holds a newline, carriage return or tab
// (JSON strings cannot: these are whitespace between tokens). Three
// vectorised IndexByte scans: bytes.ContainsAny's byte-at-a-time set test
// was 80 % of the jsonl output path (BenchmarkJSONLPrint).
func hasLayout(raw []byte) bool {
	return bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0 || bytes.IndexByte(raw, '\t') >= 0
}

func (p *jsonlPrinter) Close() error { return p.w.Close() }

// prettyPrinter writes indented JSON, as LSEG's examples print.
type prettyPrinter struct{ w *flushWriter }

func (p *prettyPrinter) Print(_ string, m *trjson.Msg) error {
	var b bytes.Buffer
	if err := json.Indent(&b, m.Raw, "", "  "); err != nil {
		b.Reset()
		b.Write(m.Raw)
	}
	return p.w.write(func(bw *bufio.Writer) error {
		bw.Write(b.Bytes())
		return bw.WriteByte('\n')
	})
}

func (p *prettyPrinter) Close() error { return p.w.Close() }

// csvPrinter writes one row per message with the view's fields as columns
// when a view of names is given; otherwise one row per field (long form:
// received,ric,type,seq,field,value), which needs no schema.
type csvPrinter struct {
	mu   sync.Mutex
	fw   *flushWriter
	cols []string
	head bool
}

func newCSVPrinter(w io.Writer, cols []string) *csvPrinter {
	return &csvPrinter{fw: newFlushWriter(w), cols: cols}
}

func (p *csvPrinter) Print(name string, m *trjson.Msg) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	seq := ""
	if m.HasSeqNumber {
		seq = strconv.FormatInt(m.SeqNumber, 10)
	}
	state := ""
	if m.HasState {
		state = m.State.Stream.String() + "/" + m.State.Data.String()
	}
	return p.fw.write(func(bw *bufio.Writer) error {
		cw := csv.NewWriter(bw)
		if !p.head {
			p.head = true
			if len(p.cols) > 0 {
				cw.Write(append([]string{"received", "ric", "type", "seq", "state"}, p.cols...))
			} else {
				cw.Write([]string{"received", "ric", "type", "seq", "state", "field", "value"})
			}
		}
		if len(p.cols) > 0 {
			row := []string{ts, name, m.Type.String(), seq, state}
			for _, c := range p.cols {
				v := ""
				if f := m.Field(c); f != nil {
					v = f.AsString()
				}
				row = append(row, v)
			}
			cw.Write(row)
		} else if len(m.Fields) == 0 {
			cw.Write([]string{ts, name, m.Type.String(), seq, state, "", ""})
		} else {
			for i := range m.Fields {
				f := &m.Fields[i]
				cw.Write([]string{ts, name, m.Type.String(), seq, state, f.Name, f.AsString()})
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

func (p *csvPrinter) Close() error { return p.fw.Close() }
