package record

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"

	"github.com/klauspost/compress/zstd"
)

// DamageError reports a damaged or truncated file: what is wrong and at
// which byte offset. Everything before Offset is readable.
type DamageError struct {
	File   string
	Offset int64
	Reason string
	Err    error // the underlying error, if any (zstd's, a parse error)
}

func (e *DamageError) Error() string {
	s := fmt.Sprintf("record: %s: damaged at offset %d: %s", e.File, e.Offset, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *DamageError) Unwrap() error { return e.Err }

// ErrNotRecording is returned (wrapped) for a file that is not a recording.
var ErrNotRecording = errors.New("not an ert recording")

// Reader reads one file of a recording. It is not safe for concurrent use.
type Reader struct {
	name   string
	r      io.ReaderAt
	closer io.Closer
	size   int64

	header  Header
	blocks  []BlockInfo
	indexed bool
	damage  *DamageError

	dec *zstd.Decoder
}

// Open opens a recording file and reads its header and block index (or,
// for a file that was not closed cleanly, scans its block headers). A file
// damaged after its header opens: Damage reports where, and the blocks
// before it are readable.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("record: %w", err)
	}
	r, err := NewReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a recording of size bytes from r; name is used in
// errors.
func NewReader(r io.ReaderAt, size int64, name string) (*Reader, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBlockSize),
		zstd.WithDecoderMaxWindow(maxBlockSize))
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	rd := &Reader{name: name, r: r, size: size, dec: dec}
	start, err := rd.readHeader()
	if err != nil {
		dec.Close()
		return nil, err
	}
	if !rd.readIndex(start) {
		rd.scan(start)
	}
	return rd, nil
}

func (rd *Reader) damaged(off int64, reason string, err error) *DamageError {
	return &DamageError{File: rd.name, Offset: off, Reason: reason, Err: err}
}

