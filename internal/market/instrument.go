package market

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// Instrument is one item of the universe. All connections that watch an
// item share its Instrument, so every endpoint serves the same fields with
// the same sequence numbers (hot-standby consumers de-duplicate on them).
// Methods are safe for concurrent use.
//
// Fields handed out (Image, Tick, ApplyPost) may alias immutable text owned
// by the instrument: callers must not modify their Str bytes.
type Instrument struct {
	Name        string // the RIC as requested, "/" included for the delayed twin
	DisplayName string
	Currency    string
	Exchange    string // RDN_EXCHID text; "" for OTC (FX, bonds)
	Class       Class
	Delayed     bool    // the "/" variant: serve with a Delayed Qos
	TickSize    float64 // smallest price increment

	spec  spec
	lay   *layout
	clock func() time.Time

	mu      sync.Mutex
	rng     *rand.Rand
	seq     int64
	img     []trjson.Field // current image, in layout order
	extra   []trjson.Field // posted fields the layout does not carry
	day     int64          // day of the last timestamped event
	bid     int64          // prices in ticks
	ask     int64
	last    int64
	high    int64
	low     int64
	close   int64
	acvol   int64
	tnover  float64 // Σ price × volume, for VWAP
	moves   int64
	exchSeq int64
	wkHigh  int64
	wkLow   int64
	bidHigh int64
	bidLow  int64

	books  *books  // nil for instruments without depth
	makers *makers // Market Maker item; nil but for Nasdaq equities
}

func newInstrument(name string, sp spec, seed int64, clock func() time.Time) *Instrument {
	in := &Instrument{
		Name: name, DisplayName: sp.display, Currency: sp.currency, Exchange: sp.exchange,
		Class: sp.class, Delayed: len(name) > 0 && name[0] == '/',
		TickSize: float64(sp.tickUnits) / float64(sp.denom),
		spec:     sp, lay: layouts[sp.class], clock: clock,
	}
	s := seedFor(seed, sp.name) // the delayed twin ticks exactly like the real-time item
	in.rng = rand.New(rand.NewPCG(uint64(s), uint64(s)^0x9e3779b97f4a7c15))
	in.init()
	if sp.class == Equity {
		in.books = newBooks(in, rand.New(rand.NewPCG(uint64(s)^0xb00c, uint64(s)+1)))
		if sp.exchange == "NAS" {
			in.makers = newMakers(in, rand.New(rand.NewPCG(uint64(s)^0x3a3e, uint64(s)+2)))
		}
	}
	return in
}

// seedFor derives a per-instrument seed (FNV-1a of the name mixed with seed).
func seedFor(seed int64, name string) int64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return int64(h ^ uint64(seed)*0x9e3779b97f4a7c15)
}

