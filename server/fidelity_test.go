package server

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// closedStatus checks a Status Closed/Suspect with the given code on id.
func closedStatus(t *testing.T, m map[string]any, id float64, code string) {
	t.Helper()
	if m["Type"] != "Status" || m["ID"] != id || obj(m, "State", "Stream") != "Closed" ||
		obj(m, "State", "Data") != "Suspect" || obj(m, "State", "Code") != code {
		t.Fatalf("want Status Closed/Suspect %s on %v, got %s", code, id, mustJSON(m))
	}
}

// noStream checks that no stream id is open on the only connection.
func noStream(t *testing.T, e *env, c *client) {
	t.Helper()
	c.sync()
	if n := e.servers[0].Conns()[0].Streams; n != 0 {
		t.Fatalf("%d streams open", n)
	}
}

func TestRequestQos(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 50})
	// Exact QoS, both spellings: real-time tick-by-tick is what TRI.N has.
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"},"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"}}`)
	if m := c.next(); m["Type"] != "Refresh" || m["ID"] != 2.0 {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.send(`{"ID":3,"Key":{"Name":"IBM.N"},"QOS":{"Timeliness":"Realtime","Rate":"TickByTick"}}`)
	c.until(isType("Refresh", 3))
	// Only real-time is acceptable, the item is delayed: refused.
	c.send(`{"ID":4,"Key":{"Name":"/TRI.N"},"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"}}`)
	m := c.until(func(m map[string]any) bool { return m["ID"] == 4.0 })
	closedStatus(t, m, 4, "NotEntitled")
	if obj(m, "Key", "Name") != "/TRI.N" {
		t.Fatalf("status key %s", mustJSON(m))
	}
	// A range that includes delayed data: accepted.
	c.send(`{"ID":5,"Key":{"Name":"/TRI.N"},"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"},"WorstQos":{"Timeliness":"DelayedUnknown","Rate":"TimeConflated"}}`)
	c.until(isType("Refresh", 5))
	// A range entirely worse than the item (only conflated data wanted).
	c.send(`{"ID":6,"Key":{"Name":"T.N"},"Qos":{"Timeliness":"Realtime","Rate":"TimeConflated","RateInfo":1000},"WorstQos":{"Timeliness":"Delayed","Rate":"TimeConflated"}}`)
	closedStatus(t, c.until(func(m map[string]any) bool { return m["ID"] == 6.0 }), 6, "NotEntitled")
	// A reissue asking for a QoS the item lacks closes the stream.
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"},"Refresh":false,"Qos":{"Timeliness":"Delayed","Rate":"TickByTick"}}`)
	closedStatus(t, c.until(func(m map[string]any) bool { return m["ID"] == 2.0 && m["Type"] == "Status" }), 2, "NotEntitled")
	c.send(`{"ID":[3,5],"Type":"Close"}`)
	noStream(t, e, c)
}

func TestRequestQosConflated(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 50, Conflate: true})
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"},"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"}}`)
	closedStatus(t, c.next(), 2, "NotEntitled")
	c.send(`{"ID":3,"Key":{"Name":"TRI.N"},"Qos":{"Timeliness":"Realtime","Rate":"TimeConflated","RateInfo":1000}}`)
	if m := c.next(); m["Type"] != "Refresh" || obj(m, "Qos", "Rate") != "TimeConflated" {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.send(`{"ID":4,"Key":{"Name":"IBM.N"},"Qos":{"Timeliness":"Realtime","Rate":"TickByTick"},"WorstQos":{"Timeliness":"Realtime","Rate":"TimeConflated","RateInfo":3000}}`)
	c.until(isType("Refresh", 4))
}

