package market

import "github.com/ertkit/ertkit/dictionary"

// A layout is the ordered field set of one asset class's Market Price image
// (FID order, as an ADS sends it) with the slot of every field that ticks,
// resolved once so that Tick never looks names up.
type layout struct {
	names []string
	index map[string]int // name → slot
	defs  []*dictionary.Def
	slots slots
}

// slots holds the image index of each generated field, or -1 when the
// class does not carry it.
type slots struct {
	trdprc                                    [5]int // TRDPRC_1..5
	bid, bid1, bid2, ask, ask1, ask2          int
	bidSize, askSize, acvol, trdvol           int
	netchng, pctchng, high, low, prctck       int
	tradeDate, activDate, trdtim, saltim      int
	quotim, quotimMS, trdtimMS, saltimMS      int
	exchtim, seqnum, vwap, numMoves, midPrice int
	wk52High, wk52Low, bidHigh, bidLow        int
	bidYield, askYield, timactMS, bidTick1    int
	turnover                                  int
}

var commonHead = []string{"PROD_PERM", "RDNDISPLAY", "DSPLY_NAME", "RDN_EXCHID"}

var classFields = map[Class][]string{
	Equity: {
		"TRDPRC_1", "TRDPRC_2", "TRDPRC_3", "TRDPRC_4", "TRDPRC_5", "NETCHNG_1", "HIGH_1", "LOW_1",
		"PRCTCK_1", "CURRENCY", "TRADE_DATE", "ACTIV_DATE", "TRDTIM_1", "OPEN_PRC", "HST_CLOSE",
		"BID", "BID_1", "BID_2", "ASK", "ASK_1", "ASK_2", "NEWS", "NEWS_TIME", "BIDSIZE", "ASKSIZE",
		"ACVOL_1", "EARNINGS", "YIELD", "PERATIO", "DIVIDENDTP", "DIVPAYDATE", "EXDIVDATE", "BLKCOUNT",
		"BLKVOLUM", "PCTCHNG", "CLOSE_BID", "CLOSE_ASK", "DIVIDEND", "NUM_MOVES", "HSTCLSDATE",
		"YRHIGH", "YRLOW", "TURNOVER", "TRDVOL_1", "LOT_SIZE_A", "RECORDTYPE", "IRGPRC", "IRGVOL",
		"TIMCOR", "SALTIM", "SEQNUM", "QUOTIM", "EXCHTIM", "PREF_DISP", "ADJUST_CLS", "RDN_EXCHD2",
		"OPN_NETCH", "52WK_HIGH", "52WK_LOW", "QUOTE_DATE", "VWAP", "PROV_SYMB", "TRDTIM_MS",
		"SALTIM_MS", "QUOTIM_MS", "TIMACT_MS", "BOOK_STATE",
	},
	Future: {
		"TRDPRC_1", "TRDPRC_2", "TRDPRC_3", "TRDPRC_4", "TRDPRC_5", "NETCHNG_1", "HIGH_1", "LOW_1",
		"PRCTCK_1", "CURRENCY", "TRADE_DATE", "ACTIV_DATE", "TRDTIM_1", "OPEN_PRC", "HST_CLOSE",
		"BID", "BID_1", "BID_2", "ASK", "ASK_1", "ASK_2", "BIDSIZE", "ASKSIZE", "ACVOL_1",
		"CONTR_MNTH", "PCTCHNG", "LOCHIGH", "LOCLOW", "OPINT_1", "OPINTNC", "EXPIR_DATE", "SETTLE",
		"NUM_MOVES", "TRDVOL_1", "SALTIM", "SEQNUM", "QUOTIM", "EXCHTIM", "RDN_EXCHD2", "VWAP",
		"TRDTIM_MS", "SALTIM_MS", "QUOTIM_MS",
	},
	Index: {
		"TRDPRC_1", "TRDPRC_2", "TRDPRC_3", "TRDPRC_4", "TRDPRC_5", "NETCHNG_1", "HIGH_1", "LOW_1",
		"PRCTCK_1", "CURRENCY", "TRADE_DATE", "ACTIV_DATE", "TRDTIM_1", "OPEN_PRC", "HST_CLOSE",
		"PCTCHNG", "HSTCLSDATE", "YRHIGH", "YRLOW", "SALTIM", "EXCHTIM", "RDN_EXCHD2", "52WK_HIGH",
		"52WK_LOW", "TRDTIM_MS", "SALTIM_MS",
	},
	FX: {
		"NETCHNG_1", "HIGH_1", "LOW_1", "CURRENCY", "ACTIV_DATE", "OPEN_PRC", "HST_CLOSE", "BID",
		"BID_1", "BID_2", "ASK", "ASK_1", "ASK_2", "BIDSIZE", "ASKSIZE", "PCTCHNG", "BID_NET_CH",
		"BID_TICK_1", "MID_PRICE", "BID_HIGH_1", "BID_LOW_1", "QUOTIM", "QUOTIM_MS",
	},
	Bond: {
		"NETCHNG_1", "CURRENCY", "ACTIV_DATE", "HST_CLOSE", "BID", "BID_1", "BID_2", "ASK", "ASK_1",
		"ASK_2", "BIDSIZE", "ASKSIZE", "MATUR_DATE", "COUPN_RATE", "PCTCHNG", "BID_YIELD",
		"ASK_YIELD", "MID_PRICE", "QUOTIM", "QUOTIM_MS",
	},
}

