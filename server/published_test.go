package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// pubSource is a Source driven by the test: every Open and Close is
// reported on ops, and the test publishes through the items it got.
type pubSource struct {
	ops     chan string // "open NAME" / "close NAME"
	mu      sync.Mutex
	items   map[string]*Item
	openErr map[string]error
	posts   chan Post
	postErr error
}

func newPubSource() *pubSource {
	return &pubSource{ops: make(chan string, 1024), items: map[string]*Item{}, openErr: map[string]error{}, posts: make(chan Post, 16)}
}

func (p *pubSource) Open(it *Item) error {
	p.mu.Lock()
	err := p.openErr[it.Name()]
	if err == nil {
		p.items[it.Name()] = it
	}
	p.mu.Unlock()
	p.ops <- "open " + it.Name()
	return err
}

func (p *pubSource) Close(it *Item) {
	p.mu.Lock()
	if p.items[it.Name()] == it {
		delete(p.items, it.Name())
	}
	p.mu.Unlock()
	p.ops <- "close " + it.Name()
}

func (p *pubSource) Post(ctx context.Context, po Post) error {
	p.posts <- po
	return p.postErr
}

func (p *pubSource) item(t *testing.T, name string) *Item {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.items[name]
	if it == nil {
		t.Fatalf("%s is not open at the source", name)
	}
	return it
}

// expectOp waits for the next Open/Close call.
func (p *pubSource) expectOp(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-p.ops:
		if got != want {
			t.Fatalf("source call %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no source call, want %q", want)
	}
}

// noOp checks that no Open/Close call is pending after a round trip
// through the hub's source goroutine.
func (p *pubSource) noOp(t *testing.T, h *Hub) {
	t.Helper()
	done := make(chan struct{})
	h.enqueueSrcOp(srcOp{done: done})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("source ops stuck")
	}
	select {
	case got := <-p.ops:
		t.Fatalf("unexpected source call %q", got)
	default:
	}
}

func image(bid float64, seq int64) Image {
	return Image{Fields: []trjson.Field{trjson.Float("BID", bid), trjson.Float("ASK", bid+1), trjson.String("DSPLY_NAME", "TEST CO")},
		SeqNumber: seq, HasSeq: true, PermData: "AwEBEBU8", ClearCache: true}
}

func newPubEnv(t *testing.T, cfg Config) (*env, *pubSource) {
	src := newPubSource()
	cfg.Source = src
	cfg.ADSMode = true
	return newEnv(t, cfg, 1, false), src
}

func loginByName(c *client, name string) map[string]any {
	c.t.Helper()
	c.send(`{"ID":1,"Domain":"Login","Key":{"Name":"` + name + `"}}`)
	return c.next()
}

