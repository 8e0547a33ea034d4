package trjson

import (
	"fmt"
)

// SyntaxError reports a frame that is not valid JSON (RFC 8259), or not
// an array of objects / a single object. The whole frame is rejected.
type SyntaxError struct {
	Offset int    // byte offset in the frame
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("trjson: syntax error at offset %d: %s", e.Offset, e.Msg)
}

// Sizes of the intern tables (sets × 4 entries, strings up to maxLen
// bytes). They bound the memory a peer can make a Decoder hold: 16 Ki
// item names/texts of ≤128 B and 8 Ki field names of ≤64 B, ≈3 MiB at
// worst.
const (
	nameSets      = 4096
	nameMaxLen    = 128
	fieldSets     = 2048
	fieldMaxLen   = 64
	maxKeptBuffer = 1 << 20 // scratch buffers above this are dropped after a frame
	maxKeptMsgs   = 4096    // likewise for the message and field arenas
	maxKeptFields = 1 << 16
)

// Decoder decodes tr_json2 frames. The zero value is ready to use. A
// Decoder is not safe for concurrent use; its results alias the frame and
// its own buffers and are valid until the next call of Decode.
//
// In steady state Decode does not allocate: messages, fields and the
// scratch space for unescaped strings are reused from frame to frame, and
// field names, item names and other short texts are interned through
// bounded tables.
type Decoder struct {
	s       scanner
	msgs    []Msg
	fields  []Field  // arena for Msg.Fields
	ids     []int64  // arena for Msg.IDs and Msg.ViewFIDs
	strs    []string // arena for Key.Names and Msg.View
	scratch []byte   // unescaped strings (Field.Str aliases it), Other
	keybuf  []byte
	other   []byte // Msg.Other objects
	kother  []byte // Key.Other objects
	names   *internTable
	fnames  *internTable
	keys    *keyCache // field names, in front of fnames
	vals    *keyCache // short texts (item names, services), in front of names
	qosPool []Qos
}

// msgState is what parseMsg learns about a message beyond the Msg itself.
type msgState struct {
	hasID     bool
	idArray   int // offset of an ID array, -1 when none
	nameType  int64
	nameTypeN bool // NameType was a number: resolved once the Domain is known
	nameTypeO int  // its offset
	err       *MsgError
	errOnID   bool // report on ID 0
	otherFrom int  // start of Other in scratch, -1 when none
}

func (d *Decoder) init() {
	if d.names == nil {
		d.names = newInternTable(nameSets, nameMaxLen)
		d.fnames = newInternTable(fieldSets, fieldMaxLen)
		d.keys = &keyCache{seed: d.fnames.seed}
		d.vals = &keyCache{seed: d.names.seed}
		d.fields = make([]Field, 0, 256)
	}
}

// Fork returns a new Decoder that shares d's interning tables and has
// arenas of its own: the results of one stay valid while the other
// decodes the next frame. The tables are not safe for concurrent use, so
// d and its forks must not decode at the same time; a connection keeps a
// few forks so that one goroutine can decode frame n+1 while another
// still reads the messages of frame n.
func (d *Decoder) Fork() *Decoder {
	d.init()
	return &Decoder{names: d.names, fnames: d.fnames, keys: d.keys, vals: d.vals, fields: make([]Field, 0, 256)}
}

