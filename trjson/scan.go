package trjson

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// scanner is the strict RFC 8259 tokenizer under the Decoder and the cold
// container decoders. It accepts exactly what encoding/json's json.Valid
// accepts (including its nesting limit and its tolerance of invalid UTF-8
// inside strings), so a frame is either valid JSON or rejected whole.
type scanner struct {
	data  []byte
	pos   int
	depth int
	err   *SyntaxError

	// checkMixed enables the OMM Array check (§22.8) while skipping
	// values: an array under a "Data" key whose elements are of more than
	// one JSON token type is reported in mixed*.
	checkMixed bool
	mixedOff   int // offset of the first offending element, -1 when none
	mixedA     string
	mixedB     string

	fv   float64 // value of the last float literal, when fvOK
	fvOK bool
}

// maxDepth is encoding/json's nesting limit; matching it keeps Decode and
// json.Valid in agreement (FuzzDecode checks this).
const maxDepth = 10000

// Token types as the ADS converter names them in its error texts (jsmn).
const (
	tokPrimitive = "PRIMITIVE"
	tokString    = "STRING"
	tokObject    = "OBJECT"
	tokArray     = "ARRAY"
)

func tokType(c byte) string {
	switch c {
	case '"':
		return tokString
	case '{':
		return tokObject
	case '[':
		return tokArray
	}
	return tokPrimitive
}

// strSafe[c] is true for bytes that may appear unescaped inside a string
// and need no attention.
var strSafe = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = true
	}
	t['"'], t['\\'] = false, false
	return
}()

func (s *scanner) reset(data []byte) {
	s.data, s.pos, s.depth, s.err = data, 0, 0, nil
	s.mixedOff, s.mixedA, s.mixedB = -1, "", ""
}

func (s *scanner) fail(off int, msg string) {
	if s.err == nil {
		if off > len(s.data) {
			off = len(s.data)
		}
		s.err = &SyntaxError{Offset: off, Msg: msg}
	}
}

func (s *scanner) ws() {
	d, i := s.data, s.pos
	for i < len(d) && d[i] <= ' ' && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') {
		i++
	}
	s.pos = i
}

// peek returns the byte at pos, or 0 at the end.
func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// str scans the string starting at pos (which holds '"'). It returns the
// raw, still escaped contents data[start:end] and whether they contain
// escapes. On error s.err is set and ok is false.
func (s *scanner) str() (start, end int, esc, ok bool) {
	d := s.data
	i := s.pos + 1
	start = i
	for {
		// Eight bytes at a time: find the first '"', '\\' or control
		// byte; the byte loop only runs on the frame's last bytes.
		found := false
		for i+8 <= len(d) {
			if t := strStops(binary.LittleEndian.Uint64(d[i:])); t != 0 {
				i += bits.TrailingZeros64(t) >> 3
				found = true
				break
			}
			i += 8
		}
		if !found {
			for i < len(d) && strSafe[d[i]] {
				i++
			}
		}
		if i >= len(d) {
			s.fail(i, "unterminated string")
			return 0, 0, false, false
		}
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return start, i, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(d) {
				s.fail(i, "unterminated string")
				return 0, 0, false, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					s.fail(i, "unterminated string")
					return 0, 0, false, false
				}
				for _, h := range d[i+2 : i+6] {
					if hexVal(h) < 0 {
						s.fail(i, "invalid \\u escape")
						return 0, 0, false, false
					}
				}
				i += 6
			default:
				s.fail(i, "invalid escape")
				return 0, 0, false, false
			}
		default:
			s.fail(i, "control character in string")
			return 0, 0, false, false
		}
	}
}

// strStops flags (with 0x80 in its byte) every byte of the little-endian
// word w that is '"', '\\' or a control byte. The lowest flagged byte is
// exact (borrows only run upwards), and bytes ≥ 0x80 are never flagged.
func strStops(w uint64) uint64 {
	q := w ^ 0x2222222222222222
	b := w ^ 0x5C5C5C5C5C5C5C5C
	t := ((w - 0x2020202020202020) & ^w) | ((q - 0x0101010101010101) & ^q) | ((b - 0x0101010101010101) & ^b)
	return t & 0x8080808080808080
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(b []byte) rune {
	return rune(hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3]))
}

