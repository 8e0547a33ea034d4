package consumer

import (
	"testing"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// Reissues keep the stream ID (view change, pause with Refresh:false,
// resume); a Subscription closes with one batch Close; the last-value
// cache merges updates; on-stream posts and Generic messages work; a
// ClosedRecover status is followed by a new request after back-off.
func TestReissueCloseCachePostGenericRecover(t *testing.T) {
	f := newFakeADS(t)
	generic := make(chan *Msg, 4)
	updates := make(chan *Msg, 16)
	c, el := dialFake(t, f, func(cfg *Config) {
		cfg.Cache = true
		cfg.Handler = func(m *Msg) {
			switch m.Type {
			case trjson.TypeGeneric:
				generic <- m.Clone()
			case trjson.TypeUpdate:
				updates <- m.Clone()
			}
		}
	})
	ctx := waitCtx(t)
	sub, err := c.Subscribe(ctx, []string{"A.N", "B.N"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	idA := f.streamID(0, "A.N")

	// Cache: an update merges into the image.
	f.push("A.N", 2, map[string]any{"BID": 9.5})
	select {
	case <-updates: // the cache is updated before the message is delivered
	case <-time.After(5 * time.Second):
		t.Fatal("update not delivered")
	}
	img := c.Images("A.N")
	if len(img) != 1 {
		t.Fatalf("images %v", img)
	}
	bid, ask := img[0].Fields["BID"], img[0].Fields["ASK"]
	if v, _ := bid.AsFloat(); v != 9.5 {
		t.Errorf("BID not merged: %v", img[0].Fields)
	}
	if v, _ := ask.AsFloat(); v != 2 {
		t.Errorf("ASK lost in merge: %v", img[0].Fields)
	}

	if err := sub.SetView(ctx, []string{"BID"}, nil); err != nil {
		t.Fatal(err)
	}
	m := waitFor(t, f, func(m map[string]any) bool { _, v := m["View"]; return v && m["ID"] == float64(idA) })
	if v := m["View"].([]any); len(v) != 1 || v[0] != "BID" {
		t.Errorf("view reissue %v", m)
	}
	if err := sub.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	m = waitFor(t, f, func(m map[string]any) bool { return m["Pause"] == true && m["ID"] == float64(idA) })
	if m["Refresh"] != false {
		t.Errorf("pause should not ask for a refresh: %v", m)
	}

	if err := sub.Item().Post(ctx, []trjson.Field{trjson.Float("BID", 3)}); err != nil {
		t.Fatalf("on-stream post: %v", err)
	}
	m = waitFor(t, f, func(m map[string]any) bool { return m["Type"] == "Post" })
	if m["ID"] != float64(idA) {
		t.Errorf("on-stream post on ID %v, want %d", m["ID"], idA)
	}

	if err := sub.Item().SendGeneric(ctx, Generic{Fields: []trjson.Field{trjson.Int("X", 1)}}); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-generic:
		if v, _ := g.Int("ECHO"); v != 1 || g.Item != sub.Item() {
			t.Errorf("generic %+v", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Generic received")
	}

	// ClosedRecover → re-requested on a new ID.
	f.status("B.N", "ClosedRecover", "temporarily unavailable")
	waitFor(t, f, func(m map[string]any) bool {
		k, _ := m["Key"].(map[string]any)
		id, _ := m["ID"].(float64)
		return k != nil && k["Name"] == "B.N" && int64(id) > idA+1
	})
	waitItem(t, el, sub.Items()[1], trjson.StreamOpen, trjson.DataOk)

	if err := sub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m = waitFor(t, f, func(m map[string]any) bool { return m["Type"] == "Close" })
	if ids, ok := m["ID"].([]any); !ok || len(ids) != 2 {
		t.Errorf("want one batch Close of 2 IDs, got %v", m)
	}
	if st := sub.Item().State(); st.Stream != trjson.StreamClosed {
		t.Errorf("state after close %+v", st)
	}
}
