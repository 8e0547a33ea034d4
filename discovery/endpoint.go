package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is used when an endpoint has no port (LSEG's examples).
const DefaultPort = 443

// Endpoint is one streaming endpoint as listed by service discovery.
type Endpoint struct {
	Host       string   // "endpoint" of the service entry
	Port       int      // 0 means DefaultPort
	Locations  []string // availability zones, e.g. ["us-east-1a","us-east-1b"]
	Provider   string   // e.g. "aws"
	Transport  string   // e.g. "websocket"
	DataFormat []string // e.g. ["tr_json2"]
}

// Address is host:port, with brackets around IPv6 hosts.
func (e Endpoint) Address() string {
	p := e.Port
	if p == 0 {
		p = DefaultPort
	}
	return net.JoinHostPort(strings.Trim(e.Host, "[]"), strconv.Itoa(p))
}

func (e Endpoint) String() string {
	if len(e.Locations) == 0 {
		return e.Address()
	}
	return e.Address() + " [" + strings.Join(e.Locations, ",") + "]"
}

// ErrResponse: the discovery answer is not a usable service list.
var ErrResponse = errors.New("discovery: malformed response")

// ParseEndpoint turns an explicit "host", "host:port" or "[v6]:port" into
// an Endpoint (port DefaultPort when absent), skipping discovery.
func ParseEndpoint(hostport string) (Endpoint, error) {
	s := strings.TrimSpace(hostport)
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a bare name or IP (IPv6 possibly bracketed).
		host, portText = strings.Trim(s, "[]"), ""
	}
	if !validHost(host) {
		return Endpoint{}, fmt.Errorf("discovery: invalid host in %q", hostport)
	}
	port := DefaultPort
	if portText != "" {
		port, err = strconv.Atoi(portText)
		if err != nil || port < 1 || port > 65535 {
			return Endpoint{}, fmt.Errorf("discovery: invalid port in %q", hostport)
		}
	}
	return Endpoint{Host: host, Port: port}, nil
}

// validHost accepts DNS names and IP literals, nothing else (the host ends
// up in a URL and in logs).
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
		default:
			return false
		}
	}
	return !strings.HasPrefix(h, ".") && !strings.HasPrefix(h, "-")
}

// parseServices decodes a discovery answer. Entries without a valid
// endpoint, port or location cannot be used and are counted in skipped.
func parseServices(body []byte) (eps []Endpoint, skipped int, err error) {
	var r struct {
		Services []struct {
			Endpoint   string          `json:"endpoint"`
			Port       json.RawMessage `json:"port"`
			Location   []string        `json:"location"`
			Provider   string          `json:"provider"`
			Transport  string          `json:"transport"`
			DataFormat []string        `json:"dataFormat"`
		} `json:"services"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrResponse, err)
	}
	if dec.More() {
		return nil, 0, fmt.Errorf("%w: trailing data", ErrResponse)
	}
	if r.Services == nil {
		return nil, 0, fmt.Errorf("%w: no \"services\" list", ErrResponse)
	}
	for _, s := range r.Services {
		port, ok := parsePort(s.Port)
		if !ok || !validHost(s.Endpoint) || len(s.Location) == 0 || s.Location[0] == "" {
			skipped++
			continue
		}
		eps = append(eps, Endpoint{
			Host: s.Endpoint, Port: port, Locations: s.Location,
			Provider: s.Provider, Transport: s.Transport, DataFormat: s.DataFormat,
		})
	}
	return eps, skipped, nil
}

// parsePort accepts a JSON integer 1..65535 (LSEG sends a number); absent
// means DefaultPort.
func parsePort(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return DefaultPort, true
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f < 1 || f > 65535 {
		return 0, false
	}
	return int(f), true
}
