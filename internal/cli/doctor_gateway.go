package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ertkit/ertkit/discovery"
	"github.com/ertkit/ertkit/trjson"
)

// checkGateway is ert doctor --gateway: the streaming steps against an
// ert gateway (Login by name or token), then its own view of its
// upstream session from its metrics.
func (c *doctorCmd) checkGateway(ctx context.Context, env *Env, r *doctorReport, tlsConf *tls.Config, failed func(int, error, string) error) error {
	fmt.Fprintf(env.Stdout, "ert doctor — checking the gateway %s step by step\n\n", c.Gateway)
	u, err := url.Parse(c.Gateway)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Hostname() == "" {
		return usageError("--gateway %q: give a ws:// or wss:// URL, e.g. ws://127.0.0.1:15000/WebSocket", c.Gateway)
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = map[string]int{"ws": 80, "wss": 443}[u.Scheme]
	}
	path := u.Path
	if path == "" {
		path = "/WebSocket"
	}
	ep := discovery.Endpoint{Host: u.Hostname(), Port: port}
	wsURL := u.Scheme + "://" + ep.Address() + path
	tok := c.GatewayToken
	if tok == "" {
		tok = env.Getenv("ERT_GATEWAY_TOKEN")
	}
	login := loginMsg(c.AppID, position(c.Position), tok)
	if tok == "" {
		els := []trjson.Field{trjson.String("ApplicationId", c.AppID), trjson.String("Position", position(c.Position))}
		login = trjson.Msg{Type: trjson.TypeRequest, ID: 1, Domain: trjson.DomainLogin, HasKey: true,
			Key: trjson.Key{Name: c.GatewayUser, Elements: trjson.AppendElements(nil, els)}}
	}
	if err := c.checkEndpoint(ctx, r, tlsConf, ep, wsURL, login, failed); err != nil {
		return err
	}
	if c.GatewayMetrics == "" {
		return nil
	}
	var vals map[string]float64
	err = r.run("gateway: metrics", func(error) string {
		return "start the gateway with --metrics-addr and pass the URL it prints (\"metrics\" in its JSON line)"
	}, func() (string, error) {
		var err error
		vals, err = scrapeGateway(ctx, c.GatewayMetrics, tlsConf)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d series", len(vals)), nil
	})
	if err != nil {
		return failed(ExitConnection, err, "reading the gateway's metrics")
	}
	fmt.Fprintf(env.Stdout, "\ngateway: %.0f items open upstream, %.0f upstream messages, %.0f upstream reconnects, %.0f Login reissues\n",
		vals["ert_gateway_upstream_items"], vals["ert_gateway_upstream_messages_total"], vals["ert_gateway_upstream_reconnects_total"], vals["ert_gateway_upstream_login_reissues_total"])
	fmt.Fprintf(env.Stdout, "gateway: %.0f downstream connections, %.0f messages sent, %.0f slow consumers dropped, %.0f ping timeouts, %.0f logins refused\n",
		vals["ert_gateway_downstream_connections"], vals["ert_gateway_downstream_messages_sent_total"], vals["ert_gateway_downstream_slow_disconnects_total"],
		vals["ert_gateway_downstream_ping_timeouts_total"], vals["ert_gateway_downstream_login_failures_total"])
	return nil
}

// scrapeGateway reads the ert_gateway_ series of a Prometheus text
// exposition, summed over their labels.
func scrapeGateway(ctx context.Context, u string, tlsConf *tls.Config) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient(tlsConf).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	out, err := parseGatewayMetrics(resp.Body)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no ert_gateway_ metrics at %s", u)
	}
	return out, nil
}

// parseGatewayMetrics sums the ert_gateway_ series of a Prometheus text
// exposition over their labels.
func parseGatewayMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "ert_gateway_") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// labels: the value follows the closing brace
			end := strings.LastIndexByte(line, '}')
			if end < i {
				continue
			}
			name, rest = line[:i], strings.TrimSpace(line[end+1:])
		}
		if v, err := strconv.ParseFloat(strings.Fields(rest + " 0")[0], 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}
