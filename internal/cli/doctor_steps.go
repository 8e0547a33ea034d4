package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// step is one timed check of `ert doctor`.
type step struct {
	name   string
	detail string
	dur    time.Duration
	err    error
	advice string
}

// doctorReport prints steps as they complete.
type doctorReport struct {
	w     io.Writer
	steps []step
}

// run times fn, prints the outcome and returns fn's error. advice explains
// what to check when it fails; fn may refine the detail.
func (r *doctorReport) run(name string, advice func(error) string, fn func() (string, error)) error {
	start := time.Now()
	detail, err := fn()
	s := step{name: name, detail: detail, dur: time.Since(start), err: err}
	if err != nil && advice != nil {
		s.advice = advice(err)
	}
	r.steps = append(r.steps, s)
	mark := "ok  "
	if err != nil {
		mark = "FAIL"
	}
	fmt.Fprintf(r.w, "%s  %-34s %8s  %s\n", mark, name, s.dur.Round(100*time.Microsecond), detail)
	if err != nil {
		fmt.Fprintf(r.w, "      error:  %s\n", oneLine(err.Error()))
		if s.advice != "" {
			fmt.Fprintf(r.w, "      advice: %s\n", s.advice)
		}
	}
	return err
}

// hostPort returns host and port of an http(s)/ws(s) URL, defaulting the port.
func hostPort(raw string) (host, port string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	host, port = u.Hostname(), u.Port()
	if host == "" {
		return "", "", fmt.Errorf("URL %q has no host", raw)
	}
	if port == "" {
		switch u.Scheme {
		case "http", "ws":
			port = "80"
		default:
			port = "443"
		}
	}
	return host, port, nil
}

// checkNetwork runs the DNS, TCP and TLS steps for host:port.
func (r *doctorReport) checkNetwork(ctx context.Context, what, host, port string, tlsConf *tls.Config, plain bool) error {
	var addrs []string
	err := r.run(what+": DNS "+host, adviceDNS, func() (string, error) {
		if ip := net.ParseIP(host); ip != nil {
			addrs = []string{ip.String()}
			return "literal address", nil
		}
		var err error
		addrs, err = net.DefaultResolver.LookupHost(ctx, host)
		return strings.Join(addrs, " "), err
	})
	if err != nil {
		return err
	}
	var conn net.Conn
	err = r.run(what+": TCP "+net.JoinHostPort(host, port), adviceTCP, func() (string, error) {
		d := net.Dialer{Timeout: 10 * time.Second}
		var err error
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
		if err != nil {
			return "", err
		}
		return "connected from " + conn.LocalAddr().String(), nil
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	if plain {
		return nil
	}
	return r.run(what+": TLS", adviceTLS, func() (string, error) {
		c := tlsConf.Clone()
		c.ServerName = host
		tc := tls.Client(conn, c)
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			return "", err
		}
		st := tc.ConnectionState()
		leaf := st.PeerCertificates[0]
		return fmt.Sprintf("%s, cert %q issued by %q, valid until %s", tls.VersionName(st.Version),
			leaf.Subject.CommonName, leaf.Issuer.CommonName, leaf.NotAfter.Format("2006-01-02")), nil
	})
}

func adviceDNS(error) string {
	return "the host name does not resolve: check the URL/--hostname, your DNS and proxy settings"
}

func adviceTCP(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
		return "no answer: a firewall may drop outbound traffic to this port (RTO needs 443 outbound)"
	}
	return "connection refused or unreachable: check the port (--port, --auth_port) and that the server is running"
}

func adviceTLS(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return "the server's certificate is signed by a CA this machine does not trust: for the emulator pass --ca-file <its ca_file>; behind a TLS-inspecting proxy add the proxy's CA with --ca-file"
	case errors.As(err, &hostErr):
		return "the certificate does not name this host: use the host name from discovery, not an IP address"
	}
	return "TLS handshake failed: check that the port speaks TLS (use --ws for a plain local ADS)"
}
