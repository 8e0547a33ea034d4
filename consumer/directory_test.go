package consumer

import (
	"reflect"
	"testing"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// The emulator's Source Directory decodes into one typed service: name,
// ID, state, capabilities and QoS; the raw Map stays available.
func TestE2EDirectoryTyped(t *testing.T) {
	_, info := startEmu(t, emulator.Config{})
	tokens := tokenManager(t, info, 2, "")
	c, _ := dialEmu(t, info, tokens, nil)
	img, err := c.Directory(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Map) == 0 {
		t.Error("raw Map not kept")
	}
	// ELEKTRON_DD, and ATS201_1 for the Yield Curve items (§34).
	if len(img.Services) != 2 || img.Services[1].Name != "ATS201_1" || img.Services[1].ID != 258 ||
		!reflect.DeepEqual(img.Services[1].Capabilities, []trjson.Domain{trjson.DomainYieldCurve}) {
		t.Fatalf("services %+v", img.Services)
	}
	s := img.Services[0]
	if s.Name != "ELEKTRON_DD" || s.ID != 257 || !s.HasState || !s.Up || !s.AcceptingRequests || !s.IsSource {
		t.Errorf("service %+v", s)
	}
	want := []trjson.Domain{trjson.DomainMarketPrice, trjson.DomainMarketByOrder, trjson.DomainMarketByPrice, trjson.DomainMarketMaker, trjson.DomainSymbolList}
	if !reflect.DeepEqual(s.Capabilities, want) {
		t.Errorf("capabilities %v, want %v", s.Capabilities, want)
	}
	if len(s.QoS) == 0 || s.QoS[0].Timeliness != "Realtime" {
		t.Errorf("QoS %+v", s.QoS)
	}
	if !reflect.DeepEqual(s.DictionariesUsed, []string{"RWFFld", "RWFEnum"}) {
		t.Errorf("dictionaries used %v", s.DictionariesUsed)
	}
	// The raw form decodes to the same services.
	again, err := DecodeDirectory(img.Map)
	if err != nil || !reflect.DeepEqual(again, img.Services) {
		t.Errorf("DecodeDirectory(raw) = %+v, %v", again, err)
	}
}

// Map and FilterList actions: Update merges a filter, Set replaces it,
// Clear empties it, Delete removes the service; numeric actions, bare
// arrays, domain names and a second service are understood.
func TestDirectoryActions(t *testing.T) {
	d := directory{}
	steps := []string{
		`{"KeyType":"UInt","Entries":[
		  {"Action":"Add","Key":1,"FilterList":{"Entries":[
		    {"ID":1,"Action":"Set","Elements":{"Name":"A","Vendor":"V","Capabilities":[6,"MarketByPrice"],
		     "QoS":{"Type":"Qos","Data":[{"Timeliness":"Delayed","Rate":"TimeConflated","RateInfo":1000,"TimeInfo":900}]}}},
		    {"ID":2,"Action":2,"Elements":{"ServiceState":1,"AcceptingRequests":1}}]}},
		  {"Action":"Add","Key":2,"FilterList":{"Entries":[{"ID":1,"Action":"Set","Elements":{"Name":"B"}}]}}]}`,
		`{"KeyType":"UInt","Entries":[
		  {"Action":"Update","Key":1,"FilterList":{"Entries":[
		    {"ID":2,"Action":"Update","Elements":{"AcceptingRequests":0}},
		    {"ID":1,"Action":1,"Elements":{"Vendor":"W"}}]}},
		  {"Action":"Delete","Key":2}]}`,
	}
	for _, st := range steps {
		if err := d.apply(trjson.Raw(st)); err != nil {
			t.Fatal(err)
		}
	}
	got := d.services()
	if len(got) != 1 {
		t.Fatalf("services %+v", got)
	}
	s := got[0]
	if s.Name != "A" || s.Vendor != "W" || !s.Up || s.AcceptingRequests {
		t.Errorf("after update: %+v", s)
	}
	if !reflect.DeepEqual(s.Capabilities, []trjson.Domain{trjson.DomainMarketPrice, trjson.DomainMarketByPrice}) {
		t.Errorf("capabilities %v", s.Capabilities)
	}
	if want := (trjson.Qos{Timeliness: "Delayed", Rate: "TimeConflated", RateInfo: 1000, TimeInfo: 900}); len(s.QoS) != 1 || s.QoS[0] != want {
		t.Errorf("QoS %+v", s.QoS)
	}
	if err := d.apply(trjson.Raw(`{"KeyType":"UInt","Entries":[{"Action":"Update","Key":1,"FilterList":{"Entries":[{"ID":2,"Action":"Clear"},{"ID":1,"Action":"Set","Elements":{"Name":"A2"}}]}}]}`)); err != nil {
		t.Fatal(err)
	}
	s = d.services()[0]
	if s.HasState || s.Up || s.Name != "A2" || s.Vendor != "" || s.Capabilities != nil {
		t.Errorf("after clear/set: %+v", s)
	}
	for _, bad := range []string{`{"KeyType":"UInt","Entries":[{"Action":"Add","Key":"x"}]}`, `{"Entries":[]}`, `[`,
		`{"KeyType":"UInt","Entries":[{"Action":"Add","Key":1,"FilterList":{"Entries":[{"ID":2,"Action":"Set","Elements":{"ServiceState":"up"}}]}}]}`} {
		if _, err := DecodeDirectory(trjson.Raw(bad)); err == nil {
			t.Errorf("DecodeDirectory(%s) succeeded", bad)
		}
	}
}

// FuzzDecodeDirectory: any input decodes or fails; none panics.
func FuzzDecodeDirectory(f *testing.F) {
	f.Add([]byte(`{"KeyType":"UInt","Entries":[{"Action":"Add","Key":257,"FilterList":{"Entries":[{"ID":1,"Action":"Set","Elements":{"Name":"ELEKTRON_DD","Capabilities":{"Type":"UInt","Data":[6,7]}}},{"ID":2,"Action":"Set","Elements":{"ServiceState":1,"AcceptingRequests":1}}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeDirectory(trjson.Raw(b))
	})
}
