package record

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
)

// Options configure a Writer. The zero value records to one file with
// 1 MiB blocks, a 16-block queue and zstd's fastest level.
type Options struct {
	// Items are the recorded item names, kept in the header.
	Items []string
	// Source says where the data comes from, kept in the header.
	Source string
	// Program names the writing program in the header. Default "ertkit".
	Program string

	// BlockSize is the size of JSON lines collected before a block is
	// compressed. Larger blocks compress better and seek coarser.
	// Default 1 MiB.
	BlockSize int
	// QueueBlocks is how many full blocks may wait for the disk. When the
	// queue is full, new messages are dropped and counted (Stats.Dropped)
	// and a gap record marks the place. Default 16 (16 MiB with the
	// default BlockSize).
	QueueBlocks int
	// FlushInterval is the longest a received message waits in a partial
	// block before it is written. Default 1 s.
	FlushInterval time.Duration
	// Level is the zstd level: 1 fastest, 2 default, 3 better, 4 best.
	// Default 1: about the ratio of 2 at less CPU on market data; 3
	// compresses some 15 % smaller at twice the CPU (docs/BENCHMARKS.md).
	Level int

	// MaxBytes starts a new file once the current one reaches this size.
	// Default 0: no rotation by size.
	MaxBytes int64
	// MaxAge starts a new file once the current one is this old. Default
	// 0: no rotation by time.
	MaxAge time.Duration

	// Lossless makes Handle wait for the disk instead of dropping when the
	// queue is full. Only for offline work (re-writing a recording,
	// benchmarks of the disk path): a consumer Handler must never wait.
	// Default false.
	Lossless bool

	// Create opens a file for writing. Default os.Create. (Tests use it
	// to simulate a slow disk.)
	Create func(name string) (io.WriteCloser, error)
	// Logger receives write errors and rotations. Default: discard.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Program == "" {
		o.Program = "ertkit"
	}
	if o.BlockSize <= 0 {
		o.BlockSize = 1 << 20
	}
	if o.BlockSize > maxBlockSize/2 {
		o.BlockSize = maxBlockSize / 2
	}
	if o.QueueBlocks <= 0 {
		o.QueueBlocks = 16
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.Level < 1 || o.Level > 4 {
		o.Level = 1
	}
	if o.Create == nil {
		o.Create = func(name string) (io.WriteCloser, error) { return os.Create(name) }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Stats are a Writer's counters.
type Stats struct {
	// Records is the number of records taken into the queue.
	Records int64
	// Dropped is the number of messages and state changes dropped
	// because the queue was full (or the disk failed).
	Dropped int64
	// Gaps is the number of gap records written for them.
	Gaps int64
	// Blocks, Bytes and RawBytes count the blocks written, their size on
	// disk (frames included) and the JSON lines they hold.
	Blocks   int64
	Bytes    int64
	RawBytes int64
	// Files are the files written so far, in order.
	Files []string
	// Err is the first write error, after which records are dropped.
	Err error
}

// block is a batch of JSON lines on its way to the disk.
type block struct {
	buf         []byte
	n           int
	first, last int64
}

func (b *block) add(t int64) {
	if b.n == 0 || t < b.first {
		b.first = t
	}
	if t > b.last {
		b.last = t
	}
	b.n++
}

// Writer records messages to a file (and its rotated successors). Its
// Handle and Event methods are safe for concurrent use and never block on
// the disk.
type Writer struct {
	opts  Options
	path  string
	start time.Time

	mu        sync.Mutex
	cur       *block
	allocated int
	dropped   int64 // since the last gap record
	closed    bool
	records   int64
	drops     int64
	gaps      int64

	queue chan *block
	free  chan *block
	done  chan struct{}

	// Owned by the writing goroutine.
	enc       *zstd.Encoder
	out       []byte
	file      io.WriteCloser
	segment   int
	fileStart time.Time
	fileBytes int64
	blocks    []BlockInfo
	failed    error

	blocksN, bytesN, rawN atomic.Int64
	// lost counts records of blocks that could not be written. Not under
	// mu: a Lossless Handle may hold mu while it waits for this goroutine.
	lost    atomic.Int64
	statsMu sync.Mutex
	files   []string
	err     error
}

// Create starts a recording at path and returns its Writer. The first
// file is created at once (so that a bad path fails here); rotated files
// are named after it: rec.ert.zst, rec.0001.ert.zst, rec.0002.ert.zst…
func Create(path string, opts Options) (*Writer, error) {
	opts.defaults()
	levels := [...]zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(levels[opts.Level-1]), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	w := &Writer{
		opts: opts, path: path, start: time.Now(), enc: enc,
		queue: make(chan *block, opts.QueueBlocks),
		free:  make(chan *block, opts.QueueBlocks+2),
		done:  make(chan struct{}),
	}
	if err := w.openFile(); err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

// SegmentName returns the name of file number n of a recording at path.
func SegmentName(path string, n int) string {
	if n == 0 {
		return path
	}
	dir, base := filepath.Split(path)
	stem, ext := base, ""
	if i := strings.IndexByte(base, '.'); i > 0 {
		stem, ext = base[:i], base[i:]
	}
	return dir + fmt.Sprintf("%s.%04d%s", stem, n, ext)
}

// Handle records m. It has the signature of consumer.Config.Handler and
// copies what it keeps: m may be reused once it returns.
func (w *Writer) Handle(m *consumer.Msg) {
	t := m.Received.UnixNano()
	if m.Received.IsZero() {
		t = time.Now().UnixNano()
	}
	raw := m.Raw
	if len(raw) == 0 { // a message the SDK made: write it out
		raw = trjson.AppendMsg(nil, &trjson.Msg{Type: m.Type, Domain: m.Domain, State: m.State, HasState: m.HasState,
			UpdateType: m.UpdateType, SeqNumber: m.SeqNumber, HasSeqNumber: m.HasSeq, Fields: m.Fields, HasFields: m.Fields != nil,
			Map: m.Map, Elements: m.Elements})
	}
	w.mu.Lock()
	if w.room(t) {
		w.cur.buf = appendMessageLine(w.cur.buf, t, m.Name, raw)
		w.cur.add(t)
		w.records++
	}
	w.mu.Unlock()
}

// Event records item state changes (consumer.EventItemState) and ignores
// other events. It has the signature of consumer.Config.OnEvent.
func (w *Writer) Event(e consumer.Event) {
	if e.Kind != consumer.EventItemState || e.Item == nil {
		return
	}
	t := e.Time.UnixNano()
	if e.Time.IsZero() {
		t = time.Now().UnixNano()
	}
	w.mu.Lock()
	if w.room(t) {
		w.cur.buf = appendStateLine(w.cur.buf, t, e.Item.Name, e.State)
		w.cur.add(t)
		w.records++
	}
	w.mu.Unlock()
}

// room makes sure there is a block with space for one more record at time
// t, and reports false (counting a drop) if the queue is full. Called with
// mu held.
func (w *Writer) room(t int64) bool {
	if w.closed {
		w.drops++
		return false
	}
	if w.cur != nil && len(w.cur.buf) < w.opts.BlockSize {
		return true
	}
	if w.cur != nil && w.opts.Lossless {
		w.queue <- w.cur // run never waits for mu while the queue is full
		w.cur = nil
	}
	if w.cur != nil {
		select {
		case w.queue <- w.cur:
			w.cur = nil
		default:
			w.dropped++
			w.drops++
			return false
		}
	}
	select {
	case w.cur = <-w.free:
	default:
		if w.allocated >= w.opts.QueueBlocks+2 && w.opts.Lossless {
			w.cur = <-w.free
			break
		}
		if w.allocated >= w.opts.QueueBlocks+2 {
			w.dropped++
			w.drops++
			return false
		}
		w.allocated++
		w.cur = &block{buf: make([]byte, 0, w.opts.BlockSize+w.opts.BlockSize/8)}
	}
	w.cur.buf, w.cur.n = w.cur.buf[:0], 0
	if w.dropped > 0 {
		w.cur.buf = appendGapLine(w.cur.buf, t, w.dropped)
		w.cur.add(t)
		w.gaps++
		w.dropped = 0
	}
	return true
}

// Stats returns the counters so far.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	s := Stats{Records: w.records, Dropped: w.drops, Gaps: w.gaps}
	w.mu.Unlock()
	s.Dropped += w.lost.Load()
	s.Blocks, s.Bytes, s.RawBytes = w.blocksN.Load(), w.bytesN.Load(), w.rawN.Load()
	w.statsMu.Lock()
	s.Files = append([]string(nil), w.files...)
	s.Err = w.err
	w.statsMu.Unlock()
	return s
}

// Close writes what is queued, the index of the last file, and closes it.
// It returns the first write error, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return w.Stats().Err
	}
	w.closed = true
	last := w.cur
	w.cur = nil
	if w.dropped > 0 { // drops since the last block: say so at the end
		if last == nil {
			last = &block{}
		}
		t := time.Now().UnixNano()
		last.buf = appendGapLine(last.buf, t, w.dropped)
		last.add(t)
		w.gaps++
		w.dropped = 0
	}
	w.mu.Unlock()
	if last != nil && last.n > 0 {
		w.queue <- last
	}
	close(w.queue)
	<-w.done
	return w.Stats().Err
}

