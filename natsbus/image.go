package natsbus

import (
	"fmt"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// image is the merged last value of one item as the publisher keeps it:
// the Refresh fields with later Updates applied (for Map domains, the
// book: Summary fields and entries by key), the item state, the last
// SeqNumber and the updates-stream sequence of the last message folded in.
// It is owned by the publisher's worker goroutine.
type image struct {
	key       Key
	state     trjson.State
	hasState  bool
	seq       int64
	hasSeq    bool
	streamSeq uint64 // updates-stream sequence of the last message applied

	// Publisher bookkeeping.
	stale   int       // messages of the item lost since the last Refresh
	dirty   bool      // changed since the last write
	urgent  bool      // write with the next flush (Refresh, Status, loss)
	written time.Time // last write

	fields map[string]trjson.Field
	order  []string // field names in first-seen order, for a stable payload

	// Map domains.
	hasMap     bool
	keyType    string
	keyFieldID int64
	summary    map[string]trjson.Field
	sumOrder   []string
	entries    map[string][]trjson.Field
	entryOrder []string
}

func newImage(k Key) *image {
	return &image{key: k, fields: map[string]trjson.Field{}}
}

func (im *image) reset() {
	clear(im.fields)
	im.order = im.order[:0]
	im.hasMap = false
	clear(im.summary)
	im.sumOrder = im.sumOrder[:0]
	clear(im.entries)
	im.entryOrder = im.entryOrder[:0]
}

// apply folds one decoded message, stored at streamSeq, into the image,
// with the consumer's cache rules: a Refresh (first part) or an explicit
// ClearCache empties it, DoNotCache fields are not kept, Update fields
// overwrite, Map entries are added, updated and deleted by key.
func (im *image) apply(m *trjson.Msg, streamSeq uint64) error {
	if streamSeq > im.streamSeq {
		im.streamSeq = streamSeq
	}
	if m.ClearsCache() && (m.Type != trjson.TypeRefresh || m.PartNumber == 0) {
		im.reset()
	}
	if m.HasState {
		st := m.State
		if st.Data == trjson.DataNoChange {
			st.Data = im.state.Data
		}
		im.state, im.hasState = st, true
	}
	if m.HasSeqNumber {
		im.seq, im.hasSeq = m.SeqNumber, true
	}
	if m.HasFields && !m.DoNotCache {
		im.merge(m.Fields)
	}
	if len(m.Map) > 0 && !m.DoNotCache {
		mp, err := trjson.DecodeMap(m.Map)
		if err != nil {
			return fmt.Errorf("natsbus: %s: Map: %w", im.key, err)
		}
		im.applyMap(mp)
	}
	return nil
}

func (im *image) merge(fs []trjson.Field) {
	for _, f := range fs {
		if _, ok := im.fields[f.Name]; !ok {
			im.order = append(im.order, f.Name)
		}
		im.fields[f.Name] = f.Clone()
	}
}

func (im *image) applyMap(mp *trjson.Map) {
	if !im.hasMap {
		im.hasMap = true
		if im.summary == nil {
			im.summary, im.entries = map[string]trjson.Field{}, map[string][]trjson.Field{}
		}
	}
	if mp.KeyType != "" {
		im.keyType, im.keyFieldID = mp.KeyType, mp.KeyFieldID
	}
	for _, f := range mp.Summary {
		if _, ok := im.summary[f.Name]; !ok {
			im.sumOrder = append(im.sumOrder, f.Name)
		}
		im.summary[f.Name] = f.Clone()
	}
	for _, e := range mp.Entries {
		cur, exists := im.entries[e.Key]
		switch e.Action {
		case trjson.MapDelete:
			if exists {
				delete(im.entries, e.Key)
				for i, k := range im.entryOrder {
					if k == e.Key {
						im.entryOrder = append(im.entryOrder[:i], im.entryOrder[i+1:]...)
						break
					}
				}
			}
			continue
		case trjson.MapAdd:
			cur = cur[:0:0]
		}
		for _, f := range e.Fields {
			replaced := false
			for i := range cur {
				if cur[i].Name == f.Name {
					cur[i], replaced = f.Clone(), true
					break
				}
			}
			if !replaced {
				cur = append(cur, f.Clone())
			}
		}
		if !exists {
			im.entryOrder = append(im.entryOrder, e.Key)
		}
		im.entries[e.Key] = cur
	}
}

// encode appends the image as one tr_json2 Refresh message (complete,
// solicited, ClearCache implied), which a subscriber decodes like any
// other message.
func (im *image) encode(dst []byte) []byte {
	m := trjson.Msg{Type: trjson.TypeRefresh, Domain: im.key.Domain,
		Key: trjson.Key{Name: im.key.Name, Service: im.key.Service}, HasKey: true,
		State: im.state, HasState: im.hasState, SeqNumber: im.seq, HasSeqNumber: im.hasSeq}
	if len(im.order) > 0 || !im.hasMap {
		m.HasFields = true
		m.Fields = make([]trjson.Field, 0, len(im.order))
		for _, n := range im.order {
			m.Fields = append(m.Fields, im.fields[n])
		}
	}
	if im.hasMap {
		mp := trjson.Map{KeyType: im.keyType, KeyFieldID: im.keyFieldID}
		if mp.KeyType == "" {
			mp.KeyType = "Buffer"
		}
		if len(im.sumOrder) > 0 {
			mp.HasSummary = true
			for _, n := range im.sumOrder {
				mp.Summary = append(mp.Summary, im.summary[n])
			}
		}
		for _, k := range im.entryOrder {
			mp.Entries = append(mp.Entries, trjson.MapEntry{Action: trjson.MapAdd, Key: k, Fields: im.entries[k]})
		}
		m.Map = trjson.AppendMap(nil, &mp)
	}
	return trjson.AppendMsg(dst, &m)
}
