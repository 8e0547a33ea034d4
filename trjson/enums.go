package trjson

// The enumerations of the WebSocket API. On the wire each is a JSON string
// (what the ADS sends) or, on input, the RWF number (spec table 2.3); both
// forms are accepted by the decoder and the string form is always emitted.

// MsgType is the "Type" attribute of a message. An absent Type means Request.
type MsgType uint8

// Message types (spec §20–§29).
const (
	TypeUnknown MsgType = iota // a Type value this package does not know
	TypeRequest
	TypeRefresh
	TypeUpdate
	TypeStatus
	TypeClose
	TypePost
	TypeAck
	TypeGeneric
	TypeError
	TypePing
	TypePong
)

var msgTypeNames = [...]string{
	TypeUnknown: "", TypeRequest: "Request", TypeRefresh: "Refresh", TypeUpdate: "Update",
	TypeStatus: "Status", TypeClose: "Close", TypePost: "Post", TypeAck: "Ack",
	TypeGeneric: "Generic", TypeError: "Error", TypePing: "Ping", TypePong: "Pong",
}

func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) && t != TypeUnknown {
		return msgTypeNames[t]
	}
	return "Unknown"
}

// ParseMsgType returns the MsgType named s and whether s is a known name.
func ParseMsgType(s []byte) (MsgType, bool) {
	for i := 1; i < len(msgTypeNames); i++ {
		if string(s) == msgTypeNames[i] {
			return MsgType(i), true
		}
	}
	return TypeUnknown, false
}

// Domain is the "Domain" attribute: the RDM message model of a stream. The
// numeric values are those of RWF. An absent Domain means MarketPrice.
type Domain uint8

// Domains (spec §4.2; numbers from RWF).
const (
	DomainUnknown           Domain = 0
	DomainLogin             Domain = 1
	DomainSource            Domain = 4
	DomainDictionary        Domain = 5
	DomainMarketPrice       Domain = 6
	DomainMarketByOrder     Domain = 7
	DomainMarketByPrice     Domain = 8
	DomainMarketMaker       Domain = 9
	DomainSymbolList        Domain = 10
	DomainServiceProvStatus Domain = 11
	DomainHistory           Domain = 12
	DomainHeadline          Domain = 13
	DomainStory             Domain = 14
	DomainReplayHeadline    Domain = 15
	DomainReplayStory       Domain = 16
	DomainTransaction       Domain = 17
	DomainYieldCurve        Domain = 22
	DomainContribution      Domain = 27
	DomainProviderAdmin     Domain = 29
	DomainAnalytics         Domain = 30
	DomainReference         Domain = 31
	DomainNewsTextAnalytics Domain = 33
	DomainEconomicIndicator Domain = 34
	DomainPoll              Domain = 35
	DomainForecast          Domain = 36
	DomainMarketByTime      Domain = 37
	DomainSystem            Domain = 127
)

var domainNames = map[Domain]string{
	DomainLogin: "Login", DomainSource: "Source", DomainDictionary: "Dictionary",
	DomainMarketPrice: "MarketPrice", DomainMarketByOrder: "MarketByOrder",
	DomainMarketByPrice: "MarketByPrice", DomainMarketMaker: "MarketMaker",
	DomainSymbolList: "SymbolList", DomainServiceProvStatus: "ServiceProviderStatus",
	DomainHistory: "History", DomainHeadline: "Headline", DomainStory: "Story",
	DomainReplayHeadline: "ReplayHeadline", DomainReplayStory: "ReplayStory",
	DomainTransaction: "Transaction", DomainYieldCurve: "YieldCurve",
	DomainContribution: "Contribution", DomainProviderAdmin: "ProviderAdmin",
	DomainAnalytics: "Analytics", DomainReference: "Reference",
	DomainNewsTextAnalytics: "NewsTextAnalytics", DomainEconomicIndicator: "EconomicIndicator",
	DomainPoll: "Poll", DomainForecast: "Forecast", DomainMarketByTime: "MarketByTime",
	DomainSystem: "System",
}

var domainByName = func() map[string]Domain {
	m := make(map[string]Domain, len(domainNames))
	for d, n := range domainNames {
		m[n] = d
	}
	return m
}()

func (d Domain) String() string {
	if n, ok := domainNames[d]; ok {
		return n
	}
	return "Unknown"
}

