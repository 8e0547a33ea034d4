package market

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// ErrNotPostable is returned for a post to an item that takes none (a
// calculated Yield Curve).
var ErrNotPostable = errors.New("item does not accept posts")

// Curve is a Yield Curve item (§34) as an Advanced Transformation Server
// publishes it: a FieldList of the curve's definition, its cash rate
// inputs (CASH_RATES) and its outputs (YLD_CURVE), the last two Vectors
// with one entry per tenor. Methods are safe for concurrent use; returned
// fields own their bytes.
//
// BASIC, the spec's example, is the §34.2 sample's curve: JPY cash rates
// (the JPY= quote, as the sample's are) for the 1M and 3M tenors,
// bootstrapped as the sample's figures are: a cash deposit's discount
// factor is 1/(1 + r·d/360) and its zero rate the annually compounded
// rate over d/360 years, d being the ACT/360 days from settlement to
// maturity (Modified Following).
type Curve struct {
	Name string

	id      int64
	source  string  // CASH_SRC
	cities  string  // CITIES
	tenors  []tenor // vector rows
	created int64   // day of CRT_DATE / MOD_DATE
	clock   func() time.Time

	mu    sync.Mutex
	rng   *rand.Rand
	seq   int64
	rates []int64 // cash rates, in thousandths
}

type tenor struct {
	label  string
	months int
}

// curveSpecs are the built-in curves.
var curveSpecs = []struct {
	name, source, cities string
	level                float64 // cash rate level
	tenors               []tenor
}{
	{"BASIC", "JPY=", "JP", 150.25, []tenor{{"1M", 1}, {"3M", 3}}},
}

func newCurve(i int, seed int64, clock func() time.Time) *Curve {
	sp := curveSpecs[i]
	s := seedFor(seed, sp.name)
	c := &Curve{Name: sp.name, id: int64(i + 1), source: sp.source, cities: sp.cities, tenors: sp.tenors, clock: clock,
		rng: rand.New(rand.NewPCG(uint64(s), uint64(s)^0xc0e7))}
	c.seq = 1 + c.rng.Int64N(10000)
	c.created = stampOf(clock()).day - 365*3 - c.rng.Int64N(365)
	base := int64(math.Round(sp.level * 1000))
	for range sp.tenors {
		c.rates = append(c.rates, base+c.rng.Int64N(41)-20)
	}
	return c
}

// ApplyPost refuses posts: a curve is calculated, not contributed.
func (c *Curve) ApplyPost([]trjson.Field) ([]trjson.Field, int64, error) {
	return nil, 0, ErrNotPostable
}

// PermData is the curve's permission expression (opaque base64).
func (c *Curve) PermData() string { return "AwEA0AybITw=" }

// Image appends the whole curve to dst[:0] and returns it with the
// current sequence number.
func (c *Curve) Image(dst []trjson.Field) ([]trjson.Field, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := stampOf(c.clock())
	trade, settle := st.day, businessDay(st.day+1)
	s := func(name, v string) trjson.Field { return trjson.String(name, v) }
	date := func(name string, day int64) trjson.Field { return trjson.Bytes(name, dateText(day)) }
	dst = append(dst[:0],
		s("CASH_BASIS", "ACT/360"),
		s("CS_INT_MTH", "Linear"),
		date("TRADE_DATE", trade),
		trjson.Bytes("TIMACT", timeMS(st.ms)),
		trjson.Int("CRV_ID", c.id),
		s("CRV_NAME", c.Name),
		trjson.Null("CCY_CODE"),
		s("CRV_TYPE", "Swap"),
		s("CRV_STYPE", "Standard"),
		date("CRV_DATE", settle),
		s("CITIES", c.cities),
		date("VAL_DATE", settle),
		date("SETTL_DATE", settle),
		s("CRV_ALGTHM", "LSEG Real-Time Advanced Transformation System"),
		trjson.Null("INTER_MTHD"),
		trjson.Null("EXTRP_MTHD"),
		s("CC_METHOD", "Bootstrap"),
		s("ROLL_CONV", "Modified Following"),
		s("ZC_BASIS", "ACT/360"),
		trjson.Int("SPOT_LAG", 0),
		s("DSCT_FACT", "Compound"),
		s("DSCT_BASIS", "ACT/360"),
		s("CURVE_STS", "Created"),
		s("USER_ID", "ADMIN"),
		s("MOD_USERID", "ADMIN"),
		date("CRT_DATE", c.created),
		date("MOD_DATE", c.created),
		trjson.Null("COMMENT"),
		s("FWD_BASIS", "ACT/360"),
		s("FT_INT_MTH", "Linear"),
		trjson.RawField("CASH_RATES", c.vector(settle, true, false)),
		trjson.RawField("YLD_CURVE", c.vector(settle, true, true)),
	)
	return dst, c.seq
}

