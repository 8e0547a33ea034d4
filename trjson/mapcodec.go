package trjson

import (
	"encoding/base64"
	"strconv"
)

// mapActionByRWF maps RWF MapEntry action numbers (Update 1, Add 2,
// Delete 3) to MapAction.
var mapActionByRWF = [...]MapAction{1: MapUpdate, 2: MapAdd, 3: MapDelete}

// DecodeMap decodes a Map container (Msg.Map). Buffer keys are
// base64-decoded; number keys are kept as their literal text and other
// non-string keys (an OMM Array key) as raw JSON. A Summary and entries
// may hold Fields or Elements. The result does not alias r. Shape errors
// wrap ErrContainer; JSON errors are *SyntaxError.
func DecodeMap(r Raw) (*Map, error) {
	mp := &Map{}
	if isNull(r) {
		return mp, nil
	}
	c := newCold(r)
	s := &c.s
	var cerr error
	setErr := func(err error) {
		if cerr == nil {
			cerr = err
		}
	}
	// Keys are converted once KeyType is known: it may follow Entries.
	type rawKey struct {
		str   bool
		text  []byte
		entry int
	}
	var keys []rawKey
	c.members(func(k string) bool {
		switch k {
		case "KeyType":
			var f Field
			if !c.value(&f) {
				return false
			}
			if f.Kind != KindString {
				setErr(containerErr("Map KeyType is not a string"))
			}
			mp.KeyType = string(f.Str)
		case "KeyFieldID", "CountHint":
			var f Field
			if !c.value(&f) {
				return false
			}
			if f.Kind != KindInt {
				setErr(containerErr("Map %s is not an integer", k))
			}
			if k == "KeyFieldID" {
				mp.KeyFieldID = f.Int
			} else {
				mp.CountHint = f.Int
			}
		case "Summary":
			mp.HasSummary = true
			if s.peek() == 'n' {
				_, _, ok := s.literal()
				return ok
			}
			return c.members(func(k string) bool {
				var ok bool
				switch k {
				case "Fields":
					mp.Summary, ok = c.fieldList(mp.Summary)
				case "Elements":
					mp.SummaryElements = true
					mp.Summary, ok = c.elementList(mp.Summary)
				default:
					setErr(containerErr("Map Summary holds %q", k))
					ok = s.skip(false)
				}
				return ok
			})
		case "Entries":
			if s.peek() == 'n' {
				_, _, ok := s.literal()
				return ok
			}
			return c.elements(func(i int) bool {
				mp.Entries = append(mp.Entries, MapEntry{})
				e := &mp.Entries[len(mp.Entries)-1]
				hasKey := false
				ok := c.members(func(k string) bool {
					switch k {
					case "Action":
						var f Field
						if !c.value(&f) {
							return false
						}
						switch {
						case f.Kind == KindString && string(f.Str) == "Add":
							e.Action = MapAdd
						case f.Kind == KindString && string(f.Str) == "Update":
							e.Action = MapUpdate
						case f.Kind == KindString && string(f.Str) == "Delete":
							e.Action = MapDelete
						case f.Kind == KindInt && f.Int > 0 && f.Int < int64(len(mapActionByRWF)):
							e.Action = mapActionByRWF[f.Int]
						default:
							setErr(containerErr("Map entry %d: unknown Action %s", i, f.AsString()))
						}
					case "Key":
						hasKey = true
						vs := s.pos
						isStr := s.peek() == '"'
						var f Field
						if !c.value(&f) {
							return false
						}
						switch f.Kind {
						case KindString:
							keys = append(keys, rawKey{true, f.Str, i})
						case KindNull:
							keys = append(keys, rawKey{true, nil, i})
						default:
							keys = append(keys, rawKey{isStr, append([]byte(nil), s.data[vs:s.pos]...), i})
						}
					case "PermData":
						var f Field
						if !c.value(&f) {
							return false
						}
						if f.Kind != KindString {
							setErr(containerErr("Map entry %d: PermData is not a string", i))
						}
						e.PermData = string(f.Str)
					case "Fields":
						var ok bool
						e.Fields, ok = c.fieldList(e.Fields)
						if e.Fields == nil {
							e.Fields = []Field{}
						}
						return ok
					case "Elements":
						var ok bool
						e.Elements = true
						e.Fields, ok = c.elementList(e.Fields)
						if e.Fields == nil {
							e.Fields = []Field{}
						}
						return ok
					default:
						return s.skip(false)
					}
					return true
				})
				if ok && e.Action == 0 {
					setErr(containerErr("Map entry %d has no Action", i))
				}
				if ok && !hasKey {
					setErr(containerErr("Map entry %d has no Key", i))
				}
				return ok
			})
		default:
			return s.skip(false)
		}
		return true
	})
	if err := c.done(); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	if mp.KeyType == "" {
		return nil, containerErr("Map has no KeyType")
	}
	for _, k := range keys {
		e := &mp.Entries[k.entry]
		if k.str && mp.KeyType == "Buffer" {
			b, err := base64.StdEncoding.DecodeString(string(k.text))
			if err != nil {
				return nil, containerErr("Map entry %d: Buffer key is not base64: %v", k.entry, err)
			}
			e.Key = string(b)
		} else {
			e.Key = string(k.text)
		}
	}
	return mp, nil
}