// run is the writing goroutine: it compresses and writes blocks in order,
// flushes partial blocks every FlushInterval and rotates files.
func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-w.queue:
			if !ok {
				w.closeFile()
				w.enc.Close()
				return
			}
			w.writeBlock(b)
			select {
			case w.free <- b:
			default:
			}
		case <-tick.C:
			// TryLock: a Lossless Handle may hold mu while it waits for
			// this goroutine to take a block; a busy writer needs no flush.
			if !w.mu.TryLock() {
				continue
			}
			if !w.closed && w.cur != nil && w.cur.n > 0 {
				select {
				case w.queue <- w.cur:
					w.cur = nil
				default: // the queue is busy: no need to flush
				}
			}
			w.mu.Unlock()
			if w.file != nil && w.opts.MaxAge > 0 && time.Since(w.fileStart) >= w.opts.MaxAge && len(w.blocks) > 0 {
				w.closeFile()
			}
		}
	}
}

func (w *Writer) openFile() error {
	name := SegmentName(w.path, w.segment)
	f, err := w.opts.Create(name)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	w.fileStart = time.Now()
	h := Header{Format: "ertrec", Version: Version, Start: w.start.UTC(), SegmentStart: w.fileStart.UTC(),
		Segment: w.segment, Source: w.opts.Source, Items: w.opts.Items, Writer: w.opts.Program}
	js, err := json.Marshal(h)
	if err != nil {
		f.Close()
		return fmt.Errorf("record: header: %w", err)
	}
	buf := appendFrameHeader(nil, magicHeader, len(headerPrefix)+len(js))
	buf = append(append(buf, headerPrefix...), js...)
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("record: writing %s: %w", name, err)
	}
	w.file, w.fileBytes, w.blocks = f, int64(len(buf)), w.blocks[:0]
	w.bytesN.Add(int64(len(buf)))
	w.statsMu.Lock()
	w.files = append(w.files, name)
	w.statsMu.Unlock()
	w.opts.Logger.Info("recording to file", "file", name, "segment", w.segment)
	return nil
}

