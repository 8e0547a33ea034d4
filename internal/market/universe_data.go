package market

// Class is the asset class of an instrument; it decides the field set and
// how the instrument ticks.
type Class uint8

// Asset classes.
const (
	Equity Class = iota
	FX
	Index
	Future
	Bond
)

func (c Class) String() string {
	switch c {
	case Equity:
		return "Equity"
	case FX:
		return "FX"
	case Index:
		return "Index"
	case Future:
		return "Future"
	case Bond:
		return "Bond"
	}
	return "Unknown"
}

// spec is the static description of an instrument. Prices are exact
// decimals: a price is units/denom, and one tick is tickUnits/denom, so
// that 39.71 is 3971/100 and never 39.710000000000001.
type spec struct {
	name, display, currency, exchange string
	class                             Class
	price                             float64 // reference (previous close) price
	denom                             int64   // price denominator
	tickUnits                         int64   // tick size in 1/denom
	lot                               int64   // quantity granularity
}

func eq(name, display, ccy, exch string, price float64, denom, tick, lot int64) spec {
	return spec{name, display, ccy, exch, Equity, price, denom, tick, lot}
}

// The built-in instruments. Display names, exchanges and currencies are the
// usual ones for these RICs; price levels are rough and only set the scale.
var specs = []spec{
	// New York Stock Exchange.
	eq("TRI.N", "THOMSON REUTERS", "USD", "NYS", 170.25, 100, 1, 100),
	eq("IBM.N", "INTL BUS MACHINE", "USD", "NYS", 221.40, 100, 1, 100),
	eq("JPM.N", "JPMORGAN CHASE", "USD", "NYS", 242.10, 100, 1, 100),
	eq("GS.N", "GOLDMAN SACHS GP", "USD", "NYS", 581.30, 100, 1, 100),
	eq("KO.N", "COCA-COLA CO", "USD", "NYS", 70.15, 100, 1, 100),
	eq("MCD.N", "MCDONALD'S CORP", "USD", "NYS", 295.60, 100, 1, 100),
	eq("DIS.N", "WALT DISNEY CO", "USD", "NYS", 111.20, 100, 1, 100),
	eq("WMT.N", "WALMART INC", "USD", "NYS", 90.45, 100, 1, 100),
	eq("JNJ.N", "JOHNSON&JOHNSON", "USD", "NYS", 155.80, 100, 1, 100),
	eq("PG.N", "PROCTER & GAMBLE", "USD", "NYS", 170.05, 100, 1, 100),
	eq("V.N", "VISA INC", "USD", "NYS", 310.75, 100, 1, 100),
	eq("NKE.N", "NIKE INC", "USD", "NYS", 75.30, 100, 1, 100),
	eq("CVX.N", "CHEVRON CORP", "USD", "NYS", 150.90, 100, 1, 100),
	eq("HD.N", "HOME DEPOT INC", "USD", "NYS", 401.10, 100, 1, 100),
	eq("UNH.N", "UNITEDHEALTH GRP", "USD", "NYS", 503.20, 100, 1, 100),
	eq("MRK.N", "MERCK & CO INC", "USD", "NYS", 99.85, 100, 1, 100),
	eq("CAT.N", "CATERPILLAR INC", "USD", "NYS", 381.40, 100, 1, 100),
	eq("BA.N", "BOEING CO", "USD", "NYS", 171.55, 100, 1, 100),
	eq("AXP.N", "AMERICAN EXPRESS", "USD", "NYS", 290.35, 100, 1, 100),
	eq("CRM.N", "SALESFORCE INC", "USD", "NYS", 301.70, 100, 1, 100),
	eq("MMM.N", "3M CO", "USD", "NYS", 130.25, 100, 1, 100),
	eq("TRV.N", "TRAVELERS COS", "USD", "NYS", 250.60, 100, 1, 100),
	eq("VZ.N", "VERIZON COMMS", "USD", "NYS", 42.15, 100, 1, 100),
	eq("SHW.N", "SHERWIN-WILLIAMS", "USD", "NYS", 361.90, 100, 1, 100),
	// The spec's own examples: T.N is in the §6.3 batch (TRI.N, IBM.N,
	// T.N); F.N, WFT.N, NOK.N and S.N are the constituents §35.2.2 shows
	// of the Symbol List .AV.N. WFT.N and S.N are gone from the NYSE since
	// (Weatherford relisted, Sprint merged), so their levels are those of
	// the spec's 2018 samples; the others are today's.
	eq("T.N", "AT&T INC", "USD", "NYS", 22.45, 100, 1, 100),
	eq("F.N", "FORD MOTOR CO", "USD", "NYS", 10.85, 100, 1, 100),
	eq("WFT.N", "WEATHERFORD INTL", "USD", "NYS", 3.05, 100, 1, 100),
	eq("NOK.N", "NOKIA CORP ADR", "USD", "NYS", 4.60, 100, 1, 100),
	eq("S.N", "SPRINT CORP", "USD", "NYS", 5.90, 100, 1, 100),
	// Nasdaq.
	eq("AAPL.O", "APPLE INC", "USD", "NAS", 230.10, 100, 1, 100),
	eq("MSFT.O", "MICROSOFT CP", "USD", "NAS", 420.55, 100, 1, 100),
	eq("GOOGL.O", "ALPHABET INC A", "USD", "NAS", 170.20, 100, 1, 100),
	eq("AMZN.O", "AMAZON.COM INC", "USD", "NAS", 200.40, 100, 1, 100),
	eq("NVDA.O", "NVIDIA CORP", "USD", "NAS", 130.65, 100, 1, 100),
	eq("CSCO.O", "CISCO SYSTEMS", "USD", "NAS", 55.30, 100, 1, 100),
	eq("AMGN.O", "AMGEN INC", "USD", "NAS", 300.15, 100, 1, 100),
	eq("HON.O", "HONEYWELL INTL", "USD", "NAS", 210.80, 100, 1, 100),
	// London Stock Exchange, quoted in pence.
	eq("VOD.L", "VODAFONE GROUP", "GBp", "LSE", 72.50, 100, 2, 1),
	eq("BARC.L", "BARCLAYS", "GBp", "LSE", 230.60, 100, 5, 1),
	eq("HSBA.L", "HSBC HOLDINGS", "GBp", "LSE", 700.40, 10, 1, 1),
	eq("BP.L", "BP", "GBp", "LSE", 410.35, 100, 5, 1),
	eq("SHEL.L", "SHELL", "GBp", "LSE", 2600.5, 2, 1, 1),
	eq("AZN.L", "ASTRAZENECA", "GBp", "LSE", 11000, 1, 2, 1),
	eq("ULVR.L", "UNILEVER", "GBp", "LSE", 4700, 1, 1, 1),
	eq("GSK.L", "GSK", "GBp", "LSE", 1400.5, 2, 1, 1),
	eq("RIO.L", "RIO TINTO", "GBp", "LSE", 5000, 1, 1, 1),
	eq("LLOY.L", "LLOYDS BANKING GP", "GBp", "LSE", 55.12, 100, 2, 1),
	eq("LSEG.L", "LONDON STOCK EXCH", "GBp", "LSE", 10500, 1, 5, 1),
	// Tokyo.
	eq("7203.T", "TOYOTA MOTOR", "JPY", "TYO", 2700, 2, 1, 100),
	eq("6758.T", "SONY GROUP", "JPY", "TYO", 3000, 2, 1, 100),
	eq("9984.T", "SOFTBANK GROUP", "JPY", "TYO", 8500, 1, 1, 100),
	eq("8306.T", "MITSUBISHI UFJ FG", "JPY", "TYO", 1600, 2, 1, 100),
	// Other markets.
	eq("SAPG.DE", "SAP SE", "EUR", "GER", 210.35, 100, 5, 1),
	eq("NESN.S", "NESTLE SA", "CHF", "VTX", 85.24, 100, 2, 1),
	eq("0005.HK", "HSBC HOLDINGS", "HKD", "HKG", 65.40, 100, 5, 400),
	eq("TRI.TO", "THOMSON REUTERS", "CAD", "TOR", 230.40, 100, 1, 100),
	eq("RY.TO", "ROYAL BANK CANADA", "CAD", "TOR", 160.25, 100, 1, 100),

	// FX spot: DSPLY_NAME is the contributor, CURRENCY the quoted currency.
	{"EUR=", "BARCLAYS     LON", "USD", "", FX, 1.0850, 10000, 1, 1},
	{"JPY=", "MIZUHO       TOK", "JPY", "", FX, 150.25, 1000, 1, 1},
	{"GBP=", "HSBC         LON", "USD", "", FX, 1.2700, 10000, 1, 1},
	{"CHF=", "UBS          ZUR", "CHF", "", FX, 0.8800, 10000, 1, 1},
	{"AUD=", "WESTPAC      SYD", "USD", "", FX, 0.6600, 10000, 1, 1},
	{"CAD=", "RBC          TOR", "CAD", "", FX, 1.3600, 10000, 1, 1},
	{"NZD=", "ANZ          WLG", "USD", "", FX, 0.6000, 10000, 1, 1},
	{"CNY=", "BANK OF CHINA", "CNY", "", FX, 7.2500, 10000, 1, 1},
	{"EURJPY=", "COMMERZBANK  FFT", "JPY", "", FX, 163.00, 1000, 1, 1},
	{"EURGBP=", "NATWEST      LON", "GBP", "", FX, 0.8550, 10000, 1, 1},
	{"XAU=", "GOLD SPOT", "USD", "", FX, 2400.00, 100, 1, 100},

	// Indices.
	{".DJI", "DOW JONES INDUS.", "USD", "NYS", Index, 42000.00, 100, 1, 1},
	{".SPX", "S&P 500 INDEX", "USD", "NYS", Index, 5800.00, 100, 1, 1},
	{".IXIC", "NASDAQ COMPOSITE", "USD", "NAS", Index, 18500.00, 100, 1, 1},
	{".FTSE", "FTSE 100 INDEX", "GBP", "LSE", Index, 8300.00, 100, 1, 1},
	{".N225", "NIKKEI 225", "JPY", "TYO", Index, 38500.00, 100, 1, 1},
	{".GDAXI", "DAX INDEX", "EUR", "GER", Index, 19000.00, 100, 1, 1},
	{".HSI", "HANG SENG INDEX", "HKD", "HKG", Index, 20000.00, 100, 1, 1},
	{".STOXX50E", "EURO STOXX 50", "EUR", "EUX", Index, 4900.00, 100, 1, 1},

	// Futures (continuation RICs).
	{"ESc1", "E-MINI S&P 500", "USD", "CME", Future, 5820.00, 4, 1, 1},
	{"CLc1", "LIGHT CRUDE OIL", "USD", "NYM", Future, 75.00, 100, 1, 1},
	{"GCc1", "COMEX GOLD", "USD", "CMX", Future, 2420.0, 10, 1, 1},
	{"FGBLc1", "EURO-BUND", "EUR", "EUX", Future, 131.00, 100, 1, 1},
	{"NKc1", "NIKKEI 225 OSE", "JPY", "OSA", Future, 38500, 1, 10, 1},

	// Government bonds, price quoted in 1/64ths (US) or decimals.
	{"US10YT=RR", "US T-NOTE 10Y", "USD", "", Bond, 98.50, 64, 1, 1},
	{"US2YT=RR", "US T-NOTE 2Y", "USD", "", Bond, 99.75, 128, 1, 1},
	{"US30YT=RR", "US T-BOND 30Y", "USD", "", Bond, 95.25, 64, 1, 1},
	{"DE10YT=RR", "BUND 10Y", "EUR", "", Bond, 101.20, 1000, 1, 1},
	{"GB10YT=RR", "GILT 10Y", "GBP", "", Bond, 97.80, 100, 1, 1},
}

