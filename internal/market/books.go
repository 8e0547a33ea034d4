package market

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"

	"github.com/ertkit/ertkit/trjson"
)

// Book depth bounds: each side keeps between min and max rows, so a book
// always shows plausible depth (10+ levels) and never empties.
const (
	minLevels, maxLevels = 10, 18
	minOrders, maxOrders = 20, 45
)

// books holds an equity's two order books. The Market By Price book is a
// set of aggregated price levels, the Market By Order book a set of orders;
// they are generated independently (each is its own stream with its own
// sequence numbers), around the same fixed centre price so neither crosses.
type books struct {
	in *Instrument

	mu     sync.Mutex
	rng    *rand.Rand
	center int64 // ticks; bids strictly below, asks at or above

	mbpSeq int64
	bidLv  []*level
	askLv  []*level

	mboSeq  int64
	bidOrd  []*order
	askOrd  []*order
	orderNo int64
}

type level struct {
	key   string
	price int64
	noOrd int64
	size  int64
	ms    int64
	day   int64
}

type order struct {
	id    string
	price int64
	size  int64
	ms    int64
	day   int64
}

func newBooks(in *Instrument, rng *rand.Rand) *books {
	b := &books{in: in, rng: rng, center: in.close}
	b.mbpSeq = 1 + rng.Int64N(10000)
	b.mboSeq = 1 + rng.Int64N(10000)
	b.orderNo = 1 + rng.Int64N(1_000_000)
	st := stampOf(in.clock())
	for i := range int64(12) {
		b.bidLv = append(b.bidLv, b.newLevel('B', b.center-1-i, st))
		b.askLv = append(b.askLv, b.newLevel('A', b.center+i, st))
	}
	for range 30 {
		b.bidOrd = append(b.bidOrd, b.newOrder('B', st))
		b.askOrd = append(b.askOrd, b.newOrder('A', st))
	}
	return b
}

func (b *books) newLevel(side byte, price int64, st stamp) *level {
	key := strconv.AppendFloat(make([]byte, 0, 24), b.in.price(price), 'f', 6, 64)
	key = append(key, side)
	return &level{key: string(key), price: price, noOrd: 1 + b.rng.Int64N(12),
		size: b.in.spec.lot * (1 + b.rng.Int64N(200)), ms: st.ms, day: st.day}
}

func (b *books) newOrder(side byte, st stamp) *order {
	b.orderNo++
	id := make([]byte, 0, 20)
	d := dateText(st.day) // YYYY-MM-DD → YYMMDD
	id = append(id, d[2], d[3], d[5], d[6], d[8], d[9])
	n := strconv.FormatInt(b.orderNo, 10)
	for range 12 - len(n) {
		id = append(id, '0')
	}
	id = append(id, n...)
	id = append(id, side)
	price := b.center + b.rng.Int64N(10)
	if side == 'B' {
		price = b.center - 1 - b.rng.Int64N(10)
	}
	return &order{id: string(id), price: price, size: b.in.spec.lot * (1 + b.rng.Int64N(50)), ms: st.ms, day: st.day}
}

func sideText(side byte) []byte {
	if side == 'B' {
		return sideBid
	}
	return sideAsk
}

var (
	sideBid = []byte("BID")
	sideAsk = []byte("ASK")
)

// HasBook reports whether the instrument serves the Map domain kind
// (MarketByPrice, MarketByOrder, MarketMaker).
func (in *Instrument) HasBook(kind trjson.Domain) bool {
	switch kind {
	case trjson.DomainMarketByPrice, trjson.DomainMarketByOrder:
		return in.books != nil
	case trjson.DomainMarketMaker:
		return in.makers != nil
	}
	return false
}