// Decode decodes one frame: a JSON array of messages or a single message
// object. Absent attributes take the spec's defaults (Type Request, Domain
// MarketPrice). A frame that is not valid JSON returns a *SyntaxError and
// no messages. A message that is valid JSON but not valid tr_json2 is
// returned with Err set, and the others are decoded normally.
func (d *Decoder) Decode(frame []byte) ([]Msg, error) {
	d.init()
	if cap(d.scratch) > maxKeptBuffer {
		d.scratch = nil
	}
	if cap(d.other) > maxKeptBuffer {
		d.other = nil
	}
	// One huge frame must not pin its arenas for the connection's life.
	if cap(d.msgs) > maxKeptMsgs {
		d.msgs = nil
	}
	if cap(d.fields) > maxKeptFields {
		d.fields = make([]Field, 0, 256)
	}
	d.msgs, d.fields, d.ids, d.strs, d.scratch = d.msgs[:0], d.fields[:0], d.ids[:0], d.strs[:0], d.scratch[:0]
	d.other, d.kother, d.qosPool = d.other[:0], d.kother[:0], d.qosPool[:0]
	s := &d.s
	s.reset(frame)
	s.checkMixed = true
	s.ws()
	switch s.peek() {
	case '[':
		s.enter()
		s.ws()
		if s.peek() == ']' {
			s.pos++
			s.depth--
			break
		}
		for {
			s.ws()
			if s.peek() != '{' {
				if s.pos < len(frame) && s.skip(false) {
					s.fail(s.pos, "frame array element is not an object")
				} else {
					s.fail(s.pos, "expected message object")
				}
				break
			}
			d.msgs = append(d.msgs, Msg{})
			if !d.parseMsg(&d.msgs[len(d.msgs)-1]) {
				break
			}
			if !s.next(']') {
				break
			}
		}
	case '{':
		d.msgs = append(d.msgs, Msg{})
		d.parseMsg(&d.msgs[0])
	default:
		if s.pos < len(frame) && s.skip(false) {
			s.fail(0, "frame is neither an array nor an object")
		} else {
			s.fail(s.pos, "expected array or object")
		}
	}
	if s.err == nil {
		s.ws()
		if s.pos != len(frame) {
			s.fail(s.pos, "data after the top-level value")
		}
	}
	if s.err != nil {
		err := s.err
		d.msgs = d.msgs[:0]
		return nil, err
	}
	return d.msgs, nil
}

func (d *Decoder) setErr(st *msgState, onID bool, off int, text string) {
	if st.err == nil {
		st.err = &MsgError{Text: text, Offset: off}
		st.errOnID = onID
	}
}

func (d *Decoder) typeErr(st *msgState, key, want string, onID bool) {
	s := &d.s
	d.setErr(st, onID, s.pos, "JSON Converter Token Type error: Expected '"+want+"' for key '"+key+"' Received '"+tokType(s.data[s.pos])+"'")
}

func (d *Decoder) valueErr(st *msgState, key string, off int, onID bool) {
	s := &d.s
	v := s.data[off:s.pos]
	if len(v) >= 2 && v[0] == '"' {
		v = unescape(nil, v[1:len(v)-1])
	}
	d.setErr(st, onID, off, "JSON Unexpected Value. Received '"+string(v)+"' for key '"+key+"'")
}

// parseMsg decodes the message object at pos into m (which is zero). It
// returns false on a syntax error.
func (d *Decoder) parseMsg(m *Msg) bool {
	s := &d.s
	start := s.pos
	m.Type, m.Domain = TypeRequest, DomainMarketPrice
	st := msgState{idArray: -1, otherFrom: -1}
	if !s.enter() {
		return false
	}
	s.ws()
	if s.peek() == '}' {
		s.pos++
		s.depth--
	} else {
		for {
			ks, ke, esc, ok := s.objKeyEsc()
			if !ok {
				return false
			}
			if !d.attr(m, &st, ks, ke, esc) {
				return false
			}
			if s.mixedOff >= 0 {
				d.setErr(&st, false, s.mixedOff, "JSON Mixed Types in OMM Array: Received '"+s.mixedA+"' and '"+s.mixedB+"' for key 'Data'")
				s.mixedOff = -1
			}
			if !s.next('}') {
				if s.err != nil {
					return false
				}
				break
			}
		}
	}
	m.Raw = s.data[start:s.pos]
	if st.otherFrom >= 0 {
		d.other = append(d.other, '}')
		m.Other = d.other[st.otherFrom:len(d.other):len(d.other)]
	}
	d.finish(m, &st)
	return true
}

func (d *Decoder) finish(m *Msg, st *msgState) {
	if st.nameTypeN {
		if nt, ok := nameTypeFromNumber(st.nameType, m.Domain); ok {
			m.Key.NameType = nt
		} else {
			d.setErr(st, false, st.nameTypeO, "JSON Unexpected Value. Received '"+fmt.Sprint(st.nameType)+"' for key 'NameType'")
		}
	}
	if st.idArray >= 0 && m.Type != TypeClose {
		d.setErr(st, true, st.idArray, "JSON Converter Token Type error: Expected 'PRIMITIVE' for key 'ID' Received 'ARRAY'")
	}
	if !st.hasID && m.Type != TypePing && m.Type != TypePong {
		d.setErr(st, true, -1, "JSON Missing required key 'ID'")
	}
	if m.Type == TypeRequest && !m.HasKey {
		d.setErr(st, false, -1, "JSON Missing required key 'Key'")
	}
	if st.err != nil {
		if !st.errOnID {
			st.err.ID = m.ID
		}
		m.Err = st.err
	}
}

