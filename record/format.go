package record

import (
	"encoding/binary"
	"hash/crc32"
	"time"
)

// File layout (docs/RECORDING.md):
//
//	header frame   skippable 0x184D2A50, payload "ERTREC1\n" + Header as JSON
//	block header   skippable 0x184D2A51, payload blockHeaderSize bytes
//	block          one zstd frame of JSON lines (records)
//	…              more block header + block pairs
//	index frame    skippable 0x184D2A52, written by Close: one entry per block
//	               and a trailer; the last 16 bytes of a closed file
//
// Skippable frames are part of the zstd format (RFC 8878 §3.1.2): a
// decompressor ignores them, so `zstd -dc FILE` prints the records.
const (
	magicHeader = 0x184D2A50
	magicBlock  = 0x184D2A51
	magicIndex  = 0x184D2A52

	frameHeaderSize = 8 // magic + payload size, both little-endian uint32
	blockHeaderSize = 40
	indexEntrySize  = 32
	indexTrailer    = 16

	headerPrefix = "ERTREC1\n"
	indexMagic   = "ERTINDX1"

	// Version is the format version written in the Header.
	Version = 1

	// maxHeaderSize and maxBlockSize bound what a reader allocates for one
	// frame, so that a damaged length cannot ask for gigabytes.
	maxHeaderSize = 16 << 20
	maxBlockSize  = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the first frame of every file of a recording.
type Header struct {
	Format  string `json:"format"` // "ertrec"
	Version int    `json:"version"`
	// Start is when the recording began (the first file's creation);
	// SegmentStart is when this file began. Offsets (Player From) count
	// from Start.
	Start        time.Time `json:"start"`
	SegmentStart time.Time `json:"segment_start"`
	// Segment is the file's number in a rotated recording, from 0.
	Segment int `json:"segment"`
	// Source says where the data came from (an endpoint, "emulator", a
	// replayed file).
	Source string `json:"source,omitempty"`
	// Items are the recorded item names, as requested.
	Items []string `json:"items,omitempty"`
	// Writer names the program that wrote the file.
	Writer string `json:"writer,omitempty"`
}

// BlockInfo describes one block of a file.
type BlockInfo struct {
	// Offset is where the block's header frame starts in the file.
	Offset int64
	// First and Last are the earliest and latest receive times in the
	// block, in Unix nanoseconds.
	First, Last int64
	// Records is the number of records (lines) in the block.
	Records int
	// Compressed and Size are the zstd frame's length and the length of
	// the JSON lines it holds.
	Compressed, Size int
	crc              uint32
}

// dataOffset is where the block's zstd frame starts.
func (b *BlockInfo) dataOffset() int64 { return b.Offset + frameHeaderSize + blockHeaderSize }

// end is the offset just after the block.
func (b *BlockInfo) end() int64 { return b.dataOffset() + int64(b.Compressed) }

func appendFrameHeader(dst []byte, magic uint32, size int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, magic)
	return binary.LittleEndian.AppendUint32(dst, uint32(size))
}

// appendBlockHeader writes the block header frame of a block whose
// compressed frame is data.
func appendBlockHeader(dst []byte, b *BlockInfo) []byte {
	dst = appendFrameHeader(dst, magicBlock, blockHeaderSize)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(b.Compressed))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(b.Size))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(b.Records))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // flags, reserved
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.First))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.Last))
	dst = binary.LittleEndian.AppendUint32(dst, b.crc)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// parseBlockHeader reads a block header payload (blockHeaderSize bytes).
func parseBlockHeader(p []byte, off int64) (BlockInfo, string) {
	if crc32.Checksum(p[:36], castagnoli) != binary.LittleEndian.Uint32(p[36:]) {
		return BlockInfo{}, "block header checksum mismatch"
	}
	b := BlockInfo{
		Offset:     off,
		Compressed: int(binary.LittleEndian.Uint32(p[0:])),
		Size:       int(binary.LittleEndian.Uint32(p[4:])),
		Records:    int(binary.LittleEndian.Uint32(p[8:])),
		First:      int64(binary.LittleEndian.Uint64(p[16:])),
		Last:       int64(binary.LittleEndian.Uint64(p[24:])),
		crc:        binary.LittleEndian.Uint32(p[32:]),
	}
	if b.Compressed == 0 || b.Compressed > maxBlockSize || b.Size > maxBlockSize || b.Last < b.First {
		return BlockInfo{}, "block header out of range"
	}
	return b, ""
}

// appendIndex writes the index frame of blocks.
func appendIndex(dst []byte, blocks []BlockInfo) []byte {
	dst = appendFrameHeader(dst, magicIndex, len(blocks)*indexEntrySize+indexTrailer)
	start := len(dst)
	for i := range blocks {
		b := &blocks[i]
		dst = binary.LittleEndian.AppendUint64(dst, uint64(b.Offset))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(b.First))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(b.Last))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(b.Records))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(b.Compressed))
	}
	crc := crc32.Checksum(dst[start:], castagnoli)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(blocks)))
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	return append(dst, indexMagic...)
}