// price converts ticks to a decimal price exactly rounded to the tick's precision.
func (in *Instrument) price(ticks int64) float64 {
	return float64(ticks*in.spec.tickUnits) / float64(in.spec.denom)
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func (in *Instrument) size() int64 {
	switch in.Class {
	case FX, Bond:
		return 1 + in.rng.Int64N(20)
	}
	return in.spec.lot * (1 + in.rng.Int64N(50))
}

// init builds the opening image. It runs before the instrument is shared.
func (in *Instrument) init() {
	sp := in.spec
	r := in.rng
	in.close = int64(math.Round(sp.price * float64(sp.denom) / float64(sp.tickUnits)))
	if in.close < 50 {
		in.close = 50
	}
	spread := 1 + r.Int64N(3)
	in.bid = in.close + r.Int64N(11) - 5
	in.ask = in.bid + spread
	in.last = in.bid + r.Int64N(spread+1)
	open := in.close + r.Int64N(9) - 4
	in.high = max(open, in.last, in.bid) + r.Int64N(5)
	in.low = min(open, in.last, in.bid) - r.Int64N(5)
	in.bidHigh, in.bidLow = in.bid+r.Int64N(4), in.bid-r.Int64N(4)
	in.wkHigh = in.high + in.close/5
	in.wkLow = in.low - in.close/5
	if in.Class != Index {
		in.acvol = in.spec.lot * (100 + r.Int64N(10000))
		in.tnover = float64(in.acvol) * in.price(in.last)
		in.moves = 1 + r.Int64N(500)
	}
	in.exchSeq = 1000 + r.Int64N(1_000_000)
	in.seq = 1 + r.Int64N(60000)
	st := stampOf(in.clock())
	in.day = st.day
	today := dateText(st.day)
	prevDay := dateText(st.day - 1)

	in.img = make([]trjson.Field, len(in.lay.names))
	for i, n := range in.lay.names {
		f := trjson.Field{Name: n, Kind: trjson.KindNull}
		switch n {
		case "PROD_PERM":
			f = trjson.Int(n, prodPerm(sp))
		case "RDNDISPLAY":
			f = trjson.Int(n, rdnDisplay(sp.class))
		case "DSPLY_NAME":
			f = trjson.Bytes(n, []byte(sp.display))
		case "RDN_EXCHID", "RDN_EXCHD2":
			if sp.exchange != "" {
				f = trjson.Bytes(n, []byte(sp.exchange))
			}
		case "PROV_SYMB":
			f = trjson.Bytes(n, []byte(sp.name[:indexDot(sp.name)]))
		case "CURRENCY":
			f = trjson.Bytes(n, []byte(sp.currency))
		case "TRDPRC_1":
			f = trjson.Float(n, in.price(in.last))
		case "TRDPRC_2", "TRDPRC_3", "TRDPRC_4", "TRDPRC_5":
			f = trjson.Float(n, in.price(in.last+r.Int64N(3)-1))
		case "NETCHNG_1":
			f = trjson.Float(n, in.price(in.ref()-in.close))
		case "PCTCHNG":
			f = trjson.Float(n, round4(float64(in.ref()-in.close)/float64(in.close)*100))
		case "OPN_NETCH":
			f = trjson.Float(n, in.price(open-in.close))
		case "HIGH_1":
			f = trjson.Float(n, in.price(in.high))
		case "LOW_1":
			f = trjson.Float(n, in.price(in.low))
		case "OPEN_PRC":
			f = trjson.Float(n, in.price(open))
		case "HST_CLOSE", "ADJUST_CLS", "CLOSE_BID", "SETTLE":
			f = trjson.Float(n, in.price(in.close))
		case "CLOSE_ASK":
			f = trjson.Float(n, in.price(in.close+1))
		case "BID", "BID_1", "BID_2":
			f = trjson.Float(n, in.price(in.bid))
		case "ASK", "ASK_1", "ASK_2":
			f = trjson.Float(n, in.price(in.ask))
		case "MID_PRICE":
			f = trjson.Float(n, in.mid())
		case "BID_NET_CH":
			f = trjson.Float(n, in.price(in.bid-in.close))
		case "BID_HIGH_1":
			f = trjson.Float(n, in.price(in.bidHigh))
		case "BID_LOW_1":
			f = trjson.Float(n, in.price(in.bidLow))
		case "BIDSIZE", "ASKSIZE":
			f = trjson.Int(n, in.size())
		case "ACVOL_1":
			f = trjson.Int(n, in.acvol)
		case "TRDVOL_1":
			f = trjson.Int(n, in.size())
		case "NUM_MOVES":
			f = trjson.Int(n, in.moves)
		case "VWAP":
			f = trjson.Float(n, in.vwap())
		case "TURNOVER":
			f = trjson.Float(n, math.Round(in.tnover))
		case "PRCTCK_1", "BID_TICK_1":
			f = trjson.Bytes(n, tickUp)
		case "TRADE_DATE", "ACTIV_DATE", "QUOTE_DATE":
			f = trjson.Bytes(n, today)
		case "HSTCLSDATE":
			f = trjson.Bytes(n, prevDay)
		case "DIVPAYDATE", "EXDIVDATE":
			f = trjson.Bytes(n, dateText(st.day-30-r.Int64N(60)))
		case "EXPIR_DATE":
			f = trjson.Bytes(n, dateText(st.day+20+r.Int64N(60)))
		case "MATUR_DATE":
			f = trjson.Bytes(n, dateText(st.day+365*(2+r.Int64N(28))))
		case "CONTR_MNTH":
			f = trjson.Bytes(n, []byte(time.Unix((st.day+40)*86400, 0).UTC().Format("Jan06")))
		case "TRDTIM_1":
			f = trjson.Bytes(n, hms(st.sec-st.sec%60))
		case "SALTIM", "QUOTIM", "EXCHTIM":
			f = trjson.Bytes(n, hms(st.sec))
		case "TRDTIM_MS", "SALTIM_MS", "QUOTIM_MS", "TIMACT_MS":
			f = trjson.Int(n, st.ms)
		case "SEQNUM":
			f = trjson.Int(n, in.exchSeq)
		case "YRHIGH", "52WK_HIGH", "LOCHIGH":
			f = trjson.Float(n, in.price(in.wkHigh))
		case "YRLOW", "52WK_LOW", "LOCLOW":
			f = trjson.Float(n, in.price(in.wkLow))
		case "EARNINGS":
			f = trjson.Float(n, round4(sp.price/(12+float64(r.IntN(20)))))
		case "PERATIO":
			f = trjson.Float(n, round4(12+20*r.Float64()))
		case "YIELD":
			f = trjson.Float(n, round4(4*r.Float64()))
		case "DIVIDEND":
			f = trjson.Float(n, round4(sp.price*0.01*(1+r.Float64())))
		case "BOOK_STATE":
			f = trjson.Bytes(n, bookNormal)
		case "LOT_SIZE_A":
			f = trjson.Int(n, sp.lot)
		case "RECORDTYPE":
			f = trjson.Int(n, 113)
		case "PREF_DISP":
			f = trjson.Int(n, 5752)
		case "OPINT_1":
			f = trjson.Int(n, 100000+r.Int64N(2_000_000))
		case "OPINTNC":
			f = trjson.Int(n, r.Int64N(20000)-10000)
		case "COUPN_RATE":
			f = trjson.Float(n, float64(1+r.IntN(20))*0.25)
		case "BID_YIELD", "ASK_YIELD":
			f = trjson.Float(n, in.yield(in.bid))
		}
		in.img[i] = f
	}
	if s := in.lay.slots.askYield; s >= 0 {
		in.img[s].Float = in.yield(in.ask)
	}
}

var (
	bookNormal = []byte("N")
	tickUp     = []byte("⇧")
	tickDown   = []byte("⇩")
)

func indexDot(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return i
		}
	}
	return len(s)
}

