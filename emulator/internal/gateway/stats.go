package gateway

import "maps"

// Stats counts requests since the Gateway started.
type Stats struct {
	// TokenRequests and TokenFailures count token requests by grant
	// (GrantPassword, GrantChangePassword, GrantRefreshToken,
	// GrantClientSecret, GrantClientAssertion, GrantUnsupported,
	// GrantGetToken (the ADS /getToken endpoint), and
	// "unparsed" for bodies that could not be read). Rate-limited
	// requests count here as failures too.
	TokenRequests map[string]int64 `json:"token_requests"`
	TokenFailures map[string]int64 `json:"token_failures"`
	// RateLimited counts token requests answered 429 by the rate guard.
	RateLimited int64 `json:"rate_limited"`
	// FaultsServed counts responses replaced by an injected fault.
	FaultsServed int64 `json:"faults_served"`
	// Discovery and DiscoveryFailures count discovery requests (not those
	// answered by a fault) and those refused.
	Discovery         int64 `json:"discovery"`
	DiscoveryFailures int64 `json:"discovery_failures"`
}

func newStats() Stats {
	return Stats{TokenRequests: map[string]int64{}, TokenFailures: map[string]int64{}}
}

func (s Stats) clone() Stats {
	s.TokenRequests = maps.Clone(s.TokenRequests)
	s.TokenFailures = maps.Clone(s.TokenFailures)
	return s
}

// Stats returns a copy of the counters.
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats.clone()
}
