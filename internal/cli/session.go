package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/discovery"
)

// tlsConfig builds the client TLS configuration: system roots plus the
// optional CA file; verification is skipped only with --insecure.
func (c *connFlags) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.Insecure {
		conf.InsecureSkipVerify = true //nolint:gosec // explicit --insecure, warned about at start
		return conf, nil
	}
	if c.CAFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, usageError("--ca-file: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usageError("--ca-file %s holds no PEM certificate", c.CAFile)
	}
	conf.RootCAs = pool
	return conf, nil
}

func httpClient(tlsConf *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// grant returns the token grant the flags describe.
func (c *connFlags) grant() (auth.Grant, error) {
	switch c.authKind() {
	case authV1Password:
		if c.Password == "" {
			return nil, usageError("the v1 password grant needs a password: set ERT_PASSWORD (or --password, or --config)")
		}
		if c.ClientID == "" {
			return nil, usageError("the v1 password grant needs a client ID (App Key): set ERT_CLIENTID or --clientid")
		}
		return auth.PasswordGrant(auth.PasswordConfig{
			TokenURL: c.tokenURL(), Username: c.User, Password: c.Password, ClientID: c.ClientID,
			ClientSecret: c.ClientSecret, Scope: c.Scope, TakeExclusiveSignOnControl: true, NewPassword: c.NewPassword,
		}), nil
	case authV2Secret:
		if c.ClientID == "" {
			return nil, usageError("v2 client credentials need a client ID: set ERT_CLIENTID or --clientid")
		}
		return auth.ClientCredentials(auth.ClientCredentialsConfig{
			TokenURL: c.tokenURL(), ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scope: c.Scope,
		}), nil
	case authV2JWT:
		if c.ClientID == "" {
			return nil, usageError("a v2 JWT assertion needs a client ID: set ERT_CLIENTID or --clientid")
		}
		jwk, err := auth.ReadJWKFile(c.JWKFile)
		if err != nil {
			return nil, usageError("--jwkFile: %v", err)
		}
		g, err := auth.JWTAssertion(auth.JWTConfig{
			TokenURL: c.tokenURL(), ClientID: c.ClientID, JWK: jwk, Audience: c.Aud, Scope: c.Scope,
		})
		if err != nil {
			return nil, usageError("--jwkFile: %v", err)
		}
		return g, nil
	}
	return nil, usageError("no credentials: set ERT_USER + ERT_PASSWORD + ERT_CLIENTID (v1 machine account), ERT_CLIENTID + ERT_CLIENTSECRET (v2 service account), or ERT_CLIENTID + --jwkFile (v2 JWT); or try `ert demo`")
}

// session is what the data commands share: a token manager and endpoints.
type session struct {
	flags   *connFlags
	tls     *tls.Config
	http    *http.Client
	tokens  *auth.Manager
	primary []discovery.Endpoint
	backups []discovery.Endpoint
}

// signIn builds the TLS configuration, the HTTP client and the token
// manager the flags describe, and gets a first token. Errors carry the
// exit code of the failed step.
func (c *connFlags) signIn(ctx context.Context, env *Env) (*session, auth.Token, error) {
	tlsConf, err := c.tlsConfig()
	if err != nil {
		return nil, auth.Token{}, err
	}
	g, err := c.grant()
	if err != nil {
		return nil, auth.Token{}, err
	}
	s := &session{flags: c, tls: tlsConf, http: reloadingHTTPClient(tlsConf, c.CAFile)}
	s.tokens = auth.NewManager(g, auth.Options{HTTPClient: s.http, Logger: env.Log})
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tok, err := s.tokens.Token(tctx)
	if err != nil {
		s.tokens.Close()
		return nil, auth.Token{}, fail(ExitAuth, err, "authentication at %s failed", redactURL(c.tokenURL()))
	}
	return s, tok, nil
}

// newSession signs in and resolves the endpoints to use. With
// --login-name there is no token: the endpoint is --hostname.
func newSession(ctx context.Context, c *connFlags, env *Env) (*session, error) {
	if c.LoginName != "" {
		if c.Hostname == "" {
			return nil, usageError("--login-name needs --hostname (and --port): there is no discovery without a token")
		}
		tlsConf, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		s := &session{flags: c, tls: tlsConf, http: httpClient(tlsConf)}
		return s, s.resolveEndpoints(ctx)
	}
	s, _, err := c.signIn(ctx, env)
	if err != nil {
		return nil, err
	}
	if err := s.resolveEndpoints(ctx); err != nil {
		s.tokens.Close()
		return nil, err
	}
	return s, nil
}

// runTokens renews the session's token until ctx ends (in the
// background; nothing without a token).
func (s *session) runTokens(ctx context.Context) {
	if s.tokens != nil {
		go s.tokens.Run(ctx)
	}
}

func (s *session) close() {
	if s.tokens != nil {
		s.tokens.Close()
	}
}

// consumerConfig is the SDK configuration of the session: its endpoints
// (and rediscovery when they came from discovery), tokens, TLS and Login
// attributes. caPEM is trusted in addition to --ca-file.
func (s *session) consumerConfig(caPEM []byte, env *Env) consumer.Config {
	c := s.flags
	cfg := consumer.Config{
		UserName:      c.LoginName,
		HotStandby:    c.HotStandby,
		TLS:           consumer.TLS{CAFile: c.CAFile, CAPEM: caPEM, InsecureSkipVerify: c.Insecure},
		ApplicationID: c.AppID,
		Position:      c.Position,
		Service:       c.Service,
		Logger:        env.Log,
		Reconnect:     consumer.Reconnect{MaxCertFailures: c.maxCertFailures()},
	}
	if s.tokens != nil {
		cfg.TokenSource = s.tokens
	}
	for _, e := range append(append([]discovery.Endpoint{}, s.primary...), s.backups...) {
		cfg.Endpoints = append(cfg.Endpoints, endpointURL(e, c.WS))
	}
	if c.Hostname == "" && s.tokens != nil {
		cfg.Discover = consumer.Discovery(c.discoveryURL(), s.tokens, c.Region, c.HotStandby, discovery.Options{HTTPClient: s.http})
	}
	return cfg
}

// resolveEndpoints uses --hostname/--standbyhostname when given, service
// discovery otherwise.
func (s *session) resolveEndpoints(ctx context.Context) error {
	c := s.flags
	if c.Hostname != "" {
		s.primary = []discovery.Endpoint{{Host: c.Hostname, Port: c.Port}}
		if c.HotStandby {
			if c.StandbyHostname == "" {
				return usageError("--hotstandby with --hostname needs --standbyhostname")
			}
			s.primary = append(s.primary, discovery.Endpoint{Host: c.StandbyHostname, Port: c.StandbyPort})
		}
		return nil
	}
	eps, err := s.discover(ctx)
	if err != nil {
		return err
	}
	sel, err := discovery.Select(eps, c.Region, c.HotStandby)
	if err != nil {
		return fail(ExitDiscovery, err, "endpoint selection")
	}
	s.primary, s.backups = sel.Primary, sel.Backups
	return nil
}

func (s *session) discover(ctx context.Context) ([]discovery.Endpoint, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tok, err := s.tokens.Token(dctx)
	if err != nil {
		return nil, fail(ExitAuth, err, "authentication")
	}
	eps, err := discovery.Discover(dctx, s.flags.discoveryURL(), tok.AccessToken, discovery.Options{HTTPClient: s.http})
	if err != nil {
		return nil, fail(ExitDiscovery, err, "service discovery at %s failed", redactURL(s.flags.discoveryURL()))
	}
	return eps, nil
}

// redactURL drops user info and query from a URL for messages.
func redactURL(raw string) string {
	host, port, err := hostPort(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u := raw
	if i := indexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if at := indexAny(u, "@"); at >= 0 {
		return "https://" + net.JoinHostPort(host, port)
	}
	return u
}

func indexAny(s, chars string) int {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return i
			}
		}
	}
	return -1
}
