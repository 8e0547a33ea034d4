package trjson

import (
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// AppendMsg appends the JSON object encoding of m to dst and returns the
// extended buffer. It emits only attributes that differ from the spec's
// defaults, string forms of enumerations, and the key "Qos". It does not
// allocate when dst has room.
//
// Specifics: "ID" is written for every type but Ping and Pong (there only
// when non-zero), as an array when IDs is set; "Type" is omitted for a
// Request and "Domain" for MarketPrice (or DomainUnknown); Raw attributes
// are written verbatim; the members of Other are appended last. Float
// fields are formatted as encoding/json does (39.72 → 39.72, 1e21 →
// 1e+21), except that a float that would print as an integer gets ".0"
// (40 → 40.0) so that it decodes back as KindFloat; NaN and ±Inf become
// the strings "NaN", "Inf" and "-Inf" (§10).
func AppendMsg(dst []byte, m *Msg) []byte {
	dst = append(dst, '{')
	n := len(dst)
	sep := func(dst []byte, key string) []byte {
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, key...)
		return append(dst, '"', ':')
	}
	switch {
	case len(m.IDs) > 0:
		dst = sep(dst, "ID")
		dst = append(dst, '[')
		for i, id := range m.IDs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, id, 10)
		}
		dst = append(dst, ']')
	case (m.Type != TypePing && m.Type != TypePong) || m.ID != 0:
		dst = sep(dst, "ID")
		dst = strconv.AppendInt(dst, m.ID, 10)
	}
	if m.Type != TypeRequest && m.Type != TypeUnknown {
		dst = sep(dst, "Type")
		dst = appendName(dst, m.Type.String())
	}
	if m.Domain != DomainMarketPrice && m.Domain != DomainUnknown {
		dst = sep(dst, "Domain")
		if name, ok := domainNames[m.Domain]; ok {
			dst = appendName(dst, name)
		} else {
			dst = strconv.AppendInt(dst, int64(m.Domain), 10)
		}
	}
	if m.HasKey || !m.Key.isZero() {
		dst = sep(dst, "Key")
		dst = appendKey(dst, &m.Key)
	}
	if m.HasState {
		dst = sep(dst, "State")
		dst = appendState(dst, &m.State)
	}
	if m.UpdateType != UpdateUnspecified {
		dst = sep(dst, "UpdateType")
		dst = appendName(dst, m.UpdateType.String())
	}
	if m.HasSeqNumber || m.SeqNumber != 0 {
		dst = sep(dst, "SeqNumber")
		dst = strconv.AppendInt(dst, m.SeqNumber, 10)
	}
	if m.SecSeqNumber != 0 {
		dst = sep(dst, "SecSeqNumber")
		dst = strconv.AppendInt(dst, m.SecSeqNumber, 10)
	}
	flag := func(dst []byte, key string, on bool, v bool) []byte {
		if !on {
			return dst
		}
		dst = sep(dst, key)
		return strconv.AppendBool(dst, v)
	}
	dst = flag(dst, "Streaming", m.NoStreaming, false)
	dst = flag(dst, "Refresh", m.NoRefresh, false)
	dst = flag(dst, "Pause", m.Pause, true)
	dst = flag(dst, "KeyInUpdates", m.NoKeyInUpdates, false)
	dst = flag(dst, "ConfInfoInUpdates", m.ConfInfoInUpdate, true)
	dst = flag(dst, "Private", m.Private, true)
	dst = flag(dst, "Qualified", m.Qualified, true)
	if m.HasView || len(m.View) > 0 || len(m.ViewFIDs) > 0 {
		dst = sep(dst, "View")
		dst = append(dst, '[')
		for i, v := range m.View {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStr(dst, v)
		}
		for i, v := range m.ViewFIDs {
			if i > 0 || len(m.View) > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, v, 10)
		}
		dst = append(dst, ']')
	}
	if m.Priority != nil {
		dst = sep(dst, "Priority")
		dst = append(dst, m.Priority...)
	}
	if m.Qos != nil {
		dst = sep(dst, "Qos")
		dst = appendQos(dst, m.Qos)
	}
	if m.WorstQos != nil {
		dst = sep(dst, "WorstQos")
		dst = appendQos(dst, m.WorstQos)
	}
	dst = flag(dst, "Solicited", m.NotSolicited, false)
	dst = flag(dst, "Complete", m.NotComplete, false)
	dst = flag(dst, "ClearCache", m.HasClearCache, m.ClearCache)
	if m.PartNumber != 0 {
		dst = sep(dst, "PartNumber")
		dst = strconv.AppendInt(dst, m.PartNumber, 10)
	}
	if m.PermData != "" {
		dst = sep(dst, "PermData")
		dst = appendStr(dst, m.PermData)
	}
	dst = flag(dst, "DoNotCache", m.DoNotCache, true)
	dst = flag(dst, "DoNotConflate", m.DoNotConflate, true)
	dst = flag(dst, "DoNotRipple", m.DoNotRipple, true)
	dst = flag(dst, "Discardable", m.Discardable, true)
	dst = flag(dst, "Ack", m.Ack, true)
	if m.HasPostID || m.PostID != 0 {
		dst = sep(dst, "PostID")
		dst = strconv.AppendInt(dst, m.PostID, 10)
	}
	if m.AckID != 0 || m.Type == TypeAck {
		dst = sep(dst, "AckID")
		dst = strconv.AppendInt(dst, m.AckID, 10)
	}
	if m.HasNakCode || m.NakCode != NakNone {
		dst = sep(dst, "NakCode")
		dst = appendName(dst, m.NakCode.String())
	}
	if m.PostUserInfo != nil {
		dst = sep(dst, "PostUserInfo")
		dst = append(dst, m.PostUserInfo...)
	}
	if m.Text != "" {
		dst = sep(dst, "Text")
		dst = appendStr(dst, m.Text)
	}
	raws := [...]struct {
		key string
		v   Raw
	}{{"Message", m.Message}, {"Elements", m.Elements}, {"Map", m.Map}, {"Vector", m.Vector},
		{"Series", m.Series}, {"FilterList", m.FilterList}, {"Json", m.JSON}, {"Opaque", m.Opaque},
		{"Xml", m.XML}, {"ExtHdr", m.ExtHdr}, {"Debug", m.Debug}}
	for i := range raws {
		// An empty Raw is absent: written, it would be invalid JSON.
		if len(raws[i].v) > 0 {
			dst = sep(dst, raws[i].key)
			dst = append(dst, raws[i].v...)
		}
	}
	if m.HasFields || len(m.Fields) > 0 {
		dst = sep(dst, "Fields")
		dst = appendFields(dst, m.Fields)
	}
	if members := objectMembers(m.Other); len(members) > 0 {
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, members...)
	}
	return append(dst, '}')
}

