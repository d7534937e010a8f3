package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/local"
	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// localStream builds input → esa_local with a batch policy whose count and period are never reached
// in the test, so every file it writes was flushed by a flush marker (esa_local adds the flush check
// to its batch policy itself).
func localStream(t *testing.T, inputYAML, dir string) *service.Stream {
	t.Helper()
	env := testEnv(t)
	if err := local.Register(env); err != nil {
		t.Fatal(err)
	}
	sb := env.NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: warn"); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddInputYAML(inputYAML); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddOutputYAML(fmt.Sprintf(`
esa_local:
  path: %q
  task: drain
  batching:
    count: 1000000
    period: 1h
`, dir)); err != nil {
		t.Fatal(err)
	}
	s, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readRecords reads every record of every object under dir.
func readRecords(t *testing.T, dir string) []string {
	t.Helper()
	var recs []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log.gz") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			return err
		}
		// Every line counts, empty ones too: a flush marker must never reach a file.
		recs = append(recs, strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestEndOfInputFlushes: at the end of a file the input sends a flush marker, so the output's partial
// batch is written at once and the run ends, instead of waiting for the batch period (an hour here).
func TestEndOfInputFlushes(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	var b strings.Builder
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&b, "{\"n\":%d}\n", i)
	}
	writeFile(t, in, []byte(b.String()), false)
	out := filepath.Join(dir, "out")
	s := localStream(t, fmt.Sprintf("esa_file:\n  paths: [%q]\n  batch_size: 1000\n", in), out)
	runToEnd(t, s)
	recs := readRecords(t, out)
	if len(recs) != 2500 {
		t.Fatalf("%d records written, want 2500", len(recs))
	}
	// Every record exactly once (batches written concurrently may interleave in an object).
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r] = true
	}
	for i := 0; i < 2500; i++ {
		if !seen[fmt.Sprintf(`{"n":%d}`, i)] {
			t.Fatalf("record %d is missing", i)
		}
	}
	if u := outcome.From(s.Resources()).Undelivered(); u != 0 {
		t.Fatalf("undelivered %d", u)
	}
}

// TestDrainEndsEndlessInput: draining the stream (what SIGINT/SIGTERM do under esa-connect run) makes
// an endless generator stop reading, deliver what it read, and end by itself with nothing lost.
func TestDrainEndsEndlessInput(t *testing.T) {
	dir := t.TempDir()
	s := localStream(t, "esa_generate:\n  category: dns\n  count: 0\n  rate: 2000/s\n  batch_size: 100\n  seed: 7\n", dir)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() { done <- s.Run(ctx) }()
	// Let some batches through (they sit in the output's batch: count and period are out of reach).
	time.Sleep(700 * time.Millisecond)
	if n := len(readRecords(t, dir)); n != 0 {
		t.Fatalf("%d records written before the drain: the batch policy should have held them", n)
	}
	outcome.From(s.Resources()).Drain()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("stream did not end after the drain")
	}
	recs := readRecords(t, dir)
	if len(recs) == 0 {
		t.Fatal("nothing delivered after the drain")
	}
	if u := outcome.From(s.Resources()).Undelivered(); u != 0 {
		t.Fatalf("undelivered %d", u)
	}
}
