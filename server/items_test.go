package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func loggedIn(t *testing.T, cfg Config) (*env, *client) {
	e := newEnv(t, cfg, 1, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	return e, c
}

// Scenario 5: streaming Market Price item.
func TestStreamingItem(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50})
	c.send(`{"ID":2,"Key":{"Name":"TRI.N","Service":"ELEKTRON_DD"}}`)
	r := c.next()
	if r["Type"] != "Refresh" || r["ID"] != 2.0 || obj(r, "Key", "Name") != "TRI.N" || obj(r, "Key", "Service") != "ELEKTRON_DD" ||
		obj(r, "State", "Stream") != "Open" || obj(r, "State", "Data") != "Ok" || obj(r, "State", "Text") != "All is well" ||
		obj(r, "Qos", "Timeliness") != "Realtime" || obj(r, "Qos", "Rate") != "TickByTick" || r["PermData"] != "AwEBEBU8" {
		t.Fatalf("refresh %s", mustJSON(r))
	}
	if f := r["Fields"].(map[string]any); len(f) != 9 || f["QUOTIM"] != nil || f["BID"] == nil {
		t.Fatalf("refresh fields %v", f)
	}
	if _, ok := r["Domain"]; ok {
		t.Fatal("MarketPrice domain should be omitted (default)")
	}
	seq := r["SeqNumber"].(float64)
	for range 3 {
		u := c.until(isType("Update", 2))
		if obj(u, "Key", "Name") != "TRI.N" || u["UpdateType"] == nil || u["SeqNumber"].(float64) != seq+1 {
			t.Fatalf("update %s after seq %v", mustJSON(u), seq)
		}
		seq++
	}
}

func TestKeyInUpdatesFalseAndDelayedQos(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50})
	c.send(`{"ID":2,"KeyInUpdates":false,"Key":{"Name":"/TRI.N"}}`)
	r := c.next()
	if obj(r, "Qos", "Timeliness") != "Delayed" || obj(r, "Key", "Name") != "/TRI.N" {
		t.Fatalf("refresh %s", mustJSON(r))
	}
	if u := c.until(isType("Update", 2)); u["Key"] != nil {
		t.Fatalf("Key in update with KeyInUpdates:false: %s", mustJSON(u))
	}
}

func TestConflatedQos(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50, Conflate: true})
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	r := c.next()
	if obj(r, "Qos", "Rate") != "TimeConflated" || obj(r, "Qos", "RateInfo") != 1000.0 {
		t.Fatalf("refresh %s", mustJSON(r))
	}
	var trades, quotes int
	for trades < 3 {
		u := c.until(isType("Update", 2))
		switch u["UpdateType"] {
		case "Trade":
			trades++
		case "Quote":
			quotes++
		}
	}
	// 50 ticks/s, 2 of 3 quotes: conflated to ≤ 3 quotes/s while every
	// third tick (a trade) passes. 3 trades span ≥ 6 quote ticks.
	if quotes > 4 {
		t.Fatalf("%d quotes for %d trades: not conflated", quotes, trades)
	}
}

// Scenario 6: snapshot.
func TestSnapshot(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 100})
	c.send(`[{"ID":3,"Streaming":false,"Key":{"Name":"IBM.N"}},{"ID":4,"Key":{"Name":"TRI.N"}}]`)
	r := c.next()
	if r["ID"] != 3.0 || obj(r, "State", "Stream") != "NonStreaming" {
		t.Fatalf("snapshot %s", mustJSON(r))
	}
	for range 5 {
		if m := c.until(func(m map[string]any) bool { return m["Type"] == "Update" }); m["ID"] != 4.0 {
			t.Fatalf("update on snapshot stream: %s", mustJSON(m))
		}
	}
	for _, st := range e.hub.ItemStats() {
		if st.Name == "IBM.N" {
			t.Fatalf("snapshot registered in hub: %+v", st)
		}
	}
	// The ID is free again.
	c.send(`{"ID":3,"Key":{"Name":"IBM.N"}}`)
	c.until(isType("Refresh", 3))
}