func prodPerm(sp spec) int64 {
	switch sp.exchange {
	case "NYS":
		return 62
	case "NAS":
		return 3105
	case "LSE":
		return 5625
	case "TYO":
		return 3094
	}
	switch sp.class {
	case FX:
		return 213
	case Bond:
		return 1119
	}
	return 4300
}

func rdnDisplay(c Class) int64 {
	switch c {
	case FX:
		return 153
	case Index:
		return 227
	case Future:
		return 191
	case Bond:
		return 162
	}
	return 64
}

// ref is the price that changes are measured from: last trade, or the bid
// for quote-only instruments.
func (in *Instrument) ref() int64 {
	if in.Class == FX || in.Class == Bond {
		return in.bid
	}
	return in.last
}

func (in *Instrument) mid() float64 {
	return float64((in.bid+in.ask)*in.spec.tickUnits) / float64(2*in.spec.denom)
}

func (in *Instrument) vwap() float64 {
	if in.acvol == 0 {
		return in.price(in.last)
	}
	return round4(in.tnover / float64(in.acvol))
}

// yield is a rough yield for a bond price: coupon-free approximation
// around a 4% par yield with duration 8.
func (in *Instrument) yield(ticks int64) float64 {
	return round4(4 + (100-in.price(ticks))/8)
}

// LastSeq returns the sequence number of the latest image or update.
func (in *Instrument) LastSeq() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.seq
}

// Image appends the full refresh image to dst[:0] and returns it with the
// current sequence number. It does not allocate when dst has capacity for
// the image (FieldCount fields).
func (in *Instrument) Image(dst []trjson.Field) ([]trjson.Field, int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	dst = append(dst[:0], in.img...)
	dst = append(dst, in.extra...)
	return dst, in.seq
}

