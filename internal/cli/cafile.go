package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// caReloader gives HTTPS connections (token renewals, rediscovery) the
// current content of --ca-file: an emulator restarted with a new CA
// writes it to the same file, and a long `ert stream` should then renew
// its token against it without a restart. The file is read again when its
// size or modification time changes; one that cannot be read keeps the
// previous trust. The SDK re-reads it for the streaming connections
// (consumer.TLS.CAFile).
type caReloader struct {
	file string
	base *tls.Config // verification on; RootCAs replaced

	mu    sync.Mutex
	mod   time.Time
	size  int64
	roots *x509.CertPool
}

func newCAReloader(file string, base *tls.Config) *caReloader {
	r := &caReloader{file: file, base: base, roots: base.RootCAs}
	if fi, err := os.Stat(file); err == nil {
		r.mod, r.size = fi.ModTime(), fi.Size()
	}
	return r
}

// config returns the TLS configuration with the file's current CAs.
func (r *caReloader) config() *tls.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fi, err := os.Stat(r.file); err == nil && (!fi.ModTime().Equal(r.mod) || fi.Size() != r.size) {
		if pem, err := os.ReadFile(r.file); err == nil {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if pool.AppendCertsFromPEM(pem) {
				r.roots, r.mod, r.size = pool, fi.ModTime(), fi.Size()
			}
		}
	}
	c := r.base.Clone()
	c.RootCAs = r.roots
	return c
}

// dialTLS is an http.Transport's DialTLSContext.
func (r *caReloader) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	c := r.config()
	if c.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		c.ServerName = host
	}
	d := tls.Dialer{Config: c}
	return d.DialContext(ctx, network, addr)
}

// reloadingHTTPClient is httpClient whose TLS connections trust the
// current content of caFile (none: httpClient as is).
func reloadingHTTPClient(tlsConf *tls.Config, caFile string) *http.Client {
	hc := httpClient(tlsConf)
	if caFile == "" || tlsConf.InsecureSkipVerify {
		return hc
	}
	hc.Transport.(*http.Transport).DialTLSContext = newCAReloader(caFile, tlsConf).dialTLS
	return hc
}

// maxCertFailures maps --max-cert-failures to consumer.Reconnect, which
// shares its meaning (0: the default, 5; negative: never).
func (c *connFlags) maxCertFailures() int { return c.MaxCertFailures }
