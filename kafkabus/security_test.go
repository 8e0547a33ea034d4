package kafkabus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// Publishing to a cluster that requires TLS and SASL (each SASL mechanism
// we name), and reading back with the Subscriber; wrong credentials and
// an untrusted certificate fail NewPublisher.
func TestTLSAndSASL(t *testing.T) {
	cert, pool := selfSigned(t)
	c := startCluster(t, 1, "sec", 1,
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", "plainpass"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "pass256"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "pass512"))
	clientTLS := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	s := newSynth()
	for _, sasl := range []SASL{{"PLAIN", "plainuser", "plainpass"}, {"SCRAM-SHA-256", "scram256", "pass256"}, {"SCRAM-SHA-512", "scram512", "pass512"}} {
		p := newTestPublisher(t, c, "sec", func(o *Options) { o.TLS, o.SASL = clientTLS, sasl })
		p.Handle(s.refresh("SEC.N"))
		closePublisher(t, p)
		if st := p.Stats(); st.Ticks != 1 {
			t.Errorf("%s: %+v", sasl.Mechanism, st)
		}
	}
	if n := len(readAllWith(t, c, TickTopic("sec"), clientTLS, SASL{"PLAIN", "plainuser", "plainpass"})); n != 3 {
		t.Errorf("%d records, want 3", n)
	}
	for name, o := range map[string]Options{
		"wrong password": {Connection: Connection{TLS: clientTLS, SASL: SASL{"SCRAM-SHA-256", "scram256", "nope"}}},
		"untrusted cert": {Connection: Connection{TLS: &tls.Config{MinVersion: tls.VersionTLS12}, SASL: SASL{"PLAIN", "plainuser", "plainpass"}}},
		"no TLS":         {Connection: Connection{SASL: SASL{"PLAIN", "plainuser", "plainpass"}}},
		"no SASL":        {Connection: Connection{TLS: clientTLS}},
	} {
		o.Brokers, o.TopicPrefix, o.Logger = c.ListenAddrs(), "sec", quietLogger()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		p, err := NewPublisher(ctx, o)
		cancel()
		if err == nil {
			p.Close(context.Background())
			t.Errorf("%s: NewPublisher succeeded", name)
		}
	}
}