// chains are the Symbol List items: chain name → constituent RICs, all of
// which are in the universe.
var chains = map[string][]string{
	"0#.DJI": {"AAPL.O", "AMGN.O", "AMZN.O", "AXP.N", "BA.N", "CAT.N", "CRM.N", "CSCO.O", "CVX.N",
		"DIS.N", "GS.N", "HD.N", "HON.O", "IBM.N", "JNJ.N", "JPM.N", "KO.N", "MCD.N", "MMM.N",
		"MRK.N", "MSFT.O", "NKE.N", "NVDA.O", "PG.N", "SHW.N", "TRV.N", "UNH.N", "V.N", "VZ.N", "WMT.N"},
	"0#.FTSE": {"AZN.L", "BARC.L", "BP.L", "GSK.L", "HSBA.L", "LLOY.L", "LSEG.L", "RIO.L", "SHEL.L",
		"ULVR.L", "VOD.L"},
	"0#.N225":  {"6758.T", "7203.T", "8306.T", "9984.T"},
	"0#USDFX=": {"AUD=", "CAD=", "CHF=", "CNY=", "EUR=", "GBP=", "JPY=", "NZD="},
	"0#UST":    {"US2YT=RR", "US10YT=RR", "US30YT=RR"},
	// .AV.N is the spec's Symbol List example (§35.2): the NYSE's top 25
	// by volume ("CountHint":25), starting with the four it shows.
	".AV.N": {"F.N", "WFT.N", "NOK.N", "S.N", "T.N", "BA.N", "KO.N", "VZ.N", "JPM.N", "WMT.N", "DIS.N",
		"NKE.N", "CVX.N", "MRK.N", "JNJ.N", "PG.N", "V.N", "GS.N", "IBM.N", "HD.N", "UNH.N", "CAT.N",
		"AXP.N", "CRM.N", "MMM.N"},
}
