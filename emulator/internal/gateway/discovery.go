package gateway

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ertkit/ertkit/server/tokens"
)

type discoveryResponse struct {
	Services []Service `json:"services"`
}

// serveDiscovery answers GET /streaming/pricing/v1/ for a live bearer
// token. The "transport" query filters on Service.Transport (case
// insensitive): transport=websocket lists the websocket entries,
// transport=tcp the tcp entries (none in the default topology, so an
// empty list), no transport lists everything.
func (g *Gateway) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
		return
	}
	if g.serveFault(w, r, EndpointDiscovery) != 0 {
		return
	}
	if desc := g.checkBearer(r.Header.Get("Authorization")); desc != "" {
		g.mu.Lock()
		g.stats.Discovery++
		g.stats.DiscoveryFailures++
		g.mu.Unlock()
		// RFC 6750 §3.
		w.Header().Set("WWW-Authenticate", `Bearer realm="ertkit-emulator", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", desc)
		return
	}
	g.mu.Lock()
	g.stats.Discovery++
	g.mu.Unlock()

	want := strings.ToLower(r.URL.Query().Get("transport"))
	out := discoveryResponse{Services: []Service{}}
	for _, s := range g.cfg.Services() {
		s = withServiceDefaults(s)
		if want != "" && strings.ToLower(s.Transport) != want {
			continue
		}
		out.Services = append(out.Services, s)
	}
	writeJSON(w, http.StatusOK, out)
}

// checkBearer returns "" for a live access token, else why not.
func (g *Gateway) checkBearer(h string) string {
	scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "a Bearer access token is required"
	}
	_, _, err := g.cfg.Store.Validate(tok)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, tokens.ErrExpired):
		return "access token expired"
	case errors.Is(err, tokens.ErrRevoked):
		return "access token revoked"
	}
	return "access token unknown"
}

func withServiceDefaults(s Service) Service {
	if s.Provider == "" {
		s.Provider = "aws"
	}
	if s.Transport == "" {
		s.Transport = "websocket"
	}
	if s.Location == nil {
		s.Location = []string{}
	} else {
		s.Location = append([]string(nil), s.Location...)
	}
	if s.DataFormat == nil {
		if strings.EqualFold(s.Transport, "websocket") {
			s.DataFormat = []string{"tr_json2"}
		} else {
			s.DataFormat = []string{"rwf"}
		}
	}
	return s
}
