package httpdelivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
)

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a client certificate.
type pki struct {
	caPool                  *x509.CertPool
	caFile                  string
	server                  tls.Certificate
	clientCert, clientKey   string
	otherCert, otherKeyFile string // a client certificate from another CA
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert, caDER := selfSigned(t, "test CA")
	p := &pki{caPool: x509.NewCertPool(), caFile: filepath.Join(dir, "ca.pem")}
	p.caPool.AddCert(caCert)
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	srvDER, srvKey := issue(t, caCert, caKey, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(t, caCert, caKey, "client", x509.ExtKeyUsageClientAuth)
	p.clientCert, p.clientKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	writePEM(t, p.clientCert, "CERTIFICATE", cliDER)
	writeKey(t, p.clientKey, cliKey)
	otherCAKey, otherCA, _ := selfSigned(t, "other CA")
	oDER, oKey := issue(t, otherCA, otherCAKey, "intruder", x509.ExtKeyUsageClientAuth)
	p.otherCert, p.otherKeyFile = filepath.Join(dir, "other.pem"), filepath.Join(dir, "other.key")
	writePEM(t, p.otherCert, "CERTIFICATE", oDER)
	writeKey(t, p.otherKeyFile, oKey)
	return p
}

func selfSigned(t *testing.T, cn string) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert, der
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if cn == "127.0.0.1" {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}

// TestTLS: an https receiver is reached with tls.ca_file; without it (skip_verify is off by default)
// delivery fails with a certificate error that is not retried; a server that demands a client
// certificate accepts tls.cert_file/key_file from its CA and refuses another.
func TestTLS(t *testing.T) {
	p := newPKI(t)
	start := func(t *testing.T, clientAuth tls.ClientAuthType) (*httptest.Server, *httpout.Receiver) {
		rc := &httpout.Receiver{PrivateKey: "aliyuncdn1234"}
		srv := httptest.NewUnstartedServer(rc)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: clientAuth, ClientCAs: p.caPool}
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected here
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv, rc
	}
	var pl *pipeline
	send := func(t *testing.T, url, tlsYAML string) error {
		pl = startPipeline(t, `
esa_http:
  url: `+url+`/accesslog/post
  compression: gzip
  auth: {private_key: aliyuncdn1234, expired_time: 60}
  max_retry: 2
  backoff: {initial_interval: 1ms, max_interval: 2ms}
  batching: {count: 5}
`+tlsYAML)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return pl.send(ctx, pipelinetest.Batch(idRecords(5)))
	}

	t.Run("ca_file", func(t *testing.T) {
		srv, rc := start(t, tls.NoClientCert)
		if err := send(t, srv.URL, "  tls: {ca_file: "+p.caFile+"}\n"); err != nil {
			t.Fatalf("delivery with the CA failed: %v", err)
		}
		if rc.Stats().Records != 5 {
			t.Fatalf("receiver stats %+v", rc.Stats())
		}
	})
	t.Run("no CA fails", func(t *testing.T) {
		srv, rc := start(t, tls.NoClientCert)
		err := send(t, srv.URL, "")
		if err == nil {
			t.Fatal("delivered to a server whose certificate is not trusted")
		}
		// A configuration error: the run stops (outcome.Fatal) with the reason; the records are not
		// given up on or dead-lettered, they stay unacknowledged for the next run.
		if delivery.IsPermanent(err) || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "tls.ca_file") {
			t.Errorf("want a (not permanent) certificate error naming tls.ca_file, got %v", err)
		}
		if ferr := outcome.From(pl.stream.Resources()).FatalErr(); ferr == nil || !strings.Contains(ferr.Error(), "certificate") {
			t.Errorf("the certificate error did not stop the run: fatal error %v", ferr)
		}
		if rc.Stats().Records != 0 {
			t.Error("records arrived over an unverified connection")
		}
	})
	t.Run("skip_verify", func(t *testing.T) {
		srv, _ := start(t, tls.NoClientCert)
		if err := send(t, srv.URL, "  tls: {skip_verify: true}\n"); err != nil {
			t.Fatalf("skip_verify: %v", err)
		}
	})
	t.Run("client certificate", func(t *testing.T) {
		srv, rc := start(t, tls.RequireAndVerifyClientCert)
		if err := send(t, srv.URL, "  tls: {ca_file: "+p.caFile+", cert_file: "+p.clientCert+", key_file: "+p.clientKey+"}\n"); err != nil {
			t.Fatalf("mutual TLS: %v", err)
		}
		if rc.Stats().Records != 5 {
			t.Fatalf("receiver stats %+v", rc.Stats())
		}
		if err := send(t, srv.URL, "  tls: {ca_file: "+p.caFile+", cert_file: "+p.otherCert+", key_file: "+p.otherKeyFile+"}\n"); err == nil {
			t.Fatal("server accepted a client certificate of another CA")
		}
	})
}
