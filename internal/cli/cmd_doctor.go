package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/discovery"
	"github.com/ertkit/ertkit/trjson"
)

type doctorCmd struct {
	connFlags
	RIC     string        `name:"ric" default:"TRI.N" help:"Item to request in the last step."`
	Timeout time.Duration `name:"timeout" default:"15s" help:"Limit of each step."`

	Gateway        string `name:"gateway" help:"Check an ert gateway (or any ADS) instead of RTO: its ws:// or wss:// URL, e.g. ws://127.0.0.1:15000/WebSocket. No token or discovery steps."`
	GatewayUser    string `name:"gateway-user" default:"ert-doctor" help:"User name of the Login by name at --gateway."`
	GatewayToken   string `name:"gateway-token" help:"Log in to --gateway with this token instead of by name (env ERT_GATEWAY_TOKEN)."`
	GatewayMetrics string `name:"gateway-metrics" help:"The gateway's metrics URL (ert gateway --metrics-addr): report its upstream session and downstream counters."`
}

func (c *doctorCmd) run(ctx context.Context, env *Env) error {
	if err := c.complete(env); err != nil {
		return err
	}
	tlsConf, err := c.tlsConfig()
	if err != nil {
		return err
	}
	r := &doctorReport{w: env.Stdout}
	failed := func(code int, err error, what string) error {
		fmt.Fprintf(env.Stdout, "\n%s failed; fix the step marked FAIL and run ert doctor again.\n", what)
		return fail(code, err, "%s failed (see the advice above)", what)
	}
	if c.Gateway != "" {
		return c.checkGateway(ctx, env, r, tlsConf, failed)
	}
	fmt.Fprintf(env.Stdout, "ert doctor — checking the path to LSEG Real-Time -- Optimized step by step\n\n")

	// 1. Token endpoint.
	g, err := c.grant()
	if err != nil {
		return err
	}
	th, tp, err := hostPort(c.tokenURL())
	if err != nil {
		return usageError("token URL: %v", err)
	}
	if err := r.checkNetwork(ctx, "token endpoint", th, tp, tlsConf, strings.HasPrefix(c.tokenURL(), "http:")); err != nil {
		return failed(ExitAuth, err, "reaching the token endpoint")
	}
	m := auth.NewManager(g, auth.Options{HTTPClient: httpClient(tlsConf), Logger: env.Log, MaxAttempts: 1})
	defer m.Close()
	var tok auth.Token
	err = r.run("token: "+grantName(c.authKind()), adviceToken, func() (string, error) {
		sctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		var err error
		tok, err = m.Token(sctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("v%d token, expires in %s", tok.Version, tok.ExpiresIn), nil
	})
	if err != nil {
		return failed(ExitAuth, err, "authentication")
	}

	// 2. Discovery, unless an endpoint was given.
	var ep discovery.Endpoint
	if c.Hostname != "" {
		ep = discovery.Endpoint{Host: c.Hostname, Port: c.Port}
		fmt.Fprintf(env.Stdout, "skip  service discovery (--hostname %s)\n", ep.Address())
	} else {
		dh, dp, err := hostPort(c.discoveryURL())
		if err != nil {
			return usageError("discovery URL: %v", err)
		}
		if dh != th || dp != tp {
			if err := r.checkNetwork(ctx, "discovery", dh, dp, tlsConf, strings.HasPrefix(c.discoveryURL(), "http:")); err != nil {
				return failed(ExitDiscovery, err, "reaching service discovery")
			}
		}
		var eps []discovery.Endpoint
		err = r.run("discovery: query", adviceDiscovery, func() (string, error) {
			sctx, cancel := context.WithTimeout(ctx, c.Timeout)
			defer cancel()
			var err error
			eps, err = discovery.Discover(sctx, c.discoveryURL(), tok.AccessToken, discovery.Options{HTTPClient: httpClient(tlsConf), MaxAttempts: 1})
			return fmt.Sprintf("%d endpoints", len(eps)), err
		})
		if err != nil {
			return failed(ExitDiscovery, err, "service discovery")
		}
		err = r.run("discovery: choose for "+c.Region, func(error) string {
			return "no endpoint matches the region: run `ert discover --all` and pass a listed location prefix with --region"
		}, func() (string, error) {
			sel, err := discovery.Select(eps, c.Region, c.HotStandby)
			if err != nil {
				return "", err
			}
			ep = sel.Primary[0]
			return ep.Address() + " " + strings.Join(ep.Locations, ","), nil
		})
		if err != nil {
			return failed(ExitDiscovery, err, "endpoint selection")
		}
	}

	// 3. Streaming endpoint: network, WebSocket, Login, first refresh.
	scheme := "wss"
	if c.WS {
		scheme = "ws"
	}
	wsURL := scheme + "://" + net.JoinHostPort(ep.Host, strconv.Itoa(portOr443(ep.Port))) + "/WebSocket"
	login := loginMsg(c.AppID, position(c.Position), tok.AccessToken)
	return c.checkEndpoint(ctx, r, tlsConf, ep, wsURL, login, failed)
}

// checkEndpoint runs the streaming steps: network, WebSocket, Login (the
// given request), first refresh of --ric.
func (c *doctorCmd) checkEndpoint(ctx context.Context, r *doctorReport, tlsConf *tls.Config, ep discovery.Endpoint, wsURL string,
	login trjson.Msg, failed func(int, error, string) error) error {
	if err := r.checkNetwork(ctx, "endpoint", ep.Host, strconv.Itoa(portOr443(ep.Port)), tlsConf, strings.HasPrefix(wsURL, "ws:")); err != nil {
		return failed(ExitConnection, err, "reaching the streaming endpoint")
	}
	var conn *websocket.Conn
	var err error
	err = r.run("endpoint: WebSocket tr_json2", adviceWebSocket, func() (string, error) {
		sctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		var resp *http.Response
		var err error
		conn, resp, err = websocket.Dial(sctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"tr_json2"}, HTTPClient: httpClient(tlsConf)})
		if err != nil {
			if resp != nil {
				return "", fmt.Errorf("upgrade refused with HTTP %d: %w", resp.StatusCode, err)
			}
			return "", err
		}
		if conn.Subprotocol() != "tr_json2" {
			return "", fmt.Errorf("server chose subprotocol %q, not tr_json2", conn.Subprotocol())
		}
		conn.SetReadLimit(16 << 20)
		return wsURL, nil
	})
	if err != nil {
		return failed(ExitConnection, err, "the WebSocket connection")
	}
	defer conn.CloseNow()
	var dec trjson.Decoder
	// await reads until want returns a verdict, answering Pings.
	await := func(sctx context.Context, want func(*trjson.Msg) (bool, error)) error {
		for {
			_, frame, err := conn.Read(sctx)
			if err != nil {
				return err
			}
			msgs, err := dec.Decode(frame)
			if err != nil {
				return fmt.Errorf("malformed frame from the server: %w", err)
			}
			for i := range msgs {
				if msgs[i].Type == trjson.TypePing {
					conn.Write(sctx, websocket.MessageText, []byte(`{"Type":"Pong"}`))
					continue
				}
				if done, err := want(&msgs[i]); done || err != nil {
					return err
				}
			}
		}
	}
	err = r.run("endpoint: Login", adviceLogin, func() (string, error) {
		sctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		if err := conn.Write(sctx, websocket.MessageText, trjson.AppendMsg(nil, &login)); err != nil {
			return "", err
		}
		var detail string
		err := await(sctx, func(m *trjson.Msg) (bool, error) {
			if m.Domain != trjson.DomainLogin || m.ID != 1 {
				return false, nil
			}
			if m.State.Stream != trjson.StreamOpen || m.State.Data != trjson.DataOk {
				return true, fmt.Errorf("login refused: %s/%s %s: %s", m.State.Stream, m.State.Data, m.State.Code, m.State.Text)
			}
			detail = m.State.Text
			return true, nil
		})
		return detail, err
	})
	if err != nil {
		return failed(ExitConnection, err, "the Login")
	}
	err = r.run("endpoint: first refresh of "+c.RIC, adviceItem, func() (string, error) {
		sctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		req := trjson.Msg{Type: trjson.TypeRequest, ID: 2, Domain: trjson.DomainMarketPrice, HasKey: true,
			Key: trjson.Key{Name: c.RIC, Service: c.Service}, NoStreaming: true}
		if err := conn.Write(sctx, websocket.MessageText, trjson.AppendMsg(nil, &req)); err != nil {
			return "", err
		}
		var detail string
		err := await(sctx, func(m *trjson.Msg) (bool, error) {
			if m.ID != 2 {
				return false, nil
			}
			if m.Type == trjson.TypeRefresh && m.State.Data == trjson.DataOk {
				detail = fmt.Sprintf("%d fields, %s", len(m.Fields), m.State.Text)
				return true, nil
			}
			if m.Type == trjson.TypeStatus || m.Type == trjson.TypeRefresh {
				return true, fmt.Errorf("%s/%s %s: %s", m.State.Stream, m.State.Data, m.State.Code, m.State.Text)
			}
			if m.Type == trjson.TypeError {
				return true, fmt.Errorf("server error: %s", m.Text)
			}
			return false, nil
		})
		return detail, err
	})
	logout := trjson.Msg{Type: trjson.TypeClose, ID: 1, Domain: trjson.DomainLogin}
	conn.Write(ctx, websocket.MessageText, trjson.AppendMsg(nil, &logout))
	conn.Close(websocket.StatusNormalClosure, "")
	if err != nil {
		return failed(ExitItem, err, "the item request")
	}
	fmt.Fprintf(r.w, "\nall checks passed\n")
	return nil
}

