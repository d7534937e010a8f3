package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/objects"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/source"
)

func testEnv(t testing.TB) *service.Environment {
	t.Helper()
	env := service.GlobalEnvironment().With("inproc", "none")
	if err := Register(env); err != nil {
		t.Fatal(err)
	}
	if err := source.Register(env); err != nil {
		t.Fatal(err)
	}
	return env
}

// objectFiles returns the .log.gz files under root (relative, slash-separated, sorted) and fails on any
// other file (such as a leftover temporary file).
func objectFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if !strings.HasSuffix(rel, ".log.gz") || strings.HasPrefix(d.Name(), ".") {
			t.Errorf("unexpected file %s", rel)
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func readObject(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		t.Fatalf("%s: body does not end with a newline", path)
	}
	return strings.Split(string(b[:len(b)-1]), "\n")
}

func runStream(t *testing.T, yaml string) *service.Stream {
	t.Helper()
	sb := testEnv(t).NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: warn"); err != nil {
		t.Fatal(err)
	}
	if err := sb.SetYAML(yaml); err != nil {
		t.Fatal(err)
	}
	s, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVectorName writes the three records of the object-name example of
// docs/destinations.md#object-layout and checks the file name and contents.
func TestVectorName(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	recs := []string{
		`{"ClientRequestID":"a","EdgeStartTimestamp":"2026-11-25T08:00:59+08:00"}`,
		`{"ClientRequestID":"b","EdgeStartTimestamp":"2026-11-25T07:59:00+08:00"}`,
		`{"ClientRequestID":"c","EdgeStartTimestamp":"2026-11-25T08:00:00+08:00"}`,
	}
	if err := os.WriteFile(in, []byte(strings.Join(recs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "esa", "access")
	s := runStream(t, fmt.Sprintf(`
input:
  esa_file:
    paths: [%q]
output:
  esa_local:
    path: %q
    task: access-to-s3
    time_field: EdgeStartTimestamp
    batching:
      count: 3
`, in, out))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	objs := objectFiles(t, out)
	if len(objs) != 1 {
		t.Fatalf("objects %v, want one", objs)
	}
	re := regexp.MustCompile(`^20261124/access-to-s3_20261124T235900Z_20261125T000059Z_[0-9]+_[0-9a-f]{8}\.log\.gz$`)
	if !re.MatchString(objs[0]) {
		t.Fatalf("name %s does not match %s", objs[0], re)
	}
	if got := readObject(t, filepath.Join(out, objs[0])); strings.Join(got, "\n") != strings.Join(recs, "\n") {
		t.Fatalf("contents %q", got)
	}
}

// TestBatchesAndRoundTrip writes 2,500 generated records in batches of 1,000 and reads every file back.
func TestBatchesAndRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	var want []string
	var buf bytes.Buffer
	for i := 0; i < 2500; i++ {
		// Times spread over two UTC days so objects land in their first record's date directory.
		ts := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC).Add(time.Duration(2*i) * time.Second).In(time.FixedZone("", 8*3600))
		rec := fmt.Sprintf(`{"n":%d,"Datetime":%q}`, i, ts.Format(time.RFC3339))
		want = append(want, rec)
		buf.WriteString(rec + "\n")
	}
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	s := runStream(t, fmt.Sprintf(`
input:
  esa_file:
    paths: [%q]
    batch_size: 500
output:
  esa_local:
    path: %q
    task: fw
    time_field: Datetime
    max_in_flight: 1
    batching:
      count: 1000
      period: 2s
`, in, out))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	objs := objectFiles(t, out)
	if len(objs) < 3 {
		t.Fatalf("objects %v, want at least 3 (batches of at most 1000)", objs)
	}
	var got []string
	for _, o := range objs {
		recs := readObject(t, filepath.Join(out, o))
		if len(recs) > 1000 {
			t.Fatalf("%s has %d records", o, len(recs))
		}
		got = append(got, recs...)
	}
	sort.Slice(got, func(i, j int) bool { return num(got[i]) < num(got[j]) })
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records read back differ: %d vs %d", len(got), len(want))
	}
	// Records from n=900 on fall after midnight UTC; the batch holding the last record starts at
	// n ≥ 1500, so its directory is the next day, and the first batch's is 20260301.
	dates := map[string]bool{}
	for _, o := range objs {
		dates[strings.SplitN(o, "/", 2)[0]] = true
	}
	if !dates["20260301"] || !dates["20260302"] {
		t.Fatalf("date directories %v", dates)
	}
}

