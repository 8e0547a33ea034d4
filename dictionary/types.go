package dictionary

import (
	"errors"
	"fmt"

	"github.com/ertkit/ertkit/trjson"
)

// Type is the OMM primitive type of a field.
type Type uint8

// OMM primitive types (spec §10). RWF INT64/UINT64/REAL64 map to Int/UInt/Real.
const (
	Unknown Type = iota
	Int
	UInt
	Real
	Float
	Double
	Date
	Time
	DateTime
	Enum
	AsciiString
	Utf8String
	RmtesString
	Buffer
	Array
	// Vector is a container field (an OMM Vector: a Yield Curve's rows);
	// its JSON value is an object with Summary and Entries (§18).
	Vector
)

var typeNames = [...]string{"Unknown", "Int", "UInt", "Real", "Float", "Double", "Date", "Time",
	"DateTime", "Enum", "AsciiString", "Utf8String", "RmtesString", "Buffer", "Array", "Vector"}

// String returns the type name as the WebSocket API spells it ("RmtesString").
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Unknown"
}

// ParseType returns the Type named s (as String spells it).
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if i > 0 && n == s {
			return Type(i), true
		}
	}
	return Unknown, false
}

// IsNumeric reports whether values of t are JSON numbers.
func (t Type) IsNumeric() bool {
	return t == Int || t == UInt || t == Real || t == Float || t == Double
}

// IsString reports whether values of t are JSON strings of text.
func (t Type) IsString() bool { return t == AsciiString || t == Utf8String || t == RmtesString }

// ErrUnknownField is matched (errors.Is) by an *UnknownFieldError.
var ErrUnknownField = errors.New("unknown field")

// ErrWrongType is matched (errors.Is) by a *ValueError.
var ErrWrongType = errors.New("value does not match the field type")

// UnknownFieldError reports a field name that is not in the dictionary.
type UnknownFieldError struct{ Name string }

func (e *UnknownFieldError) Error() string { return fmt.Sprintf("unknown field %q", e.Name) }

// Unwrap returns ErrUnknownField.
func (e *UnknownFieldError) Unwrap() error { return ErrUnknownField }

// ValueError reports a field value whose JSON form does not fit the field's type.
type ValueError struct {
	Name string
	Type Type
	Kind trjson.Kind
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("field %s: a %s value cannot be %s", e.Name, e.Type, e.Kind)
}

// Unwrap returns ErrWrongType.
func (e *ValueError) Unwrap() error { return ErrWrongType }

// Check reports whether f is a known field whose value fits its type; the
// error is an *UnknownFieldError or a *ValueError. It does not allocate when
// the field is valid.
func (d *Dictionary) Check(f *trjson.Field) error {
	def, ok := d.ByName(f.Name)
	if !ok {
		return &UnknownFieldError{Name: f.Name}
	}
	if !def.Accepts(f) {
		return &ValueError{Name: f.Name, Type: def.Type, Kind: f.Kind}
	}
	return nil
}

// Accepts reports whether the JSON value of f is a valid value of the
// field's type (§10): null (blank) always; numbers for numeric types
// ("Inf", "-Inf", "NaN" strings too for Real/Float/Double); ISO 8601
// strings for Date and Time; a string or a non-negative integer for Enum;
// strings for the string types and Buffer (base64); an object for Array
// and Vector.
func (def *Def) Accepts(f *trjson.Field) bool {
	if f.Kind == trjson.KindNull {
		return true
	}
	switch def.Type {
	case Int:
		_, ok := f.AsInt()
		return ok && f.Kind != trjson.KindString && f.Kind != trjson.KindBool
	case UInt:
		v, ok := f.AsInt()
		return ok && v >= 0 && f.Kind != trjson.KindString && f.Kind != trjson.KindBool
	case Real, Float, Double:
		switch f.Kind {
		case trjson.KindInt, trjson.KindFloat:
			return true
		case trjson.KindString:
			s := f.Str
			return string(s) == "Inf" || string(s) == "-Inf" || string(s) == "NaN"
		}
		return false
	case Date:
		return f.Kind == trjson.KindString && IsDate(f.Str)
	case Time:
		return f.Kind == trjson.KindString && IsTime(f.Str)
	case DateTime:
		return f.Kind == trjson.KindString && isDateTime(f.Str)
	case Enum:
		return f.Kind == trjson.KindString || (f.Kind == trjson.KindInt && f.Int >= 0)
	case AsciiString, Utf8String, RmtesString, Buffer:
		return f.Kind == trjson.KindString
	case Array, Vector:
		return f.Kind == trjson.KindRaw
	}
	return false
}

// IsDate reports whether s is an ISO 8601 calendar date "YYYY-MM-DD".
func IsDate(s []byte) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	return ok1 && ok2 && ok3 && y >= 0 && m >= 1 && m <= 12 && d >= 1 && d <= 31
}

// IsTime reports whether s is a time of day "HH:MM", "HH:MM:SS" or
// "HH:MM:SS.fff…" (any number of fraction digits). The colon-separated
// sub-second groups some samples show ("14:40:32:000:000:000") are accepted
// too, since the spec says to carry them verbatim.
func IsTime(s []byte) bool {
	if len(s) < 5 || s[2] != ':' {
		return false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return false
	}
	rest := s[5:]
	if len(rest) == 0 {
		return true
	}
	if len(rest) < 3 || rest[0] != ':' {
		return false
	}
	if sec, ok := digits(rest[1:3]); !ok || sec > 60 {
		return false
	}
	rest = rest[3:]
	if len(rest) == 0 {
		return true
	}
	switch rest[0] {
	case '.':
		_, ok := digits(rest[1:])
		return ok
	case ':':
		for len(rest) > 0 {
			if rest[0] != ':' || len(rest) < 4 {
				return false
			}
			if _, ok := digits(rest[1:4]); !ok {
				return false
			}
			rest = rest[4:]
		}
		return true
	}
	return false
}

func isDateTime(s []byte) bool {
	if len(s) < 16 || (s[10] != 'T' && s[10] != ' ') {
		return false
	}
	t := s[11:]
	if n := len(t); n > 0 && t[n-1] == 'Z' {
		t = t[:n-1]
	}
	return IsDate(s[:10]) && IsTime(t)
}

// digits parses a non-empty run of ASCII digits.
func digits(s []byte) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