// Conflated quotes carry ConflationInfo when asked, and a pending quote
// goes out on the conflation timer even when no later tick comes (Rate 1
// with conflation every 333 ms: the first quotes of a second must not
// wait a whole second).
func TestConflationInfo(t *testing.T) {
	_, c := loggedIn(t, Config{Rate: 60, Conflate: true})
	c.send(`[{"ID":2,"ConfInfoInUpdates":true,"Key":{"Name":"TRI.N"}},{"ID":3,"Key":{"Name":"TRI.N"}}]`)
	c.until(isType("Refresh", 2))
	var withInfo int
	for withInfo < 2 {
		u := c.until(func(m map[string]any) bool { return m["Type"] == "Update" && m["UpdateType"] == "Quote" })
		ci, has := u["ConflationInfo"].(map[string]any)
		switch u["ID"] {
		case 2.0:
			if !has {
				t.Fatalf("conflated update without ConflationInfo: %s", mustJSON(u))
			}
			if ci["Count"].(float64) < 1 || ci["Time"].(float64) < 0 || ci["Time"].(float64) > 1000 {
				t.Fatalf("ConflationInfo %v", ci)
			}
			withInfo++
		case 3.0:
			if has {
				t.Fatalf("ConflationInfo without ConfInfoInUpdates: %s", mustJSON(u))
			}
		}
	}
}