// BookImage returns the whole item of the given Map domain as a Map with
// Add entries and a Summary, and the item's current sequence number: for
// MarketByPrice and MarketByOrder the book (best prices first, bids then
// asks), for MarketMaker one entry per market maker. It returns nil when
// the instrument has no such item. Map keys are plain text; the codec
// base64-encodes Buffer keys.
func (in *Instrument) BookImage(kind trjson.Domain) (*trjson.Map, int64) {
	if !in.HasBook(kind) {
		return nil, 0
	}
	if kind == trjson.DomainMarketMaker {
		return in.makers.image()
	}
	b := in.books
	b.mu.Lock()
	defer b.mu.Unlock()
	m := &trjson.Map{KeyType: "Buffer", HasSummary: true, Summary: b.summary()}
	if kind == trjson.DomainMarketByPrice {
		bids, asks := slices.Clone(b.bidLv), slices.Clone(b.askLv)
		slices.SortFunc(bids, func(x, y *level) int { return int(y.price - x.price) })
		slices.SortFunc(asks, func(x, y *level) int { return int(x.price - y.price) })
		for _, l := range bids {
			m.Entries = append(m.Entries, b.levelEntry(trjson.MapAdd, 'B', l))
		}
		for _, l := range asks {
			m.Entries = append(m.Entries, b.levelEntry(trjson.MapAdd, 'A', l))
		}
		m.CountHint = int64(len(m.Entries))
		return m, b.mbpSeq
	}
	bids, asks := slices.Clone(b.bidOrd), slices.Clone(b.askOrd)
	slices.SortStableFunc(bids, func(x, y *order) int { return int(y.price - x.price) })
	slices.SortStableFunc(asks, func(x, y *order) int { return int(x.price - y.price) })
	for _, o := range bids {
		m.Entries = append(m.Entries, b.orderEntry(trjson.MapAdd, 'B', o))
	}
	for _, o := range asks {
		m.Entries = append(m.Entries, b.orderEntry(trjson.MapAdd, 'A', o))
	}
	m.CountHint = int64(len(m.Entries))
	return m, b.mboSeq
}

func (b *books) summary() []trjson.Field {
	in := b.in
	st := stampOf(in.clock())
	return []trjson.Field{
		trjson.Int("PROD_PERM", prodPerm(in.spec)),
		trjson.Bytes("DSPLY_NAME", []byte(in.spec.display)),
		trjson.Bytes("CURRENCY", []byte(in.spec.currency)),
		trjson.Bytes("ACTIV_DATE", dateText(st.day)),
		trjson.Int("TIMACT_MS", st.ms),
		trjson.Bytes("BOOK_STATE", bookNormal),
	}
}

func (b *books) levelEntry(a trjson.MapAction, side byte, l *level) trjson.MapEntry {
	e := trjson.MapEntry{Action: a, Key: l.key}
	switch a {
	case trjson.MapAdd:
		e.Fields = []trjson.Field{
			trjson.Float("ORDER_PRC", b.in.price(l.price)),
			trjson.Bytes("ORDER_SIDE", sideText(side)),
			trjson.Int("NO_ORD", l.noOrd),
			trjson.Int("ACC_SIZE", l.size),
			trjson.Int("LV_TIM_MS", l.ms),
			trjson.Bytes("LV_DATE", dateText(l.day)),
		}
	case trjson.MapUpdate:
		e.Fields = []trjson.Field{
			trjson.Int("NO_ORD", l.noOrd),
			trjson.Int("ACC_SIZE", l.size),
			trjson.Int("LV_TIM_MS", l.ms),
			trjson.Bytes("LV_DATE", dateText(l.day)),
		}
	}
	return e
}

func (b *books) orderEntry(a trjson.MapAction, side byte, o *order) trjson.MapEntry {
	e := trjson.MapEntry{Action: a, Key: o.id}
	switch a {
	case trjson.MapAdd:
		e.Fields = []trjson.Field{
			trjson.String("ORDER_ID", o.id),
			trjson.Float("ORDER_PRC", b.in.price(o.price)),
			trjson.Bytes("ORDER_SIDE", sideText(side)),
			trjson.Int("ORDER_SIZE", o.size),
			trjson.Int("PR_TIM_MS", o.ms),
			trjson.Bytes("PR_DATE", dateText(o.day)),
		}
	case trjson.MapUpdate:
		e.Fields = []trjson.Field{trjson.Int("ORDER_SIZE", o.size)}
	}
	return e
}