// One upstream item serves every downstream stream: the second request
// is answered from the cache, updates reach both, the item closes at the
// source when the last stream closes.
func TestPublishedCacheAndMerge(t *testing.T) {
	e, src := newPubEnv(t, Config{})
	a, b := dial(e, 0), dial(e, 0)
	loginByName(a, "alice")
	loginByName(b, "bob")

	a.send(`{"ID":2,"Key":{"Name":"ABC.N"}}`)
	src.expectOp(t, "open ABC.N")
	it := src.item(t, "ABC.N")
	it.Update(Update{Fields: []trjson.Field{trjson.Float("BID", 1)}, SeqNumber: 1, HasSeq: true}) // before the image: dropped
	it.Refresh(image(10, 5))
	r := a.next()
	if r["Type"] != "Refresh" || obj(r, "Fields", "BID") != 10.0 || r["SeqNumber"] != 5.0 || r["Solicited"] == false {
		t.Fatalf("first refresh: %v", r)
	}
	it.Update(Update{UpdateType: trjson.UpdateQuote, Fields: []trjson.Field{trjson.Float("BID", 11)}, SeqNumber: 6, HasSeq: true})
	if u := a.next(); u["Type"] != "Update" || obj(u, "Fields", "BID") != 11.0 || u["SeqNumber"] != 6.0 {
		t.Fatalf("update: %v", u)
	}

	// The second client: a view, answered from the merged cache at once,
	// no second Open.
	b.send(`{"ID":7,"Key":{"Name":"ABC.N"},"View":["BID","DSPLY_NAME"]}`)
	r = b.next()
	if r["Type"] != "Refresh" || obj(r, "Fields", "BID") != 11.0 || obj(r, "Fields", "ASK") != nil || r["SeqNumber"] != 6.0 {
		t.Fatalf("cached refresh: %v", r)
	}
	src.noOp(t, e.hub)

	it.Update(Update{UpdateType: trjson.UpdateTrade, Fields: []trjson.Field{trjson.Float("ASK", 13)}, SeqNumber: 7, HasSeq: true})
	it.Update(Update{UpdateType: trjson.UpdateQuote, Fields: []trjson.Field{trjson.Float("BID", 12), trjson.Float("ASK", 14)}, SeqNumber: 8, HasSeq: true})
	if u := a.next(); u["SeqNumber"] != 7.0 {
		t.Fatalf("a: %v", u)
	}
	if u := a.next(); u["SeqNumber"] != 8.0 {
		t.Fatalf("a: %v", u)
	}
	// b's view has no ASK: the update of seq 7 is not sent to it.
	if u := b.next(); u["SeqNumber"] != 8.0 || obj(u, "Fields", "ASK") != nil || obj(u, "Fields", "BID") != 12.0 {
		t.Fatalf("b: %v", u)
	}

	a.send(`{"ID":2,"Type":"Close"}`)
	a.sync()
	src.noOp(t, e.hub)
	b.send(`{"ID":7,"Type":"Close"}`)
	b.sync()
	src.expectOp(t, "close ABC.N")
	// Calls on a closed item are ignored.
	it.Update(Update{Fields: []trjson.Field{trjson.Float("BID", 1)}})
	if got := b.sync(); len(got) != 0 {
		t.Fatalf("after close: %v", got)
	}
}

// A snapshot request waits for the image, gets a NonStreaming refresh,
// and does not keep the item open.
func TestPublishedSnapshot(t *testing.T) {
	e, src := newPubEnv(t, Config{})
	a := dial(e, 0)
	loginByName(a, "alice")
	a.send(`{"ID":2,"Key":{"Name":"ABC.N"},"Streaming":false}`)
	src.expectOp(t, "open ABC.N")
	src.item(t, "ABC.N").Refresh(image(10, 5))
	r := a.next()
	if r["Type"] != "Refresh" || obj(r, "State", "Stream") != "NonStreaming" {
		t.Fatalf("snapshot: %v", r)
	}
	src.expectOp(t, "close ABC.N")
}

// A client that disconnects while its snapshot waits does not keep the
// item open.
func TestPublishedPendingSnapshotDisconnect(t *testing.T) {
	e, src := newPubEnv(t, Config{})
	a := dial(e, 0)
	loginByName(a, "alice")
	a.send(`{"ID":2,"Key":{"Name":"ABC.N"},"Streaming":false}`)
	src.expectOp(t, "open ABC.N")
	a.nc.Close()
	src.expectOp(t, "close ABC.N")
}

// Linger keeps the item open at the source for a while after its last
// stream; a request meanwhile reuses it.
func TestPublishedLinger(t *testing.T) {
	e, src := newPubEnv(t, Config{Linger: 200 * time.Millisecond})
	a := dial(e, 0)
	loginByName(a, "alice")
	a.send(`{"ID":2,"Key":{"Name":"ABC.N"}}`)
	src.expectOp(t, "open ABC.N")
	src.item(t, "ABC.N").Refresh(image(10, 5))
	a.next()
	a.send(`{"ID":2,"Type":"Close"}`)
	a.send(`{"ID":3,"Key":{"Name":"ABC.N"}}`)
	if r := a.next(); r["Type"] != "Refresh" || r["ID"] != 3.0 {
		t.Fatalf("re-open: %v", r)
	}
	src.noOp(t, e.hub)
	a.send(`{"ID":3,"Type":"Close"}`)
	a.sync()
	if items := e.hub.SourceItems(); len(items) != 1 || !items[0].Lingering {
		t.Fatalf("lingering item: %+v", items)
	}
	src.expectOp(t, "close ABC.N") // after the linger
}