var layouts = func() map[Class]*layout {
	m := make(map[Class]*layout, len(classFields))
	for c, names := range classFields {
		m[c] = newLayout(append(append([]string(nil), commonHead...), names...))
	}
	return m
}()

func newLayout(names []string) *layout {
	d := dictionary.Default()
	l := &layout{names: names, index: make(map[string]int, len(names))}
	for i, n := range names {
		def, ok := d.ByName(n)
		if !ok {
			panic("market: field " + n + " is not in the dictionary")
		}
		if _, dup := l.index[n]; dup {
			panic("market: duplicate field " + n)
		}
		l.index[n] = i
		l.defs = append(l.defs, def)
	}
	at := func(n string) int {
		if i, ok := l.index[n]; ok {
			return i
		}
		return -1
	}
	s := &l.slots
	for i := range s.trdprc {
		s.trdprc[i] = at("TRDPRC_" + string(rune('1'+i)))
	}
	s.bid, s.bid1, s.bid2 = at("BID"), at("BID_1"), at("BID_2")
	s.ask, s.ask1, s.ask2 = at("ASK"), at("ASK_1"), at("ASK_2")
	s.bidSize, s.askSize, s.acvol, s.trdvol = at("BIDSIZE"), at("ASKSIZE"), at("ACVOL_1"), at("TRDVOL_1")
	s.netchng, s.pctchng, s.high, s.low, s.prctck = at("NETCHNG_1"), at("PCTCHNG"), at("HIGH_1"), at("LOW_1"), at("PRCTCK_1")
	s.tradeDate, s.activDate, s.trdtim, s.saltim = at("TRADE_DATE"), at("ACTIV_DATE"), at("TRDTIM_1"), at("SALTIM")
	s.quotim, s.quotimMS, s.trdtimMS, s.saltimMS = at("QUOTIM"), at("QUOTIM_MS"), at("TRDTIM_MS"), at("SALTIM_MS")
	s.exchtim, s.seqnum, s.vwap, s.numMoves, s.midPrice = at("EXCHTIM"), at("SEQNUM"), at("VWAP"), at("NUM_MOVES"), at("MID_PRICE")
	s.wk52High, s.wk52Low, s.bidHigh, s.bidLow = at("52WK_HIGH"), at("52WK_LOW"), at("BID_HIGH_1"), at("BID_LOW_1")
	s.bidYield, s.askYield, s.timactMS, s.bidTick1 = at("BID_YIELD"), at("ASK_YIELD"), at("TIMACT_MS"), at("BID_TICK_1")
	s.turnover = at("TURNOVER")
	return l
}
