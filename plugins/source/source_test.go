package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"
	"github.com/esa-connect/esa-connect/plugins/record"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/klauspost/compress/gzip"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// testEnv is an environment with our inputs plus inproc (for consumer funcs) and drop.
func testEnv(t testing.TB) *service.Environment {
	t.Helper()
	env := service.GlobalEnvironment().With("inproc", "drop", "none")
	if err := Register(env); err != nil {
		t.Fatal(err)
	}
	return env
}

// collector is a consumer func that records every delivered batch and can fail deliveries.
type collector struct {
	mu      sync.Mutex
	recs    []string
	batches []int
	calls   int
	markers int
	checked []bool         // pipeline.Checked of each record
	index   []record.Index // pipeline.CheckedIndex's Index of each record
	held    []bool         // whether each batch's first message carries a Received that holds its records
	fail    func(call int, b service.MessageBatch) error
}

func (c *collector) consume(_ context.Context, b service.MessageBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Like every output, drop flush markers; count them to check that inputs send them.
	if n := len(b); n > 0 {
		b = pipeline.WithoutMarkers(b)
		c.markers += n - len(b)
	}
	if len(b) == 0 {
		return nil
	}
	c.calls++
	if c.fail != nil {
		if err := c.fail(c.calls, b); err != nil {
			return err
		}
	}
	c.batches = append(c.batches, len(b))
	var recs [][]byte
	for _, m := range b {
		if p, err := m.AsBytes(); err == nil {
			recs = append(recs, p)
		}
	}
	c.held = append(c.held, pipeline.ReceivedOf(b[0]).Holds(recs))
	for _, m := range b {
		p, err := m.AsBytes()
		if err != nil {
			return err
		}
		c.recs = append(c.recs, string(p))
		ok, _, ix := pipeline.CheckedIndex(m, p)
		c.checked = append(c.checked, ok)
		c.index = append(c.index, ix)
	}
	return nil
}

func (c *collector) snapshot() ([]string, []int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.recs...), append([]int(nil), c.batches...), c.calls
}

// buildStream builds a stream of input YAML into the collector.
func buildStream(t testing.TB, inputYAML string, c *collector) *service.Stream {
	t.Helper()
	sb := testEnv(t).NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: warn"); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddInputYAML(inputYAML); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddBatchConsumerFunc(c.consume); err != nil {
		t.Fatal(err)
	}
	s, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runToEnd runs a stream whose input ends and fails the test if it does not end within a minute.
func runToEnd(t testing.TB, s *service.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("stream: %v", err)
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in  string
		n   int
		per time.Duration
		err bool
	}{
		{"", 0, 0, false},
		{"1000/s", 1000, time.Second, false},
		{"10/ms", 10, time.Millisecond, false},
		{" 5 / 10s ", 5, 10 * time.Second, false},
		{"60/m", 60, time.Minute, false},
		{"1000", 0, 0, true},
		{"x/s", 0, 0, true},
		{"0/s", 0, 0, true},
		{"10/fortnight", 0, 0, true},
	} {
		n, per, err := parseRate(tc.in)
		if (err != nil) != tc.err || n != tc.n || per != tc.per {
			t.Errorf("parseRate(%q) = %d, %s, %v; want %d, %s, err=%v", tc.in, n, per, err, tc.n, tc.per, tc.err)
		}
	}
}

func writeFile(t *testing.T, path string, data []byte, gz bool) {
	t.Helper()
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFileInput reads plain and gzip files through globs, with blank lines, CRLF endings, no final
// newline, and lines of 1 MiB and 3 MiB, and checks every record arrives unchanged and in order.
func TestFileInput(t *testing.T) {
	dir := t.TempDir()
	big1 := `{"k":"` + strings.Repeat("a", 1<<20-8) + `"}`
	big3 := `{"k":"` + strings.Repeat("b", 3<<20) + `"}`
	var want []string
	var a bytes.Buffer
	for i := 0; i < 2500; i++ {
		rec := fmt.Sprintf(`{"n":%d,"f":"a"}`, i)
		want = append(want, rec)
		a.WriteString(rec)
		if i%100 == 0 {
			a.WriteString("\r\n\n   \n") // CRLF and blank lines
		} else {
			a.WriteString("\n")
		}
	}
	writeFile(t, filepath.Join(dir, "a.ndjson"), a.Bytes(), false)
	want = append(want, big1, "not json", big3)
	writeFile(t, filepath.Join(dir, "b.ndjson.gz"), []byte(big1+"\nnot json\n"+big3), true) // no final newline
	var c []string
	var cbuf bytes.Buffer
	for i := 0; i < 1200; i++ {
		rec := fmt.Sprintf(`{"n":%d,"f":"c"}`, i)
		c = append(c, rec)
		cbuf.WriteString(rec + "\n")
	}
	want = append(want, c...)
	writeFile(t, filepath.Join(dir, "c.ndjson.gz"), cbuf.Bytes(), true)

	col := &collector{}
	s := buildStream(t, fmt.Sprintf(`
esa_file:
  paths: [%q, %q]
  batch_size: 1000
`, filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "*.gz")), col)
	runToEnd(t, s)
	got, batches, _ := col.snapshot()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d: got %.80q, want %.80q", i, got[i], want[i])
		}
	}
	for _, n := range batches {
		if n > 1000 {
			t.Fatalf("batch of %d records over batch_size", n)
		}
	}
	if batches[0] != 1000 {
		t.Fatalf("first batch has %d records, want 1000", batches[0])
	}
	if u := outcome.From(s.Resources()).Undelivered(); u != 0 {
		t.Fatalf("undelivered %d", u)
	}
}

