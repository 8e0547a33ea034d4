package cli

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Default Delivery Platform URLs, as LSEG's examples use them.
const (
	defaultAuthURLV1    = "https://api.refinitiv.com/auth/oauth2/v1/token"
	defaultAuthURLV2    = "https://api.refinitiv.com/auth/oauth2/v2/token"
	defaultDiscoveryURL = "https://api.refinitiv.com/streaming/pricing/v1/"
)

// connFlags are the connection and credential options, under the names
// LSEG's example programs use, so that their command lines carry over.
type connFlags struct {
	User            string `name:"user" help:"Machine ID for the v1 password grant (env ERT_USER)."`
	Password        string `name:"password" help:"Password of the machine ID (env ERT_PASSWORD; prefer env or --config: argv is visible to other users)."`
	ClientID        string `name:"clientid" help:"Client ID (App Key for v1, service account for v2) (env ERT_CLIENTID)."`
	ClientSecret    string `name:"clientsecret" help:"v2 client secret (env ERT_CLIENTSECRET)."`
	JWKFile         string `name:"jwkFile" help:"v2: private JWK file for a JWT client assertion (env ERT_JWK_FILE)."`
	Aud             string `name:"aud" help:"v2 JWT audience (default https://login.ciam.refinitiv.com/as/token.oauth2)."`
	NewPassword     string `name:"newPassword" help:"v1: change the password first (env ERT_NEW_PASSWORD)."`
	Scope           string `name:"scope" default:"trapi.streaming.pricing.read" help:"OAuth scope."`
	AuthURL         string `name:"auth_url" help:"Token endpoint URL (env ERT_AUTH_URL; default: LSEG's v1 or v2 URL by credential type)."`
	AuthHostname    string `name:"auth_hostname" help:"Older form: token endpoint host (the URL is built from it and --auth_port)."`
	AuthPort        int    `name:"auth_port" default:"443" help:"Older form: token endpoint port."`
	DiscoveryURL    string `name:"discovery_url" help:"Service discovery URL (env ERT_DISCOVERY_URL)."`
	Region          string `name:"region" default:"us-east-1" help:"Location prefix to pick endpoints from (env ERT_REGION)."`
	Hostname        string `name:"hostname" help:"Streaming endpoint host; skips service discovery (env ERT_HOSTNAME)."`
	Port            int    `name:"port" default:"443" help:"Streaming endpoint port."`
	StandbyHostname string `name:"standbyhostname" help:"Hot standby: second streaming endpoint host."`
	StandbyPort     int    `name:"standbyport" default:"443" help:"Hot standby: second streaming endpoint port."`
	HotStandby      bool   `name:"hotstandby" help:"Two connections to two endpoints, each update delivered once."`
	AppID           string `name:"app_id" default:"256" help:"ApplicationId of the Login."`
	Position        string `name:"position" help:"Position of the Login (default ip/hostname)."`
	Service         string `name:"service" default:"ELEKTRON_DD" help:"Service name of item requests."`
	CAFile          string `name:"ca-file" help:"Extra CA certificate (PEM) to trust, e.g. the emulator's (env ERT_CA_FILE)."`
	Insecure        bool   `name:"insecure" help:"Skip TLS certificate verification. Dangerous; warns on every start."`
	MaxCertFailures int    `name:"max-cert-failures" default:"5" help:"Stop reconnecting (exit 5) after this many certificate failures in a row; --ca-file is re-read before each. Negative: never stop."`
	WS              bool   `name:"ws" help:"Connect with ws:// instead of wss:// (local ADS or a plain emulator)."`
	LoginName       string `name:"login-name" help:"Log in by user name (as to a deployed ADS, ert gateway or ert replay --listen) instead of with a token: no credentials, no discovery; needs --hostname."`
	Config          string `name:"config" help:"JSON file of flag values, e.g. {\"user\":…,\"password\":…}; refused if readable by others while it holds a secret." type:"path"`
}

// credentialNames are the connFlags resolved from env and config file.
var credentialNames = []string{"user", "password", "clientid", "clientsecret", "jwkFile", "newPassword",
	"auth_url", "discovery_url", "ca-file", "region", "hostname"}

func (c *connFlags) field(name string) *string {
	switch name {
	case "user":
		return &c.User
	case "password":
		return &c.Password
	case "clientid":
		return &c.ClientID
	case "clientsecret":
		return &c.ClientSecret
	case "jwkFile":
		return &c.JWKFile
	case "newPassword":
		return &c.NewPassword
	case "auth_url":
		return &c.AuthURL
	case "discovery_url":
		return &c.DiscoveryURL
	case "ca-file":
		return &c.CAFile
	case "region":
		return &c.Region
	case "hostname":
		return &c.Hostname
	}
	return nil
}

