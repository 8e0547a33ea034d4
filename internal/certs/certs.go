// Package certs provides the emulator's TLS material: by default a fresh
// ECDSA P-256 CA and a server certificate signed by it for the loopback
// names, so that clients can run against the emulator with certificate
// verification on by trusting only that CA; or a user-supplied
// certificate and key.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// DefaultValidity is the validity of generated certificates when Generate
// is given a validity <= 0.
const DefaultValidity = 24 * time.Hour

// backdate is how far before "now" generated certificates become valid, so
// that a client whose clock is slightly behind still accepts them.
const backdate = time.Hour

// DefaultHosts are the names every generated server certificate covers.
var DefaultHosts = []string{"127.0.0.1", "::1", "localhost"}

// ErrNoCertificate is returned by Load when the certificate file holds no
// PEM certificate.
var ErrNoCertificate = errors.New("certs: no certificate in PEM file")

// Bundle is the TLS material of one emulator.
type Bundle struct {
	// CAPEM is the PEM a client must trust: the generated CA, or for
	// Load the certificates of the certificate file (which then must
	// contain the root, or be a self-signed leaf, for a client to verify).
	CAPEM []byte
	// ServerTLS serves the server certificate (TLS 1.2 or later). Clone
	// it before changing it; it is shared by every caller of the bundle.
	ServerTLS *tls.Config
}

// Pool returns a certificate pool holding CAPEM, for clients.
func (b *Bundle) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(b.CAPEM)
	return p
}

// ClientTLS returns a client configuration that trusts only CAPEM, with
// verification on.
func (b *Bundle) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: b.Pool(), MinVersion: tls.VersionTLS12}
}

// Generate creates a CA and a server certificate signed by it, valid for
// validity (DefaultValidity if <= 0) and covering DefaultHosts plus hosts
// (IP literals become IP SANs, anything else a DNS SAN).
func Generate(hosts []string, validity time.Duration) (*Bundle, error) {
	if validity <= 0 {
		validity = DefaultValidity
	}
	now := time.Now()
	notBefore, notAfter := now.Add(-backdate), now.Add(validity)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ertkit emulator CA", Organization: []string{"ertkit"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("certs: CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("certs: CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "ertkit emulator", Organization: []string{"ertkit"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	seen := map[string]bool{}
	for _, h := range append(append([]string{}, DefaultHosts...), hosts...) {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("certs: server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: server certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key, Leaf: leaf}
	return &Bundle{
		CAPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		ServerTLS: serverConfig(cert),
	}, nil
}

// Load uses a certificate chain and private key from PEM files instead of
// generating them.
func Load(certFile, keyFile string) (*Bundle, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: load key pair: %w", err)
	}
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	var out []byte
	for rest := raw; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})...)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoCertificate
	}
	return &Bundle{CAPEM: out, ServerTLS: serverConfig(cert)}, nil
}

func serverConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("certs: crypto/rand failed: " + err.Error())
	}
	return n.Add(n, big.NewInt(1)) // never zero
}
