package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ertkit/ertkit/trjson"
)

// Kind is what a Record holds.
type Kind uint8

const (
	// KindMessage is a tr_json2 message as received.
	KindMessage Kind = iota + 1
	// KindState is a change of an item's state reported by the SDK
	// (consumer.EventItemState), such as Suspect on a lost connection.
	KindState
	// KindGap marks messages the Writer dropped because the disk was
	// slower than the stream.
	KindGap
)

func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindState:
		return "state"
	case KindGap:
		return "gap"
	}
	return "unknown"
}

// Record is one line of a recording. A Record from a Reader or Player
// aliases a decompressed block and is valid until the next record is read.
type Record struct {
	Kind Kind
	// Time is when the message was received (Unix nanoseconds).
	Time int64
	// Name is the item name (RIC); empty for gaps.
	Name string
	// Msg is the message exactly as it arrived (KindMessage).
	Msg trjson.Raw
	// State is the item's new state (KindState).
	State trjson.State
	// Dropped is the number of messages dropped just before (KindGap).
	Dropped int64
}

// When returns Time as a time.Time.
func (r *Record) When() time.Time { return time.Unix(0, r.Time) }

// Lines are one JSON object each, keys always in this order:
//
//	{"t":<ns>,"r":"<RIC>","m":<message as received>}
//	{"t":<ns>,"r":"<RIC>","s":{"Stream":"Open","Data":"Suspect","Code":"None","Text":"…"}}
//	{"t":<ns>,"gap":<dropped messages>}

func appendMessageLine(dst []byte, t int64, name string, raw []byte) []byte {
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"r":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"m":`...)
	dst = append(dst, raw...)
	return append(dst, "}\n"...)
}

type stateJSON struct {
	Stream string
	Data   string
	Code   string
	Text   string `json:",omitempty"`
}

func appendStateLine(dst []byte, t int64, name string, st trjson.State) []byte {
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"r":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"s":`...)
	b, _ := json.Marshal(stateJSON{Stream: st.Stream.String(), Data: st.Data.String(), Code: st.Code.String(), Text: st.Text})
	dst = append(dst, b...)
	return append(dst, "}\n"...)
}

func appendGapLine(dst []byte, t, dropped int64) []byte {
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"gap":`...)
	dst = strconv.AppendInt(dst, dropped, 10)
	return append(dst, "}\n"...)
}

// appendJSONString quotes s as JSON; item names need no escaping in the
// common case, which is copied as is.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

var errLine = errors.New("malformed record line")

// parseLine reads one line (without its newline) into r. Names of
// messages are interned through names to keep reading allocation-light.
func parseLine(line []byte, r *Record, names map[string]string) error {
	p := line
	if !bytes.HasPrefix(p, []byte(`{"t":`)) || len(p) < 2 || p[len(p)-1] != '}' {
		return errLine
	}
	p = p[5 : len(p)-1]
	i := bytes.IndexByte(p, ',')
	if i <= 0 {
		return errLine
	}
	t, err := strconv.ParseInt(string(p[:i]), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: time: %v", errLine, err)
	}
	p = p[i+1:]
	*r = Record{Time: t}
	if bytes.HasPrefix(p, []byte(`"gap":`)) {
		n, err := strconv.ParseInt(string(p[6:]), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: gap count", errLine)
		}
		r.Kind, r.Dropped = KindGap, n
		return nil
	}
	if !bytes.HasPrefix(p, []byte(`"r":"`)) {
		return errLine
	}
	p = p[4:]
	end := stringEnd(p)
	if end < 0 {
		return fmt.Errorf("%w: item name", errLine)
	}
	nameJSON := p[:end]
	p = p[end:]
	if bytes.IndexByte(nameJSON, '\\') < 0 {
		raw := nameJSON[1 : len(nameJSON)-1]
		if !utf8.Valid(raw) {
			return fmt.Errorf("%w: item name", errLine)
		}
		if n, ok := names[string(raw)]; ok {
			r.Name = n
		} else {
			r.Name = string(raw)
			if len(names) < 1<<20 {
				names[r.Name] = r.Name
			}
		}
	} else if err := json.Unmarshal(nameJSON, &r.Name); err != nil {
		return fmt.Errorf("%w: item name: %v", errLine, err)
	}
	switch {
	case bytes.HasPrefix(p, []byte(`,"m":`)):
		m := p[5:]
		if len(m) == 0 || m[0] != '{' || !json.Valid(m) {
			return fmt.Errorf("%w: message is not a JSON object", errLine)
		}
		r.Kind, r.Msg = KindMessage, m
	case bytes.HasPrefix(p, []byte(`,"s":`)):
		var s stateJSON
		if err := json.Unmarshal(p[5:], &s); err != nil {
			return fmt.Errorf("%w: state: %v", errLine, err)
		}
		var ok1, ok2, ok3 bool
		r.State.Stream, ok1 = trjson.ParseStreamState([]byte(s.Stream))
		r.State.Data, ok2 = trjson.ParseDataState([]byte(s.Data))
		r.State.Code, ok3 = trjson.ParseStateCode([]byte(s.Code))
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("%w: state %s/%s/%s", errLine, s.Stream, s.Data, s.Code)
		}
		r.State.Text = s.Text
		r.Kind = KindState
	default:
		return errLine
	}
	return nil
}

// stringEnd returns the length of the JSON string at the start of p
// (quotes included), or -1.
func stringEnd(p []byte) int {
	if len(p) == 0 || p[0] != '"' {
		return -1
	}
	for i := 1; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// AppendLine appends r as a recording stores it: one JSON line, newline
// included (the format is in the comment above and docs/RECORDING.md).
func AppendLine(dst []byte, r *Record) []byte {
	switch r.Kind {
	case KindMessage:
		return appendMessageLine(dst, r.Time, r.Name, r.Msg)
	case KindState:
		return appendStateLine(dst, r.Time, r.Name, r.State)
	case KindGap:
		return appendGapLine(dst, r.Time, r.Dropped)
	}
	return dst
}
