package natsbus

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// freePorts reserves n loopback ports (listen, note, close): the route
// ports of a cluster must be known before its nodes start.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

type node struct {
	cfg ServerConfig
	srv *Server
}

func (n *node) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv, err := StartServer(ctx, n.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.srv = srv
}

// TestClusterNodeRestart: a three-node JetStream cluster on loopback with
// R3 streams. While the publisher publishes, the updates stream's leader
// is shut down and later restarted (same name, same store): the
// subscriber loses nothing (SeqNumbers contiguous) and the last-value
// store holds the latest image of every item.
func TestClusterNodeRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Now()
	phase := func(what string) { t.Logf("%6.2fs %s", time.Since(t0).Seconds(), what) }
	ports := freePorts(t, 3)
	nodes := make([]*node, 3)
	for i := range nodes {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		nodes[i] = &node{cfg: ServerConfig{Name: fmt.Sprintf("n%d", i), StoreDir: t.TempDir(),
			Cluster: &ClusterConfig{Name: "ert-test", Port: ports[i], Routes: routes}}}
	}
	for _, n := range nodes {
		n.start(t)
	}
	defer func() {
		for _, n := range nodes {
			if n.srv != nil {
				n.srv.Close()
			}
		}
	}()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.srv.URL())
	}
	nc, err := Connect(ctx, strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	streams := Streams{Replicas: 3, MaxAge: 10 * time.Minute, MaxBytes: 64 << 20, LastMaxBytes: 16 << 20}
	cfg := PublisherConfig{Conn: nc, Streams: streams, MaxRetries: 30, RetryWait: 100 * time.Millisecond, AckTimeout: 2 * time.Second}
	// The cluster elects its JetStream meta leader after start: creating
	// R3 streams fails until then.
	var pub *Publisher
	retry := time.NewTicker(200 * time.Millisecond)
	defer retry.Stop()
	for pub == nil {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		pub, err = NewPublisher(pctx, cfg)
		pcancel()
		if err == nil {
			break
		}
		select {
		case <-retry.C:
		case <-ctx.Done():
			t.Fatalf("cluster never accepted the R3 streams: %v", err)
		}
	}

	phase("streams created")
	ks := keys("EUR=", "0#.FTSE", "TRI.N", "/TRI.N", ".DJI", "ESc1")
	feeds := make([]*feed, len(ks))
	rec := newRecorder()
	var sub *Subscription
	rec.diag = func() string { return fmt.Sprintf("publisher %+v subscriber %+v", pub.Stats(), sub.Stats()) }
	sub, err = Subscribe(ctx, SubscriberConfig{Conn: nc, Streams: streams, Handler: rec.handle, OnEvent: rec.event, Heartbeat: 500 * time.Millisecond}, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i, k := range ks {
		feeds[i] = newFeed(k)
		pub.Handle(feeds[i].refresh())
	}
	// pace sends n updates per item, 20 at a time, waiting for the
	// subscriber to see each round (bounded), so that publishing goes on
	// across the outage rather than before it.
	pace := func(n int, wait bool) {
		for sent := 0; sent < n; sent += 20 {
			for range 20 {
				for _, f := range feeds {
					pub.Handle(f.update())
				}
			}
			if wait {
				rec.waitFor(t, feeds[len(feeds)-1].key.Name, feeds[len(feeds)-1].seq, 20*time.Second)
			}
		}
	}
	pace(100, true)
	phase("100 updates per item delivered")

	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, streams.UpdatesStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := nodes[0]
	for _, n := range nodes {
		if info.Cluster != nil && n.srv.Name() == info.Cluster.Leader {
			victim = n
		}
	}
	t.Logf("shutting down %s (updates stream leader %q); client connected to %s", victim.cfg.Name, info.Cluster.Leader, nc.ConnectedUrl())
	victim.srv.Close()
	victim.srv = nil
	pace(100, false) // during the outage and the new election
	pace(60, true)
	phase("160 more delivered with one node down")
	victim.start(t)
	phase(victim.cfg.Name + " restarted")
	pace(100, true)
	phase("100 more delivered")

	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()
	if err := pub.Close(cctx); err != nil {
		t.Fatal(err)
	}
	phase("publisher closed")
	ps := pub.Stats()
	if ps.Dropped != 0 || ps.Published != ps.Received {
		t.Fatalf("publisher stats %+v", ps)
	}
	last := int64(100 + 360)
	for _, f := range feeds {
		rec.waitFor(t, f.key.Name, last, 20*time.Second)
	}
	rec.mu.Lock()
	for _, e := range rec.events {
		t.Logf("event %v", e)
	}
	for _, f := range feeds {
		rec.views[f.key.Name].check(t, f.key.Name, last, f.want)
	}
	if len(rec.events) != 0 {
		for _, e := range rec.events {
			if e.Kind != EventNoImage && e.Kind != EventError {
				t.Errorf("event %v", e)
			}
		}
	}
	rec.mu.Unlock()

	// The last-value store: a new subscriber's images are the latest.
	img := newRecorder()
	sub2, err := Subscribe(ctx, SubscriberConfig{Conn: nc, Streams: streams, Handler: img.handle, OnEvent: img.event}, ks)
	if err != nil {
		t.Fatal(err)
	}
	sub2.Close()
	for _, f := range feeds {
		v := img.views[f.key.Name]
		if v == nil || v.images != 1 || v.imageSeq != last {
			t.Fatalf("%s: image %+v, want SeqNumber %d", f.key.Name, v, last)
		}
		v.check(t, f.key.Name+" image", last, f.want)
	}
	t.Logf("publisher %+v; subscriber %+v; events %d", ps, sub.Stats(), len(rec.events))
}