// unescape appends the unescaped form of the validated string contents
// raw to dst. Lone surrogates become U+FFFD, as with encoding/json.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		e := raw[i+1]
		i += 2
		switch e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i:])
			i += 4
			if 0xD800 <= r && r < 0xDC00 {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := hex4(raw[i+2:]); 0xDC00 <= r2 && r2 < 0xE000 {
						r = (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
						i += 6
						dst = utf8.AppendRune(dst, r)
						continue
					}
				}
				r = utf8.RuneError
			} else if 0xDC00 <= r && r < 0xE000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
	}
	return dst
}

// number scans the number literal at pos. isFloat is true when the
// literal has a fraction or an exponent, or when it is an integer that
// does not fit an int64; iv is the value of an integer literal. For a
// float literal that Clinger's fast path covers, s.fv holds its value
// and s.fvOK is true (one pass over the digits instead of two).
func (s *scanner) number() (start int, isFloat bool, iv int64, ok bool) {
	d := s.data
	i := s.pos
	start = i
	s.fvOK = false
	neg := false
	if i < len(d) && d[i] == '-' {
		neg = true
		i++
	}
	if i >= len(d) {
		s.fail(i, "truncated number")
		return
	}
	var u uint64
	nd := 0 // significant digits in u
	switch c := d[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		j := i
		for ; i < len(d); i++ {
			c := d[i] - '0'
			if c > 9 {
				break
			}
			u = u*10 + uint64(c)
		}
		nd = i - j
	default:
		s.fail(i, "invalid number")
		return
	}
	fast := true
	exp := 0
	if i < len(d) && d[i] == '.' {
		isFloat = true
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.fail(i, "invalid number")
			return
		}
		for ; i < len(d); i++ {
			c := d[i] - '0'
			if c > 9 {
				break
			}
			if nd < 19 {
				if u != 0 || c != 0 {
					nd++
				}
				u = u*10 + uint64(c)
				exp--
			} else {
				fast = false
			}
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isFloat = true
		fast = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.fail(i, "invalid number")
			return
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	if nd > 19 || (nd == 19 && u < 1e18) { // u wrapped around
		if !isFloat {
			return start, true, 0, true
		}
		fast = false
	}
	if !isFloat {
		switch {
		case neg && u <= 1<<63:
			iv = -int64(u)
		case !neg && u <= math.MaxInt64:
			iv = int64(u)
		default:
			isFloat = true
		}
		return start, isFloat, iv, true
	}
	if fast && u <= 1<<53 && exp >= -22 {
		f := float64(u) / float10[-exp]
		if neg {
			f = -f
		}
		s.fv, s.fvOK = f, true
	}
	return start, isFloat, iv, true
}

// float10 holds the exact powers of ten representable in a float64.
var float10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat converts a validated number literal. Clinger's fast path
// (mantissa ≤ 2^53, |exponent| ≤ 22: one exact multiplication or
// division, hence correctly rounded) covers market data prices; anything
// else goes to strconv. Out-of-range literals give ±Inf, as strconv does.
func parseFloat(b []byte) float64 {
	i := 0
	neg := false
	if b[0] == '-' {
		neg = true
		i++
	}
	var mant uint64
	nd, exp := 0, 0
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		if mant == 0 && b[i] == '0' {
			continue
		}
		mant = mant*10 + uint64(b[i]-'0')
		nd++
		if nd > 16 {
			return slowFloat(b)
		}
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			exp--
			if mant == 0 && b[i] == '0' {
				continue
			}
			mant = mant*10 + uint64(b[i]-'0')
			nd++
			if nd > 16 {
				return slowFloat(b)
			}
		}
	}
	if i < len(b) { // exponent
		return slowFloat(b)
	}
	if mant > 1<<53 || exp < -22 {
		return slowFloat(b)
	}
	f := float64(mant) / float10[-exp]
	if neg {
		f = -f
	}
	return f
}

