package market

import (
	"math/rand/v2"
	"sync"

	"github.com/ertkit/ertkit/trjson"
)

// The Market Maker domain (§33) of a Nasdaq equity: one Map entry per
// quoting participant, keyed by its market participant ID (a Buffer key),
// carrying its two-sided quote, quote times and registration status.
// Market makers are a Nasdaq institution, so only the universe's Nasdaq
// equities (".O") have them; other instruments answer "not found".

// participant is a quoting participant of the built-in set: its MPID and
// the name as the MKT_MKR_NM field carries it (15 characters at most).
type participant struct {
	id, name string
	// venue: an exchange or ECN quoting the inside market with size,
	// rather than a dealer quoting wide.
	venue bool
}

// participants are the market makers, ECNs and exchanges that quote
// Nasdaq stocks. CTDL, STFL, EGMT and NSDQ are the §33.2 sample's.
var participants = []participant{
	{"ARCX", "NYSE ARCA", true},
	{"BARD", "ROBERT W BAIRD", false},
	{"BATS", "CBOE BZX", true},
	{"BOFA", "BOFA SECURITIES", false},
	{"BTIG", "BTIG LLC", false},
	{"CANT", "CANTOR FITZGERA", false},
	{"CTDL", "CITADEL DERIVAT", false},
	{"DADA", "DA DAVIDSON", false},
	{"EDGX", "CBOE EDGX", true},
	{"EGMT", "EGMT", false},
	{"GSCO", "GOLDMAN SACHS", false},
	{"IEXG", "IEX", true},
	{"JEFF", "JEFFERIES LLC", false},
	{"JPMS", "JP MORGAN SEC", false},
	{"MEMX", "MEMX", true},
	{"MSCO", "MORGAN STANLEY", false},
	{"NSDQ", "NASDAQ", true},
	{"OPCO", "OPPENHEIMER", false},
	{"RAJA", "RAYMOND JAMES", false},
	{"RBCM", "RBC CAPITAL MKT", false},
	{"STFL", "STIFEL NICOLAUS", false},
	{"SUSQ", "SUSQUEHANNA", false},
	{"UBSS", "UBS SECURITIES", false},
	{"VIRT", "VIRTU AMERICAS", false},
	{"WEDB", "WEDBUSH SECURIT", false},
}

// Enumerated display values, as an ADS expands them (the §33.2 sample's
// MM_MODE and MM_STATE are two characters wide: "N ", "A ").
var (
	primaryYes = []byte("Y")
	primaryNo  = []byte("N")
	modeNormal = []byte("N ")
	stateAct   = []byte("A ")
)

// makers holds the quotes of one instrument's market makers. Its own
// lock and sequence numbers: the Market Maker item is its own stream.
type makers struct {
	in *Instrument

	mu     sync.Mutex
	rng    *rand.Rand
	seq    int64
	quotes []*mmQuote // participants order
}

type mmQuote struct {
	p                participant
	primary          bool
	bid, ask         int64 // ticks
	bidSize, askSize int64
	bidMS, askMS     int64 // ms of the day of the last bid / ask change
	actMS            int64 // ms of the day of the last change
	prMS, prDay      int64 // registration (position) time and day
}

func newMakers(in *Instrument, rng *rand.Rand) *makers {
	m := &makers{in: in, rng: rng, seq: 1 + rng.Int64N(10000)}
	st := stampOf(in.clock())
	open := max(st.ms-rng.Int64N(3_600_000), 0)
	for _, p := range participants {
		q := &mmQuote{p: p, primary: rng.IntN(4) != 0, prDay: st.day,
			prMS: max(open-rng.Int64N(3_600_000), 0)}
		m.requote(q, 'B', st)
		m.requote(q, 'A', st)
		q.bidMS, q.askMS = max(st.ms-rng.Int64N(600_000), 0), max(st.ms-rng.Int64N(600_000), 0)
		q.actMS = max(q.bidMS, q.askMS)
		m.quotes = append(m.quotes, q)
	}
	return m
}

// requote sets a new price and size on one side of q: venues quote
// within a few ticks of the reference price with round-lot multiples,
// dealers up to about 4% away with 100 shares, so that the best bid stays
// below the best ask.
func (m *makers) requote(q *mmQuote, side byte, st stamp) {
	center := m.in.close
	var away, size int64
	if q.p.venue {
		away, size = 1+m.rng.Int64N(4), m.in.spec.lot*(1+m.rng.Int64N(20))
	} else {
		away, size = 1+m.rng.Int64N(max(center/25, 2)), m.in.spec.lot*(1+m.rng.Int64N(5))
	}
	if side == 'B' {
		q.bid, q.bidSize, q.bidMS = max(center-away, 1), size, st.ms
	} else {
		q.ask, q.askSize, q.askMS = center+away-1, size, st.ms
	}
	q.actMS = st.ms
}