func portOr443(p int) int {
	if p == 0 {
		return 443
	}
	return p
}

func grantName(k authKind) string {
	switch k {
	case authV1Password:
		return "v1 password grant"
	case authV2Secret:
		return "v2 client credentials"
	case authV2JWT:
		return "v2 JWT assertion"
	}
	return "none"
}

func adviceToken(err error) string {
	var h *auth.HTTPError
	if errors.As(err, &h) {
		switch {
		case h.Status == 400 && h.Code == "invalid_grant":
			return "user name or password rejected: check ERT_USER/--user and ERT_PASSWORD; a v1 machine ID's password may have expired (--newPassword changes it)"
		case h.Status == 401:
			return "client rejected: check ERT_CLIENTID/--clientid (App Key or service account) and ERT_CLIENTSECRET / --jwkFile"
		case h.Status == 429:
			return "the gateway is rate-limiting this credential: wait a minute; something may be requesting tokens in a loop"
		case h.Status >= 500:
			return "the gateway has a problem: retry later"
		case h.Status == 403 || h.Status == 404 || h.Status == 410 || h.Status == 451:
			return "the gateway refuses this request permanently: check --auth_url and that the account is enabled"
		}
	}
	return "check --auth_url and your credentials"
}

func adviceDiscovery(err error) string {
	var h *auth.HTTPError
	if errors.As(err, &h) && h.Status == 401 {
		return "the token was not accepted for discovery: check --scope (trapi.streaming.pricing.read) and that the account is licensed for RTO"
	}
	return "check --discovery_url, or pass --hostname to skip discovery"
}