// AppendMap appends the JSON object of a Map container (§14); Buffer keys
// are base64-encoded. Keys of numeric key types (Int, UInt, Real, Double,
// Float, Enum) are written as numbers when they are number literals, and
// keys of type Array as raw JSON; other keys are strings. Delete entries
// carry no payload; other entries carry "Fields" (or "Elements" when the
// entry's Elements is set).
func AppendMap(dst []byte, mp *Map) []byte {
	dst = append(dst, `{"KeyType":`...)
	dst = appendStr(dst, mp.KeyType)
	if mp.KeyFieldID != 0 {
		dst = append(dst, `,"KeyFieldID":`...)
		dst = strconv.AppendInt(dst, mp.KeyFieldID, 10)
	}
	if mp.CountHint != 0 {
		dst = append(dst, `,"CountHint":`...)
		dst = strconv.AppendInt(dst, mp.CountHint, 10)
	}
	if mp.HasSummary || len(mp.Summary) > 0 {
		dst = append(dst, `,"Summary":{`...)
		if mp.SummaryElements {
			dst = append(dst, `"Elements":`...)
			dst = AppendElements(dst, mp.Summary)
		} else {
			dst = append(dst, `"Fields":`...)
			dst = appendFields(dst, mp.Summary)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"Entries":[`...)
	for i := range mp.Entries {
		e := &mp.Entries[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"Action":`...)
		dst = appendName(dst, e.Action.String())
		dst = append(dst, `,"Key":`...)
		dst = appendMapKey(dst, mp.KeyType, e.Key)
		if e.PermData != "" {
			dst = append(dst, `,"PermData":`...)
			dst = appendStr(dst, e.PermData)
		}
		if e.Action != MapDelete {
			if e.Elements {
				dst = append(dst, `,"Elements":`...)
				dst = AppendElements(dst, e.Fields)
			} else {
				dst = append(dst, `,"Fields":`...)
				dst = appendFields(dst, e.Fields)
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, ']', '}')
}

func appendMapKey(dst []byte, keyType, key string) []byte {
	switch keyType {
	case "Buffer":
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, []byte(key))
		return append(dst, '"')
	case "Int", "UInt", "Real", "Double", "Float", "Enum":
		if isNumberLiteral(key) {
			return append(dst, key...)
		}
	case "Array":
		if isJSONValue(key) {
			return append(dst, key...)
		}
	}
	return appendStr(dst, key)
}

func isNumberLiteral(v string) bool {
	if v == "" {
		return false
	}
	var s scanner
	s.reset([]byte(v))
	c := v[0]
	if c != '-' && (c < '0' || c > '9') {
		return false
	}
	_, _, _, ok := s.number()
	return ok && s.pos == len(v)
}

func isJSONValue(v string) bool {
	var s scanner
	s.reset([]byte(v))
	s.ws()
	if !s.skip(false) {
		return false
	}
	s.ws()
	return s.pos == len(v)
}