// TestFileInputStdin feeds records through a real pipe as stdin, written slowly in pieces.
func TestFileInputStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old; r.Close() })

	col := &collector{}
	s := buildStream(t, `
esa_file:
  paths: ["-"]
  batch_size: 7
`, col)
	go func() {
		defer w.Close()
		for i := 0; i < 50; i++ {
			rec := fmt.Sprintf(`{"n":%d}`, i)
			// Split each record across two writes.
			_, _ = w.Write([]byte(rec[:3]))
			time.Sleep(time.Millisecond)
			_, _ = w.Write([]byte(rec[3:] + "\n"))
		}
	}()
	runToEnd(t, s)
	got, _, _ := col.snapshot()
	if len(got) != 50 {
		t.Fatalf("got %d records from stdin, want 50", len(got))
	}
	for i, g := range got {
		if g != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("record %d = %q", i, g)
		}
	}
}

// TestFileInputRedelivery nacks deliveries with a retryable error and checks every record is still
// delivered exactly once after its redelivery, and nothing counts as undelivered.
func TestFileInputRedelivery(t *testing.T) {
	dir := t.TempDir()
	var data bytes.Buffer
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&data, `{"n":%d}`+"\n", i)
	}
	writeFile(t, filepath.Join(dir, "x.ndjson"), data.Bytes(), false)
	col := &collector{fail: func(call int, _ service.MessageBatch) error {
		if call <= 2 {
			return fmt.Errorf("esa_test: destination busy (503)")
		}
		return nil
	}}
	s := buildStream(t, fmt.Sprintf(`
esa_file:
  paths: [%q]
  batch_size: 10
`, filepath.Join(dir, "x.ndjson")), col)
	runToEnd(t, s)
	got, batches, calls := col.snapshot()
	if calls < 5 || len(batches) != 3 {
		t.Fatalf("calls %d, accepted batches %v: want 2 failed deliveries then 3 accepted batches", calls, batches)
	}
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for i := 0; i < 30; i++ {
		if n := seen[fmt.Sprintf(`{"n":%d}`, i)]; n != 1 {
			t.Fatalf("record %d delivered %d times", i, n)
		}
	}
	if u := outcome.From(s.Resources()).Undelivered(); u != 0 {
		t.Fatalf("undelivered %d", u)
	}
}

// TestFileInputPermanentNack fails one batch permanently (wrapped) and checks the stream still ends,
// the other batches are delivered, and the failed records count as undelivered.
func TestFileInputPermanentNack(t *testing.T) {
	dir := t.TempDir()
	var data bytes.Buffer
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&data, `{"n":%d}`+"\n", i)
	}
	writeFile(t, filepath.Join(dir, "x.ndjson"), data.Bytes(), false)
	col := &collector{fail: func(_ int, b service.MessageBatch) error {
		p, _ := b[0].AsBytes()
		if string(p) == `{"n":10}` {
			return fmt.Errorf("esa_test: PUT: %w", &delivery.Permanent{Err: errors.New("403 Forbidden")})
		}
		return nil
	}}
	s := buildStream(t, fmt.Sprintf(`
esa_file:
  paths: [%q]
  batch_size: 10
`, filepath.Join(dir, "x.ndjson")), col)
	runToEnd(t, s)
	got, _, calls := col.snapshot()
	if len(got) != 15 || calls != 3 {
		t.Fatalf("delivered %d records in %d calls; want 15 in 3 (the failed batch is not retried)", len(got), calls)
	}
	if u := outcome.From(s.Resources()).Undelivered(); u != 10 {
		t.Fatalf("undelivered %d, want 10", u)
	}
}

func TestFileInputMissingIsFatal(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "nope.ndjson"), filepath.Join(dir, "*.gz")} {
		col := &collector{}
		s := buildStream(t, fmt.Sprintf("esa_file:\n  paths: [%q]\n", p), col)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		o := outcome.From(s.Resources())
		select {
		case <-o.FatalCh():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no fatal error", p)
		}
		if err := o.FatalErr(); err == nil || !strings.Contains(err.Error(), "esa_file") || !strings.Contains(err.Error(), "nope.ndjson") && !strings.Contains(err.Error(), "*.gz") {
			t.Fatalf("fatal error %v does not name the component and path", err)
		}
		cancel()
		<-done
	}
}

