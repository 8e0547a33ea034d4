package server

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Market Maker (§33) and Yield Curve (§34) items over raw WebSocket
// conversations.

func decodeKey(t *testing.T, e any) string {
	t.Helper()
	k, _ := e.(map[string]any)["Key"].(string)
	b, err := base64.StdEncoding.DecodeString(k)
	if err != nil {
		t.Fatalf("key %q is not base64: %v", k, err)
	}
	return string(b)
}

// noMoreOn reads until n updates of stream other arrived and fails on any
// message of stream id meanwhile.
func noMoreOn(t *testing.T, c *client, id, other float64, n int) {
	t.Helper()
	for got := 0; got < n; {
		m := c.until(func(m map[string]any) bool { return m["ID"] == id || m["ID"] == other })
		if m["ID"] == id {
			t.Fatalf("message on closed stream: %s", mustJSON(m))
		}
		if m["Type"] == "Update" {
			got++
		}
	}
}

// §33.2: the request as the spec sends it; a Map keyed by market maker ID
// (Buffer keys) with a Summary, then Map updates with following
// SeqNumbers; Close stops them.
func TestMarketMakerItem(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50})
	c.send(`{"ID":2,"Domain":"MarketMaker","Key":{"Name":"MSFT.O"}}`)
	r := c.until(isType("Refresh", 2))
	if r["Domain"] != "MarketMaker" || obj(r, "Key", "Name") != "MSFT.O" || obj(r, "Key", "Service") != "ELEKTRON_DD" ||
		obj(r, "State", "Stream") != "Open" || obj(r, "State", "Data") != "Ok" || r["Complete"] == false ||
		obj(r, "Qos", "Timeliness") != "Realtime" || r["PermData"] == nil || r["SeqNumber"] == nil {
		t.Fatalf("refresh %s", mustJSON(r))
	}
	if obj(r, "Map", "KeyType") != "Buffer" || obj(r, "Map", "Summary", "Fields", "PROD_PERM") != 3056.0 || obj(r, "Map", "CountHint") != 5.0 {
		t.Fatalf("map %s", mustJSON(r["Map"]))
	}
	es := obj(r, "Map", "Entries").([]any)
	if len(es) != 5 {
		t.Fatalf("%d entries", len(es))
	}
	for _, e := range es {
		f := e.(map[string]any)["Fields"].(map[string]any)
		if e.(map[string]any)["Action"] != "Add" || f["MMID"] != decodeKey(t, e) || f["BID"] == nil || f["MKT_MKR_NM"] == nil {
			t.Fatalf("entry %s", mustJSON(e))
		}
	}
	seq := r["SeqNumber"].(float64)
	for range 3 {
		u := c.until(isType("Update", 2))
		ue := obj(u, "Map", "Entries").([]any)
		if u["Domain"] != "MarketMaker" || obj(u, "Key", "Name") != "MSFT.O" || u["SeqNumber"] != seq+1 || len(ue) != 1 ||
			ue[0].(map[string]any)["Action"] != "Update" || obj(u, "Map", "Summary") != nil {
			t.Fatalf("update %s after seq %v", mustJSON(u), seq)
		}
		if k := decodeKey(t, ue[0]); obj(ue[0].(map[string]any), "Fields", "MMID") != k {
			t.Fatalf("update entry %s", mustJSON(ue[0]))
		}
		seq++
	}
	// A snapshot is answered once, NonStreaming.
	c.send(`{"ID":3,"Domain":"MarketMaker","Key":{"Name":"MSFT.O"},"Streaming":false}`)
	if s := c.until(isType("Refresh", 3)); obj(s, "State", "Stream") != "NonStreaming" || len(obj(s, "Map", "Entries").([]any)) != 5 {
		t.Fatalf("snapshot %s", mustJSON(s))
	}
	// Close: no more updates on 2 while TRI.N keeps ticking.
	c.send(`{"ID":4,"Key":{"Name":"TRI.N"}}`)
	c.send(`{"ID":2,"Type":"Close","Domain":"MarketMaker"}`)
	c.sync()
	noMoreOn(t, c, 2, 4, 20)
}

// An instrument without market makers (not Nasdaq's) is not found, as an
// unknown name is; the Status names the item.
func TestMarketMakerNotFound(t *testing.T) {
	_, c := loggedIn(t, Config{})
	for i, name := range []string{"TRI.N", "NOPE.O"} {
		id := float64(2 + i)
		c.send(`{"ID":` + mustJSON(id) + `,"Domain":"MarketMaker","Key":{"Name":"` + name + `"}}`)
		m := c.until(func(m map[string]any) bool { return m["ID"] == id })
		if m["Type"] != "Status" || m["Domain"] != "MarketMaker" || obj(m, "State", "Stream") != "Closed" ||
			obj(m, "State", "Code") != "NotFound" || obj(m, "Key", "Name") != name {
			t.Fatalf("%s: %s", name, mustJSON(m))
		}
	}
}