// key returns the unescaped key data[ks:ke].
func (d *Decoder) key(ks, ke int) []byte {
	k := d.s.data[ks:ke]
	for _, c := range k {
		if c == '\\' {
			d.keybuf = unescape(d.keybuf[:0], k)
			return d.keybuf
		}
	}
	return k
}

// attr decodes the value of the message member with key data[ks:ke].
func (d *Decoder) attr(m *Msg, st *msgState, ks, ke int, esc bool) bool {
	s := &d.s
	if s.pos >= len(s.data) {
		s.fail(s.pos, "unexpected end of frame")
		return false
	}
	key := s.data[ks:ke]
	if esc {
		key = d.key(ks, ke)
	}
	var ok bool
	switch string(key) {
	case "ID":
		return d.id(m, st)
	case "Type":
		var v int64
		if v, ok = d.enum(st, "Type", msgTypeByName, msgTypeByNumber); ok {
			m.Type = MsgType(v)
		} else {
			m.Type = TypeUnknown
		}
	case "Domain":
		var v int64
		if v, ok = d.enum(st, "Domain", domainByNameW, domainByNumber); ok {
			m.Domain = Domain(v)
		} else {
			m.Domain = DomainUnknown
		}
	case "Key":
		m.HasKey = true
		return d.keyObj(m, st)
	case "State":
		m.HasState = true
		return d.state(m, st)
	case "UpdateType":
		var v int64
		if v, ok = d.enum(st, "UpdateType", updateTypeByName, updateTypeByNumber); ok {
			m.UpdateType = UpdateType(v)
		}
	case "SeqNumber":
		m.SeqNumber, m.HasSeqNumber = d.intAttr(st, "SeqNumber")
	case "Streaming":
		m.NoStreaming = !d.boolAttr(st, "Streaming", true)
	case "Refresh":
		m.NoRefresh = !d.boolAttr(st, "Refresh", true)
	case "Pause":
		m.Pause = d.boolAttr(st, "Pause", false)
	case "KeyInUpdates":
		m.NoKeyInUpdates = !d.boolAttr(st, "KeyInUpdates", true)
	case "ConfInfoInUpdates":
		m.ConfInfoInUpdate = d.boolAttr(st, "ConfInfoInUpdates", false)
	case "Private":
		m.Private = d.boolAttr(st, "Private", false)
	case "Qualified":
		m.Qualified = d.boolAttr(st, "Qualified", false)
	case "View":
		return d.view(m, st)
	case "Priority":
		m.Priority = d.rawAttr()
	case "WorstQos":
		m.WorstQos = d.newQos()
		return d.qosObj(m.WorstQos, st, "WorstQos")
	case "Qos", "QOS":
		m.Qos = d.newQos()
		return d.qosObj(m.Qos, st, "Qos")
	case "Solicited":
		m.NotSolicited = !d.boolAttr(st, "Solicited", true)
	case "Complete":
		m.NotComplete = !d.boolAttr(st, "Complete", true)
	case "ClearCache":
		m.ClearCache = d.boolAttr(st, "ClearCache", false)
		m.HasClearCache = true
	case "PartNumber":
		m.PartNumber, _ = d.intAttr(st, "PartNumber")
	case "PermData":
		m.PermData = d.strAttr(st, "PermData")
	case "DoNotCache":
		m.DoNotCache = d.boolAttr(st, "DoNotCache", false)
	case "DoNotConflate":
		m.DoNotConflate = d.boolAttr(st, "DoNotConflate", false)
	case "DoNotRipple":
		m.DoNotRipple = d.boolAttr(st, "DoNotRipple", false)
	case "Discardable":
		m.Discardable = d.boolAttr(st, "Discardable", false)
	case "Ack":
		m.Ack = d.boolAttr(st, "Ack", false)
	case "PostID":
		m.PostID, m.HasPostID = d.intAttr(st, "PostID")
	case "AckID":
		m.AckID, _ = d.intAttr(st, "AckID")
	case "NakCode":
		var v int64
		if v, ok = d.enum(st, "NakCode", nakByName, nakByNumber); ok {
			m.NakCode, m.HasNakCode = NakCode(v), true
		}
	case "PostUserInfo":
		m.PostUserInfo = d.rawAttr()
	case "Message":
		m.Message = d.rawAttr()
	case "Text":
		m.Text = d.strAttr(st, "Text")
	case "SecSeqNumber":
		m.SecSeqNumber, _ = d.intAttr(st, "SecSeqNumber")
	case "Fields":
		m.HasFields = true
		return d.fieldList(m, st)
	case "Elements":
		m.Elements = d.rawAttr()
	case "Map":
		m.Map = d.rawAttr()
	case "Vector":
		m.Vector = d.rawAttr()
	case "Series":
		m.Series = d.rawAttr()
	case "FilterList":
		m.FilterList = d.rawAttr()
	case "Json":
		// Arbitrary JSON: no OMM Array check inside.
		s.checkMixed = false
		m.JSON = d.rawAttr()
		s.checkMixed = true
	case "Opaque":
		m.Opaque = d.rawAttr()
	case "Xml":
		m.XML = d.rawAttr()
	case "Debug":
		m.Debug = d.rawAttr()
	case "ExtHdr":
		m.ExtHdr = d.rawAttr()
	default:
		vs := s.pos
		if !s.skip(false) {
			return false
		}
		if st.otherFrom < 0 {
			st.otherFrom = len(d.other)
			d.other = append(d.other, '{')
		} else {
			d.other = append(d.other, ',')
		}
		d.other = append(d.other, s.data[ks-1:ke+1]...)
		d.other = append(d.other, ':')
		d.other = append(d.other, s.data[vs:s.pos]...)
	}
	return s.err == nil
}

