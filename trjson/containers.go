package trjson

// Map is a decoded Map container (§14): the payload of MarketByPrice,
// MarketByOrder, MarketMaker, SymbolList and Source Directory messages.
type Map struct {
	KeyType    string // a primitive type name, e.g. "Buffer", "UInt", "AsciiString"
	KeyFieldID int64
	CountHint  int64
	// Summary holds Summary.Fields (or Summary.Elements, then
	// SummaryElements is true) when present.
	Summary         []Field
	HasSummary      bool
	SummaryElements bool
	Entries         []MapEntry
}

// MapAction is the Action of a Map entry.
type MapAction uint8

// Map entry actions (§14.1).
const (
	MapAdd MapAction = iota + 1
	MapUpdate
	MapDelete
)

func (a MapAction) String() string {
	switch a {
	case MapAdd:
		return "Add"
	case MapUpdate:
		return "Update"
	case MapDelete:
		return "Delete"
	}
	return "Unknown"
}

// MapEntry is one entry of a Map.
type MapEntry struct {
	Action MapAction
	// Key is the entry key as text: for KeyType Buffer the base64 is
	// decoded ("Ri5O" → "F.N"); numbers are in decimal.
	Key      string
	PermData string
	// Fields holds the entry's FieldList, or its ElementList when
	// Elements is true. Delete entries carry none.
	Fields   []Field
	Elements bool
}