// objectMembers returns the text between the braces of the JSON object o,
// trimmed of whitespace; nil when o is not an object or empty.
func objectMembers(o Raw) []byte {
	i, j := 0, len(o)
	for i < j && isSpace(o[i]) {
		i++
	}
	for j > i && isSpace(o[j-1]) {
		j--
	}
	if j-i < 2 || o[i] != '{' || o[j-1] != '}' {
		return nil
	}
	i, j = i+1, j-1
	for i < j && isSpace(o[i]) {
		i++
	}
	for j > i && isSpace(o[j-1]) {
		j--
	}
	return o[i:j]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (k *Key) isZero() bool {
	return k.Name == "" && len(k.Names) == 0 && k.Service == "" && !k.HasServiceID && k.ServiceID == 0 &&
		k.NameType == "" && k.Filter == 0 && k.Elements == nil && k.Other == nil
}

func appendName(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func appendKey(dst []byte, k *Key) []byte {
	dst = append(dst, '{')
	n := len(dst)
	sep := func(dst []byte, key string) []byte {
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, key...)
		return append(dst, '"', ':')
	}
	if k.Names != nil {
		dst = sep(dst, "Name")
		dst = append(dst, '[')
		for i, v := range k.Names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStr(dst, v)
		}
		dst = append(dst, ']')
	} else if k.Name != "" {
		dst = sep(dst, "Name")
		dst = appendStr(dst, k.Name)
	}
	if k.HasServiceID {
		dst = sep(dst, "Service")
		dst = strconv.AppendInt(dst, k.ServiceID, 10)
	} else if k.Service != "" {
		dst = sep(dst, "Service")
		dst = appendStr(dst, k.Service)
	}
	if k.NameType != "" {
		dst = sep(dst, "NameType")
		dst = appendStr(dst, k.NameType)
	}
	if k.Filter != 0 {
		dst = sep(dst, "Filter")
		dst = strconv.AppendInt(dst, k.Filter, 10)
	}
	if k.Elements != nil {
		dst = sep(dst, "Elements")
		dst = append(dst, k.Elements...)
	}
	if members := objectMembers(k.Other); len(members) > 0 {
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, members...)
	}
	return append(dst, '}')
}