// fields returns q's full entry, in the §33.2 sample's order.
func (m *makers) fields(q *mmQuote) []trjson.Field {
	primary := primaryNo
	if q.primary {
		primary = primaryYes
	}
	return []trjson.Field{
		trjson.Float("BID", m.in.price(q.bid)),
		trjson.Float("ASK", m.in.price(q.ask)),
		trjson.Int("BIDSIZE", q.bidSize),
		trjson.Int("ASKSIZE", q.askSize),
		trjson.String("MKT_MKR_NM", q.p.name),
		trjson.String("MMID", q.p.id),
		trjson.Int("ASK_TIM_MS", q.askMS),
		trjson.Int("TIMACT_MS", q.actMS),
		trjson.Int("BID_TIM_MS", q.bidMS),
		trjson.Bytes("PRIMARY_MM", primary),
		trjson.Bytes("MM_MODE", modeNormal),
		trjson.Bytes("MM_STATE", stateAct),
		trjson.Int("PR_TIM_MS", q.prMS),
		trjson.Bytes("PR_DATE", dateText(q.prDay)),
	}
}

func (m *makers) summary() []trjson.Field {
	in := m.in
	st := stampOf(in.clock())
	return []trjson.Field{
		trjson.Int("PROD_PERM", prodPerm(in.spec)),
		trjson.Bytes("DSPLY_NAME", []byte(in.spec.display)),
		trjson.Bytes("RDN_EXCHD2", []byte(in.spec.exchange)),
		trjson.Bytes("CURRENCY", []byte(in.spec.currency)),
		trjson.Bytes("ACTIV_DATE", dateText(st.day)),
	}
}

// image returns every participant's quote as Add entries and the
// item's sequence number.
func (m *makers) image() (*trjson.Map, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mp := &trjson.Map{KeyType: "Buffer", HasSummary: true, Summary: m.summary(), CountHint: int64(len(m.quotes))}
	for _, q := range m.quotes {
		mp.Entries = append(mp.Entries, trjson.MapEntry{Action: trjson.MapAdd, Key: q.p.id, Fields: m.fields(q)})
	}
	return mp, m.seq
}

// tick moves one or two participants' quotes (one side or both) and
// returns them as Update entries carrying the changed fields and MMID, as
// the §33.2.3 sample does, with the next sequence number.
func (m *makers) tick() (*trjson.Map, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := stampOf(m.in.clock())
	mp := &trjson.Map{KeyType: "Buffer"}
	for range 1 + m.rng.IntN(2) {
		q := m.quotes[m.rng.IntN(len(m.quotes))]
		var f []trjson.Field
		switch m.rng.IntN(3) {
		case 0:
			m.requote(q, 'B', st)
			f = []trjson.Field{trjson.Float("BID", m.in.price(q.bid)), trjson.Int("BIDSIZE", q.bidSize),
				trjson.Int("BID_TIM_MS", q.bidMS), trjson.Int("TIMACT_MS", q.actMS)}
		case 1:
			m.requote(q, 'A', st)
			f = []trjson.Field{trjson.Float("ASK", m.in.price(q.ask)), trjson.Int("ASKSIZE", q.askSize),
				trjson.Int("ASK_TIM_MS", q.askMS), trjson.Int("TIMACT_MS", q.actMS)}
		default:
			m.requote(q, 'B', st)
			m.requote(q, 'A', st)
			f = []trjson.Field{trjson.Float("BID", m.in.price(q.bid)), trjson.Float("ASK", m.in.price(q.ask)),
				trjson.Int("BIDSIZE", q.bidSize), trjson.Int("ASKSIZE", q.askSize),
				trjson.Int("BID_TIM_MS", q.bidMS), trjson.Int("ASK_TIM_MS", q.askMS), trjson.Int("TIMACT_MS", q.actMS)}
		}
		f = append(f, trjson.String("MMID", q.p.id))
		mp.Entries = append(mp.Entries, trjson.MapEntry{Action: trjson.MapUpdate, Key: q.p.id, Fields: f})
	}
	m.seq++
	return mp, m.seq
}
