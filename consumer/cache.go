package consumer

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/ertkit/ertkit/trjson"
)

// fieldCache is an item's last-value image in a compact form: one byte
// slice of records sorted by field key, each record
//
//	key   uvarint: 1 + the field name's index in the process-wide name
//	      table, or 0 followed by uvarint length + the name itself when
//	      the table is full
//	kind  one byte: trjson.Kind in the low 3 bits; for KindFloat the high
//	      bits give a decimal scale (see putFloat)
//	value Null: nothing; Int/Bool: zigzag varint; Float: 8 bytes, or a
//	      zigzag varint mantissa when the scale bits are set;
//	      String/Raw: uvarint length + bytes
//
// A 58-field Market Price image takes ~0.5 KB this way against ~7.5 KB as
// a map[string]trjson.Field (64-B Field + key + map slack + a separate
// allocation per string). Updates merge into a pooled scratch buffer and
// copy back, so the steady state allocates nothing; Image maps are built
// only on demand.
type fieldCache struct {
	rec []byte
}

// maxCacheNames bounds the name table: field names come from the field
// dictionary (thousands), but a server sending ever-new names must not
// grow memory without limit. Names beyond it are stored inline. A
// variable (read under cacheNames' lock) so tests can fill the table.
var maxCacheNames = 1 << 16

// cacheNames is the process-wide field name → key table. Keys are never
// removed, so a key read once stays valid.
var cacheNames struct {
	sync.RWMutex
	idx  map[string]uint32
	list []string
}

// cacheKeys resolves the keys of u's names (u[i].name set, key 0 on entry).
func cacheKeys(u []cacheUpd) {
	missing := false
	cacheNames.RLock()
	for i := range u {
		if k, ok := cacheNames.idx[u[i].name]; ok {
			u[i].key = k
		} else {
			missing = true
		}
	}
	cacheNames.RUnlock()
	if !missing {
		return
	}
	cacheNames.Lock()
	defer cacheNames.Unlock()
	if cacheNames.idx == nil {
		cacheNames.idx = make(map[string]uint32)
	}
	for i := range u {
		if u[i].key != 0 {
			continue
		}
		if k, ok := cacheNames.idx[u[i].name]; ok {
			u[i].key = k
			continue
		}
		if len(cacheNames.list) >= maxCacheNames {
			continue // stays 0: stored inline
		}
		name := strings.Clone(u[i].name) // never keep a decoder buffer
		cacheNames.list = append(cacheNames.list, name)
		k := uint32(len(cacheNames.list)) // 1-based: 0 means inline
		cacheNames.idx[name] = k
		u[i].key = k
	}
}

// cacheUpd is one incoming field with its key.
type cacheUpd struct {
	key  uint32
	name string
	f    *trjson.Field
}

func cmpUpd(a, b cacheUpd) int {
	if a.key != b.key {
		if a.key < b.key {
			return -1
		}
		return 1
	}
	if a.key == 0 {
		return strings.Compare(a.name, b.name)
	}
	return 0
}

type cacheScratch struct {
	upd []cacheUpd
	out []byte
}

var cachePool = sync.Pool{New: func() any { return new(cacheScratch) }}

// maxScratch is the largest scratch buffer kept in the pool.
const maxScratch = 1 << 20

// merge applies fields to the image: a field present replaces the stored
// value (null blanks it), others are added; the last of duplicate names in
// one message wins.
func (fc *fieldCache) merge(fields []trjson.Field) {
	if len(fields) == 0 {
		return
	}
	s := cachePool.Get().(*cacheScratch)
	u := s.upd[:0]
	for i := range fields {
		u = append(u, cacheUpd{name: fields[i].Name, f: &fields[i]})
	}
	cacheKeys(u)
	slices.SortStableFunc(u, cmpUpd)
	// Keep the last of each run of equal keys.
	w := 0
	for i := range u {
		if w > 0 && cmpUpd(u[w-1], u[i]) == 0 {
			u[w-1] = u[i]
			continue
		}
		u[w] = u[i]
		w++
	}
	u = u[:w]

	out := s.out[:0]
	rec := fc.rec
	run := 0 // start of the run of unchanged records not yet copied
	pos := 0
	j := 0
	for pos < len(rec) && j < len(u) {
		key, name, n := readKey(rec[pos:])
		end := pos + n + recValueLen(rec[pos+n:])
		c := cmpKey(u[j].key, u[j].name, key, name)
		if c > 0 { // unchanged record
			pos = end
			continue
		}
		out = append(out, rec[run:pos]...)
		// Emit the incoming fields ordered before this record, then the
		// one replacing it, if any.
		for j < len(u) && c < 0 {
			out = appendRec(out, u[j].key, u[j].f)
			j++
			if j < len(u) {
				c = cmpKey(u[j].key, u[j].name, key, name)
			}
		}
		if j < len(u) && c == 0 {
			out = appendRec(out, u[j].key, u[j].f)
			j++
			run = end
		} else {
			run = pos
		}
		pos = end
	}
	out = append(out, rec[run:]...)
	for ; j < len(u); j++ {
		out = appendRec(out, u[j].key, u[j].f)
	}

	if len(out) <= cap(fc.rec) {
		fc.rec = fc.rec[:len(out)]
	} else {
		// Exact size plus a little room for string growth: at 100,000
		// items the slack of append's doubling would be most of the cost.
		fc.rec = make([]byte, len(out), len(out)+len(out)/16+8)
	}
	copy(fc.rec, out)

	clear(u) // drop references to the message's fields
	s.upd = u[:0]
	if cap(out) <= maxScratch {
		s.out = out[:0]
		cachePool.Put(s)
	}
}

// reset empties the image, keeping its buffer.
func (fc *fieldCache) reset() { fc.rec = fc.rec[:0] }