// FieldCount is the number of fields Image returns.
func (in *Instrument) FieldCount() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.img) + len(in.extra)
}

// Tick advances the instrument one event and appends the fields it changed
// to dst[:0]: a quote (UpdateQuote) or a trade (UpdateTrade). The sequence
// number grows by one per tick. Ripple fields (BID→BID_1→BID_2,
// TRDPRC_1→…→TRDPRC_5) are rippled in the image but not sent: the
// receiver ripples, as DoNotRipple is false. It does not allocate when dst
// has capacity for 24 fields.
func (in *Instrument) Tick(dst []trjson.Field) (trjson.UpdateType, []trjson.Field, int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	dst = dst[:0]
	st := stampOf(in.clock())
	var ut trjson.UpdateType
	switch in.Class {
	case FX, Bond:
		ut = trjson.UpdateQuote
	case Index:
		ut = trjson.UpdateTrade
	default:
		if in.rng.IntN(10) < 7 {
			ut = trjson.UpdateQuote
		} else {
			ut = trjson.UpdateTrade
		}
	}
	if ut == trjson.UpdateQuote {
		dst = in.quote(dst, st)
	} else {
		dst = in.trade(dst, st)
	}
	if st.day != in.day {
		in.day = st.day
		s := &in.lay.slots
		dst = in.setBytes(dst, s.activDate, dateText(st.day))
		if ut == trjson.UpdateTrade {
			dst = in.setBytes(dst, s.tradeDate, dateText(st.day))
		}
	}
	in.seq++
	return ut, dst, in.seq
}

// set stores v in image slot i and appends it to dst; slot -1 (a field the
// class does not carry) is skipped.
func (in *Instrument) set(dst []trjson.Field, i int, v trjson.Field) []trjson.Field {
	if i < 0 {
		return dst
	}
	v.Name = in.img[i].Name
	in.img[i] = v
	return append(dst, v)
}

func (in *Instrument) setFloat(dst []trjson.Field, i int, v float64) []trjson.Field {
	return in.set(dst, i, trjson.Field{Kind: trjson.KindFloat, Float: v})
}

func (in *Instrument) setInt(dst []trjson.Field, i int, v int64) []trjson.Field {
	return in.set(dst, i, trjson.Field{Kind: trjson.KindInt, Int: v})
}

func (in *Instrument) setBytes(dst []trjson.Field, i int, b []byte) []trjson.Field {
	return in.set(dst, i, trjson.Field{Kind: trjson.KindString, Str: b})
}

// ripple shifts slot values down a ripple chain (chain[0] is the field
// about to change) without sending them.
func (in *Instrument) ripple(chain ...int) {
	for k := len(chain) - 1; k > 0; k-- {
		if chain[k] >= 0 && chain[k-1] >= 0 {
			name := in.img[chain[k]].Name
			in.img[chain[k]] = in.img[chain[k-1]]
			in.img[chain[k]].Name = name
		}
	}
}