// Scenario 7: unknown RIC; also unknown service and item before Login.
func TestUnknownItem(t *testing.T) {
	e, c := loggedIn(t, Config{})
	c.send(`{"ID":2,"Key":{"Name":"NOPE.X"}}`)
	m := c.next()
	if m["Type"] != "Status" || obj(m, "State", "Stream") != "Closed" || obj(m, "State", "Data") != "Suspect" ||
		obj(m, "State", "Code") != "NotFound" || obj(m, "State", "Text") != "**The record could not be found" {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.send(`{"ID":3,"Key":{"Name":"TRI.N","Service":"NOPE"}}`)
	if m := c.next(); obj(m, "State", "Code") != "SourceUnknown" {
		t.Fatalf("got %s", mustJSON(m))
	}
	d := dial(e, 0)
	d.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	if m := d.next(); obj(m, "State", "Code") != "NotOpen" || obj(m, "State", "Text") != "Login required" {
		t.Fatalf("got %s", mustJSON(m))
	}
}

// Scenario 8: batch of 3 with a view.
func TestBatchWithView(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50})
	c.send(`{"ID":2,"Key":{"Name":["TRI.N","IBM.N","T.N"]},"View":["BID","ASK","BIDSIZE","NOT_A_FIELD"]}`)
	s := c.next()
	if s["ID"] != 2.0 || s["Type"] != "Status" || obj(s, "State", "Stream") != "Closed" || obj(s, "State", "Data") != "Ok" ||
		obj(s, "State", "Text") != "Processed 3 total items from Batch Request. 3 Ok." {
		t.Fatalf("batch status %s", mustJSON(s))
	}
	for i, n := range []string{"TRI.N", "IBM.N", "T.N"} {
		r := c.until(isType("Refresh", float64(3+i)))
		f := r["Fields"].(map[string]any)
		if obj(r, "Key", "Name") != n || len(f) != 3 || f["BID"] == nil || f["ASK"] == nil || f["BIDSIZE"] == nil {
			t.Fatalf("refresh %s", mustJSON(r))
		}
	}
	for range 6 {
		u := c.until(func(m map[string]any) bool { return m["Type"] == "Update" })
		for k := range u["Fields"].(map[string]any) {
			if k != "BID" && k != "ASK" && k != "BIDSIZE" {
				t.Fatalf("field %s outside view: %s", k, mustJSON(u))
			}
		}
	}
}

func TestViewByFIDAndInvalidView(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50})
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"},"View":[22,25]}`)
	r := c.next()
	if f := r["Fields"].(map[string]any); len(f) != 2 || f["BID"] == nil || f["ASK"] == nil {
		t.Fatalf("refresh %s", mustJSON(r))
	}
	c.send(`{"ID":3,"Key":{"Name":"TRI.N"},"View":["NOPE"]}`)
	if m := c.until(func(m map[string]any) bool { return m["ID"] == 3.0 }); obj(m, "State", "Code") != "InvalidView" || obj(m, "State", "Stream") != "Closed" {
		t.Fatalf("got %s", mustJSON(m))
	}
	// View change by reissue: only ACVOL_1 (trades) from now on.
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"},"View":["ACVOL_1"]}`)
	r = c.until(isType("Refresh", 2))
	if f := r["Fields"].(map[string]any); len(f) != 1 {
		t.Fatalf("refresh after view change %s", mustJSON(r))
	}
	for range 3 {
		u := c.until(isType("Update", 2))
		if f := u["Fields"].(map[string]any); len(f) != 1 || f["ACVOL_1"] == nil || u["UpdateType"] != "Trade" {
			t.Fatalf("update %s", mustJSON(u))
		}
	}
}