func num(rec string) int {
	var n int
	_, _ = fmt.Sscanf(rec, `{"n":%d,`, &n)
	return n
}

// TestStopFlushesPartialBatch stops a stream while records sit in a partial batch (below its count)
// and checks that Stop returns only after every record that entered the pipeline was written and
// acknowledged: none is lost or counted as undelivered.
//
// Benthos's graceful stop waits for in-flight acknowledgements before it closes outputs, so a partial
// batch is written when its period elapses (the period must be shorter than the shutdown timeout).
func TestStopFlushesPartialBatch(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(t)
	var seen atomic.Int64
	reached := make(chan struct{})
	var once sync.Once
	if err := env.RegisterBatchProcessor("test_signal", service.NewConfigSpec(), func(*service.ParsedConfig, *service.Resources) (service.BatchProcessor, error) {
		return signalProc(func(n int) {
			if seen.Add(int64(n)) >= 30 {
				once.Do(func() { close(reached) })
			}
		}), nil
	}); err != nil {
		t.Fatal(err)
	}
	sb := env.NewStreamBuilder()
	_ = sb.SetLoggerYAML("level: warn")
	if err := sb.SetYAML(fmt.Sprintf(`
input:
  esa_generate:
    category: access
    rate: 200/s
    batch_size: 10
pipeline:
  processors:
    - test_signal: {}
output:
  esa_local:
    path: %q
    task: partial
    time_field: EdgeStartTimestamp
    batching:
      period: 2s
`, dir)); err != nil {
		t.Fatal(err)
	}
	s, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case <-reached:
	case <-time.After(time.Minute):
		t.Fatal("records never reached the pipeline")
	}
	if err := s.StopWithin(time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}
	<-done
	objs := objectFiles(t, dir)
	total := 0
	for _, o := range objs {
		total += len(readObject(t, filepath.Join(dir, o)))
	}
	if total == 0 || int64(total) != seen.Load() {
		t.Fatalf("after stop: %d records in %v, %d entered the pipeline", total, objs, seen.Load())
	}
	if u := outcome.From(s.Resources()).Undelivered(); u != 0 {
		t.Fatalf("undelivered %d", u)
	}
}

type signalProc func(n int)

func (s signalProc) ProcessBatch(_ context.Context, b service.MessageBatch) ([]service.MessageBatch, error) {
	s(len(b))
	return []service.MessageBatch{b}, nil
}

func (s signalProc) Close(context.Context) error { return nil }

// newTestOutput builds an esa_local on root directly (no stream).
func newTestOutput(t *testing.T, root string) *output {
	t.Helper()
	conf, err := ConfigSpec().ParseYAML("path: "+root+"\ntask: t\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := fromParsed(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

// TestPutErrors: an object that cannot be put (a directory component that is a regular file) fails,
// and stops the run.
func TestPutErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o := newTestOutput(t, dir)
	f, err := o.Spool()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if err := o.Put(context.Background(), &objects.Object{Key: "file/x/a.log.gz", Body: f}); err == nil {
		t.Fatal("wrote below a regular file")
	}
	if err := o.outcome.FatalErr(); err == nil || !strings.Contains(err.Error(), "cannot write to") {
		t.Fatalf("fatal error %v, want the run stopped", err)
	}
}

// TestPutReplacesWhole: Put renames the spool file into place (a second object of the same name
// replaces the first whole) and leaves no spool file behind.
func TestPutReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	o := newTestOutput(t, dir)
	for _, body := range []string{"hello", "world"} {
		f, err := o.Spool()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(body); err != nil {
			t.Fatal(err)
		}
		if err := o.Put(context.Background(), &objects.Object{Key: "d/a.log.gz", Body: f, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	b, err := os.ReadFile(filepath.Join(dir, "d", "a.log.gz"))
	if err != nil || string(b) != "world" {
		t.Fatalf("%q %v", b, err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "d" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