func (d *Decoder) newQos() *Qos {
	// Qos objects live in a pool reused between frames, so that requests
	// carrying a Qos do not allocate in steady state.
	if len(d.qosPool) == cap(d.qosPool) {
		// A new backing array; earlier *Qos keep pointing into the old one.
		d.qosPool = make([]Qos, 0, 2*cap(d.qosPool)+4)
	}
	d.qosPool = d.qosPool[:len(d.qosPool)+1]
	q := &d.qosPool[len(d.qosPool)-1]
	*q = Qos{}
	return q
}

func (d *Decoder) rawAttr() Raw {
	s := &d.s
	vs := s.pos
	if !s.skip(false) {
		return nil
	}
	return Raw(s.data[vs:s.pos:s.pos])
}

// intAttr reads an integer attribute. A number with a fraction, or a
// non-number primitive, is an unexpected value.
func (d *Decoder) intAttr(st *msgState, key string) (int64, bool) {
	s := &d.s
	c := s.data[s.pos]
	if c == '"' || c == '{' || c == '[' {
		d.typeErr(st, key, tokPrimitive, false)
		s.skip(false)
		return 0, false
	}
	off := s.pos
	if c == '-' || ('0' <= c && c <= '9') {
		start, isFloat, iv, ok := s.number()
		if !ok {
			return 0, false
		}
		if !isFloat {
			return iv, true
		}
		if f := parseFloat(s.data[start:s.pos]); f == float64(int64(f)) && f < 1<<63 && f >= -(1<<63) {
			return int64(f), true
		}
	} else if !s.skip(false) {
		return 0, false
	}
	d.valueErr(st, key, off, false)
	return 0, false
}

// boolAttr reads a boolean attribute the way LSEG's JSON converter does:
// any JSON primitive is accepted, and exactly `true` and `1` are true;
// every other primitive (`false`, `0`, `2`, `1.0`, `null`) is false.
// Clients written against the real servers send 1/0, so refusing them
// would fail requests an ADS serves. Strings, objects and arrays are
// type errors, and the attribute keeps its default.
func (d *Decoder) boolAttr(st *msgState, key string, def bool) bool {
	s := &d.s
	c := s.data[s.pos]
	if c == '"' || c == '{' || c == '[' {
		d.typeErr(st, key, tokPrimitive, false)
		s.skip(false)
		return def
	}
	start := s.pos
	if !s.skip(false) {
		return def
	}
	v := s.data[start:s.pos]
	return string(v) == "true" || string(v) == "1"
}

// strAttr reads a string attribute, interned.
func (d *Decoder) strAttr(st *msgState, key string) string {
	s := &d.s
	if s.data[s.pos] != '"' {
		d.typeErr(st, key, tokString, false)
		s.skip(false)
		return ""
	}
	if v, end, ok := lookupShort(s.data, s.pos, d.vals, d.names); ok {
		s.pos = end
		return v
	}
	b, ok := d.strBytes()
	if !ok {
		return ""
	}
	return d.names.get(b)
}