// complete fills credentials from the environment and the config file and
// warns about secrets given on the command line.
func (c *connFlags) complete(env *Env) error {
	var cfg map[string]string
	if c.Config != "" {
		var err error
		if cfg, err = loadConfigFile(c.Config); err != nil {
			return &exitError{code: ExitUsage, err: err}
		}
	}
	// The region flag has a default; let env/config override the default
	// only when the flag was not given explicitly.
	regionGiven := false
	for _, a := range env.Args {
		if a == "--region" || strings.HasPrefix(a, "--region=") {
			regionGiven = true
		}
	}
	if !regionGiven {
		c.Region = ""
	}
	resolve(credentialNames, func(n string) string { return *c.field(n) }, func(n, v string) { *c.field(n) = v }, cfg, env.Getenv)
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	for _, s := range secretOnCommandLine(env.Args) {
		env.Log.Warn("secret given on the command line; it is visible to other users of this machine — prefer the environment or --config", "flag", s)
	}
	if c.Insecure && env.Stderr != nil {
		// Straight to stderr, whatever --log-level: a warning that can be
		// silenced protects no one.
		fmt.Fprintln(env.Stderr, "ert: WARNING: TLS certificate verification is OFF (--insecure): anyone on the path can read your credentials and data")
	}
	return nil
}

// authKind is the credential type the flags describe.
type authKind int

const (
	authNone authKind = iota
	authV1Password
	authV2Secret
	authV2JWT
)

func (c *connFlags) authKind() authKind {
	switch {
	case c.JWKFile != "":
		return authV2JWT
	case c.User != "":
		return authV1Password
	case c.ClientSecret != "":
		return authV2Secret
	}
	return authNone
}

// tokenURL returns the token endpoint URL for the credential type.
func (c *connFlags) tokenURL() string {
	if c.AuthURL != "" {
		return c.AuthURL
	}
	if c.AuthHostname != "" {
		path := "/auth/oauth2/v1/token"
		if c.authKind() == authV2Secret || c.authKind() == authV2JWT {
			path = "/auth/oauth2/v2/token"
		}
		return (&url.URL{Scheme: "https", Host: net.JoinHostPort(c.AuthHostname, strconv.Itoa(c.AuthPort)), Path: path}).String()
	}
	if c.authKind() == authV1Password {
		return defaultAuthURLV1
	}
	return defaultAuthURLV2
}

func (c *connFlags) discoveryURL() string {
	if c.DiscoveryURL != "" {
		return c.DiscoveryURL
	}
	return defaultDiscoveryURL
}

// itemFlags select what to request.
type itemFlags struct {
	RICs   []string `arg:"" optional:"" name:"RIC" help:"Item names (RICs), e.g. TRI.N EUR= /IBM.N."`
	RIC    []string `name:"ric" help:"Item name (repeatable; as LSEG's examples)."`
	Domain string   `name:"domain" default:"MarketPrice" help:"Domain: MarketPrice, MarketByPrice, MarketByOrder, SymbolList, Source."`
	View   string   `name:"view" help:"Comma-separated field names or FIDs, e.g. BID,ASK or 22,25."`
}

func (f *itemFlags) names() []string {
	out := append([]string{}, f.RIC...)
	out = append(out, f.RICs...)
	return out
}

// viewSpec parses --view into names or FIDs (not both).
func (f *itemFlags) viewSpec() (names []string, fids []int64, err error) {
	if f.View == "" {
		return nil, nil, nil
	}
	for _, p := range strings.Split(f.View, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if n, err := strconv.ParseInt(p, 10, 16); err == nil {
			fids = append(fids, n)
		} else {
			names = append(names, p)
		}
	}
	if len(names) > 0 && len(fids) > 0 {
		return nil, nil, usageError("--view mixes field names and FIDs; use one kind")
	}
	return names, fids, nil
}

// outputFlags shape what is printed.
type outputFlags struct {
	Output   string        `name:"output" short:"o" enum:",pretty,jsonl,table,csv" default:"" help:"pretty (indented JSON), jsonl (one message per line as received), table (live board), csv. Default: table on a terminal, jsonl otherwise."`
	Count    int           `name:"count" help:"Stop after N data messages (refreshes and updates) and exit 0."`
	Duration time.Duration `name:"duration" help:"Stop after this long (e.g. 30s) and exit 0."`
	Stats    bool          `name:"stats" help:"Print message counts and rates to stderr at the end (and every 5 s)."`
}

func (o *outputFlags) format(env *Env) string {
	if o.Output != "" {
		return o.Output
	}
	if env.IsTerminal {
		return "table"
	}
	return "jsonl"
}

func (o *outputFlags) validate() error {
	if o.Count < 0 {
		return usageError("--count must be ≥ 0")
	}
	if o.Duration < 0 {
		return usageError("--duration must be ≥ 0")
	}
	return nil
}
