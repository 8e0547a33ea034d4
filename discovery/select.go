package discovery

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// DefaultRegion is the location prefix used when none is given.
const DefaultRegion = "us-east-1"

// ErrNoEndpoint: no endpoint fits the region (or hot standby lacks two).
var ErrNoEndpoint = errors.New("discovery: no suitable endpoint")

// Selection is the outcome of Select.
type Selection struct {
	// Primary holds the endpoint to connect to (one), or the two endpoints
	// of the two hot-standby sessions.
	Primary []Endpoint
	// Backups are the other suitable endpoints, in the order to try them.
	Backups []Endpoint
}

// Select chooses endpoints as LSEG's examples do. An endpoint is in region
// when its first location starts with region (DefaultRegion if empty),
// e.g. "us-east-1" matches "us-east-1a"; endpoints whose Transport is set
// to something other than "websocket" are ignored.
//
// Without hot standby, endpoints with two or more locations (load-balanced
// across zones) come first, in discovery order; single-location endpoints
// follow as backups, and are used only when no multi-location endpoint
// exists. Primary is the first of that list, Backups the rest.
//
// With hot standby, the two sessions need two single-location endpoints
// (one zone each): Primary is the first two, Backups the remaining
// single-location ones.
func Select(eps []Endpoint, region string, hotStandby bool) (Selection, error) {
	if region == "" {
		region = DefaultRegion
	}
	var multi, single []Endpoint
	for _, e := range eps {
		if len(e.Locations) == 0 || !strings.HasPrefix(e.Locations[0], region) {
			continue
		}
		if e.Transport != "" && !strings.EqualFold(e.Transport, "websocket") {
			continue
		}
		if len(e.Locations) >= 2 {
			multi = append(multi, e)
		} else {
			single = append(single, e)
		}
	}
	if hotStandby {
		if len(single) < 2 {
			return Selection{}, fmt.Errorf("%w: hot standby needs 2 single-location endpoints in region %q, found %d (%s)",
				ErrNoEndpoint, region, len(single), summary(eps))
		}
		return Selection{Primary: single[:2:2], Backups: single[2:]}, nil
	}
	list := append(multi, single...)
	if len(list) == 0 {
		return Selection{}, fmt.Errorf("%w: region %q is not present (%s)", ErrNoEndpoint, region, summary(eps))
	}
	return Selection{Primary: list[:1:1], Backups: list[1:]}, nil
}

// summary lists what discovery offered, for error messages.
func summary(eps []Endpoint) string {
	if len(eps) == 0 {
		return "discovery returned no endpoints"
	}
	seen := map[string]bool{}
	var locs []string
	for _, e := range eps {
		for _, l := range e.Locations {
			if !seen[l] {
				seen[l] = true
				locs = append(locs, l)
			}
		}
	}
	sort.Strings(locs)
	return fmt.Sprintf("%d endpoints, locations %s", len(eps), strings.Join(locs, ", "))
}