func TestFileInputBadConfig(t *testing.T) {
	env := testEnv(t)
	for _, conf := range []string{
		"esa_file:\n  paths: []\n",
		"esa_file:\n  paths: [a]\n  batch_size: 0\n",
		"esa_file:\n  paths: ['[']\n",
		"esa_generate:\n  rate: fast\n",
		"esa_generate:\n  category: nope\n",
		"esa_http_server:\n  path: v1\n",
	} {
		sb := env.NewStreamBuilder()
		if err := sb.AddInputYAML(conf); err != nil {
			continue // rejected by linting
		}
		_ = sb.AddOutputYAML("drop: {}")
		s, err := sb.Build()
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = s.Run(ctx)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("config accepted (%v):\n%s", err, conf)
		}
		t.Logf("%v", err)
	}
}

func TestGenerateInput(t *testing.T) {
	col := &collector{}
	s := buildStream(t, `
esa_generate:
  category: dns
  count: 2500
  batch_size: 1000
  seed: 3
`, col)
	runToEnd(t, s)
	got, batches, _ := col.snapshot()
	if len(got) != 2500 || len(batches) != 3 || batches[2] != 500 {
		t.Fatalf("%d records in batches %v", len(got), batches)
	}
	for _, r := range got {
		var m map[string]any
		if err := json.Unmarshal([]byte(r), &m); err != nil || m["QueryName"] == nil {
			t.Fatalf("bad record %s: %v", r, err)
		}
	}
}

// TestGenerateRate checks a rate-limited generator with a count ends with every record, in batches
// no larger than the rate allows at a time.
func TestGenerateRate(t *testing.T) {
	col := &collector{}
	s := buildStream(t, `
esa_generate:
  category: firewall
  count: 60
  rate: 200/s
`, col)
	runToEnd(t, s)
	got, batches, _ := col.snapshot()
	if len(got) != 60 || len(batches) < 2 {
		t.Fatalf("%d records in %d batches; a 200/s rate cannot give 60 records in one batch", len(got), len(batches))
	}
}

func TestGenerateRedelivery(t *testing.T) {
	col := &collector{fail: func(call int, _ service.MessageBatch) error {
		if call == 1 {
			return errors.New("esa_test: timeout")
		}
		return nil
	}}
	s := buildStream(t, `
esa_generate:
  category: access
  count: 20
  batch_size: 20
  seed: 9
`, col)
	runToEnd(t, s)
	got, _, calls := col.snapshot()
	if len(got) != 20 || calls != 2 {
		t.Fatalf("%d records after %d calls", len(got), calls)
	}
}

// TestFileInputLongLines: lines up to max_line_bytes are passed on whole (also when longer than the
// read buffer); a longer line is never cut: it is skipped, counted as invalid and not delivered, and
// the lines after it are read as usual.
func TestFileInputLongLines(t *testing.T) {
	const maxLine = 300_000 // longer than the 256 KiB read buffer, so long lines take the slow path
	dir := t.TempDir()
	exact := `{"k":"` + strings.Repeat("e", maxLine-8) + `"}`
	over := `{"k":"` + strings.Repeat("o", maxLine-7) + `"}`
	huge := `{"k":"` + strings.Repeat("h", 5<<20) + `"}`
	short := `{"k":"` + strings.Repeat("s", 1000) + `"}`
	if len(exact) != maxLine || len(over) != maxLine+1 {
		t.Fatal("test lines are not the intended lengths")
	}
	lines := []string{`{"n":1}`, exact, over, `{"n":2}`, huge, short, huge + "\r", `{"n":3}`}
	writeFile(t, filepath.Join(dir, "long.ndjson"), []byte(strings.Join(lines, "\r\n")+"\n"), false)
	writeFile(t, filepath.Join(dir, "long.ndjson.gz"), []byte(strings.Join(lines, "\n")), true)

	col := &collector{}
	s := buildStream(t, fmt.Sprintf(`
esa_file:
  paths: [%q, %q]
  max_line_bytes: %d
`, filepath.Join(dir, "long.ndjson"), filepath.Join(dir, "long.ndjson.gz"), maxLine), col)
	runToEnd(t, s)
	got, _, _ := col.snapshot()
	want := []string{`{"n":1}`, exact, `{"n":2}`, short, `{"n":3}`}
	want = append(want, want...)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d: %d bytes %.40q, want %d bytes %.40q", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
	c := outcome.From(s.Resources()).Counts()
	if c.NotDelivered != 6 || c.Invalid != 6 {
		t.Fatalf("counts %+v: want the 6 over-long lines invalid and not delivered", c)
	}
}