// strBytes reads the string at pos and returns its unescaped bytes,
// aliasing the frame when it has no escapes and the scratch buffer
// otherwise.
func (d *Decoder) strBytes() ([]byte, bool) {
	s := &d.s
	start, end, esc, ok := s.str()
	if !ok {
		return nil, false
	}
	if !esc {
		return s.data[start:end:end], true
	}
	n := len(d.scratch)
	d.scratch = unescape(d.scratch, s.data[start:end])
	return d.scratch[n:len(d.scratch):len(d.scratch)], true
}

// enum reads an enumeration given as a name or an RWF number.
func (d *Decoder) enum(st *msgState, key string, byName func([]byte) (int64, bool), byNumber func(int64) (int64, bool)) (int64, bool) {
	s := &d.s
	c := s.data[s.pos]
	off := s.pos
	switch {
	case c == '{' || c == '[':
		d.typeErr(st, key, tokString, false)
		s.skip(false)
		return 0, false
	case c == '"':
		start, end, esc, ok := s.str()
		if !ok {
			return 0, false
		}
		if !esc {
			if v, ok := byName(s.data[start:end]); ok {
				return v, true
			}
		}
	case c == '-' || ('0' <= c && c <= '9'):
		_, isFloat, iv, ok := s.number()
		if !ok {
			return 0, false
		}
		if !isFloat {
			if v, ok := byNumber(iv); ok {
				return v, true
			}
		}
	default:
		if !s.skip(false) {
			return 0, false
		}
	}
	d.valueErr(st, key, off, false)
	return 0, false
}

func (d *Decoder) id(m *Msg, st *msgState) bool {
	s := &d.s
	st.hasID = true
	c := s.data[s.pos]
	switch {
	case c == '[':
		st.idArray = s.pos
		off := s.pos
		from := len(d.ids)
		ok := d.array(func() bool {
			eoff := s.pos
			ec := s.data[s.pos]
			switch {
			case ec == '-' || ('0' <= ec && ec <= '9'):
				_, isFloat, iv, ok := s.number()
				if !ok {
					return false
				}
				if isFloat {
					d.valueErr(st, "ID", eoff, true)
				}
				d.ids = append(d.ids, iv)
				return true
			case ec == '"' || ec == '{' || ec == '[':
				d.typeErr(st, "ID", tokPrimitive, true)
				return s.skip(false)
			}
			if !s.skip(false) {
				return false
			}
			d.valueErr(st, "ID", eoff, true)
			return true
		})
		if !ok {
			return false
		}
		if len(d.ids) == from {
			d.valueErr(st, "ID", off, true) // "ID":[] names no stream
		}
		m.IDs = d.ids[from:len(d.ids):len(d.ids)]
		if len(m.IDs) > 0 {
			m.ID = m.IDs[0]
		}
		return true
	case c == '"' || c == '{':
		d.typeErr(st, "ID", tokPrimitive, true)
		return s.skip(false)
	case c == '-' || ('0' <= c && c <= '9'):
		off := s.pos
		_, isFloat, iv, ok := s.number()
		if !ok {
			return false
		}
		m.IDs = nil
		if isFloat {
			d.valueErr(st, "ID", off, true)
			return true
		}
		m.ID = iv
		return true
	default:
		off := s.pos
		if !s.skip(false) {
			return false
		}
		d.valueErr(st, "ID", off, true)
		return true
	}
}