// A big Market Maker item is a multi-part refresh: Complete false on every
// part but the last, PartNumber 0..n, the Key and Domain on each, every
// frame within MaxMsgSize, the Summary on part 0 only; updates follow.
func TestMarketMakerMultiPart(t *testing.T) {
	const maxMsg = 16384
	_, c := loggedIn(t, Config{Rate: 50, MaxMsgSize: maxMsg})
	c.send(`{"ID":2,"Domain":"MarketMaker","Key":{"Name":"MM.BIG"}}`)
	seen := map[string]bool{}
	part := 0
	for ; ; part++ {
		r := c.until(isType("Refresh", 2))
		if len(c.lastFrame) > maxMsg {
			t.Fatalf("part %d: frame of %d bytes", part, len(c.lastFrame))
		}
		if r["Domain"] != "MarketMaker" || obj(r, "Key", "Name") != "MM.BIG" || (part > 0 && r["PartNumber"] != float64(part)) {
			t.Fatalf("part %d: %.300s", part, mustJSON(r))
		}
		if (part == 0) != (obj(r, "Map", "Summary") != nil) {
			t.Fatalf("part %d summary: %.300s", part, mustJSON(r))
		}
		for _, e := range obj(r, "Map", "Entries").([]any) {
			k := decodeKey(t, e)
			if seen[k] {
				t.Fatalf("entry %s twice", k)
			}
			seen[k] = true
		}
		if r["Complete"] != false {
			break
		}
	}
	if part == 0 || len(seen) != 1500 {
		t.Fatalf("%d parts, %d entries", part+1, len(seen))
	}
	if u := c.until(isType("Update", 2)); u["Domain"] != "MarketMaker" || obj(u, "Map", "Entries") == nil {
		t.Fatalf("update %s", mustJSON(u))
	}
}

// A View on a Map domain: the server checks its names as for any item (no
// valid field is InvalidView) but does not apply it, since a Map's payload
// is not one FieldList: entries keep every field, in the refresh and in
// updates, for Market Maker as for the books.
func TestViewOnMapDomains(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50})
	for i, req := range []string{
		`"Domain":"MarketMaker","Key":{"Name":"MSFT.O"}`,
		`"Domain":"MarketByPrice","Key":{"Name":"TRI.N"}`,
	} {
		id := float64(2 + 2*i)
		c.send(`{"ID":` + mustJSON(id) + `,` + req + `,"View":["BID"]}`)
		r := c.until(isType("Refresh", id))
		e := obj(r, "Map", "Entries").([]any)[0].(map[string]any)
		if len(e["Fields"].(map[string]any)) < 3 {
			t.Fatalf("%s: view applied to the entries: %s", req, mustJSON(e))
		}
		u := c.until(isType("Update", id))
		if obj(u, "Map", "Entries") == nil {
			t.Fatalf("%s: update %s", req, mustJSON(u))
		}
		c.send(`{"ID":` + mustJSON(id+1) + `,` + req + `,"View":["NOPE"]}`)
		if m := c.until(func(m map[string]any) bool { return m["ID"] == id+1 }); obj(m, "State", "Code") != "InvalidView" {
			t.Fatalf("%s: %s", req, mustJSON(m))
		}
	}
}

