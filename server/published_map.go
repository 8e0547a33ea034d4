package server

import (
	"slices"

	"github.com/ertkit/ertkit/trjson"
)

// Published items of the Map domains (MarketByPrice, MarketByOrder,
// MarketMaker, SymbolList): the hub keeps the book as a map of entries,
// applies each Refresh part and Update (Add, Update, Delete) to it, and
// serves a new stream the whole book as a (multi-part) Refresh of Add
// entries; Updates are fanned out as received.

// mapDomain reports whether published items of d carry a Map.
func mapDomain(d trjson.Domain) bool {
	switch d {
	case trjson.DomainMarketByPrice, trjson.DomainMarketByOrder, trjson.DomainMarketMaker, trjson.DomainSymbolList:
		return true
	}
	return false
}

// bookCache is the cached Map of a published item. Guarded by Hub.mu.
type bookCache struct {
	keyType         string
	keyFieldID      int64
	summary         []trjson.Field
	hasSummary      bool
	summaryElements bool
	order           []string // keys in arrival order; deleted keys removed lazily
	entries         map[string]*trjson.MapEntry
	dead            int // deleted keys still in order
}

func (b *bookCache) reset() {
	*b = bookCache{entries: map[string]*trjson.MapEntry{}}
}

// apply merges mp (decoded, not aliasing anything) into the book.
func (b *bookCache) apply(mp *trjson.Map) {
	if b.entries == nil {
		b.reset()
	}
	if mp.KeyType != "" {
		b.keyType, b.keyFieldID = mp.KeyType, mp.KeyFieldID
	}
	if mp.HasSummary {
		b.summary = mergeFields(b.summary, mp.Summary)
		b.hasSummary, b.summaryElements = true, mp.SummaryElements
	}
	for i := range mp.Entries {
		e := mp.Entries[i]
		old := b.entries[e.Key]
		switch e.Action {
		case trjson.MapDelete:
			if old != nil {
				delete(b.entries, e.Key)
				b.dead++
			}
		case trjson.MapUpdate:
			if old != nil {
				old.Fields = mergeFields(old.Fields, e.Fields)
				if e.PermData != "" {
					old.PermData = e.PermData
				}
				continue
			}
			e.Action = trjson.MapAdd
			fallthrough
		default:
			e.Action = trjson.MapAdd
			if old == nil {
				b.order = append(b.order, e.Key)
			}
			b.entries[e.Key] = &e
		}
	}
	if b.dead > 64 && b.dead > len(b.order)/2 {
		b.order = slices.DeleteFunc(b.order, func(k string) bool { return b.entries[k] == nil })
		b.dead = 0
	}
}

// image is the whole book as Add entries.
func (b *bookCache) image() *trjson.Map {
	mp := &trjson.Map{KeyType: b.keyType, KeyFieldID: b.keyFieldID, Summary: b.summary, HasSummary: b.hasSummary,
		SummaryElements: b.summaryElements}
	if mp.KeyType == "" {
		mp.KeyType = "Buffer"
	}
	seen := make(map[string]bool, len(b.entries))
	for _, k := range b.order {
		if e := b.entries[k]; e != nil && !seen[k] {
			seen[k] = true
			mp.Entries = append(mp.Entries, *e)
		}
	}
	return mp
}

// sourceBookLocked queues the (multi-part) Refresh of a Map item for s.
// Hub.mu held.
func (c *conn) sourceBookLocked(s *sub, base trjson.Msg) {
	src := s.item.src
	base.State = src.state
	if !s.streaming && base.State.Stream == trjson.StreamOpen {
		base.State.Stream = trjson.StreamNonStreaming
	}
	if s.domain != trjson.DomainSymbolList {
		base.Qos = src.qos
		if base.Qos == nil {
			base.Qos = c.qos(s.name)
		}
		base.PermData = src.perm
	}
	base.SeqNumber, base.HasSeqNumber = src.seq, src.hasSeq
	c.pushParts(base, src.book.image())
}