// len returns the number of cached fields.
func (fc *fieldCache) len() int {
	n := 0
	for rec := fc.rec; len(rec) > 0; n++ {
		_, _, k := readKey(rec)
		rec = rec[k+recValueLen(rec[k:]):]
	}
	return n
}

// fields returns the image as a map of fields that alias nothing the
// cache keeps (one copy of the string bytes, shared and capped).
func (fc *fieldCache) fields() map[string]trjson.Field {
	m := make(map[string]trjson.Field, fc.len())
	if len(fc.rec) == 0 {
		return m
	}
	buf := slices.Clone(fc.rec)
	cacheNames.RLock()
	defer cacheNames.RUnlock()
	for rec := buf; len(rec) > 0; {
		key, name, n := readKey(rec)
		if key != 0 {
			name = cacheNames.list[key-1]
		} else {
			name = strings.Clone(name)
		}
		f, vn := readValue(rec[n:])
		f.Name = name
		m[name] = f
		rec = rec[n+vn:]
	}
	return m
}

func cmpKey(ka uint32, na string, kb uint32, nb string) int {
	return cmpUpd(cacheUpd{key: ka, name: na}, cacheUpd{key: kb, name: nb})
}

// readKey decodes a record's key; name is set (aliasing rec) only for
// inline names. n is the length of the key part.
func readKey(rec []byte) (key uint32, name string, n int) {
	if c := rec[0]; c != 0 && c < 0x80 {
		return uint32(c), "", 1
	}
	k, n := binary.Uvarint(rec)
	if k != 0 {
		return uint32(k), "", n
	}
	l, m := binary.Uvarint(rec[n:])
	n += m
	b := rec[n : n+int(l)]
	name = unsafe.String(unsafe.SliceData(b), len(b))
	return 0, name, n + int(l)
}

// recValueLen returns the length of the kind byte and value at v.
func recValueLen(v []byte) int {
	kb := v[0]
	if len(v) > 1 && v[1] < 0x80 && kb&7 != byte(trjson.KindString) && kb&7 != byte(trjson.KindRaw) &&
		(kb&7 != byte(trjson.KindFloat) || kb>>3 != 0) && kb&7 != byte(trjson.KindNull) {
		return 2 // a one-byte varint
	}
	switch trjson.Kind(kb & 7) {
	case trjson.KindNull:
		return 1
	case trjson.KindInt, trjson.KindBool:
		return 1 + uvarintLen(v[1:])
	case trjson.KindFloat:
		if kb>>3 == 0 {
			return 9
		}
		return 1 + uvarintLen(v[1:])
	default: // String, Raw
		l, n := binary.Uvarint(v[1:])
		return 1 + n + int(l)
	}
}

func uvarintLen(b []byte) int {
	for i, c := range b {
		if c < 0x80 {
			return i + 1
		}
	}
	return len(b)
}

// pow10 are the decimal scales tried for compact floats (index = scale).
var pow10 = [...]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}

// appendRec appends the record of field f under key (inline name if 0).
func appendRec(b []byte, key uint32, f *trjson.Field) []byte {
	if key != 0 {
		b = binary.AppendUvarint(b, uint64(key))
	} else {
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(f.Name)))
		b = append(b, f.Name...)
	}
	switch f.Kind {
	case trjson.KindNull:
		return append(b, byte(trjson.KindNull))
	case trjson.KindInt, trjson.KindBool:
		b = append(b, byte(f.Kind))
		return binary.AppendVarint(b, f.Int)
	case trjson.KindFloat:
		return putFloat(b, f.Float)
	case trjson.KindString, trjson.KindRaw:
		b = append(b, byte(f.Kind))
		b = binary.AppendUvarint(b, uint64(len(f.Str)))
		return append(b, f.Str...)
	}
	// Unknown kinds do not come from the decoder; keep them as null.
	return append(b, byte(trjson.KindNull))
}

// putFloat stores v as a varint mantissa m with scale e (v == m / 10^e,
// checked bit for bit with the same expression readValue uses) when one
// of the scales fits, else as its 8 IEEE bytes. Prices such as 40.74 take
// 3 bytes instead of 9.
func putFloat(b []byte, v float64) []byte {
	if !math.IsNaN(v) && !math.IsInf(v, 0) && !(v == 0 && math.Signbit(v)) {
		for e, p := range pow10 {
			m := v * p
			if m != math.Trunc(m) || math.Abs(m) >= 1<<53 {
				continue
			}
			if math.Float64bits(float64(int64(m))/p) == math.Float64bits(v) {
				b = append(b, byte(trjson.KindFloat)|byte(e+1)<<3)
				return binary.AppendVarint(b, int64(m))
			}
		}
	}
	b = append(b, byte(trjson.KindFloat))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// readValue decodes the kind byte and value at v.
func readValue(v []byte) (trjson.Field, int) {
	kb := v[0]
	k := trjson.Kind(kb & 7)
	switch k {
	case trjson.KindNull:
		return trjson.Field{Kind: k}, 1
	case trjson.KindInt, trjson.KindBool:
		x, n := binary.Varint(v[1:])
		return trjson.Field{Kind: k, Int: x}, 1 + n
	case trjson.KindFloat:
		if kb>>3 == 0 {
			return trjson.Field{Kind: k, Float: math.Float64frombits(binary.LittleEndian.Uint64(v[1:]))}, 9
		}
		x, n := binary.Varint(v[1:])
		return trjson.Field{Kind: k, Float: float64(x) / pow10[kb>>3-1]}, 1 + n
	default:
		l, n := binary.Uvarint(v[1:])
		s := v[1+n : 1+n+int(l) : 1+n+int(l)]
		return trjson.Field{Kind: k, Str: s}, 1 + n + int(l)
	}
}
