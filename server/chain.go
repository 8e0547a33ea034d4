package server

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"

	"github.com/ertkit/ertkit/trjson"
)

// Symbol List changes (§35.5: "updates add/remove symbols"). A watched
// chain changes every Config.SymbolListChangeEvery ticks: one constituent
// is removed (Map Delete) or one removed earlier comes back (Map Add).
// Only names that were constituents are ever added, so a consumer
// expanding the chain always subscribes to instruments that exist. The
// choices come from a generator seeded with Config.Seed and the chain's
// name: the same seed gives the same sequence of changes, and one state
// per chain feeds every endpoint, so a hot-standby pair sees the same
// list.

type chainState struct {
	members []string // current constituents, in list order
	removed []string // constituents taken out, candidates to add back
	rng     *rand.Rand
	ticks   int
	seq     int64
}

func newChainState(seed int64, name string, members []string) *chainState {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &chainState{members: slices.Clone(members), rng: rand.New(rand.NewPCG(uint64(seed), h.Sum64())), seq: 1}
}

// tick advances the chain by one tick; it returns the Map of an update
// when the list changed this tick, nil otherwise.
func (cs *chainState) tick(every int) *trjson.Map {
	if every <= 0 {
		return nil
	}
	cs.ticks++
	if cs.ticks%every != 0 {
		return nil
	}
	add := len(cs.removed) > 0 && (len(cs.members) <= 1 || cs.rng.IntN(2) == 0)
	if !add && len(cs.members) == 0 {
		return nil
	}
	var e trjson.MapEntry
	if add {
		i := cs.rng.IntN(len(cs.removed))
		e = trjson.MapEntry{Action: trjson.MapAdd, Key: cs.removed[i]}
		cs.removed = slices.Delete(cs.removed, i, i+1)
		cs.members = append(cs.members, e.Key)
	} else {
		i := cs.rng.IntN(len(cs.members))
		e = trjson.MapEntry{Action: trjson.MapDelete, Key: cs.members[i]}
		cs.members = slices.Delete(cs.members, i, i+1)
		cs.removed = append(cs.removed, e.Key)
	}
	cs.seq++
	return &trjson.Map{KeyType: "Buffer", Entries: []trjson.MapEntry{e}}
}