func adviceWebSocket(err error) string {
	if strings.Contains(err.Error(), "HTTP 400") || strings.Contains(err.Error(), "subprotocol") {
		return "the server does not speak tr_json2 at /WebSocket: is this a streaming endpoint (not the gateway)?"
	}
	return "the WebSocket upgrade failed: a proxy may block WebSockets; check --hostname/--port"
}

func adviceLogin(err error) string {
	if strings.Contains(err.Error(), "Already pending login") {
		return "another login of this account is in progress: wait and retry; do not reconnect in a tight loop"
	}
	return "the endpoint refused the token: it may have expired, or the account may lack streaming rights (check the Status text)"
}

func adviceItem(err error) string {
	if strings.Contains(err.Error(), "NotFound") || strings.Contains(err.Error(), "not be found") {
		return "the RIC does not exist or the service name is wrong: check --ric and --service (ELEKTRON_DD on RTO)"
	}
	if strings.Contains(err.Error(), "NotEntitled") {
		return "the account is not permissioned for this item"
	}
	return "the endpoint did not return the item in time"
}

// position is the Login Position: the given one, else "ip/hostname".
func position(p string) string {
	if p != "" {
		return p
	}
	host, err := os.Hostname()
	if err != nil {
		return "127.0.0.1/net"
	}
	ip := "127.0.0.1"
	if addrs, err := net.LookupHost(host); err == nil {
		for _, a := range addrs {
			if v := net.ParseIP(a); v != nil && v.To4() != nil {
				ip = a
				break
			}
		}
	}
	return ip + "/" + host
}

// loginMsg is an RTO Login request with an AuthnToken.
func loginMsg(appID, pos, token string) trjson.Msg {
	els := []trjson.Field{trjson.String("ApplicationId", appID), trjson.String("Position", pos), trjson.String("AuthenticationToken", token)}
	return trjson.Msg{Type: trjson.TypeRequest, ID: 1, Domain: trjson.DomainLogin, HasKey: true,
		Key: trjson.Key{NameType: "AuthnToken", Elements: trjson.AppendElements(nil, els)}}
}