// Scenario 9: batch close → one Status on the first ID; plain close → nothing.
func TestCloseAndBatchClose(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.send(`{"ID":2,"Key":{"Name":["TRI.N","IBM.N","T.N"]}}`)
	for id := 2.0; id <= 5; id++ {
		c.until(func(m map[string]any) bool { return m["ID"] == id })
	}
	c.send(`{"ID":[3,4],"Type":"Close"}`)
	m := c.until(func(m map[string]any) bool { return m["Type"] == "Status" })
	if m["ID"] != 3.0 || obj(m, "State", "Stream") != "Closed" || obj(m, "State", "Data") != "Ok" ||
		obj(m, "State", "Text") != "Processed 2 total stream ids from Batch Close Request. 2 Ok. " {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.send(`{"ID":5,"Type":"Close"}`)
	c.send(`{"ID":99,"Type":"Close"}`)
	for _, m := range c.sync() {
		if m["Type"] != "Update" {
			t.Fatalf("close answered: %s", mustJSON(m))
		}
	}
}

// Batch with an already open ID → AlreadyOpen for that item.
func TestBatchAlreadyOpen(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.send(`{"ID":3,"Key":{"Name":"VOD.L"}}`)
	c.until(isType("Refresh", 3))
	c.send(`{"ID":2,"Key":{"Name":["TRI.N","IBM.N"]}}`)
	c.until(isType("Status", 2))
	if m := c.until(func(m map[string]any) bool { return m["ID"] == 3.0 }); obj(m, "State", "Code") != "AlreadyOpen" {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.until(isType("Refresh", 4))
}

// Scenario 10: pause / resume.
func TestPauseResume(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 100})
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Update", 2))
	c.send(`{"ID":2,"Pause":true,"Refresh":false,"Key":{"Name":"TRI.N"}}`)
	c.sync() // updates queued before the pause
	c.send(`{"ID":3,"Key":{"Name":"IBM.N"}}`)
	for range 5 {
		if m := c.until(func(m map[string]any) bool { return m["Type"] == "Update" }); m["ID"] != 3.0 {
			t.Fatalf("update while paused: %s", mustJSON(m))
		}
	}
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Refresh", 2))
	c.until(isType("Update", 2))
}

func TestKeyChangeOnReissue(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Refresh", 2))
	c.send(`{"ID":2,"Key":{"Name":"IBM.N"}}`)
	if m := c.until(isType("Status", 2)); obj(m, "State", "Code") != "UsageError" || obj(m, "State", "Stream") != "Closed" {
		t.Fatalf("got %s", mustJSON(m))
	}
}

// Scenario 15: MarketByPrice multi-part refresh with Key on every part,
// each frame within MaxMsgSize, then Map updates.
func TestMarketByPriceMultiPart(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50})
	c.send(`{"ID":2,"Domain":"MarketByPrice","Key":{"Name":"BOOK.BIG"}}`)
	entries := 0
	for part := 0; ; part++ {
		r := c.until(isType("Refresh", 2))
		if len(c.lastFrame) > DefaultMaxMsgSize {
			t.Fatalf("frame of %d bytes", len(c.lastFrame))
		}
		if r["Domain"] != "MarketByPrice" || obj(r, "Key", "Name") != "BOOK.BIG" || r["PartNumber"] != nil && r["PartNumber"] != float64(part) {
			t.Fatalf("part %d: %.300s", part, mustJSON(r))
		}
		if part == 0 && obj(r, "Map", "Summary", "Fields", "CURRENCY") != "USD" {
			t.Fatal("no summary on part 0")
		}
		es := obj(r, "Map", "Entries").([]any)
		entries += len(es)
		k, _ := base64.StdEncoding.DecodeString(es[0].(map[string]any)["Key"].(string))
		if !strings.HasSuffix(string(k), "B") {
			t.Fatalf("key %q", k)
		}
		if r["Complete"] == false {
			continue
		}
		if part == 0 {
			t.Fatal("book not split")
		}
		break
	}
	if entries != 2000 {
		t.Fatalf("%d entries", entries)
	}
	u := c.until(isType("Update", 2))
	if obj(u, "Map", "Entries") == nil {
		t.Fatalf("update %s", mustJSON(u))
	}
}

func TestSymbolListAndDirectory(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.send(`{"ID":2,"Domain":"SymbolList","Key":{"Name":"0#.DJI"}}`)
	r := c.next()
	es := obj(r, "Map", "Entries").([]any)
	if r["Domain"] != "SymbolList" || len(es) != 30 || obj(r, "Map", "KeyType") != "Buffer" {
		t.Fatalf("got %s", mustJSON(r))
	}
	k, _ := base64.StdEncoding.DecodeString(es[0].(map[string]any)["Key"].(string))
	if string(k) != "DJI00.N" {
		t.Fatalf("key %q", k)
	}
	c.send(`{"ID":3,"Domain":"Source","Key":{"Filter":3}}`)
	d := c.next()
	e0 := obj(d, "Map", "Entries").([]any)[0].(map[string]any)
	fl := e0["FilterList"].(map[string]any)["Entries"].([]any)
	if d["Domain"] != "Source" || e0["Key"] != 257.0 || len(fl) != 2 || obj(fl[0].(map[string]any), "Elements", "Name") != "ELEKTRON_DD" {
		t.Fatalf("directory %s", mustJSON(d))
	}
}

