package natsbus

import (
	"fmt"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

// decodeOne decodes a single tr_json2 message (test helper).
func decodeOne(t *testing.T, raw []byte) trjson.Msg {
	t.Helper()
	var d trjson.Decoder
	ms, err := d.Decode(raw)
	if err != nil || len(ms) != 1 {
		t.Fatalf("decode %s: %v (%d msgs)", raw, err, len(ms))
	}
	return ms[0]
}

func TestImageMergeFields(t *testing.T) {
	im := newImage(Key{Service: "S", Domain: trjson.DomainMarketPrice, Name: "TRI.N"})
	apply := func(m trjson.Msg, seq uint64) {
		t.Helper()
		if err := im.apply(&m, seq); err != nil {
			t.Fatal(err)
		}
	}
	ok := trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "ok"}
	apply(trjson.Msg{Type: trjson.TypeRefresh, State: ok, HasState: true, SeqNumber: 10, HasSeqNumber: true,
		Fields: []trjson.Field{trjson.Float("BID", 1), trjson.Float("ASK", 2)}, HasFields: true}, 1)
	apply(trjson.Msg{Type: trjson.TypeUpdate, SeqNumber: 11, HasSeqNumber: true,
		Fields: []trjson.Field{trjson.Float("BID", 3), trjson.String("TRDPRC_1", "x")}, HasFields: true}, 5)
	apply(trjson.Msg{Type: trjson.TypeUpdate, SeqNumber: 12, HasSeqNumber: true, DoNotCache: true,
		Fields: []trjson.Field{trjson.Float("BID", 99)}, HasFields: true}, 6)
	// A Status with DataNoChange keeps the data state.
	apply(trjson.Msg{Type: trjson.TypeStatus, State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataNoChange, Text: "x"}, HasState: true}, 7)

	m := decodeOne(t, im.encode(nil))
	if m.Type != trjson.TypeRefresh || m.Key.Name != "TRI.N" || m.SeqNumber != 12 || m.State.Data != trjson.DataOk || im.streamSeq != 7 {
		t.Fatalf("image %s (streamSeq %d)", im.encode(nil), im.streamSeq)
	}
	got := map[string]string{}
	for _, f := range m.Fields {
		got[f.Name] = f.AsString()
	}
	if fmt.Sprint(got) != "map[ASK:2 BID:3 TRDPRC_1:x]" {
		t.Fatalf("fields %v", got)
	}
	// A multi-part Refresh: part 0 clears, later parts add.
	apply(trjson.Msg{Type: trjson.TypeRefresh, NotComplete: true, Fields: []trjson.Field{trjson.Float("A", 1)}, HasFields: true}, 8)
	apply(trjson.Msg{Type: trjson.TypeRefresh, PartNumber: 1, Fields: []trjson.Field{trjson.Float("B", 2)}, HasFields: true}, 9)
	m = decodeOne(t, im.encode(nil))
	if len(m.Fields) != 2 || m.Fields[0].Name != "A" || m.Fields[1].Name != "B" {
		t.Fatalf("after a two-part refresh: %s", im.encode(nil))
	}
}

func TestImageMergeBook(t *testing.T) {
	im := newImage(Key{Service: "S", Domain: trjson.DomainMarketByPrice, Name: "TRI.N"})
	mapMsg := func(typ trjson.MsgType, mp *trjson.Map) *trjson.Msg {
		return &trjson.Msg{Type: typ, Map: trjson.AppendMap(nil, mp)}
	}
	e := func(a trjson.MapAction, key string, fs ...trjson.Field) trjson.MapEntry {
		return trjson.MapEntry{Action: a, Key: key, Fields: fs}
	}
	steps := []*trjson.Msg{
		mapMsg(trjson.TypeRefresh, &trjson.Map{KeyType: "Buffer", HasSummary: true, Summary: []trjson.Field{trjson.String("CURRENCY", "USD")},
			Entries: []trjson.MapEntry{e(trjson.MapAdd, "10.5B", trjson.Float("ORDER_SIZE", 100)), e(trjson.MapAdd, "10.6A", trjson.Float("ORDER_SIZE", 50))}}),
		mapMsg(trjson.TypeUpdate, &trjson.Map{KeyType: "Buffer",
			Entries: []trjson.MapEntry{e(trjson.MapUpdate, "10.5B", trjson.Float("ORDER_SIZE", 120)), e(trjson.MapDelete, "10.6A"),
				e(trjson.MapAdd, "10.7A", trjson.Float("ORDER_SIZE", 7), trjson.Int("NO_ORD", 1))}}),
		mapMsg(trjson.TypeUpdate, &trjson.Map{KeyType: "Buffer",
			Entries: []trjson.MapEntry{e(trjson.MapAdd, "10.7A", trjson.Float("ORDER_SIZE", 8))}}), // Add replaces the entry
	}
	for i, m := range steps {
		if err := im.apply(m, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	m := decodeOne(t, im.encode(nil))
	mp, err := trjson.DecodeMap(m.Map)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, en := range mp.Entries {
		if en.Action != trjson.MapAdd {
			t.Fatalf("image entry action %v", en.Action)
		}
		fs := map[string]string{}
		for _, f := range en.Fields {
			fs[f.Name] = f.AsString()
		}
		got[en.Key] = fs
	}
	if fmt.Sprint(got) != "map[10.5B:map[ORDER_SIZE:120] 10.7A:map[ORDER_SIZE:8]]" || len(mp.Summary) != 1 {
		t.Fatalf("book %v summary %v", got, mp.Summary)
	}
	if err := im.apply(&trjson.Msg{Type: trjson.TypeUpdate, Map: trjson.Raw(`{"Entries":`)}, 9); err == nil {
		t.Fatal("malformed Map accepted")
	}
}

// FuzzKeyOf: whatever subject KeyOf accepts maps back to the same subject.
func FuzzKeyOf(f *testing.F) {
	for _, s := range []string{"ert.ELEKTRON_5FDD.MarketPrice.TRI_2EN", "ert_last.S.MarketByPrice._2EDJI", "ert.S.Login.X", "ert..MarketPrice.X", "x"} {
		f.Add(s)
	}
	var st Streams
	f.Fuzz(func(t *testing.T, subject string) {
		k, err := st.KeyOf(subject)
		if err != nil {
			return
		}
		u, err1 := st.UpdateSubject(k)
		l, err2 := st.LastSubject(k)
		if err1 != nil || err2 != nil || (u != subject && l != subject) {
			t.Fatalf("KeyOf(%q) = %+v, which maps to %q / %q (%v %v)", subject, k, u, l, err1, err2)
		}
	})
}