func (in *Instrument) quote(dst []trjson.Field, st stamp) []trjson.Field {
	r := in.rng
	s := &in.lay.slots
	oldBid := in.bid
	in.bid += r.Int64N(3) - 1
	// Mean-revert gently so a long run stays near the reference level.
	if d := in.bid - in.close; d > in.close/10 || d < -in.close/10 {
		in.bid -= sign(d)
	}
	if in.bid < 1 {
		in.bid = 1
	}
	in.ask = in.bid + 1 + r.Int64N(3)
	in.ripple(s.bid, s.bid1, s.bid2)
	in.ripple(s.ask, s.ask1, s.ask2)
	dst = in.setFloat(dst, s.bid, in.price(in.bid))
	dst = in.setFloat(dst, s.ask, in.price(in.ask))
	dst = in.setInt(dst, s.bidSize, in.size())
	dst = in.setInt(dst, s.askSize, in.size())
	dst = in.setBytes(dst, s.quotim, hms(st.sec))
	dst = in.setInt(dst, s.quotimMS, st.ms)
	if in.Class == FX || in.Class == Bond {
		dst = in.setFloat(dst, s.netchng, in.price(in.bid-in.close))
		dst = in.setFloat(dst, s.pctchng, round4(float64(in.bid-in.close)/float64(in.close)*100))
		dst = in.setFloat(dst, s.midPrice, in.mid())
		if in.bid != oldBid {
			t := tickUp
			if in.bid < oldBid {
				t = tickDown
			}
			dst = in.setBytes(dst, s.bidTick1, t)
		}
		if in.bid > in.bidHigh {
			in.bidHigh = in.bid
			dst = in.setFloat(dst, s.bidHigh, in.price(in.bid))
			dst = in.setFloat(dst, s.high, in.price(in.bid))
		}
		if in.bid < in.bidLow {
			in.bidLow = in.bid
			dst = in.setFloat(dst, s.bidLow, in.price(in.bid))
			dst = in.setFloat(dst, s.low, in.price(in.bid))
		}
		if s.bidYield >= 0 {
			dst = in.setFloat(dst, s.bidYield, in.yield(in.bid))
			dst = in.setFloat(dst, s.askYield, in.yield(in.ask))
		}
	}
	return dst
}

func (in *Instrument) trade(dst []trjson.Field, st stamp) []trjson.Field {
	r := in.rng
	s := &in.lay.slots
	prev := in.last
	if in.Class == Index {
		// An index has no quotes: its value walks on its own.
		in.last += r.Int64N(7) - 3
		if d := in.last - in.close; d > in.close/10 || d < -in.close/10 {
			in.last -= sign(d)
		}
		in.bid, in.ask = in.last, in.last+1 // kept for ref(); not in the image
	} else {
		in.last = in.bid + r.Int64N(in.ask-in.bid+1)
	}
	in.ripple(s.trdprc[0], s.trdprc[1], s.trdprc[2], s.trdprc[3], s.trdprc[4])
	dst = in.setFloat(dst, s.trdprc[0], in.price(in.last))
	if in.Class != Index {
		vol := in.size()
		in.acvol += vol
		in.tnover += float64(vol) * in.price(in.last)
		in.moves++
		in.exchSeq++
		dst = in.setInt(dst, s.trdvol, vol)
		dst = in.setInt(dst, s.acvol, in.acvol)
		dst = in.setFloat(dst, s.vwap, in.vwap())
		dst = in.setInt(dst, s.numMoves, in.moves)
		dst = in.setInt(dst, s.seqnum, in.exchSeq)
		if s.turnover >= 0 {
			dst = in.setFloat(dst, s.turnover, math.Round(in.tnover))
		}
	}
	dst = in.setFloat(dst, s.netchng, in.price(in.last-in.close))
	dst = in.setFloat(dst, s.pctchng, round4(float64(in.last-in.close)/float64(in.close)*100))
	if in.last != prev {
		t := tickUp
		if in.last < prev {
			t = tickDown
		}
		dst = in.setBytes(dst, s.prctck, t)
	}
	if in.last > in.high {
		in.high = in.last
		dst = in.setFloat(dst, s.high, in.price(in.high))
		if in.last > in.wkHigh {
			in.wkHigh = in.last
			dst = in.setFloat(dst, s.wk52High, in.price(in.wkHigh))
		}
	}
	if in.last < in.low {
		in.low = in.last
		dst = in.setFloat(dst, s.low, in.price(in.low))
		if in.last < in.wkLow {
			in.wkLow = in.last
			dst = in.setFloat(dst, s.wk52Low, in.price(in.wkLow))
		}
	}
	dst = in.setBytes(dst, s.trdtim, hms(st.sec-st.sec%60))
	dst = in.setBytes(dst, s.saltim, hms(st.sec))
	dst = in.setBytes(dst, s.exchtim, hms(st.sec))
	dst = in.setInt(dst, s.trdtimMS, st.ms)
	dst = in.setInt(dst, s.saltimMS, st.ms)
	dst = in.setInt(dst, s.timactMS, st.ms)
	return dst
}

func sign(v int64) int64 {
	if v < 0 {
		return -1
	}
	return 1
}
