package trjson

import (
	"math"
	"strconv"
	"unsafe"
)

// Kind is the JSON form of a field value. The field dictionary, not the
// JSON literal, decides a field's OMM type: a price may arrive as 90 (Int)
// or 90.5 (Float); use the As* accessors, which convert.
type Kind uint8

// Field value kinds.
const (
	KindNull   Kind = iota // JSON null: a blank value
	KindInt                // a number literal without '.', 'e' or 'E'
	KindFloat              // any other number literal
	KindString             // a JSON string (unescaped into Str)
	KindBool               // true / false (Int holds 1 or 0)
	KindRaw                // an object or array (Array, nested container); Str holds raw JSON
)

var kindNames = [...]string{"Null", "Int", "Float", "String", "Bool", "Raw"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Unknown"
}

// Field is one entry of a FieldList. A Field filled by a Decoder aliases
// the frame or decoder buffers (Str) and is valid until the next Decode
// call; Name is an interned string and may be kept.
type Field struct {
	Name  string
	Kind  Kind
	Int   int64
	Float float64
	// Str holds the unescaped bytes of a string value, or the raw JSON of
	// an object/array value.
	Str []byte
}

// Null returns a blank field.
func Null(name string) Field { return Field{Name: name, Kind: KindNull} }

// Int returns an integer field.
func Int(name string, v int64) Field { return Field{Name: name, Kind: KindInt, Int: v} }

// Float returns a real-number field. NaN and ±Inf are encoded as the
// strings "NaN", "Inf" and "-Inf" (§10).
func Float(name string, v float64) Field { return Field{Name: name, Kind: KindFloat, Float: v} }

// String returns a string field.
func String(name, v string) Field { return Field{Name: name, Kind: KindString, Str: []byte(v)} }

// Bytes returns a string field whose value is b (not copied).
func Bytes(name string, b []byte) Field { return Field{Name: name, Kind: KindString, Str: b} }

// RawField returns a field whose value is the raw JSON object or array v (not copied).
func RawField(name string, v Raw) Field { return Field{Name: name, Kind: KindRaw, Str: v} }

// IsBlank reports whether the field is null.
func (f *Field) IsBlank() bool { return f.Kind == KindNull }

// AsFloat returns the value as a float64. Ints convert; the strings "Inf",
// "-Inf" and "NaN" (§10) and numeric strings parse; ok is false otherwise.
func (f *Field) AsFloat() (v float64, ok bool) {
	switch f.Kind {
	case KindFloat:
		return f.Float, true
	case KindInt:
		return float64(f.Int), true
	case KindString:
		switch string(f.Str) {
		case "Inf":
			return math.Inf(1), true
		case "-Inf":
			return math.Inf(-1), true
		case "NaN":
			return math.NaN(), true
		}
		if !numeric(f.Str) { // spare strconv's error allocation
			return 0, false
		}
		v, err := strconv.ParseFloat(noCopy(f.Str), 64)
		return v, err == nil
	}
	return 0, false
}

// AsInt returns the value as an int64. Floats with no fractional part
// convert; ok is false otherwise.
func (f *Field) AsInt() (v int64, ok bool) {
	switch f.Kind {
	case KindInt, KindBool:
		return f.Int, true
	case KindFloat:
		if f.Float == math.Trunc(f.Float) && math.Abs(f.Float) < 1<<63 {
			return int64(f.Float), true
		}
	case KindString:
		if !numeric(f.Str) {
			return 0, false
		}
		v, err := strconv.ParseInt(noCopy(f.Str), 10, 64)
		return v, err == nil
	}
	return 0, false
}

// AsString returns a string form of any value (allocates). Blank is "".
func (f *Field) AsString() string {
	switch f.Kind {
	case KindString, KindRaw:
		return string(f.Str)
	case KindInt:
		return strconv.FormatInt(f.Int, 10)
	case KindFloat:
		return strconv.FormatFloat(f.Float, 'f', -1, 64)
	case KindBool:
		if f.Int != 0 {
			return "true"
		}
		return "false"
	}
	return ""
}

// numeric reports whether b could be a number for strconv.
func numeric(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' && c != '_' && c != 'x' && c != 'X' && c != 'p' && c != 'P' && (c|0x20 < 'a' || c|0x20 > 'f') && c != 'i' && c != 'n' && c != 'I' && c != 'N' && c != 't' && c != 'T' && c != 'y' && c != 'Y' {
			return false
		}
	}
	return true
}

// noCopy views b as a string for strconv, which does not keep its input
// (its errors hold a clone), so no allocation is needed.
func noCopy(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Clone returns a copy of f that does not alias decoder buffers.
func (f Field) Clone() Field {
	if f.Str != nil {
		f.Str = append([]byte(nil), f.Str...)
	}
	return f
}
