package trjson

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestDecodeElements(t *testing.T) {
	// Login refresh elements (§4.3.2) with typed wrappers (§11).
	els, err := DecodeElements(Raw(`{"AllowSuspectData":1,"ApplicationName":"ADS","ApplicationId":{"Type":"UInt","Data":null},
		"MaxMsgSize":61426,"PingTimeout":30,"Real":{"Type":"Real","Data":1.5},"Neg":{"Type":"Int","Data":-5},
		"Empty":{"Type":"AsciiString","Data":""},"Arr":{"Type":"AsciiString","Data":["a","b"]},"Blank":null,"Esc":"a\u00e9"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{Int("AllowSuspectData", 1), String("ApplicationName", "ADS"), Null("ApplicationId"),
		Int("MaxMsgSize", 61426), Int("PingTimeout", 30), Float("Real", 1.5), Int("Neg", -5), String("Empty", ""),
		RawField("Arr", Raw(`{"Type":"AsciiString","Data":["a","b"]}`)), Null("Blank"), String("Esc", "aé")}
	if !reflect.DeepEqual(els, want) {
		t.Fatalf("got  %+v\nwant %+v", els, want)
	}
	for _, empty := range []string{``, `null`, ` null `, `{}`} {
		if els, err := DecodeElements(Raw(empty)); err != nil || len(els) != 0 {
			t.Errorf("%q: %v %v", empty, els, err)
		}
	}
	for _, bad := range []string{`{`, `[1]`, `{"a":1}x`, `"x"`} {
		if _, err := DecodeElements(Raw(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAppendElements(t *testing.T) {
	els := []Field{Int("MaxMsgSize", 61426), String("ApplicationName", "ADS"), String("E", ""), Int("N", -1),
		Float("R", 2.5), Float("NaN", math.NaN()), Null("B"), {Name: "T", Kind: KindBool, Int: 1},
		RawField("Time", Raw(`{"Type":"Time","Data":"15:37:31"}`))}
	got := string(AppendElements(nil, els))
	want := `{"MaxMsgSize":61426,"ApplicationName":"ADS","E":{"Type":"AsciiString","Data":""},"N":{"Type":"Int","Data":-1},"R":{"Type":"Real","Data":2.5},"NaN":{"Type":"Real","Data":"NaN"},"B":null,"T":true,"Time":{"Type":"Time","Data":"15:37:31"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	back, err := DecodeElements(Raw(got))
	if err != nil || len(back) != len(els) {
		t.Fatal(err, back)
	}
	if back[2].Kind != KindString || len(back[2].Str) != 0 || back[3].Int != -1 || back[4].Float != 2.5 {
		t.Fatalf("round trip %+v", back)
	}
	if f, ok := back[5].AsFloat(); !ok || !math.IsNaN(f) {
		t.Fatal("NaN lost")
	}
}

func TestDecodeMapSpecSample(t *testing.T) {
	// §31 MarketByPrice refresh sample (map part) and a Delete entry.
	mp, err := DecodeMap(Raw(`{"KeyType":"Buffer","Summary":{"Fields":{"CURRENCY":"CAD","PRC_QL_CD":"0"}},"CountHint":2,
		"Entries":[{"Action":"Add","Key":"NTAuNTEwMDAwQQ==","Fields":{"ORDER_PRC":50.51,"ORDER_SIDE":"ASK","NO_ORD":1,"ACC_SIZE":100}},
		{"Action":"Update","Key":"Ri5O","PermData":"AwEB","Fields":{"ACC_SIZE":5}},
		{"Action":"Delete","Key":"NjEuMDAwMDAwQQ=="}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Map{KeyType: "Buffer", CountHint: 2, HasSummary: true,
		Summary: []Field{String("CURRENCY", "CAD"), String("PRC_QL_CD", "0")},
		Entries: []MapEntry{
			{Action: MapAdd, Key: "50.510000A", Fields: []Field{Float("ORDER_PRC", 50.51), String("ORDER_SIDE", "ASK"), Int("NO_ORD", 1), Int("ACC_SIZE", 100)}},
			{Action: MapUpdate, Key: "F.N", PermData: "AwEB", Fields: []Field{Int("ACC_SIZE", 5)}},
			{Action: MapDelete, Key: "61.000000A"},
		}}
	if !reflect.DeepEqual(mp, want) {
		t.Fatalf("got  %+v\nwant %+v", mp, want)
	}
	enc := string(AppendMap(nil, mp))
	wantEnc := `{"KeyType":"Buffer","CountHint":2,"Summary":{"Fields":{"CURRENCY":"CAD","PRC_QL_CD":"0"}},"Entries":[{"Action":"Add","Key":"NTAuNTEwMDAwQQ==","Fields":{"ORDER_PRC":50.51,"ORDER_SIDE":"ASK","NO_ORD":1,"ACC_SIZE":100}},{"Action":"Update","Key":"Ri5O","PermData":"AwEB","Fields":{"ACC_SIZE":5}},{"Action":"Delete","Key":"NjEuMDAwMDAwQQ=="}]}`
	if enc != wantEnc {
		t.Fatalf("AppendMap\n got %s\nwant %s", enc, wantEnc)
	}
	back, err := DecodeMap(Raw(enc))
	if err != nil || !reflect.DeepEqual(back, mp) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestMapOtherKeyTypesAndElements(t *testing.T) {
	mp := &Map{KeyType: "UInt", KeyFieldID: 3, HasSummary: true, SummaryElements: true, Summary: []Field{Int("X", 1)},
		Entries: []MapEntry{{Action: MapAdd, Key: "42", Elements: true, Fields: []Field{String("Name", "svc")}},
			{Action: MapUpdate, Key: "7", Fields: []Field{}}}}
	enc := string(AppendMap(nil, mp))
	want := `{"KeyType":"UInt","KeyFieldID":3,"Summary":{"Elements":{"X":1}},"Entries":[{"Action":"Add","Key":42,"Elements":{"Name":"svc"}},{"Action":"Update","Key":7,"Fields":{}}]}`
	if enc != want {
		t.Fatalf("got  %s\nwant %s", enc, want)
	}
	back, err := DecodeMap(Raw(enc))
	if err != nil || !reflect.DeepEqual(back, mp) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, back, mp)
	}
	a := &Map{KeyType: "AsciiString", Entries: []MapEntry{{Action: MapDelete, Key: "IBM.N"}}}
	if enc := string(AppendMap(nil, a)); enc != `{"KeyType":"AsciiString","Entries":[{"Action":"Delete","Key":"IBM.N"}]}` {
		t.Fatal(enc)
	}
	arr := `{"KeyType":"Array","Entries":[{"Action":"Add","Key":{"Type":"Int","Data":[1,2]},"Fields":{}}]}`
	mp2, err := DecodeMap(Raw(arr))
	if err != nil || mp2.Entries[0].Key != `{"Type":"Int","Data":[1,2]}` || string(AppendMap(nil, mp2)) != arr {
		t.Fatalf("array key: %v %+v", err, mp2)
	}
}

func TestDecodeMapErrors(t *testing.T) {
	for _, bad := range []string{
		`{"Entries":[]}`, // no KeyType
		`{"KeyType":"Buffer","Entries":[{"Action":"Add","Key":"!!"}]}`,
		`{"KeyType":"Buffer","Entries":[{"Action":"Replace","Key":"AA=="}]}`,
		`{"KeyType":"Buffer","Entries":[{"Key":"AA=="}]}`,
		`{"KeyType":"Buffer","Entries":[{"Action":"Add"}]}`,
		`{"KeyType":1,"Entries":[]}`,
	} {
		if _, err := DecodeMap(Raw(bad)); !errors.Is(err, ErrContainer) {
			t.Errorf("%s: %v, want ErrContainer", bad, err)
		}
	}
	var se *SyntaxError
	if _, err := DecodeMap(Raw(`{"KeyType":"Buffer",}`)); !errors.As(err, &se) {
		t.Errorf("syntax: %v", err)
	}
	if mp, err := DecodeMap(Raw(`null`)); err != nil || len(mp.Entries) != 0 {
		t.Errorf("null map: %v", err)
	}
}
