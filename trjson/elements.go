package trjson

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrContainer reports a container (Map, ElementList) that is valid JSON
// but does not have the tr_json2 shape; errors wrap it.
var ErrContainer = errors.New("trjson: invalid container")

// cold decodes containers off the hot path. Unlike the Decoder it copies
// every string, so its results never alias the input.
type cold struct {
	s scanner
}

func newCold(r Raw) *cold {
	c := &cold{}
	c.s.reset(r)
	return c
}

// done checks that only whitespace follows and returns the scanner error.
func (c *cold) done() error {
	s := &c.s
	if s.err == nil {
		s.ws()
		if s.pos != len(s.data) {
			s.fail(s.pos, "data after the value")
		}
	}
	if s.err != nil {
		return s.err
	}
	return nil
}

// isNull reports whether the whole input is null (or empty), which
// containers use for "empty" (§11-§19).
func isNull(r Raw) bool {
	i, j := 0, len(r)
	for i < j && isSpace(r[i]) {
		i++
	}
	for j > i && isSpace(r[j-1]) {
		j--
	}
	return i == j || string(r[i:j]) == "null"
}

// members iterates over the object at pos with unescaped, copied keys.
func (c *cold) members(f func(k string) bool) bool {
	s := &c.s
	s.ws()
	if s.peek() != '{' {
		if s.err == nil && s.pos < len(s.data) {
			s.fail(s.pos, "expected an object")
		} else {
			s.fail(s.pos, "unexpected end")
		}
		return false
	}
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
		if s.pos >= len(s.data) {
			s.fail(s.pos, "unexpected end")
			return false
		}
		if !f(string(unescape(nil, s.data[ks:ke]))) {
			return false
		}
		if !s.next('}') {
			return s.err == nil
		}
	}
}

// elements iterates over the array at pos.
func (c *cold) elements(f func(i int) bool) bool {
	s := &c.s
	if s.peek() != '[' {
		s.fail(s.pos, "expected an array")
		return false
	}
	if !s.enter() {
		return false
	}
	s.ws()
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return true
	}
	for i := 0; ; i++ {
		s.ws()
		if s.pos >= len(s.data) {
			s.fail(s.pos, "unexpected end")
			return false
		}
		if !f(i) {
			return false
		}
		if !s.next(']') {
			return s.err == nil
		}
	}
}

// value reads any value into f (Name untouched), copying bytes.
func (c *cold) value(f *Field) bool {
	s := &c.s
	vs := s.pos
	switch ch := s.data[s.pos]; {
	case ch == '"':
		start, end, _, ok := s.str()
		if !ok {
			return false
		}
		f.Kind, f.Str = KindString, unescape(make([]byte, 0, end-start), s.data[start:end])
	case ch == 't' || ch == 'f' || ch == 'n':
		k, v, ok := s.literal()
		if !ok {
			return false
		}
		f.Kind = k
		if v {
			f.Int = 1
		}
	case ch == '{' || ch == '[':
		if !s.skip(false) {
			return false
		}
		f.Kind, f.Str = KindRaw, append([]byte(nil), s.data[vs:s.pos]...)
	default:
		_, isFloat, iv, ok := s.number()
		if !ok {
			return false
		}
		if isFloat {
			f.Kind, f.Float = KindFloat, parseFloat(s.data[vs:s.pos])
		} else {
			f.Kind, f.Int = KindInt, iv
		}
	}
	return true
}

// fieldList reads a FieldList object (or null) at pos.
func (c *cold) fieldList(dst []Field) ([]Field, bool) {
	s := &c.s
	s.ws()
	if s.peek() == 'n' {
		_, _, ok := s.literal()
		return dst, ok
	}
	ok := c.members(func(k string) bool {
		dst = append(dst, Field{Name: k})
		return c.value(&dst[len(dst)-1])
	})
	return dst, ok
}

// elementList reads an ElementList object (or null) at pos, unwrapping
// typed values {"Type":…,"Data":…}.
func (c *cold) elementList(dst []Field) ([]Field, bool) {
	s := &c.s
	s.ws()
	if s.peek() == 'n' {
		_, _, ok := s.literal()
		return dst, ok
	}
	ok := c.members(func(k string) bool {
		dst = append(dst, Field{Name: k})
		f := &dst[len(dst)-1]
		if !c.value(f) {
			return false
		}
		if f.Kind == KindRaw && f.Str[0] == '{' {
			unwrapTyped(f)
		}
		return true
	})
	return dst, ok
}

// unwrapTyped replaces a typed wrapper {"Type":"UInt","Data":5} by its
// primitive Data. Wrappers whose Data is an array (OMM Array) or object
// stay raw, so that the element type is not lost.
func unwrapTyped(f *Field) {
	var hasType bool
	var data Field
	hasData := false
	c := newCold(f.Str)
	ok := c.members(func(k string) bool {
		switch k {
		case "Type":
			hasType = c.s.data[c.s.pos] == '"'
			return c.s.skip(false)
		case "Data":
			hasData = true
			return c.value(&data)
		}
		return c.s.skip(false)
	})
	if ok && hasType && hasData && data.Kind != KindRaw {
		data.Name = f.Name
		*f = data
	}
}

// DecodeElements decodes an ElementList (Msg.Elements, Key.Elements) into
// fields in document order; typed wrappers such as
// {"Type":"UInt","Data":5} are unwrapped to their Data (wrappers holding
// an OMM Array stay KindRaw). null or an empty input is an empty list.
// The result does not alias r.
func DecodeElements(r Raw) ([]Field, error) {
	if isNull(r) {
		return nil, nil
	}
	c := newCold(r)
	els, _ := c.elementList(nil)
	if err := c.done(); err != nil {
		return nil, err
	}
	return els, nil
}

// AppendElements appends an ElementList object for els: KindInt values
// as UInt numbers, KindString as AsciiString strings, other kinds in the
// typed wrapper form {"Type":…,"Data":…} (§11).
//
// Details: negative ints are {"Type":"Int",…}; floats {"Type":"Real",…};
// an empty string {"Type":"AsciiString","Data":""}; KindNull is null
// (blank); KindBool is true/false as decoded (OMM has no boolean: use
// Int 1/0 when writing to an ADS); KindRaw is
// written verbatim (use it for other typed values, e.g.
// {"Type":"Time","Data":"15:37:31"}).
func AppendElements(dst []byte, els []Field) []byte {
	dst = append(dst, '{')
	for i := range els {
		if i > 0 {
			dst = append(dst, ',')
		}
		f := &els[i]
		dst = appendStr(dst, f.Name)
		dst = append(dst, ':')
		switch f.Kind {
		case KindInt:
			if f.Int < 0 {
				dst = append(dst, `{"Type":"Int","Data":`...)
				dst = strconv.AppendInt(dst, f.Int, 10)
				dst = append(dst, '}')
			} else {
				dst = strconv.AppendInt(dst, f.Int, 10)
			}
		case KindString:
			if len(f.Str) == 0 {
				dst = append(dst, `{"Type":"AsciiString","Data":""}`...)
			} else {
				dst = appendString(dst, f.Str)
			}
		case KindFloat:
			dst = append(dst, `{"Type":"Real","Data":`...)
			dst = appendFloat(dst, f.Float)
			dst = append(dst, '}')
		default:
			dst = appendValue(dst, f)
		}
	}
	return append(dst, '}')
}

func containerErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrContainer}, args...)...)
}
