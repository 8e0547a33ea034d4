package cli

import (
	"strings"
	"testing"
)

func TestParseGatewayMetrics(t *testing.T) {
	in := `# HELP ert_gateway_upstream_items Items open upstream.
ert_gateway_upstream_items 3
ert_gateway_downstream_connections{endpoint="0"} 2
ert_gateway_downstream_connections{endpoint="1"} 5
ert_gateway_connection_streams{endpoint="0",conn="1",user="a}b"} 7
go_goroutines 12
ert_gateway_bad{x="1" oops
`
	got, err := parseGatewayMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"ert_gateway_upstream_items": 3, "ert_gateway_downstream_connections": 7, "ert_gateway_connection_streams": 7}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["go_goroutines"]; ok {
		t.Error("other series kept")
	}
}

func FuzzParseGatewayMetrics(f *testing.F) {
	f.Add("ert_gateway_upstream_items 3\n")
	f.Add(`ert_gateway_x{a="}"} 1e3` + "\n")
	f.Add("ert_gateway_{}}{ \n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseGatewayMetrics(strings.NewReader(s))
		if err != nil {
			return
		}
		for k := range m {
			if !strings.HasPrefix(k, "ert_gateway_") {
				t.Fatalf("series %q kept", k)
			}
		}
	})
}