// readAt reads exactly len(p) bytes at off or reports why not.
func (rd *Reader) readAt(p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > rd.size {
		return io.ErrUnexpectedEOF
	}
	n, err := rd.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (rd *Reader) readHeader() (int64, error) {
	var fh [frameHeaderSize]byte
	if err := rd.readAt(fh[:], 0); err != nil || binary.LittleEndian.Uint32(fh[:]) != magicHeader {
		return 0, fmt.Errorf("record: %s: %w (no header frame at offset 0)", rd.name, ErrNotRecording)
	}
	n := int64(binary.LittleEndian.Uint32(fh[4:]))
	if n < int64(len(headerPrefix)) || n > maxHeaderSize {
		return 0, fmt.Errorf("record: %s: %w (header size %d)", rd.name, ErrNotRecording, n)
	}
	p := make([]byte, n)
	if err := rd.readAt(p, frameHeaderSize); err != nil {
		return 0, rd.damaged(frameHeaderSize, "header cut short", err)
	}
	if !bytes.HasPrefix(p, []byte(headerPrefix)) {
		return 0, fmt.Errorf("record: %s: %w (header signature)", rd.name, ErrNotRecording)
	}
	if err := json.Unmarshal(p[len(headerPrefix):], &rd.header); err != nil {
		return 0, rd.damaged(frameHeaderSize, "header is not valid JSON", err)
	}
	if rd.header.Version != Version {
		return 0, fmt.Errorf("record: %s: format version %d, this reader knows %d", rd.name, rd.header.Version, Version)
	}
	return frameHeaderSize + n, nil
}

// readIndex loads the index frame at the end of a cleanly closed file.
func (rd *Reader) readIndex(start int64) bool {
	var tr [indexTrailer]byte
	if rd.size < start+frameHeaderSize+indexTrailer || rd.readAt(tr[:], rd.size-indexTrailer) != nil ||
		string(tr[8:]) != indexMagic {
		return false
	}
	n := int64(binary.LittleEndian.Uint32(tr[0:]))
	body := n * indexEntrySize
	off := rd.size - indexTrailer - body - frameHeaderSize
	if off < start {
		return false
	}
	p := make([]byte, frameHeaderSize+body)
	if rd.readAt(p, off) != nil || binary.LittleEndian.Uint32(p) != magicIndex ||
		int64(binary.LittleEndian.Uint32(p[4:])) != body+indexTrailer ||
		crc32.Checksum(p[frameHeaderSize:], castagnoli) != binary.LittleEndian.Uint32(tr[4:]) {
		return false
	}
	blocks := make([]BlockInfo, 0, n)
	next := start
	for e := p[frameHeaderSize:]; len(e) >= indexEntrySize; e = e[indexEntrySize:] {
		b := BlockInfo{
			Offset:     int64(binary.LittleEndian.Uint64(e[0:])),
			First:      int64(binary.LittleEndian.Uint64(e[8:])),
			Last:       int64(binary.LittleEndian.Uint64(e[16:])),
			Records:    int(binary.LittleEndian.Uint32(e[24:])),
			Compressed: int(binary.LittleEndian.Uint32(e[28:])),
		}
		// Blocks are contiguous: anything else means the index lies.
		if b.Offset != next || b.end() > off || b.Last < b.First {
			return false
		}
		next = b.end()
		blocks = append(blocks, b)
	}
	if next != off {
		return false
	}
	rd.blocks, rd.indexed = blocks, true
	return true
}

// scan walks the block headers from start; it stops at the index frame,
// at the end of the file or at the first damage.
func (rd *Reader) scan(start int64) {
	var p [frameHeaderSize + blockHeaderSize]byte
	off := start
	for off < rd.size {
		if err := rd.readAt(p[:frameHeaderSize], off); err != nil {
			rd.damage = rd.damaged(off, "file ends inside a frame header", err)
			return
		}
		switch binary.LittleEndian.Uint32(p[:]) {
		case magicBlock:
		case magicIndex:
			// An index that failed its checks in readIndex: the blocks
			// scanned so far are all there is.
			rd.damage = rd.damaged(off, "index frame damaged", nil)
			return
		default:
			rd.damage = rd.damaged(off, "not a block header (file damaged or not written by this format)", nil)
			return
		}
		if binary.LittleEndian.Uint32(p[4:]) != blockHeaderSize {
			rd.damage = rd.damaged(off, "block header has the wrong size", nil)
			return
		}
		if err := rd.readAt(p[frameHeaderSize:], off+frameHeaderSize); err != nil {
			rd.damage = rd.damaged(off, "file ends inside a block header", err)
			return
		}
		b, why := parseBlockHeader(p[frameHeaderSize:], off)
		if why != "" {
			rd.damage = rd.damaged(off, why, nil)
			return
		}
		if b.end() > rd.size {
			rd.damage = rd.damaged(off, fmt.Sprintf("file ends inside a block (block needs %d bytes, file has %d)", b.end()-off, rd.size-off), io.ErrUnexpectedEOF)
			return
		}
		rd.blocks = append(rd.blocks, b)
		off = b.end()
	}
}

// Header returns the file's header.
func (rd *Reader) Header() Header { return rd.header }

// Blocks returns the file's readable blocks in order.
func (rd *Reader) Blocks() []BlockInfo { return rd.blocks }

// Indexed reports whether the file has its index (it was closed cleanly).
func (rd *Reader) Indexed() bool { return rd.indexed }

// Damage returns the damage found while opening the file (nil if none).
// Reading the blocks before it works; reading on returns the same error
// at the end.
func (rd *Reader) Damage() error {
	if rd.damage == nil {
		return nil
	}
	return rd.damage
}

// Records returns the number of records in the readable blocks.
func (rd *Reader) Records() int64 {
	var n int64
	for i := range rd.blocks {
		n += int64(rd.blocks[i].Records)
	}
	return n
}

// Span returns the earliest and latest receive times in the file (Unix
// ns); ok is false for a file without records.
func (rd *Reader) Span() (first, last int64, ok bool) {
	if len(rd.blocks) == 0 {
		return 0, 0, false
	}
	first, last = rd.blocks[0].First, rd.blocks[0].Last
	for i := range rd.blocks {
		first, last = min(first, rd.blocks[i].First), max(last, rd.blocks[i].Last)
	}
	return first, last, true
}

// Close closes the file.
func (rd *Reader) Close() error {
	rd.dec.Close()
	if rd.closer != nil {
		return rd.closer.Close()
	}
	return nil
}

// Iter iterates over the records of a Reader.
type Iter struct {
	rd    *Reader
	block int
	from  int64
	buf   []byte // decompressed block
	zbuf  []byte
	rest  []byte
	off   int64 // offset of the current block, for errors
	rec   Record
	names map[string]string
	err   error
}

// Iter returns an iterator over the records received at or after from
// (Unix ns; 0 for all). It starts at the first block that may hold such a
// record, so seeking costs one block's decompression.
func (rd *Reader) Iter(from int64) *Iter {
	it := &Iter{rd: rd, from: from, names: map[string]string{}}
	// Blocks are in receive order but with two connections their spans
	// may overlap slightly: start at the first block whose last record
	// is not before from.
	it.block = sort.Search(len(rd.blocks), func(i int) bool { return rd.blocks[i].Last >= from })
	return it
}

// Next advances to the next record and reports whether there is one.
func (it *Iter) Next() bool {
	for it.err == nil {
		for len(it.rest) > 0 {
			i := bytes.IndexByte(it.rest, '\n')
			if i < 0 {
				it.err = it.rd.damaged(it.off, "block does not end with a newline", nil)
				return false
			}
			line := it.rest[:i]
			it.rest = it.rest[i+1:]
			if err := parseLine(line, &it.rec, it.names); err != nil {
				it.err = it.rd.damaged(it.off, fmt.Sprintf("bad record at byte %d of the block", len(it.buf)-len(it.rest)-len(line)-1), err)
				return false
			}
			if it.rec.Time >= it.from {
				return true
			}
		}
		if it.block >= len(it.rd.blocks) {
			if it.rd.damage != nil {
				it.err = it.rd.damage
			}
			return false
		}
		it.err = it.load(&it.rd.blocks[it.block])
		it.block++
	}
	return false
}

// load reads, checks and decompresses one block.
func (it *Iter) load(b *BlockInfo) error {
	rd := it.rd
	it.off = b.Offset
	var p [frameHeaderSize + blockHeaderSize]byte
	if err := rd.readAt(p[:], b.Offset); err != nil {
		return rd.damaged(b.Offset, "cannot read block header", err)
	}
	if binary.LittleEndian.Uint32(p[:]) != magicBlock || binary.LittleEndian.Uint32(p[4:]) != blockHeaderSize {
		return rd.damaged(b.Offset, "not a block header", nil)
	}
	h, why := parseBlockHeader(p[frameHeaderSize:], b.Offset)
	if why != "" {
		return rd.damaged(b.Offset, why, nil)
	}
	if h.Compressed != b.Compressed || h.Records != b.Records {
		return rd.damaged(b.Offset, "block header disagrees with the index", nil)
	}
	if cap(it.zbuf) < h.Compressed {
		it.zbuf = make([]byte, h.Compressed)
	}
	z := it.zbuf[:h.Compressed]
	if err := rd.readAt(z, h.dataOffset()); err != nil {
		return rd.damaged(h.dataOffset(), "block cut short", err)
	}
	if crc32.Checksum(z, castagnoli) != h.crc {
		return rd.damaged(h.dataOffset(), "block checksum mismatch", nil)
	}
	out, err := rd.dec.DecodeAll(z, it.buf[:0])
	if err != nil {
		return rd.damaged(h.dataOffset(), "block does not decompress", err)
	}
	if len(out) != h.Size || bytes.Count(out, []byte{'\n'}) != h.Records {
		return rd.damaged(h.dataOffset(), "block content disagrees with its header", nil)
	}
	it.buf, it.rest = out, out
	return nil
}

// Record returns the current record; it is valid until the next call of
// Next.
func (it *Iter) Record() *Record { return &it.rec }

// Err returns the error that ended the iteration (nil at a clean end); a
// *DamageError for a damaged file.
func (it *Iter) Err() error { return it.err }