// With ticks 100 s apart, a quote merged into the pending update must go
// out on the conflation timer, not with the next tick.
func TestConflationTimerFlush(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 0.01, Conflate: true})
	c.send(`{"ID":2,"ConfInfoInUpdates":true,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Refresh", 2))
	h := e.hub
	quote := func(bid float64, seq int64) {
		h.mu.Lock()
		it := h.active[0]
		h.conflate(it, &tick{item: it, updateType: trjson.UpdateQuote, fields: []trjson.Field{trjson.Float("BID", bid)}, seq: seq}, time.Now())
		h.mu.Unlock()
	}
	quote(1, 100) // first quote: sent at once
	if u := c.next(); obj(u, "Fields", "BID") != 1.0 || obj(u, "ConflationInfo", "Count") != 1.0 {
		t.Fatalf("got %s", mustJSON(u))
	}
	quote(2, 101) // within 333 ms of the first: pending
	quote(3, 102)
	u := c.next()
	if obj(u, "Fields", "BID") != 3.0 || u["SeqNumber"] != 102.0 || obj(u, "ConflationInfo", "Count") != 2.0 {
		t.Fatalf("got %s", mustJSON(u))
	}
}

func TestMultiPartPostAndPostUserInfo(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 0.01})
	other := dial(e, 0)
	other.login(e.token(1, time.Minute))
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Refresh", 2))
	other.send(`{"ID":5,"Key":{"Name":"TRI.N"}}`)
	other.until(isType("Refresh", 5))
	const pui = `{"Address":"127.0.0.1","UserID":10000}`
	c.send(`{"ID":2,"Type":"Post","Ack":true,"PostID":3,"SeqNumber":1,"Complete":false,"PartNumber":0,"PostUserInfo":` + pui + `,
	  "Message":{"ID":0,"Type":"Update","Fields":{"BID":50.0}}}`)
	ack := c.next()
	if ack["Type"] != "Ack" || ack["AckID"] != 3.0 || ack["SeqNumber"] != 1.0 || ack["NakCode"] != nil {
		t.Fatalf("ack of part 0: %s", mustJSON(ack))
	}
	if got := other.sync(); len(got) != 0 {
		t.Fatalf("incomplete post reached a subscriber: %s", mustJSON(got))
	}
	// A part for the same PostID on another stream is refused and drops
	// the buffered post.
	c.send(`{"ID":2,"Type":"Post","Ack":true,"PostID":4,"Complete":false,"Message":{"ID":0,"Type":"Update","Fields":{"BID":60.0}}}`)
	c.next()
	c.send(`{"ID":1,"Type":"Post","Ack":true,"PostID":4,"Key":{"Name":"TRI.N"},"Message":{"ID":0,"Type":"Update","Fields":{"ASK":61.0}}}`)
	if nak := c.next(); nak["Type"] != "Ack" || nak["AckID"] != 4.0 || nak["NakCode"] != "InvalidContent" {
		t.Fatalf("got %s", mustJSON(nak))
	}
	c.send(`{"ID":2,"Type":"Post","Ack":true,"PostID":3,"SeqNumber":2,"PartNumber":1,
	  "Message":{"ID":0,"Type":"Update","Fields":{"ASK":50.02}}}`)
	u := other.until(isType("Update", 5))
	if obj(u, "Fields", "BID") != 50.0 || obj(u, "Fields", "ASK") != 50.02 || mustJSON(u["PostUserInfo"]) != pui {
		t.Fatalf("update of the whole post: %s", mustJSON(u))
	}
	if ack := c.until(func(m map[string]any) bool { return m["Type"] == "Ack" }); ack["AckID"] != 3.0 || ack["SeqNumber"] != 2.0 || ack["NakCode"] != nil {
		t.Fatalf("ack of part 1: %s", mustJSON(ack))
	}
	// A posted Refresh reaches subscribers as an unsolicited Refresh with
	// the PostUserInfo.
	c.send(`{"ID":2,"Type":"Post","PostID":9,"PostUserInfo":` + pui + `,
	  "Message":{"ID":0,"Type":"Refresh","State":{"Stream":"Open","Data":"Ok"},"Fields":{"BID":51.0}}}`)
	r := other.until(isType("Refresh", 5))
	if r["Solicited"] != false || obj(r, "Fields", "BID") != 51.0 || mustJSON(r["PostUserInfo"]) != pui {
		t.Fatalf("refresh of a posted refresh: %s", mustJSON(r))
	}
}

func TestItemRedirected(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 0.01})
	c.send(`[{"ID":2,"Key":{"Name":"TRI.N"}},{"ID":3,"KeyInUpdates":false,"Key":{"Name":"/TRI.N"}}]`)
	c.until(isType("Refresh", 2))
	c.until(isType("Refresh", 3))
	if _, err := e.hub.ItemStatus("TRI.N", FaultRedirected, 0); err == nil {
		t.Fatal("redirect without a target accepted")
	}
	n, err := e.hub.ItemStatusWith("TRI.N", FaultRedirected, FaultOptions{RedirectTo: "IBM.N"})
	if err != nil || n != 2 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	for range 2 {
		m := c.until(func(m map[string]any) bool { return m["Type"] == "Status" })
		if obj(m, "State", "Stream") != "Redirected" || obj(m, "State", "Data") != "Suspect" ||
			obj(m, "Key", "Name") != "IBM.N" || obj(m, "Key", "Service") != "ELEKTRON_DD" {
			t.Fatalf("got %s", mustJSON(m))
		}
	}
	noStream(t, e, c)
	c.send(`{"ID":2,"Key":{"Name":"IBM.N"}}`) // the ID is free: follow the redirect
	c.until(isType("Refresh", 2))
}

func TestCatchUnknownKeys(t *testing.T) {
	const req = `{"ID":2,"Key":{"Name":"TRI.N"},"PlaceHolder":"1"}`
	_, c := loggedIn(t, Config{Rate: 0.01})
	c.send(req)
	c.until(isType("Refresh", 2)) // default: ignored
	e, c := loggedIn(t, Config{Rate: 0.01, CatchUnknownKeys: true})
	c.send(req)
	m := c.next()
	if m["Type"] != "Error" || m["ID"] != 2.0 || m["Text"] != "JSON Unexpected Key. Received 'PlaceHolder'" ||
		obj(m, "Debug", "Message") != req || obj(m, "Debug", "Offset") != 31.0 {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.send(`{"ID":3,"Key":{"Name":"TRI.N","Bogus":1}}`)
	if m := c.next(); m["Type"] != "Error" || m["ID"] != 3.0 || m["Text"] != "JSON Unexpected Key. Received 'Bogus'" {
		t.Fatalf("got %s", mustJSON(m))
	}
	noStream(t, e, c)
	// Spec keys trjson keeps aside are not unknown.
	c.send(`{"ID":4,"Key":{"Name":"TRI.N"},"View":["BID"],"ViewType":"NameList"}`)
	c.until(isType("Refresh", 4))
}

func TestAllowUnknownFIDs(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 0.01, AllowUnknownFIDs: true})
	other := dial(e, 0)
	other.login(e.token(1, time.Minute))
	other.send(`{"ID":5,"Key":{"Name":"TRI.N"}}`)
	other.until(isType("Refresh", 5))
	c.send(`{"ID":1,"Type":"Post","Ack":true,"PostID":2,"Key":{"Name":"TRI.N"},"Message":{"ID":0,"Type":"Update","Fields":{"BID_CUSTOM":1,"BID":44.5}}}`)
	if ack := c.next(); ack["Type"] != "Ack" || ack["NakCode"] != nil {
		t.Fatalf("got %s", mustJSON(ack))
	}
	u := other.until(isType("Update", 5))
	if f := u["Fields"].(map[string]any); f["BID"] != 44.5 || len(f) != 1 {
		t.Fatalf("update %s", mustJSON(u))
	}
}

func TestDisableBatchAndView(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 0.01, DisableBatch: true, DisableView: true})
	d := dial(e, 0)
	lr := d.login(e.token(1, time.Minute))
	if obj(lr, "Key", "Elements", "SupportBatchRequests") != 4.0 || obj(lr, "Key", "Elements", "SupportViewRequests") != 0.0 {
		t.Fatalf("login refresh %s", mustJSON(lr))
	}
	d.send(`{"ID":1,"Domain":"Login","Type":"Close"}`)
	c.send(`{"ID":2,"Key":{"Name":["TRI.N","IBM.N"]}}`)
	closedStatus(t, c.next(), 2, "NoBatchViewSupportInReq")
	c.send(`{"ID":5,"Key":{"Name":"TRI.N"},"View":["BID"]}`)
	closedStatus(t, c.next(), 5, "NoBatchViewSupportInReq")
	noStream(t, e, c)
	c.send(`{"ID":6,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Refresh", 6))
	c.send(`{"ID":6,"Key":{"Name":"TRI.N"},"View":["BID"],"Refresh":false}`)
	closedStatus(t, c.next(), 6, "NoBatchViewSupportInReq")
	noStream(t, e, c)
	c.send(`{"ID":[7,8],"Type":"Close"}`) // batch close stays available
	if m := c.next(); m["Type"] != "Status" || m["ID"] != 7.0 {
		t.Fatalf("got %s", mustJSON(m))
	}
}

func TestItemRequestOnLoginID(t *testing.T) {
	e, c := loggedIn(t, Config{Rate: 0.01})
	c.send(`{"ID":1,"Key":{"Name":"TRI.N"}}`)
	m := c.next()
	closedStatus(t, m, 1, "UsageError")
	if m["Domain"] != nil || obj(m, "Key", "Name") != "TRI.N" {
		t.Fatalf("got %s", mustJSON(m))
	}
	noStream(t, e, c)
	// A batch whose IDs run over the Login ID: that one item is refused.
	c.send(`{"ID":0,"Key":{"Name":["IBM.N","T.N","VOD.L"]}}`)
	c.until(isType("Status", 0))
	closedStatus(t, c.until(func(m map[string]any) bool { return m["ID"] == 1.0 }), 1, "UsageError")
	c.until(isType("Refresh", 2))
	c.until(isType("Refresh", 3))
	c.send(`{"ID":9,"Key":{"Name":"TRI.N"}}`) // the session is unharmed
	c.until(isType("Refresh", 9))
}

func mapKey(t *testing.T, e any) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(e.(map[string]any)["Key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// subscribeChain opens 0#.DJI on id; it returns the list and its SeqNumber.
func subscribeChain(t *testing.T, c *client, id string) ([]string, float64) {
	t.Helper()
	c.send(`{"ID":` + id + `,"Domain":"SymbolList","Key":{"Name":"0#.DJI"}}`)
	r := c.until(func(m map[string]any) bool { return m["Type"] == "Refresh" && mustJSON(m["ID"]) == id })
	var list []string
	for _, e := range obj(r, "Map", "Entries").([]any) {
		list = append(list, mapKey(t, e))
	}
	return list, r["SeqNumber"].(float64)
}

// chainChanges reads the next n list changes on id after SeqNumber seq,
// as "Action NAME" strings, checking the SeqNumbers follow on.
func chainChanges(t *testing.T, c *client, id string, seq float64, n int) ([]string, float64) {
	t.Helper()
	var changes []string
	for len(changes) < n {
		u := c.until(func(m map[string]any) bool { return m["Type"] == "Update" && mustJSON(m["ID"]) == id })
		if u["Domain"] != "SymbolList" || u["UpdateType"] != "MarketDigest" || u["SeqNumber"] != seq+1 {
			t.Fatalf("update %s after seq %v", mustJSON(u), seq)
		}
		seq++
		for _, e := range obj(u, "Map", "Entries").([]any) {
			changes = append(changes, e.(map[string]any)["Action"].(string)+" "+mapKey(t, e))
		}
	}
	return changes, seq
}

// applyChanges applies list changes, failing on a Delete of a
// non-member or an Add of a member or of a name never in the chain.
func applyChanges(t *testing.T, list, orig, changes []string) ([]string, int, int) {
	t.Helper()
	cur := slices.Clone(list)
	var adds, dels int
	for _, ch := range changes {
		action, k, _ := strings.Cut(ch, " ")
		switch action {
		case "Delete":
			i := slices.Index(cur, k)
			if i < 0 {
				t.Fatalf("delete of non-member %s in %v", k, changes)
			}
			cur = slices.Delete(cur, i, i+1)
			dels++
		case "Add":
			if slices.Contains(cur, k) || !slices.Contains(orig, k) {
				t.Fatalf("bad add %s in %v", k, changes)
			}
			cur = append(cur, k)
			adds++
		default:
			t.Fatalf("action %s", action)
		}
	}
	return cur, adds, dels
}

func TestSymbolListChanges(t *testing.T) {
	cfg := Config{Rate: 200, SymbolListChangeEvery: 2, Seed: 42}
	orig, _ := newFakeUniverse().Chain("0#.DJI")
	e := newEnv(t, cfg, 2, false)
	a, b := dial(e, 0), dial(e, 1)
	a.login(e.token(1, time.Minute))
	b.login(e.token(1, time.Minute))
	listA, seqA := subscribeChain(t, a, "2")
	if !slices.Equal(listA, orig) {
		t.Fatalf("first image %v", listA)
	}
	chA, seqA := chainChanges(t, a, "2", seqA, 12)
	_, adds, dels := applyChanges(t, listA, orig, chA)
	if adds == 0 || dels == 0 {
		t.Fatalf("changes %v: want both Adds and Deletes", chA)
	}
	// The other endpoint joins later: its image is the list as it is
	// then, and from there its changes are a's.
	listB, seqB := subscribeChain(t, b, "7")
	chB, endB := chainChanges(t, b, "7", seqB, 4)
	if seqB < seqA {
		t.Fatalf("b's image (seq %v) older than a's last change (%v)", seqB, seqA)
	}
	moreA, _ := chainChanges(t, a, "2", seqA, int(endB-seqA))
	curA, _, _ := applyChanges(t, listA, orig, append(slices.Clone(chA), moreA[:int(seqB-seqA)]...))
	slices.Sort(curA)
	sortedB := slices.Sorted(slices.Values(listB))
	if !slices.Equal(curA, sortedB) {
		t.Fatalf("b's image %v, a's list at that seq %v", sortedB, curA)
	}
	if got := moreA[int(seqB-seqA):]; !slices.Equal(got, chB) {
		t.Fatalf("a's changes %v, b's %v", got, chB)
	}
	// Deterministic with the seed: a new hub makes the same changes.
	e2 := newEnv(t, cfg, 1, false)
	c := dial(e2, 0)
	c.login(e2.token(1, time.Minute))
	_, seq := subscribeChain(t, c, "3")
	if ch, _ := chainChanges(t, c, "3", seq, 12); !slices.Equal(ch, chA) {
		t.Fatalf("seed 42 again: %v, first run %v", ch, chA)
	}
}

// Load mode: item faults and posts reach load-mode streams, and the
// stream's SeqNumbers stay one series.
func TestLoadModeFaultsAndPosts(t *testing.T) {
	e := newEnv(t, Config{LoadMode: true, Pack: 10}, 1, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	c.send(`[{"ID":2,"Key":{"Name":"LOAD1.N"}},{"ID":3,"Key":{"Name":"LOAD2.N"}}]`)
	c.until(isType("Refresh", 2))
	c.until(isType("Refresh", 3))
	if n, err := e.hub.ItemStatus("LOAD1.N", FaultSuspect, 300*time.Millisecond); err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	last := map[float64]float64{}
	seen := func(m map[string]any) {
		if m["Type"] != "Update" {
			return
		}
		id, seq := m["ID"].(float64), m["SeqNumber"].(float64)
		if prev, ok := last[id]; ok && seq != prev+1 {
			t.Fatalf("stream %v: seq %v after %v", id, seq, prev)
		}
		last[id] = seq
	}
	st := untilLoad(c, func(m map[string]any) bool { seen(m); return m["Type"] == "Status" })
	if st["ID"] != 2.0 || obj(st, "State", "Stream") != "Open" || obj(st, "State", "Data") != "Suspect" {
		t.Fatalf("got %s", mustJSON(st))
	}
	var r map[string]any
	for range 10_000_000 { // stream 3 keeps flowing meanwhile
		m := c.next()
		if m["ID"] == 2.0 && m["Type"] == "Update" {
			t.Fatalf("update on a Suspect stream: %s", mustJSON(m))
		}
		if m["Type"] == "Ping" {
			c.send(`{"Type":"Pong"}`)
		}
		seen(m)
		if m["Type"] == "Refresh" {
			r = m
			break
		}
	}
	if r["ID"] != 2.0 || r["Solicited"] != false || obj(r, "State", "Data") != "Ok" {
		t.Fatalf("got %s", mustJSON(r))
	}
	last[2] = r["SeqNumber"].(float64)
	untilLoad(c, func(m map[string]any) bool { seen(m); return m["Type"] == "Update" && m["ID"] == 2.0 })
	// A post reaches the load-mode stream, in its SeqNumber series.
	c.send(`{"ID":3,"Type":"Post","Ack":true,"PostID":1,"PostUserInfo":{"Address":"127.0.0.1","UserID":1},"Message":{"ID":0,"Type":"Update","Fields":{"BID":77.5}}}`)
	u := untilLoad(c, func(m map[string]any) bool {
		seen(m)
		return m["Type"] == "Update" && m["ID"] == 3.0 && obj(m, "Fields", "BID") == 77.5 && m["PostUserInfo"] != nil
	})
	_ = u
	untilLoad(c, func(m map[string]any) bool { seen(m); return m["Type"] == "Ack" })
	if _, err := e.hub.ItemStatus("LOAD2.N", FaultClosed, 0); err != nil {
		t.Fatal(err)
	}
	untilLoad(c, func(m map[string]any) bool {
		seen(m)
		return m["Type"] == "Status" && m["ID"] == 3.0 && obj(m, "State", "Stream") == "Closed"
	})
	for _, m := range c.sync() {
		if m["ID"] == 3.0 {
			t.Fatalf("message after Closed: %s", mustJSON(m))
		}
	}
	c.send(`{"ID":2,"Type":"Close"}`)
	c.sync()
}

// untilLoad is client.until for load mode, where far more than 10000
// messages can be in flight.
func untilLoad(c *client, f func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 10_000_000 {
		m := c.next()
		if m["Type"] == "Ping" {
			c.send(`{"Type":"Pong"}`)
			continue
		}
		if f(m) {
			return m
		}
	}
	c.t.Fatal("message not found")
	return nil
}
