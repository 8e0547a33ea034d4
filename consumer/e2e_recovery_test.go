package consumer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// pacingRecorder wraps the transports of a Client and measures, at every
// outbound item request, how many requested items still wait for their
// first Refresh or Status: the client's recovery pacing as the wire sees it.
type pacingRecorder struct {
	mu          sync.Mutex
	conns       int
	requested   map[int]int // per transport: item requests written
	replied     map[int]int // per transport: first replies read
	maxOut      map[int]int // per transport: largest requested-replied at a write
	batchIDs    map[int64]bool
	seen        map[[2]int64]bool
	requestMsgs map[int]int
}

func newPacingRecorder() *pacingRecorder {
	return &pacingRecorder{requested: map[int]int{}, replied: map[int]int{}, maxOut: map[int]int{},
		batchIDs: map[int64]bool{}, seen: map[[2]int64]bool{}, requestMsgs: map[int]int{}}
}

func (r *pacingRecorder) dial(ctx context.Context, url string, o dialOptions) (transport, error) {
	t, err := dialWS(ctx, url, o)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	n := r.conns
	r.conns++
	r.mu.Unlock()
	return &recTransport{transport: t, r: r, n: n}, nil
}

type recTransport struct {
	transport
	r      *pacingRecorder
	n      int
	rd, wd trjson.Decoder
}

func (t *recTransport) Write(ctx context.Context, p []byte) error {
	if msgs, err := t.wd.Decode(p); err == nil {
		r := t.r
		r.mu.Lock()
		for i := range msgs {
			m := &msgs[i]
			if m.Type != trjson.TypeRequest || m.Domain == trjson.DomainLogin {
				continue
			}
			r.requestMsgs[t.n]++
			if len(m.Key.Names) > 0 {
				r.batchIDs[m.ID] = true
				r.requested[t.n] += len(m.Key.Names)
			} else {
				r.requested[t.n]++
			}
		}
		if out := r.requested[t.n] - r.replied[t.n]; out > r.maxOut[t.n] {
			r.maxOut[t.n] = out
		}
		r.mu.Unlock()
	}
	return t.transport.Write(ctx, p)
}

func (t *recTransport) Read(ctx context.Context, buf []byte) ([]byte, error) {
	p, err := t.transport.Read(ctx, buf)
	if err != nil {
		return p, err
	}
	if msgs, derr := t.rd.Decode(p); derr == nil {
		r := t.r
		r.mu.Lock()
		for i := range msgs {
			m := &msgs[i]
			first := m.Type == trjson.TypeStatus && m.HasState || m.Type == trjson.TypeRefresh && m.Complete()
			k := [2]int64{int64(t.n), m.ID}
			if !first || m.ID == loginID || r.batchIDs[m.ID] || r.seen[k] {
				continue
			}
			r.seen[k] = true
			r.replied[t.n]++
		}
		r.mu.Unlock()
	}
	return p, err
}

// 2,000 items, RecoveryBatch 100: after the connection is lost every item
// is Open/Suspect; after the reconnect the watchlist is re-requested in
// paced batches (never more than 100 requested items without a reply on
// the wire), and every item comes back Open/Ok with a fresh Refresh.
func TestE2ERecoveryPacing(t *testing.T) {
	const nItems, batch = 2000, 100
	emu, info := startEmu(t, emulator.Config{Rate: 0.2, RateSet: true})
	tokens := tokenManager(t, info, 2, "")
	var mu sync.Mutex
	refreshes := map[*Item]int{}
	epoch := 0
	refreshSig := make(chan struct{}, 1)
	life := newEventLog() // connection events only: 2,000 item events would crowd them out
	c, _ := dialEmu(t, info, tokens, func(cfg *Config) {
		cfg.OnEvent = func(ev Event) {
			if ev.Kind != EventItemState {
				life.add(ev)
			}
		}
		cfg.Endpoints = cfg.Endpoints[:1]
		cfg.RecoveryBatch = batch
		cfg.RecoveryWait = 30 * time.Second // generous: expiry would mean unpaced replies were lost
		cfg.Handler = func(m *Msg) {
			if m.Type == trjson.TypeRefresh && m.Item != nil {
				mu.Lock()
				if epoch == 1 {
					refreshes[m.Item]++
				}
				mu.Unlock()
				select {
				case refreshSig <- struct{}{}:
				default:
				}
			}
		}
	})
	rec := newPacingRecorder()
	c.mu.Lock()
	c.dial = rec.dial // used from the next connection on
	c.mu.Unlock()

	base := []string{"TRI.N", "IBM.N", "JPM.N", "GS.N", "KO.N", "MCD.N", "DIS.N", "WMT.N", "JNJ.N", "PG.N"}
	names := make([]string, nItems)
	for i := range names {
		names[i] = base[i%len(base)]
		if i%2 == 1 {
			names[i] = "/" + names[i] // the delayed twin: another item
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, it := range sub.Items() {
		if st := it.State(); st.Stream != trjson.StreamOpen || st.Data != trjson.DataOk {
			t.Fatalf("%s before the loss: %+v", it.Name, st)
		}
	}
	before := c.Stats()

	// Down for 2 s: the endpoint refuses connections meanwhile.
	if _, err := emu.KillEndpoint(0, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	life.wait(t, 10*time.Second, func(ev Event) bool { return ev.Kind == EventDisconnected })
	suspect := 0
	for _, it := range sub.Items() {
		if st := it.State(); st.Stream == trjson.StreamOpen && st.Data == trjson.DataSuspect {
			suspect++
		}
	}
	if c.Stats().Reconnects == before.Reconnects && suspect != nItems {
		t.Fatalf("%d of %d items Open/Suspect while down", suspect, nItems)
	}
	mu.Lock()
	epoch = 1
	mu.Unlock()

	life.wait(t, 20*time.Second, func(ev Event) bool { return ev.Kind == EventReconnected })
	for _, it := range sub.Items() {
		deadline := time.NewTimer(30 * time.Second)
		for {
			if st := it.State(); st.Stream == trjson.StreamOpen && st.Data == trjson.DataOk {
				break
			}
			select {
			case <-refreshSig: // an item's state is set before its Refresh is delivered
			case <-deadline.C:
				t.Fatalf("%s after the reconnect: %+v", it.Name, it.State())
			}
		}
		deadline.Stop()
	}
	mu.Lock()
	missing := 0
	for _, it := range sub.Items() {
		if refreshes[it] == 0 {
			missing++
		}
	}
	mu.Unlock()
	if missing != 0 {
		t.Errorf("%d items Ok without a fresh Refresh", missing)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.conns != 1 {
		t.Fatalf("%d recorded connections, want 1", rec.conns)
	}
	if rec.requested[0] != nItems {
		t.Errorf("re-requested %d items, want %d", rec.requested[0], nItems)
	}
	if rec.maxOut[0] > batch {
		t.Errorf("up to %d items requested without a reply: recovery not paced by %d", rec.maxOut[0], batch)
	}
	st := c.Stats()
	if got := st.RecoveryBatches - before.RecoveryBatches; got < nItems/batch {
		t.Errorf("%d recovery batches, want ≥ %d", got, nItems/batch)
	}
	if st.RecoveryWaits != 0 {
		t.Errorf("%d recovery waits expired", st.RecoveryWaits)
	}
	t.Logf("max outstanding %d, request messages %d, batches %d", rec.maxOut[0], rec.requestMsgs[0], st.RecoveryBatches-before.RecoveryBatches)
}
