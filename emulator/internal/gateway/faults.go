package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Endpoint names an endpoint for fault injection.
type Endpoint string

// Endpoints. EndpointTokenV1 covers the beta1 alias too.
const (
	EndpointTokenV1   Endpoint = "token_v1"
	EndpointTokenV2   Endpoint = "token_v2"
	EndpointDiscovery Endpoint = "discovery"
)

// ErrFault is wrapped by the errors of the fault-injection methods.
var ErrFault = errors.New("gateway: invalid fault")

// StatusFault replaces the next Count responses of Endpoint by Status.
// A redirect status (301, 302, 303, 307, 308) answers with a Location to
// the same URL on the same server, so the client must repeat its request;
// any other status answers with a JSON error body (429 with Retry-After).
type StatusFault struct {
	Endpoint Endpoint `json:"endpoint"`
	Status   int      `json:"status"`
	Count    int      `json:"count"`
}

// Faults is a snapshot of the pending faults.
type Faults struct {
	// Status lists pending status faults in the order they will be served.
	Status []StatusFault `json:"status,omitempty"`
	// ShortenRefresh is the lifetime given to the next
	// ShortenRefreshCount successful refresh grants.
	ShortenRefresh      time.Duration `json:"shorten_refresh_ns,omitempty"`
	ShortenRefreshCount int           `json:"shorten_refresh_count,omitempty"`
	// RejectRefreshCount is how many refresh grants will still be
	// refused with 400 invalid_grant.
	RejectRefreshCount int `json:"reject_refresh_count,omitempty"`
}

// faultState is guarded by Gateway.mu.
type faultState struct {
	queue         []StatusFault
	shorten       time.Duration
	shortenCount  int
	rejectRefresh int
}

func newFaultState() faultState { return faultState{} }

func (f *faultState) snapshot() Faults {
	return Faults{
		Status:              append([]StatusFault(nil), f.queue...),
		ShortenRefresh:      f.shorten,
		ShortenRefreshCount: f.shortenCount,
		RejectRefreshCount:  f.rejectRefresh,
	}
}

// take consumes one response of the first pending fault for ep.
func (f *faultState) take(ep Endpoint) (int, bool) {
	for i := range f.queue {
		if f.queue[i].Endpoint != ep {
			continue
		}
		st := f.queue[i].Status
		f.queue[i].Count--
		if f.queue[i].Count <= 0 {
			f.queue = append(f.queue[:i], f.queue[i+1:]...)
		}
		return st, true
	}
	return 0, false
}

func (f *faultState) takeRejectRefresh() bool {
	if f.rejectRefresh <= 0 {
		return false
	}
	f.rejectRefresh--
	return true
}

func (f *faultState) takeShortenRefresh() time.Duration {
	if f.shortenCount <= 0 {
		return 0
	}
	f.shortenCount--
	return f.shorten
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// ForceStatus makes the next count responses of ep answer status: a
// redirect (301/302/303/307/308) to the same URL, or an error status
// (400-599). Faults queue up in the order they are injected.
func (g *Gateway) ForceStatus(ep Endpoint, status, count int) error {
	switch ep {
	case EndpointTokenV1, EndpointTokenV2, EndpointDiscovery:
	default:
		return fmt.Errorf("%w: unknown endpoint %q", ErrFault, ep)
	}
	if !isRedirect(status) && (status < 400 || status > 599) {
		return fmt.Errorf("%w: status %d is neither a redirect nor an error", ErrFault, status)
	}
	if count <= 0 {
		return fmt.Errorf("%w: count must be positive", ErrFault)
	}
	g.mu.Lock()
	g.faults.queue = append(g.faults.queue, StatusFault{Endpoint: ep, Status: status, Count: count})
	g.mu.Unlock()
	return nil
}

// ShortenRefresh makes the next count successful refresh grants issue
// access tokens that live d (expires_in = d), which the examples take as
// "sign on again with the password". count 0 cancels.
func (g *Gateway) ShortenRefresh(d time.Duration, count int) error {
	if count < 0 || (count > 0 && d < time.Second) {
		return fmt.Errorf("%w: need d >= 1s and count >= 0", ErrFault)
	}
	g.mu.Lock()
	g.faults.shorten, g.faults.shortenCount = d, count
	g.mu.Unlock()
	return nil
}

// RejectRefresh makes the next count refresh grants fail with 400
// invalid_grant without consuming the refresh token. count 0 cancels.
func (g *Gateway) RejectRefresh(count int) error {
	if count < 0 {
		return fmt.Errorf("%w: count must be >= 0", ErrFault)
	}
	g.mu.Lock()
	g.faults.rejectRefresh = count
	g.mu.Unlock()
	return nil
}

// ClearFaults cancels every pending fault (not the token lifetime).
func (g *Gateway) ClearFaults() {
	g.mu.Lock()
	g.faults = newFaultState()
	g.mu.Unlock()
}

// Faults returns the pending faults.
func (g *Gateway) Faults() Faults {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.faults.snapshot()
}

// serveFault answers r with the next pending status fault of ep, if any,
// and returns the status it sent (0: no fault pending).
func (g *Gateway) serveFault(w http.ResponseWriter, r *http.Request, ep Endpoint) int {
	g.mu.Lock()
	status, ok := g.faults.take(ep)
	if ok {
		g.stats.FaultsServed++
	}
	g.mu.Unlock()
	if !ok {
		return 0
	}
	if isRedirect(status) {
		// Absolute URL: the Python examples pass Location straight to
		// requests, which cannot resolve a relative reference.
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		w.Header().Set("Location", scheme+"://"+r.Host+r.URL.RequestURI())
		writeError(w, status, "redirect", "repeat the request at Location")
		return status
	}
	code := "server_error"
	switch {
	case status == http.StatusBadRequest:
		code = "invalid_request"
	case status == http.StatusUnauthorized && ep == EndpointDiscovery:
		code = "invalid_token"
	case status == http.StatusUnauthorized:
		code = "invalid_client"
	case status == http.StatusForbidden:
		code = "access_denied"
	case status == http.StatusNotFound:
		code = "not_found"
	case status == http.StatusGone:
		code = "gone"
	case status == http.StatusTooManyRequests:
		code = "too_many_requests"
		w.Header().Set("Retry-After", "1")
	case status == http.StatusUnavailableForLegalReasons:
		code = "unavailable_for_legal_reasons"
	case status == http.StatusServiceUnavailable:
		code = "temporarily_unavailable"
	case status < 500:
		code = "injected_fault"
	}
	writeError(w, status, code, "injected fault")
	return status
}