// Item states are passed on: Open/Suspect to every stream, then a
// recovery as an unsolicited Refresh; Closed and ClosedRecover end the
// streams and close the item at the source.
func TestPublishedStates(t *testing.T) {
	for _, final := range []trjson.StreamState{trjson.StreamClosedRecover, trjson.StreamClosed} {
		t.Run(final.String(), func(t *testing.T) {
			e, src := newPubEnv(t, Config{})
			a, b := dial(e, 0), dial(e, 0)
			loginByName(a, "alice")
			loginByName(b, "bob")
			a.send(`{"ID":2,"Key":{"Name":"ABC.N"}}`)
			src.expectOp(t, "open ABC.N")
			it := src.item(t, "ABC.N")
			it.Refresh(image(10, 5))
			a.next()
			b.send(`{"ID":4,"Key":{"Name":"ABC.N"}}`)
			b.next()

			it.Status(trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataSuspect, Text: "upstream lost"})
			for _, c := range []*client{a, b} {
				if m := c.next(); m["Type"] != "Status" || obj(m, "State", "Data") != "Suspect" || obj(m, "State", "Text") != "upstream lost" {
					t.Fatalf("suspect: %v", m)
				}
			}
			// A new stream meanwhile gets the image with the Suspect state.
			a.send(`{"ID":3,"Key":{"Name":"ABC.N"}}`)
			if m := a.next(); m["Type"] != "Refresh" || obj(m, "State", "Data") != "Suspect" {
				t.Fatalf("refresh while suspect: %v", m)
			}
			it.Refresh(image(20, 9))
			for _, c := range []*client{a, b} {
				for range 2 - map[*client]int{a: 0, b: 1}[c] {
					if m := c.next(); m["Type"] != "Refresh" || m["Solicited"] != false || obj(m, "State", "Data") != "Ok" || obj(m, "Fields", "BID") != 20.0 {
						t.Fatalf("recovery: %v", m)
					}
				}
			}
			it.Status(trjson.State{Stream: final, Data: trjson.DataSuspect, Code: trjson.CodeNone, Text: "gone"})
			src.expectOp(t, "close ABC.N")
			for _, c := range []*client{a, b} {
				for range 2 - map[*client]int{a: 0, b: 1}[c] {
					if m := c.next(); m["Type"] != "Status" || obj(m, "State", "Stream") != final.String() || obj(m, "Key", "Name") != "ABC.N" {
						t.Fatalf("final status: %v", m)
					}
				}
			}
			// A new request opens the item again.
			a.send(`{"ID":5,"Key":{"Name":"ABC.N"}}`)
			src.expectOp(t, "open ABC.N")
		})
	}
}

// Open errors end the requests with the matching Status.
func TestPublishedOpenErrors(t *testing.T) {
	e, src := newPubEnv(t, Config{})
	src.openErr["NOPE.N"] = fmt.Errorf("upstream: %w", ErrNotFound)
	src.openErr["SECRET.N"] = fmt.Errorf("upstream: %w", ErrNotEntitled)
	src.openErr["BROKEN.N"] = errors.New("upstream session down")
	a := dial(e, 0)
	loginByName(a, "alice")
	for i, c := range []struct{ name, code string }{{"NOPE.N", "NotFound"}, {"SECRET.N", "NotEntitled"}, {"BROKEN.N", ""}} {
		a.send(fmt.Sprintf(`{"ID":%d,"Key":{"Name":%q}}`, i+2, c.name))
		m := a.next()
		code, _ := obj(m, "State", "Code").(string)
		if m["Type"] != "Status" || obj(m, "State", "Stream") != "Closed" || code != c.code {
			t.Fatalf("%s: %v", c.name, m)
		}
	}
	// The failed items hold no stream ID: the IDs can be reused.
	a.send(`{"ID":2,"Key":{"Name":"ABC.N"}}`)
	for {
		if op := <-src.ops; op == "open ABC.N" {
			break
		}
	}
}