func slowFloat(b []byte) float64 {
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	return f
}

// literal scans true, false or null at pos.
func (s *scanner) literal() (kind Kind, v bool, ok bool) {
	d := s.data[s.pos:]
	switch {
	case len(d) >= 4 && string(d[:4]) == "true":
		s.pos += 4
		return KindBool, true, true
	case len(d) >= 5 && string(d[:5]) == "false":
		s.pos += 5
		return KindBool, false, true
	case len(d) >= 4 && string(d[:4]) == "null":
		s.pos += 4
		return KindNull, false, true
	}
	s.fail(s.pos, "invalid literal")
	return 0, false, false
}

// skip validates the value at pos and moves past it. dataKey tells that
// the value is the member "Data" of an object (an OMM Array candidate).
func (s *scanner) skip(dataKey bool) bool {
	if s.pos >= len(s.data) {
		s.fail(s.pos, "unexpected end of frame")
		return false
	}
	switch c := s.data[s.pos]; c {
	case '"':
		_, _, _, ok := s.str()
		return ok
	case '{':
		return s.skipObject()
	case '[':
		return s.skipArray(dataKey && s.checkMixed)
	case 't', 'f', 'n':
		_, _, ok := s.literal()
		return ok
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			_, _, _, ok := s.number()
			return ok
		}
		s.fail(s.pos, "invalid character looking for value")
		return false
	}
}

func (s *scanner) enter() bool {
	s.depth++
	if s.depth > maxDepth {
		s.fail(s.pos, "exceeded max depth")
		return false
	}
	s.pos++
	return true
}

func (s *scanner) skipObject() bool {
	if !s.enter() {
		return false
	}
	s.ws()
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return true
	}
	for {
		ks, ke, ok := s.objKey()
		if !ok {
			return false
		}
		if !s.skip(ke-ks == 4 && string(s.data[ks:ke]) == "Data") {
			return false
		}
		if !s.next('}') {
			return s.err == nil
		}
	}
}

// objKey reads `"key" :` (after optional whitespace) and the whitespace
// after the colon; it returns the raw key contents.
func (s *scanner) objKey() (start, end int, ok bool) {
	start, end, _, ok = s.objKeyEsc()
	return
}

// objKeyEsc is objKey that also tells whether the key has escapes.
func (s *scanner) objKeyEsc() (start, end int, esc, ok bool) {
	s.ws()
	if s.peek() != '"' {
		s.fail(s.pos, "expected object key")
		return 0, 0, false, false
	}
	start, end, esc, ok = s.str()
	if !ok {
		return
	}
	// Fast path for the common `"key":value` without whitespace.
	if s.pos < len(s.data) && s.data[s.pos] == ':' {
		s.pos++
	} else {
		s.ws()
		if s.peek() != ':' {
			s.fail(s.pos, "expected ':' after object key")
			return 0, 0, false, false
		}
		s.pos++
	}
	s.ws()
	return start, end, esc, true
}

// next consumes the separator after a member or element: it returns true
// after ',' (more follow) and false after the closing byte or on error
// (s.err set).
func (s *scanner) next(closing byte) bool {
	s.ws()
	switch s.peek() {
	case ',':
		s.pos++
		return true
	case closing:
		s.pos++
		s.depth--
		return false
	}
	if closing == '}' {
		s.fail(s.pos, "expected ',' or '}' after object member")
	} else {
		s.fail(s.pos, "expected ',' or ']' after array element")
	}
	return false
}

func (s *scanner) skipArray(mixed bool) bool {
	if !s.enter() {
		return false
	}
	s.ws()
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return true
	}
	first := ""
	for {
		s.ws()
		if mixed && s.pos < len(s.data) {
			t := tokType(s.data[s.pos])
			if first == "" {
				first = t
			} else if t != first && s.mixedOff < 0 {
				s.mixedOff, s.mixedA, s.mixedB = s.pos, first, t
			}
		}
		if !s.skip(false) {
			return false
		}
		if !s.next(']') {
			return s.err == nil
		}
	}
}