func (d *Decoder) keyObj(m *Msg, st *msgState) bool {
	s := &d.s
	if s.data[s.pos] != '{' {
		d.typeErr(st, "Key", tokObject, false)
		return s.skip(false)
	}
	kfrom := -1
	ok := d.object(func(k []byte) bool {
		switch string(k) {
		case "Name":
			switch s.data[s.pos] {
			case '"':
				m.Key.Name, m.Key.Names = d.strAttr(st, "Name"), nil
			case '[':
				m.Key.Name = ""
				from := len(d.strs)
				ok := d.array(func() bool {
					d.strs = append(d.strs, d.strAttr(st, "Name"))
					return s.err == nil
				})
				m.Key.Names = d.strs[from:len(d.strs):len(d.strs)]
				return ok
			default:
				d.typeErr(st, "Name", tokString, false)
				return s.skip(false)
			}
		case "Service":
			c := s.data[s.pos]
			if c == '"' {
				m.Key.Service = d.strAttr(st, "Service")
				m.Key.ServiceID, m.Key.HasServiceID = 0, false
			} else {
				m.Key.Service = ""
				m.Key.ServiceID, m.Key.HasServiceID = d.intAttr(st, "Service")
			}
		case "NameType":
			c := s.data[s.pos]
			if c == '-' || ('0' <= c && c <= '9') {
				off := s.pos
				_, isFloat, iv, ok := s.number()
				if !ok {
					return false
				}
				if isFloat || iv < 0 || iv > 5 {
					d.valueErr(st, "NameType", off, false)
				} else {
					st.nameType, st.nameTypeN, st.nameTypeO = iv, true, off
				}
			} else {
				m.Key.NameType = d.strAttr(st, "NameType")
				st.nameTypeN = false
			}
		case "Filter":
			m.Key.Filter, _ = d.intAttr(st, "Filter")
		case "Elements":
			m.Key.Elements = d.rawAttr()
		default:
			vs := s.pos
			if !s.skip(false) {
				return false
			}
			if kfrom < 0 {
				kfrom = len(d.kother)
				d.kother = append(d.kother, '{')
			} else {
				d.kother = append(d.kother, ',')
			}
			d.kother = appendString(d.kother, k)
			d.kother = append(d.kother, ':')
			d.kother = append(d.kother, s.data[vs:s.pos]...)
		}
		return s.err == nil
	})
	if kfrom >= 0 {
		d.kother = append(d.kother, '}')
		m.Key.Other = d.kother[kfrom:len(d.kother):len(d.kother)]
	}
	return ok
}

// object iterates over the members of the object at pos, calling f with
// each unescaped key and pos at the value.
func (d *Decoder) object(f func(k []byte) bool) bool {
	s := &d.s
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
		ks, ke, esc, ok := s.objKeyEsc()
		if !ok {
			return false
		}
		if s.pos >= len(s.data) {
			s.fail(s.pos, "unexpected end of frame")
			return false
		}
		k := s.data[ks:ke]
		if esc {
			k = d.key(ks, ke)
		}
		if !f(k) {
			return false
		}
		if !s.next('}') {
			return s.err == nil
		}
	}
}

// array iterates over the elements of the array at pos.
func (d *Decoder) array(f func() bool) bool {
	s := &d.s
	if !s.enter() {
		return false
	}
	s.ws()
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return true
	}
	for {
		s.ws()
		if s.pos >= len(s.data) {
			s.fail(s.pos, "unexpected end of frame")
			return false
		}
		if !f() {
			return false
		}
		if !s.next(']') {
			return s.err == nil
		}
	}
}

func (d *Decoder) state(m *Msg, st *msgState) bool {
	s := &d.s
	if s.data[s.pos] != '{' {
		d.typeErr(st, "State", tokObject, false)
		return s.skip(false)
	}
	return d.object(func(k []byte) bool {
		switch string(k) {
		case "Stream":
			if v, ok := d.enum(st, "Stream", streamByName, streamByNumber); ok {
				m.State.Stream = StreamState(v)
			}
		case "Data":
			if v, ok := d.enum(st, "Data", dataByName, dataByNumber); ok {
				m.State.Data = DataState(v)
			}
		case "Code":
			if v, ok := d.enum(st, "Code", codeByName, codeByNumber); ok {
				m.State.Code = StateCode(v)
			}
		case "Text":
			if s.data[s.pos] != '"' {
				m.State.Text = d.strAttr(st, "Text")
				break
			}
			b, ok := d.strBytes()
			if !ok {
				return false
			}
			// Errata §34.2.2: a State text may end in NULs (C string
			// terminators leaking through); they are not text.
			for len(b) > 0 && b[len(b)-1] == 0 {
				b = b[:len(b)-1]
			}
			m.State.Text = d.names.get(b)
		default:
			return s.skip(false)
		}
		return s.err == nil
	})
}