// Entitled and CheckUser refuse what the configuration does not allow.
func TestPublishedAccessControl(t *testing.T) {
	e, src := newPubEnv(t, Config{
		CheckUser: func(name string) error {
			if name != "alice" {
				return errors.New("unknown user " + name)
			}
			return nil
		},
		Entitled: func(user string, d trjson.Domain, name string) bool { return name != "SECRET.N" },
	})
	b := dial(e, 0)
	if m := loginByName(b, "mallory"); m["Type"] != "Status" || obj(m, "State", "Stream") != "Closed" {
		t.Fatalf("login of an unknown user: %v", m)
	}
	a := dial(e, 0)
	loginByName(a, "alice")
	a.send(`{"ID":2,"Key":{"Name":"SECRET.N"}}`)
	if m := a.next(); obj(m, "State", "Code") != "NotEntitled" {
		t.Fatalf("not entitled: %v", m)
	}
	src.noOp(t, e.hub)
}

// Posts go to the source; its answer is the Ack or the Nak.
func TestPublishedPost(t *testing.T) {
	e, src := newPubEnv(t, Config{})
	a := dial(e, 0)
	loginByName(a, "alice")
	a.send(`{"ID":1,"Type":"Post","Domain":"MarketPrice","Key":{"Name":"ABC.N"},"PostID":3,"Ack":true,"Message":{"ID":0,"Type":"Update","Fields":{"BID":5}}}`)
	if m := a.next(); m["Type"] != "Ack" || m["AckID"] != 3.0 || m["NakCode"] != nil {
		t.Fatalf("ack: %v", m)
	}
	p := <-src.posts
	if p.Name != "ABC.N" || p.User != "alice" || len(p.Fields) != 1 || p.Fields[0].Name != "BID" {
		t.Fatalf("post: %+v", p)
	}
	src.postErr = errors.New("upstream refused")
	a.send(`{"ID":1,"Type":"Post","Domain":"MarketPrice","Key":{"Name":"ABC.N"},"PostID":4,"Ack":true,"Message":{"ID":0,"Type":"Update","Fields":{"BID":5}}}`)
	if m := a.next(); m["Type"] != "Ack" || m["NakCode"] == nil || m["Text"] != "upstream refused" {
		t.Fatalf("nak: %v", m)
	}
	<-src.posts
}

// Domains other than Market Price and the Map domains are refused clearly.
func TestPublishedDomains(t *testing.T) {
	e, src := newPubEnv(t, Config{})
	a := dial(e, 0)
	loginByName(a, "alice")
	a.send(`{"ID":2,"Domain":"YieldCurve","Key":{"Name":"ABC.N"}}`)
	if m := a.next(); m["Type"] != "Status" || obj(m, "State", "Stream") != "Closed" {
		t.Fatalf("yield curve: %v", m)
	}
	src.noOp(t, e.hub)
}

func TestPublishedConfig(t *testing.T) {
	if _, err := NewHub(Config{Universe: newFakeUniverse(), Source: newPubSource(), Dictionary: fakeDictionary{}, ADSMode: true}); !errors.Is(err, ErrConfig) {
		t.Fatalf("both sources: %v", err)
	}
	if _, err := NewHub(Config{Source: newPubSource(), Dictionary: fakeDictionary{}, ADSMode: true, LoadMode: true}); !errors.Is(err, ErrConfig) {
		t.Fatalf("load mode with a Source: %v", err)
	}
}

// Many updates and streams: every stream gets every update once, in
// order.
func TestPublishedFanOutOrder(t *testing.T) {
	e, src := newPubEnv(t, Config{Pack: 20})
	var clients []*client
	for i := range 5 {
		c := dial(e, 0)
		loginByName(c, fmt.Sprint("u", i))
		c.send(`{"ID":2,"Key":{"Name":"ABC.N"}}`)
		if i == 0 {
			src.expectOp(t, "open ABC.N")
			src.item(t, "ABC.N").Refresh(image(1, 0))
		}
		c.next()
		clients = append(clients, c)
	}
	it := src.item(t, "ABC.N")
	const n = 2000
	for i := 1; i <= n; i++ {
		it.Update(Update{Fields: []trjson.Field{trjson.Float("BID", float64(i)), trjson.String("DSPLY_NAME", fmt.Sprint("N", i))}, SeqNumber: int64(i), HasSeq: true})
	}
	for ci, c := range clients {
		for i := 1; i <= n; i++ {
			u := c.next()
			if u["SeqNumber"] != float64(i) || obj(u, "Fields", "DSPLY_NAME") != fmt.Sprint("N", i) {
				t.Fatalf("client %d update %d: %v", ci, i, u)
			}
		}
	}
}