// §34.2: the request as the spec sends it (Key.Service "ATS201_1"); a
// FieldList refresh whose Vector fields arrive as JSON objects, then
// updates with following SeqNumbers, Key.Service the curve service's on
// every message; Close stops them.
func TestYieldCurveItem(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50})
	c.send(`{"ID":2,"Domain":"YieldCurve","Key":{"Service":"ATS201_1","Name":"BASIC"}}`)
	r := c.until(isType("Refresh", 2))
	if r["Domain"] != "YieldCurve" || obj(r, "Key", "Name") != "BASIC" || obj(r, "Key", "Service") != "ATS201_1" ||
		obj(r, "State", "Stream") != "Open" || r["PermData"] != "AwEA0AybITw=" || obj(r, "Fields", "CRV_NAME") != "BASIC" ||
		obj(r, "Fields", "CASH_RATES", "Entries") == nil {
		t.Fatalf("refresh %s", mustJSON(r))
	}
	seq := r["SeqNumber"].(float64)
	for range 3 {
		u := c.until(isType("Update", 2))
		es, _ := obj(u, "Fields", "CASH_RATES", "Entries").([]any)
		if u["Domain"] != "YieldCurve" || obj(u, "Key", "Service") != "ATS201_1" || u["SeqNumber"] != seq+1 || len(es) != 1 ||
			es[0].(map[string]any)["Action"] != "Update" {
			t.Fatalf("update %s after %v", mustJSON(u), seq)
		}
		seq++
	}
	// A reissue without a service keeps the stream on its service; one
	// naming another service is a key change, which closes the stream.
	c.send(`{"ID":2,"Domain":"YieldCurve","Key":{"Name":"BASIC"}}`)
	if r := c.until(func(m map[string]any) bool { return m["ID"] == 2.0 && m["Type"] != "Update" }); r["Type"] != "Refresh" || obj(r, "Key", "Service") != "ATS201_1" {
		t.Fatalf("reissue without service: %s", mustJSON(r))
	}
	c.send(`{"ID":5,"Domain":"YieldCurve","Key":{"Service":"ATS201_1","Name":"BASIC"}}`)
	c.until(isType("Refresh", 5))
	c.send(`{"ID":5,"Domain":"YieldCurve","Key":{"Service":"ELEKTRON_DD","Name":"BASIC"}}`)
	if r := c.until(func(m map[string]any) bool { return m["ID"] == 5.0 && m["Type"] != "Update" }); r["Type"] != "Status" || obj(r, "State", "Stream") != "Closed" || obj(r, "Key", "Service") != "ATS201_1" {
		t.Fatalf("reissue on another service: %s", mustJSON(r))
	}
	// By service ID too; a View applies (a curve is a FieldList).
	c.send(`{"ID":3,"Domain":"YieldCurve","Key":{"Service":258,"Name":"BASIC"},"View":["CRV_ID"],"Streaming":false}`)
	if s := c.until(isType("Refresh", 3)); len(s["Fields"].(map[string]any)) != 1 || obj(s, "Fields", "CRV_ID") != 1.0 {
		t.Fatalf("view snapshot %s", mustJSON(s))
	}
	c.send(`{"ID":4,"Key":{"Name":"TRI.N"}}`)
	c.send(`{"ID":2,"Type":"Close","Domain":"YieldCurve"}`)
	c.sync()
	noMoreOn(t, c, 2, 4, 20)
}

// Yield Curves live on their service only, and it serves nothing else:
// each misdirected request gets a clear Status on the service asked for.
func TestYieldCurveServices(t *testing.T) {
	_, c := loggedIn(t, Config{})
	for i, tc := range []struct{ req, code, text, svc string }{
		{`"Domain":"YieldCurve","Key":{"Name":"BASIC"}`, "UsageError", "served by service ATS201_1", "ELEKTRON_DD"},
		{`"Key":{"Service":"ATS201_1","Name":"TRI.N"}`, "UsageError", "not supported by service ATS201_1", "ATS201_1"},
		{`"Domain":"YieldCurve","Key":{"Service":"ATS201_1","Name":"NOPE"}`, "NotFound", DefaultNotFoundText, "ATS201_1"},
		{`"Domain":"YieldCurve","Key":{"Service":"ATS999","Name":"BASIC"}`, "SourceUnknown", "Service not found", "ELEKTRON_DD"},
	} {
		id := float64(2 + i)
		c.send(`{"ID":` + mustJSON(id) + `,` + tc.req + `}`)
		m := c.until(func(m map[string]any) bool { return m["ID"] == id })
		if m["Type"] != "Status" || obj(m, "State", "Stream") != "Closed" || obj(m, "State", "Code") != tc.code ||
			!strings.Contains(obj(m, "State", "Text").(string), tc.text) || obj(m, "Key", "Service") != tc.svc {
			t.Fatalf("%s: %s", tc.req, mustJSON(m))
		}
	}
	// The directory lists both services, each with its domains; asking for
	// one by name lists that one.
	c.send(`{"ID":9,"Domain":"Source","Key":{"Filter":1}}`)
	d := c.until(isType("Refresh", 9))
	es := obj(d, "Map", "Entries").([]any)
	if len(es) != 2 {
		t.Fatalf("directory %s", mustJSON(d))
	}
	want := map[float64]string{257: `{"Data":[6,7,8,9,10],"Type":"UInt"}`, 258: `{"Data":[22],"Type":"UInt"}`}
	for _, e := range es {
		em := e.(map[string]any)
		info := em["FilterList"].(map[string]any)["Entries"].([]any)[0].(map[string]any)
		if got := mustJSON(obj(info, "Elements", "Capabilities")); got != want[em["Key"].(float64)] {
			t.Errorf("service %v capabilities %s", em["Key"], got)
		}
	}
	c.send(`{"ID":10,"Domain":"Source","Key":{"Name":"ATS201_1"}}`)
	d = c.until(isType("Refresh", 10))
	if es := obj(d, "Map", "Entries").([]any); len(es) != 1 || es[0].(map[string]any)["Key"] != 258.0 {
		t.Fatalf("directory for ATS201_1 %s", mustJSON(d))
	}
}
