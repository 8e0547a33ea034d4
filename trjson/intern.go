package trjson

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// shortHash hashes b (non-empty) from a random seed, word by word: names
// are short, and a few multiplications beat a call into maphash at these
// lengths. Collision quality only matters for the cache's hit rate.
func shortHash(b []byte, seed uint64) uint64 {
	const m = 0x9E3779B97F4A7C15
	h := seed ^ uint64(len(b))*m
	n := len(b)
	switch {
	case n >= 8:
		for i := 0; i+8 < n; i += 8 {
			h = (h ^ binary.LittleEndian.Uint64(b[i:])) * m
			h ^= h >> 32
		}
		h ^= binary.LittleEndian.Uint64(b[n-8:]) // the tail, overlapping
	case n >= 4:
		h ^= uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	default:
		h ^= uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16
	}
	h *= m
	h ^= h >> 32
	return h * m // callers take the top bits, which depend on every input bit
}

// ways is the associativity of an internTable.
const ways = 4

// internTable turns byte slices into strings without allocating for
// strings seen before. It is a 4-way set-associative cache of fixed
// size, so its memory is bounded whatever a server sends: a stream of
// never-repeating names only evicts entries (and allocates, as it would
// without the table). The per-process random seed of maphash keeps a
// hostile peer from aiming collisions at one set. (Collisions could only
// cost allocations, never memory.)
type internTable struct {
	seed   uint64
	slots  []string // ways per set
	shift  uint     // 64 - log2(number of sets)
	maxLen int      // longer strings are not cached
}

// newInternTable returns a table of sets×ways entries; sets must be a power
// of two.
func newInternTable(sets, maxLen int) *internTable {
	return &internTable{
		seed:   maphash.Comparable(maphash.MakeSeed(), 0) | 1,
		slots:  make([]string, ways*sets),
		shift:  uint(64 - bits.TrailingZeros(uint(sets))),
		maxLen: maxLen,
	}
}

func (t *internTable) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > t.maxLen {
		return string(b)
	}
	i := (shortHash(b, t.seed) >> t.shift) * ways
	set := t.slots[i : i+ways : i+ways]
	if set[0] == string(b) {
		return set[0]
	}
	for k := 1; k < ways; k++ {
		if set[k] == string(b) {
			// Move towards the front, so that hot strings stay.
			set[k-1], set[k] = set[k], set[k-1]
			return set[k-1]
		}
	}
	str := string(b)
	copy(set[1:], set[:ways-1])
	set[0] = str
	return str
}