func (d *Decoder) qosObj(q *Qos, st *msgState, key string) bool {
	s := &d.s
	if s.data[s.pos] != '{' {
		d.typeErr(st, key, tokObject, false)
		return s.skip(false)
	}
	return d.object(func(k []byte) bool {
		switch string(k) {
		case "Timeliness":
			if v, ok := d.enum(st, "Timeliness", timelinessByName, timelinessByNumber); ok {
				q.Timeliness = timelinessNames[v]
			}
		case "Rate":
			if v, ok := d.enum(st, "Rate", rateByName, rateByNumber); ok {
				q.Rate = rateNames[v]
			}
		case "RateInfo":
			q.RateInfo, _ = d.intAttr(st, "RateInfo")
		case "TimeInfo":
			q.TimeInfo, _ = d.intAttr(st, "TimeInfo")
		case "Dynamic":
			q.Dynamic = d.boolAttr(st, "Dynamic", false)
		default:
			return s.skip(false)
		}
		return s.err == nil
	})
}

func (d *Decoder) view(m *Msg, st *msgState) bool {
	s := &d.s
	if s.data[s.pos] != '[' {
		d.typeErr(st, "View", tokArray, false)
		return s.skip(false)
	}
	m.HasView = true
	m.View, m.ViewFIDs = nil, nil // a repeated View replaces the first
	sfrom, ifrom := len(d.strs), len(d.ids)
	first := byte(0)
	ok := d.array(func() bool {
		c := s.data[s.pos]
		off := s.pos
		if c == '"' {
			c = 's'
		} else if c == '-' || ('0' <= c && c <= '9') {
			c = 'n'
		}
		if first == 0 {
			first = c
		}
		if c != first || (c != 's' && c != 'n') {
			if !s.skip(false) {
				return false
			}
			d.valueErr(st, "View", off, false)
			return true
		}
		if c == 's' {
			b, ok := d.strBytes()
			if !ok {
				return false
			}
			d.strs = append(d.strs, d.fnames.get(b))
			return true
		}
		v, _ := d.intAttr(st, "View")
		d.ids = append(d.ids, v)
		return s.err == nil
	})
	if len(d.strs) > sfrom {
		m.View = d.strs[sfrom:len(d.strs):len(d.strs)]
	}
	if len(d.ids) > ifrom {
		m.ViewFIDs = d.ids[ifrom:len(d.ids):len(d.ids)]
	}
	return ok
}

// fieldList decodes "Fields": the hot path.
func (d *Decoder) fieldList(m *Msg, st *msgState) bool {
	s := &d.s
	from := len(d.fields)
	switch s.data[s.pos] {
	case '{':
	case 'n': // "Fields":null is an empty list (§12)
		if _, _, ok := s.literal(); !ok {
			return false
		}
		m.Fields = d.fields[from:from:from]
		return true
	default:
		d.typeErr(st, "Fields", tokObject, false)
		return s.skip(false)
	}
	if !s.enter() {
		return false
	}
	s.ws()
	if s.peek() == '}' {
		s.pos++
		s.depth--
	} else {
		data := s.data
		for {
			fname, ok := d.fieldKey()
			if !ok {
				return false
			}
			if s.pos >= len(data) {
				s.fail(s.pos, "unexpected end of frame")
				return false
			}
			// Build the value in locals and store the Field once.
			var (
				kind Kind
				iv   int64
				fv   float64
				str  []byte
			)
			switch c := data[s.pos]; c {
			case '"':
				b, ok := d.strBytes()
				if !ok {
					return false
				}
				kind, str = KindString, b
			case 't', 'f', 'n':
				k, v, ok := s.literal()
				if !ok {
					return false
				}
				kind = k
				if v {
					iv = 1
				}
			case '{', '[':
				vs := s.pos
				if !s.skip(false) {
					return false
				}
				kind, str = KindRaw, data[vs:s.pos:s.pos]
			default:
				start, isFloat, n, ok := s.number()
				if !ok {
					return false
				}
				if isFloat {
					kind, fv = KindFloat, s.fv
					if !s.fvOK {
						fv = parseFloat(data[start:s.pos])
					}
				} else {
					kind, iv = KindInt, n
				}
			}
			if len(d.fields) == cap(d.fields) {
				d.fields = append(d.fields, Field{})[:len(d.fields)]
			}
			n := len(d.fields)
			d.fields = d.fields[:n+1]
			f := &d.fields[n]
			f.Name, f.Kind, f.Int, f.Float, f.Str = fname, kind, iv, fv, str
			if !s.next('}') {
				if s.err != nil {
					return false
				}
				break
			}
		}
	}
	m.Fields = d.fields[from:len(d.fields):len(d.fields)]
	return true
}
