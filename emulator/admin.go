package emulator

import (
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ertkit/ertkit/emulator/internal/gateway"
	"github.com/ertkit/ertkit/server"
)

// The admin API, served on the API listener under /admin/ to loopback
// clients only:
//
//	GET  /admin/state                      State as JSON
//	POST /admin/faults/kill                {"endpoint":0,"duration":"5s"}
//	POST /admin/faults/drop                {"endpoint":-1} or {"endpoint":0,"conn":3}
//	POST /admin/faults/stall               {"endpoint":-1,"mode":"read|write|both","duration":"2s"}
//	POST /admin/faults/delay               {"endpoint":-1,"duration":"100ms"}
//	POST /admin/faults/inject              {"endpoint":-1,"data":"[{\"ID\":2,"}  (a raw text frame, sent as is)
//	POST /admin/faults/item                {"name":"TRI.N","state":"Closed|ClosedRecover|Suspect","recover_after":"1s"}
//	                                       {"name":"TRI.N","state":"Redirected","redirect_to":"TRI.O"}
//	POST /admin/faults/tokens              {"action":"revoke|expire","reason":"…"}
//	POST /admin/faults/refuse-logins       {"count":3}
//	POST /admin/faults/pings               {"send":false,"ignore_pongs":true}
//	POST /admin/faults/gateway             {"target":"token_v1|token_v2|discovery","status":503,"count":2}
//	                                       {"shorten_refresh":"10s","count":1} | {"reject_refresh":1} | {"clear":true}
//
// Durations are Go duration strings. Answers: 200 with {"affected":n},
// 400 for a bad request, 404 for an unknown endpoint/connection/item.
//
// A web page open in a browser on the same machine must not be able to
// drive it (the listener being on loopback does not stop a page from
// posting to 127.0.0.1, nor a DNS-rebound name from reaching it): every
// request must name a loopback Host (localhost, 127.0.0.0/8, ::1), must
// not come from another origin (an Origin header other than the API's
// own, or Sec-Fetch-Site cross-site/same-site), and a POST must be
// Content-Type application/json, which a page can only send after a CORS
// preflight this API never answers. Refusals are 403 (415 for the
// content type).

// State is a snapshot of a running emulator for tests and the admin API.
type State struct {
	Endpoints []EndpointState `json:"endpoints"`
	Items     []ItemState     `json:"items"`
	Gateway   gateway.Status  `json:"gateway"`
}

// EndpointState describes one streaming endpoint.
type EndpointState struct {
	Endpoint
	Stats       server.Stats      `json:"stats"`
	Connections []server.ConnInfo `json:"connections"`
}

// ItemState is what the hub sent for one item: every endpoint sends the
// same SeqNumbers.
type ItemState = server.ItemStats

// State returns a snapshot of counters and live connections.
func (e *Emulator) State() State {
	st := State{Items: e.hub.ItemStats(), Gateway: e.gw.Status()}
	for i, s := range e.servers {
		st.Endpoints = append(st.Endpoints, EndpointState{Endpoint: e.info.Endpoints[i], Stats: s.Stats(), Connections: s.Conns()})
	}
	return st
}

type adminReq struct {
	Endpoint       *int   `json:"endpoint"`
	Conn           uint64 `json:"conn"`
	Duration       string `json:"duration"`
	Mode           string `json:"mode"`
	Name           string `json:"name"`
	State          string `json:"state"`
	RecoverAfter   string `json:"recover_after"`
	Action         string `json:"action"`
	Reason         string `json:"reason"`
	Count          int    `json:"count"`
	Send           *bool  `json:"send"`
	IgnorePongs    *bool  `json:"ignore_pongs"`
	Status         int    `json:"status"`
	ShortenRefresh string `json:"shorten_refresh"`
	RejectRefresh  int    `json:"reject_refresh"`
	Clear          bool   `json:"clear"`
	Target         string `json:"target"`
	Data           string `json:"data"`
	RedirectTo     string `json:"redirect_to"`
}

func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		http.Error(w, "admin API is loopback only", http.StatusForbidden)
		return
	}
	if status, err := checkAdminOrigin(r); err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	if r.URL.Path == "/admin/state" {
		if r.Method != http.MethodGet {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		writeAdminJSON(w, http.StatusOK, e.State())
		return
	}
	fault, ok := strings.CutPrefix(r.URL.Path, "/admin/faults/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var q adminReq
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&q); err != nil {
		http.Error(w, "bad JSON body: "+err.Error(), http.StatusBadRequest)
		return
	}
	n, status, err := e.applyAdminFault(fault, &q)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]int{"affected": n})
}