// BookTick advances the item of the given Map domain by one to three
// events and returns them as Map entries (Add only for new keys, Update
// and Delete only for existing keys) with the item's new sequence number
// (one more per call). It returns nil when the instrument has no such
// item.
func (in *Instrument) BookTick(kind trjson.Domain) (*trjson.Map, int64) {
	if !in.HasBook(kind) {
		return nil, 0
	}
	if kind == trjson.DomainMarketMaker {
		return in.makers.tick()
	}
	b := in.books
	b.mu.Lock()
	defer b.mu.Unlock()
	st := stampOf(in.clock())
	m := &trjson.Map{KeyType: "Buffer"}
	n := 1 + b.rng.IntN(3)
	if kind == trjson.DomainMarketByPrice {
		for range n {
			m.Entries = append(m.Entries, b.levelEvent(st))
		}
		b.mbpSeq++
		return m, b.mbpSeq
	}
	for range n {
		m.Entries = append(m.Entries, b.orderEvent(st))
	}
	b.mboSeq++
	return m, b.mboSeq
}

func (b *books) levelEvent(st stamp) trjson.MapEntry {
	side := byte('B')
	lv := &b.bidLv
	if b.rng.IntN(2) == 1 {
		side, lv = 'A', &b.askLv
	}
	op := b.rng.IntN(10)
	switch {
	case op >= 8 && len(*lv) > minLevels: // delete a level
		i := b.rng.IntN(len(*lv))
		l := (*lv)[i]
		*lv = slices.Delete(*lv, i, i+1)
		return trjson.MapEntry{Action: trjson.MapDelete, Key: l.key}
	case op >= 6 && len(*lv) < maxLevels: // add a level at a free price
		for range 8 {
			p := b.center + b.rng.Int64N(25)
			if side == 'B' {
				p = b.center - 1 - b.rng.Int64N(25)
			}
			if !slices.ContainsFunc(*lv, func(l *level) bool { return l.price == p }) {
				l := b.newLevel(side, p, st)
				*lv = append(*lv, l)
				return b.levelEntry(trjson.MapAdd, side, l)
			}
		}
	}
	l := (*lv)[b.rng.IntN(len(*lv))]
	l.noOrd = max(1, l.noOrd+b.rng.Int64N(5)-2)
	l.size = max(b.in.spec.lot, l.size+b.in.spec.lot*(b.rng.Int64N(41)-20))
	l.ms, l.day = st.ms, st.day
	return b.levelEntry(trjson.MapUpdate, side, l)
}

func (b *books) orderEvent(st stamp) trjson.MapEntry {
	side := byte('B')
	os := &b.bidOrd
	if b.rng.IntN(2) == 1 {
		side, os = 'A', &b.askOrd
	}
	op := b.rng.IntN(10)
	switch {
	case op >= 7 && len(*os) > minOrders: // cancel or fill
		i := b.rng.IntN(len(*os))
		o := (*os)[i]
		*os = slices.Delete(*os, i, i+1)
		return trjson.MapEntry{Action: trjson.MapDelete, Key: o.id}
	case op >= 4 && len(*os) < maxOrders: // new order (ids never repeat)
		o := b.newOrder(side, st)
		*os = append(*os, o)
		return b.orderEntry(trjson.MapAdd, side, o)
	}
	o := (*os)[b.rng.IntN(len(*os))] // partial fill or amend down keeps priority
	if o.size > b.in.spec.lot {
		o.size -= b.in.spec.lot * (1 + b.rng.Int64N(o.size/b.in.spec.lot))
		o.size = max(o.size, b.in.spec.lot)
	} else {
		o.size += b.in.spec.lot
	}
	return b.orderEntry(trjson.MapUpdate, side, o)
}
