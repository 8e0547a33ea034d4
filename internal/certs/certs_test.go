package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// handshake runs a TLS handshake over a real loopback connection: the
// server side uses srv, the client dials network/addr with cli. It returns
// the client's handshake error.
func handshake(t *testing.T, network, listenAddr string, srv, cli *tls.Config) error {
	t.Helper()
	ln, err := net.Listen(network, listenAddr)
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, listenAddr, err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		if tc.HandshakeContext(ctx) == nil {
			// Complete one round trip so the client sees a finished handshake.
			buf := make([]byte, 1)
			if _, err := tc.Read(buf); err == nil {
				_, _ = tc.Write(buf)
			}
		}
	}()

	d := tls.Dialer{Config: cli}
	c, err := d.DialContext(ctx, network, ln.Addr().String())
	if err == nil {
		_, err = c.Write([]byte{'x'})
		if err == nil {
			buf := make([]byte, 1)
			_, err = c.Read(buf)
		}
		c.Close()
	}
	ln.Close()
	<-done
	return err
}

func TestGenerateHandshakeIPv4(t *testing.T) {
	b, err := Generate(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, "tcp4", "127.0.0.1:0", b.ServerTLS, b.ClientTLS()); err != nil {
		t.Fatalf("handshake with verification: %v", err)
	}
}

func TestGenerateHandshakeIPv6(t *testing.T) {
	b, err := Generate(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, "tcp6", "[::1]:0", b.ServerTLS, b.ClientTLS()); err != nil {
		t.Fatalf("handshake with verification: %v", err)
	}
}

func TestGenerateHandshakeLocalhostAndExtraHost(t *testing.T) {
	b, err := Generate([]string{"emulator.test", "10.9.8.7"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "emulator.test"} {
		cli := b.ClientTLS()
		cli.ServerName = name
		if err := handshake(t, "tcp4", "127.0.0.1:0", b.ServerTLS, cli); err != nil {
			t.Errorf("ServerName %q: %v", name, err)
		}
	}
	leaf := b.ServerTLS.Certificates[0].Leaf
	var sawIP bool
	for _, ip := range leaf.IPAddresses {
		if ip.Equal(net.ParseIP("10.9.8.7")) {
			sawIP = true
		}
	}
	if !sawIP {
		t.Errorf("extra IP SAN missing: %v", leaf.IPAddresses)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
}

func TestHandshakeRejectsWrongNameAndWrongCA(t *testing.T) {
	b, err := Generate(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cli := b.ClientTLS()
	cli.ServerName = "not-covered.example"
	var hostErr x509.HostnameError
	if err := handshake(t, "tcp4", "127.0.0.1:0", b.ServerTLS, cli); !errors.As(err, &hostErr) {
		t.Errorf("wrong name: got %v, want x509.HostnameError", err)
	}

	other, err := Generate(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var unk x509.UnknownAuthorityError
	if err := handshake(t, "tcp4", "127.0.0.1:0", b.ServerTLS, other.ClientTLS()); !errors.As(err, &unk) {
		t.Errorf("other CA: got %v, want x509.UnknownAuthorityError", err)
	}
}

func TestLoadUserSuppliedPair(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "user supplied"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, "tcp4", "127.0.0.1:0", b.ServerTLS, b.ClientTLS()); err != nil {
		t.Fatalf("handshake with loaded pair: %v", err)
	}

	if _, err := Load(filepath.Join(dir, "missing.pem"), keyFile); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}
