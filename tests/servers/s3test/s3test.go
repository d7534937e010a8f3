// Package s3test runs a real S3 server for tests: versitygw v1.8.0 (SigV4, bucket policies, multipart)
// with the posix backend in a temporary directory, on a loopback port.
//
// The versitygw binary is looked up in the cache directory ($ESA_CONNECT_CACHE/bin, else
// $HOME/.cache/esa-connect/bin) and installed there with `go install` when missing, so a fresh machine
// needs only Go and access to the Go module proxy. `go tool task test` installs it beforehand too.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the versitygw version the tests use.
const Version = "v1.8.0"

// Module is the go-installable package of versitygw.
const Module = "github.com/versity/versitygw/cmd/versitygw"

// Root credentials of every test server.
const (
	AccessKey = "esatestroot"
	SecretKey = "esatestroot-secret-key"
	Region    = "us-east-1"
	// VirtualDomain is the base domain for virtual-hosted-style requests: <bucket>.s3.esa.test. It
	// does not resolve; tests map it to the server (see Server.DialContext) or reach it through a proxy.
	VirtualDomain = "s3.esa.test"
)

var installMu sync.Mutex

// CacheDir is the directory holding installed test binaries.
func CacheDir() (string, error) {
	if d := os.Getenv("ESA_CONNECT_CACHE"); d != "" {
		return filepath.Join(d, "bin"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "esa-connect", "bin"), nil
}

// Install returns the path of the versitygw binary, installing it into CacheDir when missing.
// It is safe to call from concurrent test processes: the binary is built into a temporary GOBIN and
// renamed into place.
func Install() (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	dir, err := CacheDir()
	if err != nil {
		return "", fmt.Errorf("s3test: cache dir: %w", err)
	}
	exe := filepath.Join(dir, "versitygw")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if fi, err := os.Stat(exe); err == nil && fi.Mode().IsRegular() {
		return exe, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("s3test: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return "", fmt.Errorf("s3test: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off")
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("s3test: go install %s@%s: %v\n%s", Module, Version, err, out.String())
	}
	if err := os.Rename(filepath.Join(tmp, filepath.Base(exe)), exe); err != nil {
		return "", fmt.Errorf("s3test: %w", err)
	}
	return exe, nil
}

// Options tune a server.
type Options struct {
	// Region is the server's region (default us-east-1): SigV4 requests must be signed for it.
	Region string
	// VirtualDomain is the base domain of virtual-hosted-style requests (default s3.esa.test).
	VirtualDomain string
}

// Server is a running versitygw.
type Server struct {
	t    testing.TB
	exe  string
	dir  string
	opts Options
	Addr string // 127.0.0.1:port
	// URL is http://127.0.0.1:port (path-style endpoint).
	URL string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  bytes.Buffer
}

// Start installs (if needed) and starts versitygw on a free loopback port with a fresh data
// directory, waits until it answers, and stops it at test cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Region == "" {
		opts.Region = Region
	}
	if opts.VirtualDomain == "" {
		opts.VirtualDomain = VirtualDomain
	}
	exe, err := Install()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"iam", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{t: t, exe: exe, dir: dir, opts: opts}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s.Addr = freeAddr(t)
		s.URL = "http://" + s.Addr
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatal(lastErr)
	}
	t.Cleanup(s.Stop)
	return s
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("s3test: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("s3test: already running")
	}
	s.log.Reset()
	cmd := exec.Command(s.exe,
		"--port", s.Addr,
		"--iam-dir", filepath.Join(s.dir, "iam"),
		"--virtual-domain", s.opts.VirtualDomain,
		"--health", "/health",
		"--quiet",
		"posix", filepath.Join(s.dir, "data"))
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+AccessKey, "ROOT_SECRET_ACCESS_KEY="+SecretKey, "VGW_REGION="+s.opts.Region)
	cmd.Stdout, cmd.Stderr = &syncWriter{mu: &s.mu, w: &s.log}, &syncWriter{mu: &s.mu, w: &s.log}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("s3test: start versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	err := waitHealthy(s.URL+"/health", done, 20*time.Second)
	s.mu.Lock()
	if err != nil {
		_ = cmd.Process.Kill()
		<-done
		s.cmd = nil
		return fmt.Errorf("s3test: versitygw on %s: %w\n%s", s.Addr, err, s.log.String())
	}
	return nil
}

func waitHealthy(url string, done <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-done:
			return errors.New("exited before it was ready")
		default:
		}
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy within %s", timeout)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s). The data directory is kept, so Restart
// brings back every bucket and object.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts the server again on the same port with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger briefly
	}
	s.t.Fatal(err)
}

// Log returns what versitygw printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Port is the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// VirtualHostEndpoint is the endpoint URL to use for virtual-hosted-style requests
// (http://<virtual domain>:port); clients must dial it through DialContext or a proxy.
func (s *Server) VirtualHostEndpoint() string {
	return "http://" + s.opts.VirtualDomain + ":" + strconv.Itoa(s.Port())
}

// DialContext dials every address on the server's port at loopback, so <bucket>.s3.esa.test:port
// reaches the server. Use it as an http.Transport's DialContext.
func DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
