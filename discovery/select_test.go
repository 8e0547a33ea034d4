package discovery

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func ep(host string, locs ...string) Endpoint {
	return Endpoint{Host: host, Port: 443, Locations: locs, Transport: "websocket"}
}

func hosts(eps []Endpoint) string {
	var s []string
	for _, e := range eps {
		s = append(s, e.Host)
	}
	return strings.Join(s, ",")
}

func TestSelect(t *testing.T) {
	sample := []Endpoint{
		ep("sm1", "us-east-1a"), ep("sm2", "us-east-1b"), ep("lrg3", "us-east-1a", "us-east-1b"),
		ep("eu1", "eu-west-1a"), ep("eu2", "eu-west-1a", "eu-west-1b"), ep("lrg4", "us-east-1b", "us-east-1c"),
		ep("mixed", "eu-west-1a", "us-east-1a"), // only location[0] counts
		ep("sm5", "us-east-1c"),
	}
	cases := []struct {
		name             string
		eps              []Endpoint
		region           string
		standby          bool
		primary, backups string
		err              bool
	}{
		{"multi-location first, singles as backups", sample, "us-east-1", false, "lrg3", "lrg4,sm1,sm2,sm5", false},
		{"default region", sample, "", false, "lrg3", "lrg4,sm1,sm2,sm5", false},
		{"prefix match", sample, "us-", false, "lrg3", "lrg4,sm1,sm2,sm5", false},
		{"eu", sample, "eu-west-1", false, "eu2", "mixed,eu1", false},
		{"only singles", []Endpoint{ep("a", "ap-southeast-1a"), ep("b", "ap-southeast-1b")}, "ap-southeast-1", false, "a", "b", false},
		{"hot standby", sample, "us-east-1", true, "sm1,sm2", "sm5", false},
		{"hot standby with one single", []Endpoint{ep("a", "us-east-1a"), ep("lrg", "us-east-1a", "us-east-1b")}, "us-east-1", true, "", "", true},
		{"region absent", sample, "ap-northeast-1", false, "", "", true},
		{"nothing discovered", nil, "us-east-1", false, "", "", true},
		{"non-websocket transport ignored", []Endpoint{{Host: "tcp", Port: 14002, Locations: []string{"us-east-1a", "us-east-1b"}, Transport: "tcp"}, ep("ws", "us-east-1a")}, "", false, "ws", "", false},
	}
	for _, c := range cases {
		sel, err := Select(c.eps, c.region, c.standby)
		if c.err {
			if !errors.Is(err, ErrNoEndpoint) {
				t.Errorf("%s: err = %v", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if hosts(sel.Primary) != c.primary || hosts(sel.Backups) != c.backups {
			t.Errorf("%s: primary %s backups %s, want %s / %s", c.name, hosts(sel.Primary), hosts(sel.Backups), c.primary, c.backups)
		}
	}
}

func TestSelectErrorsNameRegionAndFindings(t *testing.T) {
	eps := []Endpoint{ep("a", "us-east-1a"), ep("b", "eu-west-1a", "eu-west-1b")}
	_, err := Select(eps, "ap-south-1", false)
	for _, want := range []string{`"ap-south-1"`, "2 endpoints", "eu-west-1a", "us-east-1a"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	_, err = Select(eps, "us-east-1", true)
	for _, want := range []string{"hot standby", "2 single-location", `"us-east-1"`, "found 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// reference is the selection of auth-and-discovery.md §4.3, transcribed
// literally: hostList and backupList, hostList[0] (and [1] for standby).
func reference(services []Endpoint, region string, hotStandby bool) (hostList []string, ok bool) {
	var backupList []string
	for _, s := range services {
		if !strings.HasPrefix(s.Locations[0], region) {
			continue
		}
		n := len(s.Locations)
		if !hotStandby {
			if n >= 2 {
				hostList = append(hostList, s.Address())
			} else if n == 1 {
				backupList = append(backupList, s.Address())
			}
		} else if n == 1 {
			hostList = append(hostList, s.Address())
		}
	}
	if hotStandby && len(hostList) < 2 {
		return nil, false
	}
	if !hotStandby && len(hostList) == 0 {
		hostList = backupList
	}
	if len(hostList) == 0 {
		return nil, false
	}
	return hostList, true
}

// TestSelectMatchesReference compares Select with the literal algorithm on
// random service lists: same success, same primary endpoints, and (without
// standby) the reference's hostList order continued by the backups.
func TestSelectMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-1"}
	zones := []string{"a", "b", "c"}
	for iter := 0; iter < 3000; iter++ {
		var eps []Endpoint
		for i := 0; i < r.IntN(7); i++ {
			n := 1 + r.IntN(3)
			var locs []string
			for j := 0; j < n; j++ {
				locs = append(locs, regions[r.IntN(len(regions))]+zones[r.IntN(3)])
			}
			eps = append(eps, Endpoint{Host: "h" + string(rune('a'+i)), Port: 443 + r.IntN(2), Locations: locs, Transport: "websocket"})
		}
		region := regions[r.IntN(len(regions))]
		standby := r.IntN(2) == 0
		want, ok := reference(eps, region, standby)
		sel, err := Select(eps, region, standby)
		if ok != (err == nil) {
			t.Fatalf("eps %v region %s standby %v: ok %v, err %v", eps, region, standby, ok, err)
		}
		if !ok {
			continue
		}
		var got []string
		for _, e := range append(append([]Endpoint{}, sel.Primary...), sel.Backups...) {
			got = append(got, e.Address())
		}
		np := 1
		if standby {
			np = 2
		}
		if len(sel.Primary) != np || !reflect.DeepEqual(got[:np], want[:np]) {
			t.Fatalf("primary %v, reference %v (eps %v)", got[:len(sel.Primary)], want, eps)
		}
		if !reflect.DeepEqual(got[:len(want)], want) {
			t.Fatalf("order %v does not start with the reference's %v", got, want)
		}
	}
}

func TestAddressAndParseEndpoint(t *testing.T) {
	cases := []struct {
		e    Endpoint
		want string
	}{
		{Endpoint{Host: "h.example.com", Port: 443}, "h.example.com:443"},
		{Endpoint{Host: "h.example.com"}, "h.example.com:443"},
		{Endpoint{Host: "::1", Port: 15000}, "[::1]:15000"},
		{Endpoint{Host: "[2001:db8::1]", Port: 8443}, "[2001:db8::1]:8443"},
	}
	for _, c := range cases {
		if got := c.e.Address(); got != c.want {
			t.Errorf("Address(%+v) = %s, want %s", c.e, got, c.want)
		}
	}
	parse := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"127.0.0.1:15000", "127.0.0.1", 15000, true},
		{"ads.example.com", "ads.example.com", 443, true},
		{"[::1]:443", "::1", 443, true},
		{"::1", "::1", 443, true},
		{"host:0", "", 0, false},
		{"host:99999", "", 0, false},
		{"bad host:1", "", 0, false},
		{"", "", 0, false},
		{"http://x:1", "", 0, false},
	}
	for _, c := range parse {
		e, err := ParseEndpoint(c.in)
		if c.ok != (err == nil) || c.ok && (e.Host != c.host || e.Port != c.port) {
			t.Errorf("ParseEndpoint(%q) = %+v, %v", c.in, e, err)
		}
	}
}