// ParseDomain returns the Domain named s and whether s is a known name.
func ParseDomain(s []byte) (Domain, bool) {
	d, ok := domainByName[string(s)]
	return d, ok
}

// DomainFromNumber returns the Domain with RWF number n and whether it is known.
func DomainFromNumber(n int64) (Domain, bool) {
	if n < 0 || n > 255 {
		return DomainUnknown, false
	}
	_, ok := domainNames[Domain(n)]
	return Domain(n), ok
}

// StreamState is State.Stream.
type StreamState uint8

// Stream states (§26.2; numbers from RWF).
const (
	StreamUnspecified   StreamState = 0
	StreamOpen          StreamState = 1
	StreamNonStreaming  StreamState = 2
	StreamClosedRecover StreamState = 3
	StreamClosed        StreamState = 4
	StreamRedirected    StreamState = 5
)

var streamStateNames = [...]string{"Unspecified", "Open", "NonStreaming", "ClosedRecover", "Closed", "Redirected"}

func (s StreamState) String() string {
	if int(s) < len(streamStateNames) {
		return streamStateNames[s]
	}
	return "Unknown"
}

// ParseStreamState returns the StreamState named s and whether s is known.
func ParseStreamState(s []byte) (StreamState, bool) {
	for i, n := range streamStateNames {
		if string(s) == n {
			return StreamState(i), true
		}
	}
	return 0, false
}

// DataState is State.Data.
type DataState uint8

// Data states (§26.2).
const (
	DataNoChange DataState = 0
	DataOk       DataState = 1
	DataSuspect  DataState = 2
)

var dataStateNames = [...]string{"NoChange", "Ok", "Suspect"}

func (s DataState) String() string {
	if int(s) < len(dataStateNames) {
		return dataStateNames[s]
	}
	return "Unknown"
}

// ParseDataState returns the DataState named s and whether s is known.
func ParseDataState(s []byte) (DataState, bool) {
	for i, n := range dataStateNames {
		if string(s) == n {
			return DataState(i), true
		}
	}
	return 0, false
}

// StateCode is State.Code: informational, never needed for stream handling.
type StateCode uint8

// State codes (§26.2, §28.2; numbers from RWF).
const (
	CodeNone                     StateCode = 0
	CodeNotFound                 StateCode = 1
	CodeTimeout                  StateCode = 2
	CodeNotEntitled              StateCode = 3
	CodeInvalidArgument          StateCode = 4
	CodeUsageError               StateCode = 5
	CodePreempted                StateCode = 6
	CodeJitConflationStarted     StateCode = 7
	CodeRealtimeResumed          StateCode = 8
	CodeFailoverStarted          StateCode = 9
	CodeFailoverCompleted        StateCode = 10
	CodeGapDetected              StateCode = 11
	CodeNoResources              StateCode = 12
	CodeTooManyItems             StateCode = 13
	CodeAlreadyOpen              StateCode = 14
	CodeSourceUnknown            StateCode = 15
	CodeNotOpen                  StateCode = 16
	CodeNonUpdatingItem          StateCode = 19
	CodeUnsupportedViewType      StateCode = 20
	CodeInvalidView              StateCode = 21
	CodeFullViewProvided         StateCode = 22
	CodeUnableToRequestAsBatch   StateCode = 23
	CodeNoBatchViewSupportInReq  StateCode = 26
	CodeExceededMaxMountsPerUser StateCode = 27
	CodeError                    StateCode = 28
	CodeDacsDown                 StateCode = 29
	CodeUserUnknownToPermSys     StateCode = 30
	CodeMaxLoginsReached         StateCode = 31
	CodeUserAccessToAppDenied    StateCode = 32
	CodeGapFill                  StateCode = 34
	CodeAppAuthorizationFailed   StateCode = 35
)

