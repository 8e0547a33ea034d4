package natsbus

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
	"github.com/ertkit/ertkit/trjson"
)

// sink records, per item, the SeqNumbers and merged image a subscriber
// delivers (fields as text, book entries by key), and signals when an
// item reaches a SeqNumber.
type sink struct {
	mu     sync.Mutex
	items  map[Key]*sinkItem
	events []Event
	cond   chan struct{} // closed and replaced on every message
}

type sinkItem struct {
	imageSeq int64
	seqs     []int64
	fields   map[string]string
	book     map[string]map[string]string
	last     int64
}

func newSink() *sink { return &sink{items: map[Key]*sinkItem{}, cond: make(chan struct{})} }

func (s *sink) handle(m *consumer.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := Key{Service: m.Service, Domain: m.Domain, Name: m.Name}
	it := s.items[k]
	if it == nil {
		it = &sinkItem{fields: map[string]string{}, book: map[string]map[string]string{}, imageSeq: -1}
		s.items[k] = it
	}
	if m.Type == trjson.TypeRefresh && m.PartNumber == 0 {
		clear(it.fields)
		clear(it.book)
		if it.imageSeq < 0 {
			it.imageSeq = m.SeqNumber
		}
	} else if m.HasSeq {
		it.seqs = append(it.seqs, m.SeqNumber)
	}
	if m.HasSeq {
		it.last = m.SeqNumber
	}
	for _, f := range m.Fields {
		it.fields[f.Name] = f.AsString()
	}
	if len(m.Map) > 0 {
		mp, err := trjson.DecodeMap(m.Map)
		if err != nil {
			panic(err)
		}
		for _, e := range mp.Entries {
			switch e.Action {
			case trjson.MapDelete:
				delete(it.book, e.Key)
			case trjson.MapAdd:
				it.book[e.Key] = map[string]string{}
				fallthrough
			default:
				if it.book[e.Key] == nil {
					it.book[e.Key] = map[string]string{}
				}
				for _, f := range e.Fields {
					it.book[e.Key][f.Name] = f.AsString()
				}
			}
		}
	}
	close(s.cond)
	s.cond = make(chan struct{})
}

func (s *sink) event(e Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

// waitAll waits (bounded) until every item of want has delivered its
// SeqNumber.
func (s *sink) waitAll(t testing.TB, want map[Key]int64, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		missing := ""
		for k, seq := range want {
			if it := s.items[k]; it == nil || it.last != seq {
				missing = k.String()
				break
			}
		}
		ch := s.cond
		s.mu.Unlock()
		if missing == "" {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s did not reach its last SeqNumber within %s", missing, d)
		}
	}
}

func (it *sinkItem) contiguous(t testing.TB, name string) {
	t.Helper()
	prev := it.imageSeq
	for _, s := range it.seqs {
		if s != prev+1 {
			t.Fatalf("%s: SeqNumber %d after %d", name, s, prev)
		}
		prev = s
	}
}

func fieldsText(fs map[string]trjson.Field) map[string]string {
	out := map[string]string{}
	for n, f := range fs {
		out[n] = f.AsString()
	}
	return out
}