// A published order book: the Refresh in two parts, Updates applied to
// the cache, a later stream gets the book as it is now.
func TestPublishedBook(t *testing.T) {
	e, src := newPubEnv(t, Config{})
	a, b := dial(e, 0), dial(e, 0)
	loginByName(a, "alice")
	loginByName(b, "bob")
	a.send(`{"ID":2,"Domain":"MarketByPrice","Key":{"Name":"ABC.N"}}`)
	src.expectOp(t, "open ABC.N")
	it := src.item(t, "ABC.N")
	it.Refresh(Image{Map: trjson.Raw(`{"KeyType":"Buffer","Summary":{"Fields":{"CURRENCY":"USD"}},"Entries":[{"Action":"Add","Key":"MTAuMEI=","Fields":{"ORDER_PRC":10,"ORDER_SIZE":5}}]}`),
		More: true, ClearCache: true, SeqNumber: 1, HasSeq: true})
	it.Refresh(Image{Map: trjson.Raw(`{"KeyType":"Buffer","Entries":[{"Action":"Add","Key":"MTAuMUE=","Fields":{"ORDER_PRC":10.1,"ORDER_SIZE":7}}]}`), SeqNumber: 1, HasSeq: true})
	r := a.next()
	if r["Type"] != "Refresh" || r["Domain"] != "MarketByPrice" {
		t.Fatalf("book refresh: %v", r)
	}
	if n := len(obj(r, "Map", "Entries").([]any)); n != 2 {
		t.Fatalf("book refresh with %d entries: %v", n, r)
	}
	// Delete one level, update the other, add a third.
	it.Update(Update{Map: trjson.Raw(`{"KeyType":"Buffer","Entries":[{"Action":"Delete","Key":"MTAuMEI="},{"Action":"Update","Key":"MTAuMUE=","Fields":{"ORDER_SIZE":9}},{"Action":"Add","Key":"MTAuMkE=","Fields":{"ORDER_PRC":10.2,"ORDER_SIZE":1}}]}`), SeqNumber: 2, HasSeq: true})
	if u := a.next(); u["Type"] != "Update" || len(obj(u, "Map", "Entries").([]any)) != 3 {
		t.Fatalf("book update: %v", u)
	}
	b.send(`{"ID":5,"Domain":"MarketByPrice","Key":{"Name":"ABC.N"}}`)
	r = b.next()
	entries := obj(r, "Map", "Entries").([]any)
	got := map[string]any{}
	for _, e := range entries {
		m := e.(map[string]any)
		if m["Action"] != "Add" {
			t.Fatalf("image entry %v", m)
		}
		got[m["Key"].(string)] = obj(m, "Fields", "ORDER_SIZE")
	}
	if len(got) != 2 || got["MTAuMUE="] != 9.0 || got["MTAuMkE="] != 1.0 || r["SeqNumber"] != 2.0 || obj(r, "Map", "Summary", "Fields", "CURRENCY") != "USD" {
		t.Fatalf("cached book: %v", r)
	}
	src.noOp(t, e.hub)
}

// A reissue before the source published the image sends nothing; the
// image, when it comes, is the stream's solicited Refresh.
func TestPublishedReissueBeforeImage(t *testing.T) {
	e, src := newPubEnv(t, Config{})
	a := dial(e, 0)
	loginByName(a, "alice")
	a.send(`{"ID":2,"Key":{"Name":"ABC.N"}}`)
	src.expectOp(t, "open ABC.N")
	a.send(`{"ID":2,"Key":{"Name":"ABC.N"},"View":["BID"]}`)
	if got := a.sync(); len(got) != 0 {
		t.Fatalf("before the image: %v", got)
	}
	src.item(t, "ABC.N").Refresh(image(10, 5))
	r := a.next()
	if r["Type"] != "Refresh" || r["Solicited"] == false || obj(r, "Fields", "ASK") != nil || obj(r, "Fields", "BID") != 10.0 {
		t.Fatalf("refresh: %v", r)
	}
	if got := a.sync(); len(got) != 0 {
		t.Fatalf("a second refresh: %v", got)
	}
}