var stateCodeNames = map[StateCode]string{
	CodeNone: "None", CodeNotFound: "NotFound", CodeTimeout: "Timeout", CodeNotEntitled: "NotEntitled",
	CodeInvalidArgument: "InvalidArgument", CodeUsageError: "UsageError", CodePreempted: "Preempted",
	CodeJitConflationStarted: "JitConflationStarted", CodeRealtimeResumed: "RealtimeResumed",
	CodeFailoverStarted: "FailoverStarted", CodeFailoverCompleted: "FailoverCompleted",
	CodeGapDetected: "GapDetected", CodeNoResources: "NoResources", CodeTooManyItems: "TooManyItems",
	CodeAlreadyOpen: "AlreadyOpen", CodeSourceUnknown: "SourceUnknown", CodeNotOpen: "NotOpen",
	CodeNonUpdatingItem: "NonUpdatingItem", CodeUnsupportedViewType: "UnsupportedViewType",
	CodeInvalidView: "InvalidView", CodeFullViewProvided: "FullViewProvided",
	CodeUnableToRequestAsBatch: "UnableToRequestAsBatch", CodeNoBatchViewSupportInReq: "NoBatchViewSupportInReq",
	CodeExceededMaxMountsPerUser: "ExceededMaxMountsPerUser", CodeError: "Error", CodeDacsDown: "DacsDown",
	CodeUserUnknownToPermSys: "UserUnknownToPermSys", CodeMaxLoginsReached: "MaxLoginsReached",
	CodeUserAccessToAppDenied: "UserAccessToAppDenied", CodeGapFill: "GapFill",
	CodeAppAuthorizationFailed: "AppAuthorizationFailed",
}

var stateCodeByName = func() map[string]StateCode {
	m := make(map[string]StateCode, len(stateCodeNames))
	for c, n := range stateCodeNames {
		m[n] = c
	}
	return m
}()

func (c StateCode) String() string {
	if n, ok := stateCodeNames[c]; ok {
		return n
	}
	return "Unknown"
}

// ParseStateCode returns the StateCode named s and whether s is known.
func ParseStateCode(s []byte) (StateCode, bool) {
	c, ok := stateCodeByName[string(s)]
	return c, ok
}

// UpdateType is the "UpdateType" attribute of an Update (§29.2, §30.5).
type UpdateType uint8

// Update types.
const (
	UpdateUnspecified     UpdateType = 0
	UpdateQuote           UpdateType = 1
	UpdateTrade           UpdateType = 2
	UpdateNewsAlert       UpdateType = 3
	UpdateVolumeAlert     UpdateType = 4
	UpdateOrderIndication UpdateType = 5
	UpdateClosingRun      UpdateType = 6
	UpdateCorrection      UpdateType = 7
	UpdateMarketDigest    UpdateType = 8
	UpdateQuotesTrade     UpdateType = 9
	UpdateMultiple        UpdateType = 10
	UpdateVerify          UpdateType = 11
)

var updateTypeNames = [...]string{"Unspecified", "Quote", "Trade", "NewsAlert", "VolumeAlert",
	"OrderIndication", "ClosingRun", "Correction", "MarketDigest", "QuotesTrade", "Multiple", "Verify"}

func (u UpdateType) String() string {
	if int(u) < len(updateTypeNames) {
		return updateTypeNames[u]
	}
	return "Unknown"
}

// ParseUpdateType returns the UpdateType named s and whether s is known.
func ParseUpdateType(s []byte) (UpdateType, bool) {
	for i, n := range updateTypeNames {
		if string(s) == n {
			return UpdateType(i), true
		}
	}
	return 0, false
}

// NakCode is the "NakCode" of a negative Ack (§20.2).
type NakCode uint8

// Nak codes.
const (
	NakNone NakCode = iota
	NakAccessDenied
	NakDeniedBySrc
	NakSourceDown
	NakSourceUnknown
	NakNoResources
	NakNoResponse
	NakGatewayDown
	NakSymbolUnknown
	NakNotOpen
	NakInvalidContent
)

var nakCodeNames = [...]string{"None", "AccessDenied", "DeniedBySrc", "SourceDown", "SourceUnknown",
	"NoResources", "NoResponse", "GatewayDown", "SymbolUnknown", "NotOpen", "InvalidContent"}

func (n NakCode) String() string {
	if int(n) < len(nakCodeNames) {
		return nakCodeNames[n]
	}
	return "Unknown"
}

// ParseNakCode returns the NakCode named s and whether s is known.
func ParseNakCode(s []byte) (NakCode, bool) {
	for i, n := range nakCodeNames {
		if string(s) == n {
			return NakCode(i), true
		}
	}
	return 0, false
}