func (w *Writer) writeBlock(b *block) {
	if w.failed == nil && w.file == nil {
		w.segment++
		if err := w.openFile(); err != nil {
			w.fail(err)
		}
	}
	if w.failed != nil {
		w.lost.Add(int64(b.n))
		return
	}
	const hdr = frameHeaderSize + blockHeaderSize
	if cap(w.out) < hdr {
		w.out = make([]byte, hdr, 2*hdr)
	}
	out := w.enc.EncodeAll(b.buf, w.out[:hdr])
	frame := out[hdr:]
	bi := BlockInfo{Offset: w.fileBytes, First: b.first, Last: b.last, Records: b.n,
		Compressed: len(frame), Size: len(b.buf), crc: crc32.Checksum(frame, castagnoli)}
	appendBlockHeader(out[:0], &bi)
	w.out = out
	if _, err := w.file.Write(out); err != nil {
		w.fail(fmt.Errorf("record: writing %s: %w", SegmentName(w.path, w.segment), err))
		w.lost.Add(int64(b.n))
		return
	}
	w.blocks = append(w.blocks, bi)
	w.fileBytes += int64(len(out))
	w.blocksN.Add(1)
	w.bytesN.Add(int64(len(out)))
	w.rawN.Add(int64(len(b.buf)))
	if w.opts.MaxBytes > 0 && w.fileBytes >= w.opts.MaxBytes {
		w.closeFile()
	}
}

// closeFile writes the index and closes the current file.
func (w *Writer) closeFile() {
	if w.file == nil {
		return
	}
	idx := appendIndex(nil, w.blocks)
	_, err := w.file.Write(idx)
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	w.file = nil
	if err != nil {
		w.fail(fmt.Errorf("record: closing %s: %w", SegmentName(w.path, w.segment), err))
		return
	}
	w.bytesN.Add(int64(len(idx)))
}

func (w *Writer) fail(err error) {
	if w.failed != nil {
		return
	}
	w.failed = err
	w.opts.Logger.Error("recording failed; further records are dropped", "err", err)
	if w.file != nil {
		w.file.Close()
		w.file = nil
	}
	w.statsMu.Lock()
	w.err = err
	w.statsMu.Unlock()
}