// Tick moves the cash rates (each by -2 to +2 thousandths, at least one
// of them) and appends the update the §34.2.3 sample shows to dst[:0]:
// CRV_ID, TRADE_DATE, TIMACT, every cash rate and every output row.
func (c *Curve) Tick(dst []trjson.Field) (trjson.UpdateType, []trjson.Field, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := stampOf(c.clock())
	moved := false
	for i := range c.rates {
		d := c.rng.Int64N(5) - 2
		if i == len(c.rates)-1 && !moved && d == 0 {
			d = 1
		}
		moved = moved || d != 0
		c.rates[i] = max(c.rates[i]+d, 1)
	}
	c.seq++
	settle := businessDay(st.day + 1)
	dst = append(dst[:0],
		trjson.Int("CRV_ID", c.id),
		trjson.Bytes("TRADE_DATE", dateText(st.day)),
		trjson.Bytes("TIMACT", timeMS(st.ms)),
		trjson.RawField("CASH_RATES", c.vector(settle, false, false)),
		trjson.RawField("YLD_CURVE", c.vector(settle, false, true)),
	)
	return trjson.UpdateUnspecified, dst, c.seq
}

// vector encodes CASH_RATES (outputs false) or YLD_CURVE (outputs true):
// in a refresh (image) with the TENORS summary and Set entries of every
// field, in an update with Update entries of the fields that move (for
// the inputs, the rate only). c.mu held.
func (c *Curve) vector(settle int64, image, outputs bool) trjson.Raw {
	b := make([]byte, 0, 512)
	b = append(b, '{')
	if image {
		b = append(b, `"Summary":{"Fields":{"TENORS":{"Type":"AsciiString","Data":[`...)
		for i, t := range c.tenors {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, t.label)
		}
		b = append(b, `]}}},`...)
	}
	b = append(b, `"Entries":[`...)
	action := `"Update"`
	if image {
		action = `"Set"`
	}
	for i, t := range c.tenors {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"Action":`...)
		b = append(b, action...)
		b = append(b, `,"Fields":{`...)
		rate := float64(c.rates[i]) / 1000
		maturity := modifiedFollowing(addMonths(settle, t.months))
		switch {
		case outputs:
			df, zero := cashDeposit(rate, maturity-settle)
			b = append(b, `"YCT_DATE":"`...)
			b = append(b, dateText(maturity)...)
			b = append(b, `","YCT_ZRATE":`...)
			b = strconv.AppendFloat(b, roundTo(zero, 11), 'f', -1, 64)
			b = append(b, `,"YCT_DISFAC":`...)
			b = strconv.AppendFloat(b, roundTo(df, 14), 'f', -1, 64)
		case image:
			b = append(b, `"CASH_SDATE":"`...)
			b = append(b, dateText(settle)...)
			b = append(b, `","CASH_MDATE":"`...)
			b = append(b, dateText(maturity)...)
			b = append(b, `","CASH_RATE":`...)
			b = strconv.AppendFloat(b, rate, 'f', -1, 64)
			b = append(b, `,"CASH_SRC":`...)
			b = strconv.AppendQuote(b, c.source)
		default:
			b = append(b, `"CASH_RATE":`...)
			b = strconv.AppendFloat(b, rate, 'f', -1, 64)
		}
		b = append(b, `}}`...)
	}
	return append(b, `]}`...)
}

// cashDeposit returns the discount factor and the annually compounded
// zero rate (percent) of a cash deposit at rate percent over days
// (ACT/360).
func cashDeposit(rate float64, days int64) (df, zero float64) {
	t := float64(days) / 360
	df = 1 / (1 + rate/100*t)
	zero = (math.Pow(df, -1/t) - 1) * 100
	return df, zero
}

func roundTo(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// timeMS formats ms of the day as "HH:MM:SS.mmm" (TIMACT of the sample).
func timeMS(ms int64) []byte {
	b := make([]byte, 0, 12)
	b = append(b, hms(int(ms/1000))...)
	b = append(b, '.')
	f := ms % 1000
	return append(b, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

func weekday(day int64) time.Weekday { return time.Unix(day*86400, 0).UTC().Weekday() }

// businessDay is day, or the next Monday for a weekend day.
func businessDay(day int64) int64 {
	for weekday(day) == time.Saturday || weekday(day) == time.Sunday {
		day++
	}
	return day
}

// addMonths is day plus n calendar months, clamped to the month's end.
func addMonths(day int64, n int) int64 {
	t := time.Unix(day*86400, 0).UTC()
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// modifiedFollowing rolls a weekend day forward to Monday, or back to
// Friday when Monday is in the next month.
func modifiedFollowing(day int64) int64 {
	next := businessDay(day)
	if time.Unix(next*86400, 0).UTC().Month() == time.Unix(day*86400, 0).UTC().Month() {
		return next
	}
	for weekday(day) == time.Saturday || weekday(day) == time.Sunday {
		day--
	}
	return day
}
