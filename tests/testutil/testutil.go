// Package testutil holds helpers shared by the integration and end-to-end tests: building the
// esa-connect binary once per test process, running it, finding free loopback ports and waiting for a
// server to accept connections.
package testutil

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// RepoRoot returns the repository root (the directory holding go.mod), found from this source file.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testutil: cannot locate the repository root")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds ./cmd/esa-connect once per test process into a temporary directory and returns the
// path of the executable. The directory is removed when the process exits only if the OS cleans its
// temp dir; the binary is small enough that this does not matter.
func Binary(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "esa-connect-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "esa-connect")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/esa-connect")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = errors.New("go build ./cmd/esa-connect: " + err.Error() + "\n" + out.String())
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns "127.0.0.1:<free port>".
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitTCP waits up to 30 s until addr accepts TCP connections, failing the test otherwise.
func WaitTCP(t testing.TB, addr string) {
	t.Helper()
	if err := WaitTCPTimeout(addr, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// WaitTCPTimeout waits up to timeout until addr accepts TCP connections.
func WaitTCPTimeout(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("testutil: " + addr + " did not accept connections within " + timeout.String() + ": " + err.Error())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Result is the outcome of a finished command.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Output returns stdout and stderr together, for error messages.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// RunOptions tunes RunBinary and StartBinary.
type RunOptions struct {
	// Dir is the working directory (default: the test's temp dir is NOT assumed; the current dir).
	Dir string
	// Env is added to the current environment (KEY=value). Unless it sets ESA_HTTP_ADDRESS, the
	// process's metrics server takes a free loopback port (127.0.0.1:0), so that tests running side
	// by side do not compete for the default port.
	Env []string
	// Stdin is fed to the process when set.
	Stdin []byte
	// Timeout bounds the run (default 5 minutes); on expiry the process is killed and the test fails.
	Timeout time.Duration
}

// RunBinary runs the esa-connect binary with args and waits for it to exit. A non-zero exit code is
// not a test failure: the caller checks Result.ExitCode.
func RunBinary(t testing.TB, opts RunOptions, args ...string) Result {
	t.Helper()
	return Run(t, opts, Binary(t), args...)
}

// Run runs any executable like RunBinary.
func Run(t testing.TB, opts RunOptions, exe string, args ...string) Result {
	t.Helper()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = opts.Dir
	cmd.Env = processEnv(opts.Env)
	if opts.Stdin != nil {
		cmd.Stdin = bytes.NewReader(opts.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("testutil: %s %s did not finish within %s\n%s", filepath.Base(exe), strings.Join(args, " "), timeout, res.Output())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	default:
		t.Fatalf("testutil: run %s: %v", exe, err)
	}
	return res
}

// Process is a running esa-connect (or other) process started by StartBinary.
type Process struct {
	Cmd    *exec.Cmd
	stdout lockedBuffer
	stderr lockedBuffer
	done   chan struct{}
	err    error
}

// StartBinary starts the esa-connect binary with args and returns at once. The process is killed at
// test cleanup if it is still running.
func StartBinary(t testing.TB, opts RunOptions, args ...string) *Process {
	t.Helper()
	return Start(t, opts, Binary(t), args...)
}

// Start starts any executable like StartBinary.
func Start(t testing.TB, opts RunOptions, exe string, args ...string) *Process {
	t.Helper()
	p := &Process{done: make(chan struct{})}
	cmd := exec.Command(exe, args...)
	cmd.Dir = opts.Dir
	cmd.Env = processEnv(opts.Env)
	if opts.Stdin != nil {
		cmd.Stdin = bytes.NewReader(opts.Stdin)
	}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("testutil: start %s: %v", exe, err)
	}
	p.Cmd = cmd
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Terminate sends SIGTERM.
func (p *Process) Terminate() error { return p.Signal(syscall.SIGTERM) }

// Wait waits up to timeout for the process to exit and returns its result; on timeout it kills the
// process and fails the test.
func (p *Process) Wait(t testing.TB, timeout time.Duration) Result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
		t.Fatalf("testutil: process did not exit within %s\n%s%s", timeout, p.stdout.String(), p.stderr.String())
	}
	res := Result{Stdout: p.stdout.String(), Stderr: p.stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		res.ExitCode = exitErr.ExitCode()
	} else if p.err != nil {
		res.ExitCode = -1
	}
	return res
}

// WaitTCP waits up to 30 s until addr accepts TCP connections, and fails the test with the process's
// output as soon as the process exits instead (it could not listen, or stopped).
func (p *Process) WaitTCP(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("testutil: the process exited (%v) before %s accepted connections:\n%s%s", p.err, addr, p.stdout.String(), p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testutil: %s did not accept connections within 30s: %v\n%s%s", addr, err, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stdout returns what the process has written to stdout so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr returns what the process has written to stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// WaitOutput waits up to timeout until stdout or stderr contains substr.
func (p *Process) WaitOutput(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(p.stdout.String(), substr) || strings.Contains(p.stderr.String(), substr) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("testutil: process exited before printing %q\n%s%s", substr, p.stdout.String(), p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testutil: %q not printed within %s\n%s%s", substr, timeout, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// processEnv is the environment of a started binary: this process's, the test's additions, and a free
// port for the metrics server unless the test chose one.
func processEnv(extra []string) []string {
	env := append(os.Environ(), extra...)
	for _, kv := range extra {
		if strings.HasPrefix(kv, "ESA_HTTP_ADDRESS=") {
			return env
		}
	}
	return append(env, "ESA_HTTP_ADDRESS=127.0.0.1:0")
}

// Unzstd decodes a zstd body or object with the zstd command (an independent implementation, which
// `go tool task test-zstd` installs) when it is installed, else with klauspost's decoder; name names
// it in failures.
func Unzstd(t testing.TB, name string, raw []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("zstd"); err == nil {
		cmd := exec.Command("zstd", "-d", "-c", "-q")
		cmd.Stdin = bytes.NewReader(raw)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: zstd -d: %v: %s", name, err, errOut.String())
		}
		return out.Bytes()
	}
	t.Logf("the zstd command is not installed: %s decoded with klauspost's decoder", name)
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	body, err := d.DecodeAll(raw, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return body
}
