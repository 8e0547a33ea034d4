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

// lookupShort recognises the string whose opening quote is at data[i]
// when it holds at most keyCacheMax bytes and no escape: it returns the
// interned string, from kc or (on a miss) from t, and the index after the
// closing quote. ok is false for anything else, which the caller then
// scans the general way.
func lookupShort(data []byte, i int, kc *keyCache, t *internTable) (name string, end int, ok bool) {
	// The quote, up to 15 bytes and the closing quote must be in the frame.
	if i+17 > len(data) || data[i] != '"' {
		return "", 0, false
	}
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
		return "", 0, false
	}
	if data[i+1+n] != '"' { // an escape or a control byte
		return "", 0, false
	}
	h := ((w0^kc.seed)*0x9E3779B97F4A7C15 ^ w1 ^ uint64(n)) * 0x9E3779B97F4A7C15
	e := &kc.e[h>>keyCacheShift]
	if e.w0 != w0 || e.w1 != w1 || e.n != n {
		*e = keyEntry{w0: w0, w1: w1, n: n, name: t.get(data[i+1 : i+1+n])}
	}
	return e.name, i + 2 + n, true
}

// fieldKey reads a field list member's `"name" :` at pos, and the white
// space after the colon, and returns the interned, unescaped name.
func (d *Decoder) fieldKey() (string, bool) {
	s := &d.s
	data := s.data
	if s.pos < len(data) && data[s.pos] != '"' {
		s.ws()
	}
	if name, j, ok := lookupShort(data, s.pos, d.keys, d.fnames); ok {
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
