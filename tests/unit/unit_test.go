// Package unit runs the Benthos YAML config unit tests (tests/unit/*.yaml) through the real
// `esa-connect test` CLI entry, with every esa-connect component registered as main does.
package unit

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/esa-connect/esa-connect/plugins"
)

var registerOnce sync.Once

// runCLI runs `esa-connect test <args>` in this directory and returns its exit code and stdout.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	registerOnce.Do(func() {
		if err := plugins.RegisterAll(service.GlobalEnvironment()); err != nil {
			t.Fatalf("RegisterAll: %v", err)
		}
	})
	// The CLI prints to os.Stdout; capture it for the failure message.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&buf, r); close(done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, runErr := service.RunCLIToCode(ctx, service.CLIOptSetArgs(append([]string{"esa-connect", "test"}, args...)...))
	os.Stdout = stdout
	_ = w.Close()
	<-done
	if runErr != nil {
		t.Logf("RunCLIToCode error: %v", runErr)
	}
	return code, buf.String()
}

// TestYAMLUnitTests runs every tests/unit/*.yaml; all must pass.
func TestYAMLUnitTests(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("expected the YAML unit tests here, found %v (%v)", files, err)
	}
	code, out := runCLI(t, "./*.yaml")
	if code != 0 {
		t.Fatalf("esa-connect test ./*.yaml exited %d:\n%s", code, out)
	}
	for _, f := range files {
		if !strings.Contains(out, "Test '"+f+"' succeeded") {
			t.Errorf("no success line for %s in:\n%s", f, out)
		}
	}
}

// TestYAMLHarnessCanFail runs a deliberately wrong test case and expects a failing exit code and a
// report naming the case.
func TestYAMLHarnessCanFail(t *testing.T) {
	code, out := runCLI(t, "./testdata/failing/...")
	if code == 0 {
		t.Fatalf("the deliberately failing test passed:\n%s", out)
	}
	if !strings.Contains(out, "deliberately wrong expectation") || !strings.Contains(out, "failed") {
		t.Errorf("failure report does not name the case:\n%s", out)
	}
}
