package tlsfiles

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestErrorsNameSettingAndFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate: s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := AppendCAs(x509.NewCertPool(), "tls.ca_file", notPEM)
	if err == nil || !strings.Contains(err.Error(), "tls.ca_file "+notPEM+": no PEM certificate found") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("not PEM: %v", err)
	}
	if err := AppendCAs(x509.NewCertPool(), "tls.ca_file", filepath.Join(dir, "missing.pem")); err == nil || !strings.HasPrefix(err.Error(), "tls.ca_file: ") {
		t.Errorf("missing: %v", err)
	}
	if _, err := KeyPair("tls.cert_file/key_file", notPEM, notPEM); err == nil || !strings.HasPrefix(err.Error(), "tls.cert_file/key_file: ") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("key pair: %v", err)
	}
}
