package consumer

import (
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// Msg is one message delivered to the application. With Config.Handler it
// aliases decoder buffers and is valid only during the call; from the
// Messages channel it is the application's own copy.
type Msg struct {
	// Item is the item this message belongs to; nil for messages that are
	// not about an item (Generic on the Login stream, say).
	Item *Item
	// Conn is the index of the connection it arrived on (0, or 1 for the
	// standby of a hot-standby pair).
	Conn int

	Type       trjson.MsgType
	Domain     trjson.Domain
	Name       string // item name (RIC)
	Service    string
	State      trjson.State
	HasState   bool
	UpdateType trjson.UpdateType
	SeqNumber  int64
	HasSeq     bool
	Complete   bool  // last part of a Refresh or Generic
	PartNumber int64 // Refresh part number
	Solicited  bool
	// PermData is the item's permission expression (base64), as the
	// provider sent it on a Refresh (or Update); empty when absent.
	PermData string

	// Fields is the FieldList in document order.
	Fields []trjson.Field
	// Map is the raw Map payload (MarketByPrice, MarketByOrder,
	// SymbolList, Source); decode with trjson.DecodeMap.
	Map trjson.Raw
	// Elements is the raw ElementList payload, if any.
	Elements trjson.Raw
	// Raw is the whole message as received (for printing jsonl).
	Raw trjson.Raw
	// Received is when the frame carrying the message was read from the
	// socket (before decoding), for latency measurements. Zero for
	// messages the SDK makes itself.
	Received time.Time
}

// Field returns the named field or nil. No allocation.
func (m *Msg) Field(name string) *trjson.Field {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return &m.Fields[i]
		}
	}
	return nil
}

// Float returns a field as float64; ok is false when absent, blank or not numeric.
func (m *Msg) Float(name string) (float64, bool) {
	if f := m.Field(name); f != nil {
		return f.AsFloat()
	}
	return 0, false
}

// Int returns a field as int64; ok is false when absent, blank or not integral.
func (m *Msg) Int(name string) (int64, bool) {
	if f := m.Field(name); f != nil {
		return f.AsInt()
	}
	return 0, false
}

// Bytes returns a string field's bytes without copying (valid as long as m).
func (m *Msg) Bytes(name string) ([]byte, bool) {
	if f := m.Field(name); f != nil && f.Kind == trjson.KindString {
		return f.Str, true
	}
	return nil, false
}

// String returns a field in string form (allocates); "" when absent or blank.
func (m *Msg) String(name string) string {
	if f := m.Field(name); f != nil {
		return f.AsString()
	}
	return ""
}

// IsBlank reports whether the field is present and null (blank).
func (m *Msg) IsBlank(name string) bool {
	f := m.Field(name)
	return f != nil && f.IsBlank()
}

// Date returns an ISO 8601 date field ("2018-04-06"). No allocation.
func (m *Msg) Date(name string) (Date, bool) {
	if f := m.Field(name); f != nil && f.Kind == trjson.KindString {
		return ParseDate(f.Str)
	}
	return Date{}, false
}

// Time returns a time-of-day field ("15:37:31", "15:37:31.678" or the
// "14:40:32:000:000:000" form of spec samples). No allocation.
func (m *Msg) Time(name string) (TimeOfDay, bool) {
	if f := m.Field(name); f != nil && f.Kind == trjson.KindString {
		return ParseTimeOfDay(f.Str)
	}
	return TimeOfDay{}, false
}

// Clone returns a deep copy that does not alias any decoder buffer.
func (m *Msg) Clone() *Msg {
	c := *m
	n := len(m.Raw) + len(m.Map) + len(m.Elements)
	for i := range m.Fields {
		n += len(m.Fields[i].Str)
	}
	buf := make([]byte, 0, n)
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	c.Raw = cp(m.Raw)
	c.Map = cp(m.Map)
	c.Elements = cp(m.Elements)
	if m.Fields != nil {
		c.Fields = make([]trjson.Field, len(m.Fields))
		for i, f := range m.Fields {
			f.Str = cp(f.Str)
			c.Fields[i] = f
		}
	}
	return &c
}

// Date is a calendar date.
type Date struct{ Year, Month, Day int }

// TimeOfDay is a time of day; Nanos holds the fraction.
type TimeOfDay struct{ Hour, Minute, Second, Nanos int }

// ParseDate parses "YYYY-MM-DD".
func ParseDate(b []byte) (Date, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return Date{}, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return Date{}, false
	}
	return Date{y, mo, d}, true
}

// ParseTimeOfDay parses "hh:mm", "hh:mm:ss", "hh:mm:ss.fff…" and
// "hh:mm:ss:mmm:uuu:nnn".
func ParseTimeOfDay(b []byte) (TimeOfDay, bool) {
	if len(b) < 5 || b[2] != ':' {
		return TimeOfDay{}, false
	}
	h, ok1 := digits(b[0:2])
	mi, ok2 := digits(b[3:5])
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return TimeOfDay{}, false
	}
	t := TimeOfDay{Hour: h, Minute: mi}
	if len(b) == 5 {
		return t, true
	}
	if len(b) < 8 || b[5] != ':' {
		return TimeOfDay{}, false
	}
	s, ok := digits(b[6:8])
	if !ok || s > 60 {
		return TimeOfDay{}, false
	}
	t.Second = s
	rest := b[8:]
	switch {
	case len(rest) == 0:
		return t, true
	case rest[0] == '.':
		frac := rest[1:]
		if len(frac) == 0 || len(frac) > 9 {
			return TimeOfDay{}, false
		}
		v, ok := digits(frac)
		if !ok {
			return TimeOfDay{}, false
		}
		for i := len(frac); i < 9; i++ {
			v *= 10
		}
		t.Nanos = v
		return t, true
	case rest[0] == ':' && len(rest) == 12 && rest[4] == ':' && rest[8] == ':':
		ms, a := digits(rest[1:4])
		us, b2 := digits(rest[5:8])
		ns, c := digits(rest[9:12])
		if !a || !b2 || !c {
			return TimeOfDay{}, false
		}
		t.Nanos = ms*1e6 + us*1e3 + ns
		return t, true
	}
	return TimeOfDay{}, false
}

func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, len(b) > 0
}