// TestEmulatorToSubscriber: emulator → SDK with the Publisher as Handler →
// embedded JetStream → Subscribers (one from the start, one joining
// midway): every update arrives, SeqNumbers are contiguous, and the
// images equal the SDK's own cache.
func TestEmulatorToSubscriber(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	emu := testutil.StartEmulator(t, emulator.Config{Rate: 40, RateSet: true})
	info := emu.Info()
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
	}), auth.Options{TLSConfig: testutil.TLS(t, info)})
	defer tokens.Close()
	_, nc := startServer(t)
	pub, err := NewPublisher(ctx, PublisherConfig{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}

	mp := []string{"TRI.N", "IBM.N", "EUR="}
	var ks []Key
	for _, n := range mp {
		ks = append(ks, Key{Service: "ELEKTRON_DD", Domain: trjson.DomainMarketPrice, Name: n})
	}
	ks = append(ks, Key{Service: "ELEKTRON_DD", Domain: trjson.DomainMarketByPrice, Name: "TRI.N"})

	early := newSink()
	subEarly, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: early.handle, OnEvent: early.event}, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer subEarly.Close()

	// Count updates seen by the SDK to know when to stop.
	var mu sync.Mutex
	updates := map[Key]int{}
	enough := make(chan struct{})
	var once sync.Once
	handler := func(m *consumer.Msg) {
		pub.Handle(m)
		mu.Lock()
		defer mu.Unlock()
		if m.Type == trjson.TypeUpdate {
			updates[Key{m.Service, m.Domain, m.Name}]++
		}
		if len(updates) == len(ks) {
			for _, n := range updates {
				if n < 60 {
					return
				}
			}
			once.Do(func() { close(enough) })
		}
	}
	client, err := consumer.Dial(ctx, consumer.Config{Endpoints: testutil.Endpoints(info), TokenSource: tokens,
		TLS: consumer.TLS{CAPEM: info.CAPEM}, Handler: handler, Cache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	subMP, err := client.Subscribe(ctx, mp)
	if err != nil {
		t.Fatal(err)
	}
	subMBP, err := client.Subscribe(ctx, []string{"TRI.N"}, consumer.WithDomain(trjson.DomainMarketByPrice))
	if err != nil {
		t.Fatal(err)
	}
	// A subscriber that joins midway, through an image.
	var mid *sink
	var subMid *Subscription
	midAt := time.NewTimer(700 * time.Millisecond)
	defer midAt.Stop()
	select {
	case <-midAt.C:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	mid = newSink()
	subMid, err = Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: mid.handle, OnEvent: mid.event}, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer subMid.Close()
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatalf("the SDK did not receive 60 updates per item: %v", updates)
	}
	client.Close() // no more messages: the SDK's cache is final
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := pub.Stats(); st.Dropped != 0 || st.Errors != 0 || st.Published != st.Received {
		t.Fatalf("publisher stats %+v", st)
	}
	sdk := map[Key]consumer.Image{}
	lastSeq := map[Key]int64{}
	for _, it := range append(subMP.Items(), subMBP.Items()...) {
		k := Key{it.Service, it.Domain, it.Name}
		sdk[k] = it.Image()
	}
	// The last SeqNumber of each item, from the image store.
	late := newSink()
	subLate, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Handler: late.handle, OnEvent: late.event}, ks)
	if err != nil {
		t.Fatal(err)
	}
	subLate.Close()
	for _, k := range ks {
		lastSeq[k] = late.items[k].imageSeq
	}
	early.waitAll(t, lastSeq, 10*time.Second)
	mid.waitAll(t, lastSeq, 10*time.Second)

	for _, s := range []*sink{early, mid, late} {
		s.mu.Lock()
		for _, e := range s.events {
			if e.Kind != EventNoImage || s != early {
				t.Errorf("event %v", e)
			}
		}
		for _, k := range ks {
			it := s.items[k]
			it.contiguous(t, k.String())
			img := sdk[k]
			if k.Domain == trjson.DomainMarketPrice {
				if want := fieldsText(img.Fields); !maps.Equal(it.fields, want) {
					t.Errorf("%s: fields differ from the SDK's cache:\n got %v\nwant %v", k, it.fields, want)
				}
			} else {
				if img.Book == nil || len(img.Book.Entries) == 0 {
					t.Fatalf("%s: SDK has no book", k)
				}
				want := map[string]map[string]string{}
				for key, fs := range img.Book.Entries {
					want[key] = fieldsText(fs)
				}
				if fmt.Sprint(it.book) != fmt.Sprint(want) {
					t.Errorf("%s: book differs from the SDK's:\n got %v\nwant %v", k, it.book, want)
				}
			}
		}
		s.mu.Unlock()
	}
	t.Logf("publisher %+v; early %+v; mid %+v", pub.Stats(), subEarly.Stats(), subMid.Stats())
}