func appendState(dst []byte, s *State) []byte {
	dst = append(dst, `{"Stream":`...)
	dst = appendName(dst, s.Stream.String())
	dst = append(dst, `,"Data":`...)
	dst = appendName(dst, s.Data.String())
	if s.Code != CodeNone {
		dst = append(dst, `,"Code":`...)
		if name, ok := stateCodeNames[s.Code]; ok {
			dst = appendName(dst, name)
		} else {
			dst = strconv.AppendInt(dst, int64(s.Code), 10)
		}
	}
	if s.Text != "" {
		dst = append(dst, `,"Text":`...)
		dst = appendStr(dst, s.Text)
	}
	return append(dst, '}')
}

func appendQos(dst []byte, q *Qos) []byte {
	dst = append(dst, '{')
	n := len(dst)
	sep := func(dst []byte, key string) []byte {
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, key...)
		return append(dst, '"', ':')
	}
	if q.Timeliness != "" {
		dst = sep(dst, "Timeliness")
		dst = appendStr(dst, q.Timeliness)
	}
	if q.Rate != "" {
		dst = sep(dst, "Rate")
		dst = appendStr(dst, q.Rate)
	}
	if q.Dynamic {
		dst = sep(dst, "Dynamic")
		dst = append(dst, "true"...)
	}
	if q.TimeInfo != 0 {
		dst = sep(dst, "TimeInfo")
		dst = strconv.AppendInt(dst, q.TimeInfo, 10)
	}
	if q.RateInfo != 0 {
		dst = sep(dst, "RateInfo")
		dst = strconv.AppendInt(dst, q.RateInfo, 10)
	}
	return append(dst, '}')
}

// appendFields appends a FieldList object.
func appendFields(dst []byte, fs []Field) []byte {
	dst = append(dst, '{')
	for i := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		f := &fs[i]
		dst = appendStr(dst, f.Name)
		dst = append(dst, ':')
		dst = appendValue(dst, f)
	}
	return append(dst, '}')
}

// appendValue appends the JSON value of f.
func appendValue(dst []byte, f *Field) []byte {
	switch f.Kind {
	case KindInt:
		return strconv.AppendInt(dst, f.Int, 10)
	case KindFloat:
		return appendFloat(dst, f.Float)
	case KindString:
		return appendString(dst, f.Str)
	case KindBool:
		return strconv.AppendBool(dst, f.Int != 0)
	case KindRaw:
		if len(f.Str) > 0 {
			return append(dst, f.Str...)
		}
	}
	return append(dst, "null"...)
}

// appendFloat formats like encoding/json (shortest representation; 'e'
// form below 1e-6 and from 1e21, with a two-digit exponent trimmed), plus
// ".0" when the result would read as an integer, and the §10 strings for
// NaN and ±Inf.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Inf"`...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst
	}
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

// appendStr is appendString for a string, without converting it.
func appendStr(dst []byte, s string) []byte {
	return appendString(dst, unsafe.Slice(unsafe.StringData(s), len(s)))
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// except that <, > and & are left alone: '"', '\\' and control characters
// are escaped, invalid UTF-8 becomes \ufffd, U+2028/U+2029 are escaped.
func appendString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// FrameBuilder packs messages into one frame, a JSON array, within a size
// limit. The zero value is ready to use.
type FrameBuilder struct {
	buf []byte
	n   int
}

// Add appends m to the frame. When max > 0 and the frame would then be
// longer than max bytes, m is not added and Add returns false — unless
// the frame is empty, so that one message always fits.
func (b *FrameBuilder) Add(m *Msg, max int) bool {
	mark := len(b.buf)
	if b.n == 0 {
		b.buf = append(b.buf[:0], '[')
		mark = 0
	} else {
		b.buf = append(b.buf, ',')
	}
	b.buf = AppendMsg(b.buf, m)
	if max > 0 && b.n > 0 && len(b.buf)+1 > max {
		b.buf = b.buf[:mark]
		return false
	}
	b.n++
	return true
}

// Count returns the number of messages in the frame.
func (b *FrameBuilder) Count() int { return b.n }

// Frame returns the frame "[…]"; it is valid until the next Add or Reset.
func (b *FrameBuilder) Frame() []byte {
	if b.n == 0 {
		return []byte("[]")
	}
	b.buf = append(b.buf, ']')
	f := b.buf
	b.buf = b.buf[:len(b.buf)-1]
	return f
}

// Reset empties the builder, keeping its buffer.
func (b *FrameBuilder) Reset() { b.buf, b.n = b.buf[:0], 0 }
