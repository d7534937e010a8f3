// Package tlsfiles reads the PEM files named by the TLS settings of the esa_* components —
// certificate authorities and certificate/key pairs — with errors that name the setting and the file,
// never its content.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// AppendCAs adds the certificates of the PEM file path to pool; setting (e.g. "tls.ca_file") names
// the file in errors. A file without any PEM certificate is an error.
func AppendCAs(pool *x509.CertPool, setting, path string) error {
	pem, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", setting, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s %s: no PEM certificate found", setting, path)
	}
	return nil
}

// TrustedRoots is the pool an esa_* client verifies servers with when `tls.ca_file` is set: the
// system's roots plus the certificates of the PEM file path (one meaning of ca_file for every
// component: the file adds CAs, it does not replace the system's). setting names the file in errors.
func TrustedRoots(setting, path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if err := AppendCAs(pool, setting, path); err != nil {
		return nil, err
	}
	return pool, nil
}

// KeyPair loads a PEM certificate and its private key; setting (e.g. "tls.cert_file/key_file") names
// them in errors.
func KeyPair(setting, certFile, keyFile string) (tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", setting, err)
	}
	return pair, nil
}