func (e *Emulator) applyAdminFault(fault string, q *adminReq) (int, int, error) {
	dur := func(s string) (time.Duration, error) {
		if s == "" {
			return 0, nil
		}
		return time.ParseDuration(s)
	}
	ep := -1
	if q.Endpoint != nil {
		ep = *q.Endpoint
	}
	d, err := dur(q.Duration)
	if err != nil {
		return 0, http.StatusBadRequest, err
	}
	var n int
	switch fault {
	case "kill":
		n, err = e.KillEndpoint(ep, d)
	case "drop":
		if q.Conn != 0 {
			err = e.DropConnection(ep, q.Conn)
			n = 1
		} else {
			n, err = e.DropConnections(ep)
		}
	case "stall":
		n, err = e.Stall(ep, StallMode(q.Mode), d)
		if err != nil {
			return 0, http.StatusBadRequest, err
		}
	case "delay":
		err = e.DelayOutbound(ep, d)
	case "inject":
		if q.Data == "" {
			return 0, http.StatusBadRequest, fmt.Errorf("inject needs \"data\": the frame's text")
		}
		n, err = e.InjectFrame(ep, []byte(q.Data))
	case "item":
		ra, perr := dur(q.RecoverAfter)
		if perr != nil {
			return 0, http.StatusBadRequest, perr
		}
		switch ItemFault(q.State) {
		case ItemClosed, ItemClosedRecover, ItemSuspect:
		case ItemRedirected:
			if q.RedirectTo == "" {
				return 0, http.StatusBadRequest, fmt.Errorf("state Redirected needs \"redirect_to\"")
			}
		default:
			return 0, http.StatusBadRequest, fmt.Errorf("unknown item state %q", q.State)
		}
		n, err = e.ItemStatusWith(q.Name, ItemFault(q.State), ItemStatusOptions{RecoverAfter: ra, RedirectTo: q.RedirectTo})
	case "tokens":
		switch q.Action {
		case "revoke":
			n = e.RevokeTokens(q.Reason)
		case "expire":
			n = e.ExpireTokens()
		default:
			return 0, http.StatusBadRequest, fmt.Errorf("unknown tokens action %q", q.Action)
		}
	case "refuse-logins":
		e.RefuseLogins(q.Count)
		n = q.Count
	case "pings":
		if q.Send != nil {
			e.SetPings(*q.Send)
		}
		if q.IgnorePongs != nil {
			e.SetIgnorePongs(*q.IgnorePongs)
		}
	case "gateway":
		switch {
		case q.Clear:
			e.ClearGatewayFaults()
		case q.ShortenRefresh != "":
			sd, perr := dur(q.ShortenRefresh)
			if perr != nil {
				return 0, http.StatusBadRequest, perr
			}
			err = e.ShortenRefresh(sd, q.Count)
		case q.RejectRefresh > 0:
			err = e.RejectRefresh(q.RejectRefresh)
		default:
			err = e.GatewayStatus(GatewayEndpoint(q.Target), q.Status, q.Count)
		}
		if err != nil {
			return 0, http.StatusBadRequest, err
		}
	default:
		return 0, http.StatusNotFound, fmt.Errorf("unknown fault %q", fault)
	}
	if err != nil {
		return 0, http.StatusNotFound, err
	}
	return n, 0, nil
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// checkAdminOrigin refuses what a browser page could send (see the API's
// doc above): a non-loopback Host, another origin, a form post.
func checkAdminOrigin(r *http.Request) (int, error) {
	if !loopbackHost(r.Host) {
		return http.StatusForbidden, fmt.Errorf("admin API: Host %q is not a loopback name", r.Host)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return http.StatusForbidden, fmt.Errorf("admin API: cross-origin request from %q refused", o)
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return http.StatusForbidden, fmt.Errorf("admin API: %s request refused", r.Header.Get("Sec-Fetch-Site"))
	}
	if r.Method == http.MethodPost {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, fmt.Errorf("admin API: Content-Type must be application/json")
		}
	}
	return 0, nil
}

// loopbackHost reports whether a Host header names this machine by a
// loopback name or address.
func loopbackHost(hostport string) bool {
	h := hostport
	if sh, _, err := net.SplitHostPort(hostport); err == nil {
		h = sh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
