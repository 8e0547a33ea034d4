// Package trjson is the tr_json2 message model and codec of the LSEG
// WebSocket API: the one vocabulary that the ertkit consumer and the ertkit
// emulator share.
//
// A WebSocket message ("frame" here) holds a JSON array of messages, or a
// single message object. A [Decoder] turns a frame into [Msg] values strictly
// (malformed JSON is rejected whole) and without allocating per update; the
// Append functions encode messages into a caller's buffer.
//
// Payloads other than Fields (Elements, Map, Vector, Series, FilterList,
// Json, Opaque, Xml, nested Message, Debug) are kept as validated raw JSON
// ([Raw]) and decoded on demand: they travel on cold paths.
package trjson

// Raw is a validated JSON value exactly as it appeared on the wire. A Raw
// produced by a Decoder aliases the frame and is valid only until the next
// Decode call; copy it with [Raw.Clone] to keep it.
type Raw []byte

// Clone returns a copy of r that does not alias any decoder buffer.
func (r Raw) Clone() Raw {
	if r == nil {
		return nil
	}
	return append(Raw(nil), r...)
}

// State is the State object of Refresh and Status messages (§26.2, §28.2).
type State struct {
	Stream StreamState
	Data   DataState
	Code   StateCode
	Text   string
}

// Qos is the quality of service object; the wire key is "Qos" ("QOS" is
// accepted on input, as spec samples spell it).
type Qos struct {
	Timeliness string // "Realtime", "Delayed", "DelayedUnknown", …
	Rate       string // "TickByTick", "JitConflated", "TimeConflated", …
	RateInfo   int64  // ms, with TimeConflated
	TimeInfo   int64  // s, with Delayed
	Dynamic    bool
}

// Key is the message key (§20.2, §27.2).
type Key struct {
	// Name is the item name (RIC). Empty in a batch request, see Names.
	Name string
	// Names holds the names of a batch request (Key.Name as an array).
	Names []string
	// Service is the service name; ServiceID is set instead when the
	// service was given as a number. HasServiceID tells which.
	Service      string
	ServiceID    int64
	HasServiceID bool
	// NameType: "Ric" (default) or e.g. "AuthnToken" for RTO logins.
	NameType string
	Filter   int64
	// Elements holds Key.Elements (Login attributes) as raw JSON.
	Elements Raw
	// Other holds members of the Key object this package does not model,
	// as a JSON object; nil when there were none.
	Other Raw
}