// Scenario 16: item faults.
func TestItemFaults(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 100})
	c.send(`[{"ID":2,"Key":{"Name":"TRI.N"}},{"ID":3,"Key":{"Name":"IBM.N"}}]`)
	c.until(isType("Update", 2))
	if _, err := e.hub.ItemStatus("TRI.N", FaultSuspect, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	s := c.until(isType("Status", 2))
	if obj(s, "State", "Stream") != "Open" || obj(s, "State", "Data") != "Suspect" {
		t.Fatalf("got %s", mustJSON(s))
	}
	r := c.until(func(m map[string]any) bool { return m["ID"] == 2.0 && m["Type"] != "Update" })
	if r["Type"] != "Refresh" || r["Solicited"] != false || obj(r, "State", "Data") != "Ok" {
		t.Fatalf("recovery %s", mustJSON(r))
	}
	c.until(isType("Update", 2))

	if _, err := e.hub.ItemStatus("IBM.N", FaultClosedRecover, 0); err != nil {
		t.Fatal(err)
	}
	if s := c.until(isType("Status", 3)); obj(s, "State", "Stream") != "ClosedRecover" {
		t.Fatalf("got %s", mustJSON(s))
	}
	if _, err := e.hub.ItemStatus("", FaultClosed, 0); err != nil {
		t.Fatal(err)
	}
	if s := c.until(isType("Status", 2)); obj(s, "State", "Stream") != "Closed" {
		t.Fatalf("got %s", mustJSON(s))
	}
	for _, m := range c.sync() {
		if m["Type"] == "Update" && m["ID"] == 3.0 {
			t.Fatalf("update after close %s", mustJSON(m))
		}
	}
	if _, err := e.hub.ItemStatus("NOPE", FaultClosed, 0); err == nil {
		t.Fatal("fault on unknown item accepted")
	}
}

// Scenario 18: two endpoints, same item: identical updates and SeqNumbers.
func TestHotStandbyIdenticalSeq(t *testing.T) {
	e := newEnv(t, Config{Rate: 100}, 2, true)
	a, b := dial(e, 0), dial(e, 1)
	tok := e.token(1, time.Minute)
	a.login(tok)
	b.login(tok)
	a.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	b.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	collect := func(c *client) map[float64]string {
		out := map[float64]string{}
		for len(out) < 20 {
			u := c.until(isType("Update", 2))
			out[u["SeqNumber"].(float64)] = mustJSON(u["Fields"])
		}
		return out
	}
	ua, ub := collect(a), collect(b)
	common := 0
	for seq, f := range ua {
		if g, ok := ub[seq]; ok {
			common++
			if g != f {
				t.Fatalf("seq %v differs: %s vs %s", seq, f, g)
			}
		}
	}
	if common < 10 {
		t.Fatalf("only %d common SeqNumbers", common)
	}
	var seqs []int64
	for _, st := range e.hub.ItemStats() {
		if st.Name == "TRI.N" {
			seqs = st.Seqs
		}
	}
	for s := range ua {
		if !slices.Contains(seqs, int64(s)) {
			t.Fatalf("seq %v not in hub stats", s)
		}
	}
}

// Packing: Pack messages per frame, never above MaxMsgSize.
func TestPackingWithinMaxMsgSize(t *testing.T) {
	const maxSize = 2000
	_, c := loggedIn(t, Config{Rate: 200, Pack: 50, MaxMsgSize: maxSize})
	var req []string
	for i := range 20 {
		req = append(req, fmt.Sprintf(`{"ID":%d,"Key":{"Name":"LOAD%d.N"}}`, i+2, i))
	}
	c.send("[" + strings.Join(req, ",") + "]")
	multi := 0
	for range 50 {
		p, err := c.frame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) > maxSize {
			t.Fatalf("frame of %d bytes > %d", len(p), maxSize)
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(p, &arr); err != nil {
			t.Fatal(err)
		}
		if len(arr) > 50 {
			t.Fatalf("%d messages in a frame", len(arr))
		}
		if len(arr) > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Fatal("no frame carried more than one message")
	}
}
