package server

import (
	"strings"

	"github.com/ertkit/ertkit/trjson"
)

// Request Qos / WorstQos (§27.2, checklist P16.1, P5.9). Every item has
// one QoS (see conn.qos). A request with Qos alone accepts exactly that
// QoS; with Qos and WorstQos, any QoS from Qos (best) down to WorstQos
// (worst); with neither, anything. A request that cannot be met gets a
// Status Closed and no stream.
//
// The State.Code of that Status is NotEntitled: of the codes in §26.2 /
// §28.2 it is the only one whose definition covers QoS ("does not have
// permission … to receive data at the requested Quality of Service"); on
// RTO the QoS a user gets (real-time or delayed) is indeed a matter of
// entitlement. InvalidArgument would claim the request was malformed,
// which it is not.

// qosUnavailableText is the State.Text of that Status [EMU].
const qosUnavailableText = "Requested QoS is not available for this item"

// Ranks, lower is better. Unspecified (0) in a request matches anything
// on that axis, as does a zero RateInfo / TimeInfo.
func timelinessRank(q *trjson.Qos) (rank int, info int64) {
	switch q.Timeliness {
	case "Realtime":
		return 1, 0
	case "Delayed":
		return 2, q.TimeInfo
	case "DelayedUnknown":
		return 3, 0
	}
	return 0, 0
}

func rateRank(q *trjson.Qos) (rank int, info int64) {
	switch q.Rate {
	case "TickByTick":
		return 1, 0
	case "JitConflated":
		return 2, 0
	case "TimeConflated":
		return 3, q.RateInfo
	}
	return 0, 0
}

// cmpAxis compares the item's (rank, info) with a bound's: -1 item
// better, 0 equal (or the bound leaves it open), +1 item worse.
func cmpAxis(ir int, ii int64, br int, bi int64) int {
	if br == 0 || ir == 0 {
		return 0
	}
	switch {
	case ir < br:
		return -1
	case ir > br:
		return 1
	case bi == 0 || ii == bi:
		return 0
	case ii < bi:
		return -1
	}
	return 1
}

// qosAcceptable reports whether an item of QoS item satisfies a request's
// Qos (best) and WorstQos (worst); nil bounds are open.
func qosAcceptable(item, best, worst *trjson.Qos) bool {
	if best == nil && worst == nil {
		return true
	}
	it, ii := timelinessRank(item)
	ir, iri := rateRank(item)
	if worst == nil { // Qos alone: the only acceptable QoS
		bt, bti := timelinessRank(best)
		br, bri := rateRank(best)
		return cmpAxis(it, ii, bt, bti) == 0 && cmpAxis(ir, iri, br, bri) == 0
	}
	// A range: "any Quality of Service within the range is acceptable"
	// (§27.2), bounds included, on each axis.
	if best != nil {
		bt, bti := timelinessRank(best)
		br, bri := rateRank(best)
		if cmpAxis(it, ii, bt, bti) < 0 || cmpAxis(ir, iri, br, bri) < 0 {
			return false
		}
	}
	wt, wti := timelinessRank(worst)
	wr, wri := rateRank(worst)
	return cmpAxis(it, ii, wt, wti) <= 0 && cmpAxis(ir, iri, wr, wri) <= 0
}

// qos is the QoS of an item: delayed for "/" names, conflated when the
// endpoint conflates, real-time tick-by-tick otherwise.
func (c *conn) qos(name string) *trjson.Qos {
	q := &trjson.Qos{Timeliness: "Realtime", Rate: "TickByTick"}
	if c.cfg.Conflate {
		q.Rate, q.RateInfo = "TimeConflated", 1000
	}
	if strings.HasPrefix(name, "/") {
		q.Timeliness, q.TimeInfo = "Delayed", 900
	}
	return q
}
