package trjson

// Wire forms of enumerations beyond the exported tables of enums.go: RWF
// numbers accepted on input (spec table 2.3 via the checklist) and the
// name sets of string-typed enumerations (Qos, Key.NameType).

// msgTypeByRWF maps the RWF message class numbers (Request 1 … Post 8)
// to MsgType; Ping, Pong and Error exist only as strings.
var msgTypeByRWF = [...]MsgType{1: TypeRequest, 2: TypeRefresh, 3: TypeStatus, 4: TypeUpdate,
	5: TypeClose, 6: TypeAck, 7: TypeGeneric, 8: TypePost}

func msgTypeByName(b []byte) (int64, bool) {
	t, ok := ParseMsgType(b)
	return int64(t), ok
}

func msgTypeByNumber(n int64) (int64, bool) {
	if n > 0 && n < int64(len(msgTypeByRWF)) {
		return int64(msgTypeByRWF[n]), true
	}
	return 0, false
}

func domainByNameW(b []byte) (int64, bool) {
	x, ok := ParseDomain(b)
	return int64(x), ok
}

func domainByNumber(n int64) (int64, bool) {
	_, ok := DomainFromNumber(n)
	return n, ok
}

func updateTypeByName(b []byte) (int64, bool) {
	x, ok := ParseUpdateType(b)
	return int64(x), ok
}

func streamByName(b []byte) (int64, bool) {
	x, ok := ParseStreamState(b)
	return int64(x), ok
}

func dataByName(b []byte) (int64, bool) {
	x, ok := ParseDataState(b)
	return int64(x), ok
}

func codeByName(b []byte) (int64, bool) {
	x, ok := ParseStateCode(b)
	return int64(x), ok
}

func codeByNumber(n int64) (int64, bool) {
	if n < 0 || n > 255 {
		return 0, false
	}
	_, ok := stateCodeNames[StateCode(n)]
	return n, ok
}

func nakByName(b []byte) (int64, bool) {
	x, ok := ParseNakCode(b)
	return int64(x), ok
}

// nakByRWF maps RWF NakCode numbers to NakCode (RWF skips 8 and 9).
var nakByRWF = map[int64]NakCode{0: NakNone, 1: NakAccessDenied, 2: NakDeniedBySrc, 3: NakSourceDown,
	4: NakSourceUnknown, 5: NakNoResources, 6: NakNoResponse, 7: NakGatewayDown, 10: NakSymbolUnknown,
	11: NakNotOpen, 12: NakInvalidContent}

func nakByNumber(n int64) (int64, bool) {
	c, ok := nakByRWF[n]
	return int64(c), ok
}

// byIndex returns enumeration parsers for a name table indexed by the
// RWF number.
func byIndex(names []string) (func([]byte) (int64, bool), func(int64) (int64, bool)) {
	return func(b []byte) (int64, bool) {
			for i, n := range names {
				if string(b) == n {
					return int64(i), true
				}
			}
			return 0, false
		}, func(n int64) (int64, bool) {
			return n, n >= 0 && n < int64(len(names))
		}
}

var (
	timelinessNames     = []string{"Unspecified", "Realtime", "DelayedUnknown", "Delayed"}
	rateNames           = []string{"Unspecified", "TickByTick", "JitConflated", "TimeConflated"}
	instrumentNameTypes = []string{"Unspecified", "Ric", "Contributor"}
	loginNameTypes      = []string{"Unspecified", "Name", "EmailAddress", "Token", "Cookie", "AuthnToken"}

	timelinessByName, timelinessByNumber = byIndex(timelinessNames)
	rateByName, rateByNumber             = byIndex(rateNames)
	updateTypeByNumber                   = func(n int64) (int64, bool) { return n, n >= 0 && n < int64(len(updateTypeNames)) }
	streamByNumber                       = func(n int64) (int64, bool) { return n, n >= 0 && n < int64(len(streamStateNames)) }
	dataByNumber                         = func(n int64) (int64, bool) { return n, n >= 0 && n < int64(len(dataStateNames)) }
)

// nameTypeFromNumber resolves a numeric Key.NameType, whose meaning
// depends on the domain (Login has its own table).
func nameTypeFromNumber(n int64, d Domain) (string, bool) {
	t := instrumentNameTypes
	if d == DomainLogin {
		t = loginNameTypes
	}
	if n >= 0 && n < int64(len(t)) {
		return t[n], true
	}
	return "", false
}
