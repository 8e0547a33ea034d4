package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// handleFrame decodes one inbound WebSocket message and handles each of
// its tr_json2 messages in order. A bad message is answered with an Error
// and never ends the connection.
func (c *conn) handleFrame(frame []byte) {
	msgs, err := c.dec.Decode(frame)
	now := time.Now().UnixNano()
	if err != nil {
		c.lastRecv.Store(now)
		c.push(out{m: parserError(err, frame)})
		return
	}
	onlyPongs := len(msgs) > 0
	for i := range msgs {
		if msgs[i].Type != trjson.TypePong || msgs[i].Err != nil {
			onlyPongs = false
		}
	}
	if !onlyPongs || !c.h.ignorePongs.Load() {
		c.lastRecv.Store(now)
	}
	for i := range msgs {
		c.handle(&msgs[i])
	}
}

func (c *conn) handle(m *trjson.Msg) {
	if m.Err != nil {
		c.push(out{m: convError(m.Err.ID, m.Err.Text, m.Err.Offset, m.Raw)})
		return
	}
	if c.cfg.CatchUnknownKeys && (m.Other != nil || m.Key.Other != nil) {
		if k, ok := unknownKey(m); ok {
			off := bytes.Index(m.Raw, []byte(`"`+k+`"`))
			c.push(out{m: convError(m.ID, "JSON Unexpected Key. Received '"+k+"'", off, m.Raw)})
			return
		}
	}
	switch m.Type {
	case trjson.TypePing:
		c.push(out{m: &trjson.Msg{Type: trjson.TypePong}})
	case trjson.TypePong:
	case trjson.TypeRequest:
		if m.Domain == trjson.DomainLogin {
			c.handleLogin(m)
			return
		}
		if !m.HasKey {
			c.push(out{m: convError(m.ID, "JSON Missing required key 'Key'", -1, m.Raw)})
			return
		}
		if !c.loggedIn.Load() {
			c.push(out{m: c.statusFor(m.ID, m.Domain, m.Key.Name, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeNotOpen, "Login required")})
			return
		}
		c.handleRequest(m)
	case trjson.TypeClose:
		if m.Domain == trjson.DomainLogin || (len(m.IDs) == 0 && c.loggedIn.Load() && m.ID == c.loginID.Load()) {
			c.closeLogin()
			return
		}
		c.handleClose(m)
	case trjson.TypePost:
		c.handlePost(m)
	case trjson.TypeGeneric:
		c.handleGeneric(m)
	default:
		// Refresh, Update, Status, Ack, Error from a consumer: an ADS has
		// nothing to do with them.
	}
}

// Plausible converter line numbers for Debug.Line, by error kind.
func debugLine(text string) int {
	switch {
	case strings.HasPrefix(text, "JSON Converter Token Type error"):
		return 326
	case strings.HasPrefix(text, "JSON Unexpected Value"):
		return 1072
	case strings.HasPrefix(text, "JSON Missing required key"):
		return 380
	case strings.HasPrefix(text, "JSON Unexpected Key"):
		return 551
	case strings.HasPrefix(text, "JSON Unexpected FID"):
		return 1205
	case strings.HasPrefix(text, "JSON Mixed Types"):
		return 2409
	}
	return 240
}

type debugInfo struct {
	File    string `json:"File"`
	Line    int    `json:"Line"`
	Offset  *int   `json:"Offset,omitempty"`
	Message string `json:"Message"`
}

// convError builds an Error message the way the ADS JSON converter
// reports it (spec §22): Debug carries the offending JSON.
// The echo is cut to maxEchoBytes: a hostile client sending frames of
// MaxMsgSize must not make the server queue as much (or, with JSON
// escaping, up to six times as much) in return.
func convError(id int64, text string, offset int, raw []byte) *trjson.Msg {
	if len(raw) > maxEchoBytes {
		raw = raw[:maxEchoBytes]
	}
	d := debugInfo{File: "Converter/jsonToRwfSimple.C", Line: debugLine(text), Message: string(raw)}
	if offset >= 0 {
		d.Offset = &offset
	}
	b, _ := json.Marshal(d)
	return &trjson.Msg{Type: trjson.TypeError, ID: id, Text: text, Debug: b}
}

// parserError answers a frame that is not JSON. The converter reports its
// parser's error code: -3 for truncated input, -2 for invalid input.
func parserError(err error, frame []byte) *trjson.Msg {
	code, off := "-2", -1
	var se *trjson.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
		if se.Offset >= len(frame) {
			code = "-3"
		}
	}
	return convError(0, "JSON parser error: "+code, off, frame)
}

// statusFor builds a Status for a stream that has no subscription.
func (c *conn) statusFor(id int64, d trjson.Domain, name string, ss trjson.StreamState, ds trjson.DataState, code trjson.StateCode, text string) *trjson.Msg {
	m := &trjson.Msg{Type: trjson.TypeStatus, ID: id, Domain: d,
		State: trjson.State{Stream: ss, Data: ds, Code: code, Text: text}, HasState: true}
	if name != "" {
		m.Key = trjson.Key{Name: name, Service: c.cfg.Service}
		m.HasKey = true
	}
	return m
}

// Keys of the spec that trjson does not model (it keeps them in Other):
// they are not unknown to the converter.
var (
	knownOtherKeys    = map[string]bool{"ConflationInfo": true, "PostUserRights": true, "ViewType": true}
	knownOtherKeyKeys = map[string]bool{"Identifier": true}
)

// unknownKey returns the first member of m (or of its Key) that the
// protocol does not define (§22.6, Config.CatchUnknownKeys).
func unknownKey(m *trjson.Msg) (string, bool) {
	if k, ok := firstKeyNotIn(m.Other, knownOtherKeys); ok {
		return k, true
	}
	return firstKeyNotIn(m.Key.Other, knownOtherKeyKeys)
}

func firstKeyNotIn(obj trjson.Raw, known map[string]bool) (string, bool) {
	if obj == nil {
		return "", false
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(obj, &members) != nil {
		return "", false
	}
	first, firstAt := "", -1
	for k := range members {
		if known[k] {
			continue
		}
		// the first in document order, for a deterministic answer
		at := bytes.Index(obj, []byte(strconv.Quote(k)))
		if firstAt < 0 || (at >= 0 && at < firstAt) {
			first, firstAt = k, at
		}
	}
	return first, first != "" || firstAt >= 0
}
