package metrics_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/gateway"
	"github.com/ertkit/ertkit/gateway/metrics"
	ertutil "github.com/ertkit/ertkit/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The collector reports the gateway's counters, per item up to the limit.
func TestCollector(t *testing.T) {
	emu := ertutil.StartEmulator(t, emulator.Config{Rate: 20, RateSet: true})
	info := emu.Info()
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
	}), auth.Options{TLSConfig: ertutil.TLS(t, info)})
	defer tokens.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g, err := gateway.Start(ctx, gateway.Config{Upstream: consumer.Config{Endpoints: ertutil.Endpoints(info)[:1],
		TokenSource: tokens, TLS: consumer.TLS{CAPEM: info.CAPEM}}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.Serve(ln, nil)
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{"ws://" + ln.Addr().String() + "/WebSocket"}, UserName: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, []string{"TRI.N", "IBM.N", "EUR="})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	col := metrics.NewWith(g, metrics.Options{ItemLimit: 2})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	value := map[string]float64{}
	for _, f := range fams {
		series[f.GetName()] = len(f.GetMetric())
		for _, m := range f.GetMetric() {
			value[f.GetName()] += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{"ert_gateway_upstream_items": 3, "ert_gateway_items_not_exported": 1,
		"ert_gateway_downstream_connections": 1, "ert_gateway_downstream_logins_total": 1} {
		if value[name] != want {
			t.Errorf("%s = %v, want %v", name, value[name], want)
		}
	}
	if series["ert_gateway_item_streams"] != 2 || series["ert_gateway_connection_streams"] != 1 {
		t.Errorf("series: %v", series)
	}
	if value["ert_gateway_upstream_messages_total"] < 3 {
		t.Errorf("upstream messages: %v", value["ert_gateway_upstream_messages_total"])
	}
}