// Msg is one tr_json2 message. Boolean attributes with a default other than
// false are stored as their negation or with a Has flag so that the zero
// Msg means "every attribute absent"; accessor methods apply the spec's
// defaults. The Decoder reads a boolean attribute as LSEG's converter
// does: `true` and `1` are true, any other JSON primitive is false (and a
// string, object or array sets Err); the encoder writes `true`/`false`.
// A Msg filled by a Decoder aliases the frame and the decoder's buffers
// and is valid only until the next Decode call.
type Msg struct {
	Type   MsgType
	Domain Domain // DomainMarketPrice when absent

	// ID is the stream ID. IDs holds the IDs of a batch Close ("ID":[…]);
	// the Decoder then also sets ID to the first of them, the stream the
	// ADS answers on (§6.3.10).
	ID  int64
	IDs []int64

	Key    Key
	HasKey bool

	State    State
	HasState bool

	UpdateType   UpdateType
	SeqNumber    int64
	HasSeqNumber bool

	// Request attributes.
	NoStreaming      bool // "Streaming":false — a snapshot
	NoRefresh        bool // "Refresh":false
	Pause            bool
	NoKeyInUpdates   bool // "KeyInUpdates":false
	ConfInfoInUpdate bool // "ConfInfoInUpdates":true
	Private          bool
	Qualified        bool
	View             []string // field names, when the view was given as names
	ViewFIDs         []int64  // field IDs, when the view was given as numbers
	HasView          bool
	Priority         Raw
	WorstQos         *Qos

	// Refresh / Update / Status attributes.
	Qos           *Qos
	NotSolicited  bool // "Solicited":false
	NotComplete   bool // "Complete":false
	ClearCache    bool // as sent; see ClearsCache for the defaults
	HasClearCache bool
	PartNumber    int64
	PermData      string
	DoNotCache    bool
	DoNotConflate bool
	DoNotRipple   bool
	Discardable   bool

	// Post / Ack attributes.
	Ack          bool // "Ack":true on a Post: an acknowledgement is wanted
	PostID       int64
	HasPostID    bool
	AckID        int64
	NakCode      NakCode
	HasNakCode   bool
	PostUserInfo Raw
	Message      Raw // the nested message of a Post
	Text         string

	// Generic
	SecSeqNumber int64

	// Payloads.
	Fields     []Field // FieldList in document order; nil when absent
	HasFields  bool
	Elements   Raw // top-level ElementList (Login refresh: MaxMsgSize, PingTimeout)
	Map        Raw
	Vector     Raw
	Series     Raw
	FilterList Raw
	JSON       Raw // "Json" container
	Opaque     Raw
	XML        Raw
	Debug      Raw // Debug object of an Error
	ExtHdr     Raw
	// Other holds the raw bytes of keys this package does not model, so
	// that nothing is lost; nil when there were none. It is a JSON object
	// of those members ({"PlaceHolder":"1"}), and AppendMsg writes its
	// members back into the message.
	Other Raw

	// Raw is the whole message as it appeared in the frame.
	Raw Raw

	// Err is non-nil when this message, though valid JSON, does not fit
	// the protocol (a value of the wrong type, a missing required key, an
	// unknown enumeration value). Its text follows the ADS converter's
	// texts in spec §22 so that an emulator can answer with them.
	Err *MsgError
}

// Streaming reports whether a request asks for a streaming item (default true).
func (m *Msg) Streaming() bool { return !m.NoStreaming }

// WantsRefresh reports whether a request asks for a refresh (default true).
func (m *Msg) WantsRefresh() bool { return !m.NoRefresh }

// Complete reports whether a Refresh, Generic or Post part is the last one (default true).
func (m *Msg) Complete() bool { return !m.NotComplete }

// Solicited reports whether a Refresh answers a request (default true).
func (m *Msg) Solicited() bool { return !m.NotSolicited }

// KeyInUpdates reports whether a request wants the Key in updates (default true).
func (m *Msg) KeyInUpdates() bool { return !m.NoKeyInUpdates }

// ClearsCache applies the per-type default of ClearCache: true on Refresh,
// false on Status (§26.2, §28.2).
func (m *Msg) ClearsCache() bool {
	if m.HasClearCache {
		return m.ClearCache
	}
	return m.Type == TypeRefresh
}

// Reset clears m for reuse, keeping the capacity of its slices.
func (m *Msg) Reset() {
	fields, ids, names, view, vfids := m.Fields[:0], m.IDs[:0], m.Key.Names[:0], m.View[:0], m.ViewFIDs[:0]
	*m = Msg{}
	m.Fields, m.IDs, m.Key.Names, m.View, m.ViewFIDs = fields, ids, names, view, vfids
}

// Field looks up a field by name; it returns nil when absent. Linear:
// messages carry few fields and the scan beats hashing at these sizes.
func (m *Msg) Field(name string) *Field {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return &m.Fields[i]
		}
	}
	return nil
}

// MsgError describes a message that is valid JSON but not a valid
// tr_json2 message (spec §22).
type MsgError struct {
	// ID is the stream ID to report the error on: 0 when the message's ID
	// could not be read.
	ID int64
	// Text is the converter's text, e.g.
	// "JSON Converter Token Type error: Expected 'PRIMITIVE' for key 'ID' Received 'STRING'".
	Text string
	// Offset is the byte offset of the offending token in the frame, or -1
	// when there is none (a missing key).
	Offset int
}

func (e *MsgError) Error() string { return e.Text }
