package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testPKI is a throwaway CA with a server certificate for 127.0.0.1 and a client certificate.
type testPKI struct {
	caFile, certFile, keyFile string // CA, client certificate and key (PEM files)
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "esa-connect test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvDER, srvKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	cliDER, cliKey := issue(3, "esa-connect", x509.ExtKeyUsageClientAuth, nil)
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	p := &testPKI{
		caFile:   write("ca.pem", "CERTIFICATE", caDER),
		certFile: write("client.pem", "CERTIFICATE", cliDER),
		keyFile:  write("client.key", "EC PRIVATE KEY", cliKeyDER),
		server:   tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
		pool:     x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	return p
}

// TestTLSWithClientCertificatesAndSASL: a cluster that requires TLS client certificates and SASL
// (SCRAM-SHA-512 over TLS): esa_kafka writes to it and reads from it, and kcat (SASL_SSL) reads what it
// wrote.
func TestTLSWithClientCertificatesAndSASL(t *testing.T) {
	pki := newPKI(t)
	cert, err := tls.LoadX509KeyPair(pki.certFile, pki.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	clientTLS := kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	c := saslClusterWith(t, []kgo.Opt{clientTLS}, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientCAs:    pki.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}), kfake.SeedTopics(3, "tls"))
	addrs := c.ListenAddrs()
	u := saslUsers[2]
	tlsYAML := fmt.Sprintf("tls: {enabled: true, ca_file: %q, cert_file: %q, key_file: %q}", pki.caFile, pki.certFile, pki.keyFile)
	saslYAML := fmt.Sprintf("sasl: {mechanism: %s, username: %s, password: %s}", u.mech, u.user, u.pass)

	recs := accessRecords(1000)
	file := writeNDJSON(t, t.TempDir(), recs)
	s := buildStream(t, newEnv(t), outputYAML(file, addrs, "tls", "compression: snappy\n"+tlsYAML+"\n"+saslYAML), nil)
	runStream(t, s, 2*time.Minute)

	got := consume(t, addrs, "tls", len(recs), 30*time.Second, saslClientOpt(u.mech, u.user, u.pass), clientTLS)
	compareMultiset(t, "written over TLS + SASL", values(got), recs)

	t.Run("esa_kafka input over TLS + SASL", func(t *testing.T) {
		col := &collector{}
		is := startInput(t, inputYAML(addrs, "tls", "g-tls", tlsYAML+"\n"+saslYAML), col)
		col.waitFor(t, len(recs), time.Minute)
		is.stop(t)
		compareMultiset(t, "read over TLS + SASL", col.values(), recs)
	})

	t.Run("kcat reads it over SASL_SSL", func(t *testing.T) {
		args := append(kcatSASLArgs(u.mech, u.user, u.pass), "-X", "security.protocol=SASL_SSL",
			"-X", "ssl.ca.location="+pki.caFile, "-X", "ssl.certificate.location="+pki.certFile, "-X", "ssl.key.location="+pki.keyFile)
		msgs := kcatConsume(t, addrs[0], "tls", args...)
		var payloads []string
		for _, m := range msgs {
			payloads = append(payloads, *m.Payload)
		}
		compareMultiset(t, "kcat over SASL_SSL", payloads, recs)
	})

}
