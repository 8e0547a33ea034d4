package consumer

import (
	"hash/maphash"
	"math"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// dedupState de-duplicates one item's messages arriving on the two
// connections of a hot-standby pair: by SeqNumber when present, else by
// content within a time window (the first arrival wins).
type dedupState struct {
	hasSeq      bool
	lastSeq     int64
	lastRefresh bool
	lastPart    int64
	recent      map[uint64]time.Time
}

var dedupSeed = maphash.MakeSeed()

// admit reports whether m is new.
func (d *dedupState) admit(m *trjson.Msg, window time.Duration, now time.Time) bool {
	if m.HasSeqNumber {
		isRefresh := m.Type == trjson.TypeRefresh
		if !d.hasSeq {
			d.hasSeq, d.lastSeq, d.lastRefresh, d.lastPart = true, m.SeqNumber, isRefresh, m.PartNumber
			return true
		}
		// Sequence numbers are unsigned 32-bit on the wire and wrap.
		diff := int32(uint32(m.SeqNumber) - uint32(d.lastSeq))
		switch {
		case diff > 0:
		case diff == 0 && isRefresh && d.lastRefresh && m.PartNumber > d.lastPart:
		case diff < -1<<20: // far behind: the provider restarted its sequence
		default:
			return false
		}
		d.lastSeq, d.lastRefresh, d.lastPart = m.SeqNumber, isRefresh, m.PartNumber
		return true
	}
	h := contentHash(m)
	if d.recent == nil {
		d.recent = make(map[uint64]time.Time)
	}
	if len(d.recent) > 64 {
		for k, t := range d.recent {
			if now.Sub(t) > window {
				delete(d.recent, k)
			}
		}
	}
	if t, ok := d.recent[h]; ok && now.Sub(t) <= window {
		delete(d.recent, h) // each message comes at most twice
		return false
	}
	d.recent[h] = now
	return true
}

// contentHash hashes what the two connections send identically: type,
// state and payload (not the per-connection stream ID).
func contentHash(m *trjson.Msg) uint64 {
	var h maphash.Hash
	h.SetSeed(dedupSeed)
	h.WriteByte(byte(m.Type))
	h.WriteByte(byte(m.State.Stream))
	h.WriteByte(byte(m.State.Data))
	h.WriteString(m.State.Text)
	var b [8]byte
	for _, f := range m.Fields {
		h.WriteString(f.Name)
		h.WriteByte(byte(f.Kind))
		u := uint64(f.Int) ^ math.Float64bits(f.Float)
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		h.Write(b[:])
		h.Write(f.Str)
	}
	h.Write(m.Map)
	h.Write(m.Elements)
	return h.Sum64()
}
