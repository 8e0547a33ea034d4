package trjson

import (
	"encoding/binary"
	"math/bits"
)

// keyCache maps short field names, held as two little-endian words, to
// their interned strings. A field list repeats a few dozen names frame
// after frame; recognising one by two word compares, straight from the
// frame, saves scanning it as a string, hashing it and comparing it
// byte by byte. It is direct-mapped and fixed in size: a miss falls back
// to the bounded intern table, so a hostile stream of names costs time,
// never memory.
type keyCache struct {
	seed uint64
	e    [keyCacheSize]keyEntry
}

const (
	keyCacheSize  = 1024 // power of two
	keyCacheShift = 64 - 10
	keyCacheMax   = 15 // longest name cached: 15 bytes, then the closing quote
)

type keyEntry struct {
	w0, w1 uint64 // the name's bytes, zero-padded
	n      int
	name   string
}

// fieldKey reads a field list member's `"name" :` at pos, and the white
// space after the colon, and returns the interned, unescaped name.
func (d *Decoder) fieldKey() (string, bool) {
	s := &d.s
	data := s.data
	i := s.pos
	if i < len(data) && data[i] != '"' {
		s.ws()
		i = s.pos
	}
	// The fast path needs the quote, up to 15 name bytes and the closing
	// quote inside the frame; names with escapes take the general path.
	if i+17 <= len(data) && data[i] == '"' {
		w0 := binary.LittleEndian.Uint64(data[i+1:])
		w1 := binary.LittleEndian.Uint64(data[i+9:])
		var n int
		if t := strStops(w0); t != 0 {
			n = bits.TrailingZeros64(t) >> 3
			w0 &= 1<<(8*uint(n)) - 1
			w1 = 0
		} else if t := strStops(w1); t != 0 {
			n = 8 + bits.TrailingZeros64(t)>>3
			w1 &= 1<<(8*uint(n-8)) - 1
		} else {
			n = -1
		}
		if n >= 0 && data[i+1+n] == '"' {
			h := ((w0^d.keys.seed)*0x9E3779B97F4A7C15 ^ w1 ^ uint64(n)) * 0x9E3779B97F4A7C15
			e := &d.keys.e[h>>keyCacheShift]
			var name string
			if e.w0 == w0 && e.w1 == w1 && e.n == n {
				name = e.name
			} else {
				name = d.fnames.get(data[i+1 : i+1+n])
				*e = keyEntry{w0: w0, w1: w1, n: n, name: name}
			}
			j := i + 2 + n
			if j < len(data) && data[j] == ':' {
				s.pos = j + 1
			} else {
				s.pos = j
				s.ws()
				if s.peek() != ':' {
					s.fail(s.pos, "expected ':' after object key")
					return "", false
				}
				s.pos++
			}
			s.ws()
			return name, true
		}
	}
	ks, ke, esc, ok := s.objKeyEsc()
	if !ok {
		return "", false
	}
	name := data[ks:ke]
	if esc {
		name = d.key(ks, ke)
	}
	return d.fnames.get(name), true
}
