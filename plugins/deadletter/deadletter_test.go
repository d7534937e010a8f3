package deadletter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/source"
)

// picky is a destination for the tests: it rejects records containing "perm" permanently, fails
// records containing "flaky" transiently on their first two attempts, and keeps the rest.
type picky struct {
	dl *deadletter.Router

	mu        sync.Mutex
	attempts  map[string]int
	delivered []string
}

func (p *picky) Connect(context.Context) error { return nil }
func (p *picky) Close(context.Context) error   { return nil }

func (p *picky) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	return p.dl.Write(ctx, batch, func(_ context.Context, recs service.MessageBatch) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		var part *delivery.Partial
		fail := func(i int, err error) {
			if part == nil {
				part = delivery.NewPartial(len(recs))
			}
			part.Fail(i, err)
		}
		for i, m := range recs {
			b, _ := m.AsBytes()
			rec := string(b)
			p.attempts[rec]++
			switch {
			case strings.Contains(rec, "perm"):
				fail(i, &delivery.Permanent{Err: fmt.Errorf("400 Bad Request: %s", rec)})
			case strings.Contains(rec, "flaky") && p.attempts[rec] <= 2:
				fail(i, errors.New("503 Service Unavailable"))
			default:
				p.delivered = append(p.delivered, rec)
			}
		}
		if part != nil {
			return part
		}
		return nil
	})
}

// newEnv is an environment with the Benthos pure components, esa_file, esa_dead_letter and picky
// (whose instance the test gets back).
func newEnv(t *testing.T) (*service.Environment, *picky) {
	t.Helper()
	env := service.NewEnvironment()
	if err := source.Register(env); err != nil {
		t.Fatal(err)
	}
	if err := deadletter.Register(env); err != nil {
		t.Fatal(err)
	}
	p := &picky{attempts: map[string]int{}}
	err := env.RegisterBatchOutput("picky", service.NewConfigSpec().Fields(deadletter.Field()),
		func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			var err error
			p.dl, err = deadletter.NewRouter(conf, res)
			return p, service.BatchPolicy{}, 1, err
		})
	if err != nil {
		t.Fatal(err)
	}
	return env, p
}

// run runs a stream until its input ends and returns its outcome.
func run(t *testing.T, env *service.Environment, yaml string) *outcome.Outcome {
	t.Helper()
	b := env.NewStreamBuilder()
	if err := b.SetLoggerYAML("level: none"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetYAML(yaml); err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return outcome.From(s.Resources())
}

func writeRecords(t *testing.T, dir string, recs []string) string {
	t.Helper()
	path := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(recs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// testRecords has 30 good, 10 flaky and 5 permanently rejected records.
func testRecords() (all, good, perm []string) {
	for i := range 45 {
		var r string
		switch {
		case i%9 == 4:
			r = fmt.Sprintf(`{"n":%d,"kind":"perm"}`, i)
			perm = append(perm, r)
		case i%9 == 1 || i%9 == 7:
			r = fmt.Sprintf(`{"n":%d,"kind":"flaky"}`, i)
			good = append(good, r)
		default:
			r = fmt.Sprintf(`{"n":%d,"kind":"good"}`, i)
			good = append(good, r)
		}
		all = append(all, r)
	}
	return all, good, perm
}

// TestOnlyPermanentFailuresAreDeadLettered: records the destination rejects permanently land in the
// dead letter, unchanged and once each; records that fail transiently are redelivered until the
// destination takes them and never reach the dead letter; the run ends with nothing undelivered.
func TestOnlyPermanentFailuresAreDeadLettered(t *testing.T) {
	dir := t.TempDir()
	all, good, perm := testRecords()
	in := writeRecords(t, dir, all)
	dlPath := filepath.Join(dir, "dead", "t.dead-letter.ndjson")
	env, p := newEnv(t)
	out := run(t, env, fmt.Sprintf(`
input:
  esa_file: {paths: [%q], batch_size: 7}
output:
  picky: {dead_letter: dead_letter}
output_resources:
  - label: dead_letter
    esa_dead_letter: {task: t, path: %q}
`, in, dlPath))

	if got := lines(t, dlPath); !slices.Equal(sorted(got), sorted(perm)) {
		t.Errorf("dead letter holds\n%v\nwant exactly the permanently rejected records\n%v", got, perm)
	}
	p.mu.Lock()
	delivered := slices.Clone(p.delivered)
	flakyRetried := 0
	for rec, n := range p.attempts {
		if strings.Contains(rec, "flaky") && n >= 3 {
			flakyRetried++
		}
	}
	p.mu.Unlock()
	if flakyRetried != 10 {
		t.Fatalf("%d flaky records were attempted 3 times or more, want 10: the transient failures did not happen", flakyRetried)
	}
	for _, g := range good {
		if !slices.Contains(delivered, g) {
			t.Errorf("record %s was not delivered", g)
		}
	}
	for _, d := range delivered {
		if strings.Contains(d, "perm") {
			t.Errorf("a rejected record was delivered: %s", d)
		}
	}
	c := out.Counts()
	if c.DeadLettered != int64(len(perm)) || c.NotDelivered != 0 {
		t.Errorf("counts %+v: want %d dead-lettered and 0 not delivered", c, len(perm))
	}
	if st, err := os.Stat(dlPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("dead-letter file mode %v (%v), want 0600", st.Mode(), err)
	}
}

// TestWithoutDeadLetter: without a dead letter, permanently rejected records fail their batch and are
// counted as not delivered; the others are still delivered.
func TestWithoutDeadLetter(t *testing.T) {
	dir := t.TempDir()
	all, good, perm := testRecords()
	in := writeRecords(t, dir, all)
	env, p := newEnv(t)
	out := run(t, env, fmt.Sprintf(`
input:
  esa_file: {paths: [%q], batch_size: 45}
output:
  picky: {}
`, in))
	// Only the rejected records count as not delivered: the input redelivers just the records that
	// failed, so the flaky ones get through and the good ones are not sent again.
	if got := out.Undelivered(); got != int64(len(perm)) {
		t.Fatalf("%d records counted as not delivered, want the %d rejected ones", got, len(perm))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range good {
		if !slices.Contains(p.delivered, g) {
			t.Errorf("record %s was not delivered", g)
		}
	}
	if len(p.delivered) != len(good) {
		t.Errorf("%d deliveries of %d records: records that succeeded were sent again", len(p.delivered), len(good))
	}
}

// TestDeadLetterThatFails: when the dead letter itself fails, the rejected records are not given up
// on: the batch fails with a retryable error naming the dead letter.
func TestDeadLetterThatFails(t *testing.T) {
	env, _ := newEnv(t)
	b := env.NewStreamBuilder()
	if err := b.SetLoggerYAML("level: none"); err != nil {
		t.Fatal(err)
	}
	send, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(`picky: {dead_letter: dead_letter}`); err != nil {
		t.Fatal(err)
	}
	if err := b.AddResourcesYAML(`
output_resources:
  - label: dead_letter
    esa_dead_letter:
      task: t
      output: {reject: "dead letter is full"}
`); err != nil {
		t.Fatal(err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	defer func() { _ = s.StopWithin(5 * time.Second); <-done }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = send(ctx, service.MessageBatch{
		service.NewMessage([]byte(`{"kind":"good"}`)), service.NewMessage([]byte(`{"kind":"perm"}`)),
	})
	if err == nil {
		t.Fatal("a record neither the destination nor the dead letter took was acknowledged")
	}
	if delivery.IsPermanent(err) || !strings.Contains(err.Error(), "dead letter is full") {
		t.Errorf("want a retryable error naming the dead letter's failure, got %v", err)
	}
}

// TestTornTail: a dead-letter file that ends in a cut line (a write stopped part way) gets a newline
// before the next record, so records never run into each other.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	in := writeRecords(t, dir, []string{`{"kind":"perm","n":1}`, `{"kind":"perm","n":2}`})
	dlPath := filepath.Join(dir, "dl.ndjson")
	if err := os.WriteFile(dlPath, []byte(`{"kind":"perm","n":0}`+"\n"+`{"cut":"in the mid`), 0o600); err != nil {
		t.Fatal(err)
	}
	env, _ := newEnv(t)
	run(t, env, fileToPicky(in, dlPath))
	data, err := os.ReadFile(dlPath)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"perm","n":0}` + "\n" + `{"cut":"in the mid` + "\n" + `{"kind":"perm","n":1}` + "\n" + `{"kind":"perm","n":2}` + "\n"
	if !bytes.Equal(data, []byte(want)) {
		t.Errorf("dead letter:\n%q\nwant\n%q", data, want)
	}
}

// TestUnwritableDeadLetter: a dead-letter path that cannot be created stops the run with the reason.
func TestUnwritableDeadLetter(t *testing.T) {
	dir := t.TempDir()
	in := writeRecords(t, dir, []string{`{"kind":"perm"}`})
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env, _ := newEnv(t)
	b := env.NewStreamBuilder()
	_ = b.SetLoggerYAML("level: none")
	if err := b.SetYAML(fileToPicky(in, filepath.Join(blocker, "sub", "dl.ndjson"))); err != nil {
		t.Fatal(err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Run(context.Background()) }()
	// The stream is left to stop by itself: a resource that never connected can keep Benthos's stop
	// waiting (esa-connect run bounds its own wait for that reason).
	out := outcome.From(s.Resources())
	select {
	case <-out.FatalCh():
	case <-time.After(time.Minute):
		t.Fatal("an unwritable dead letter did not stop the run")
	}
	if err := out.FatalErr(); !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("fatal error %v does not give the reason", err)
	}
}

// fileToPicky is the config of a stream from the file in to picky, with the dead letter at dlPath.
func fileToPicky(in, dlPath string) string {
	return fmt.Sprintf(`
input:
  esa_file: {paths: [%q]}
output:
  picky: {dead_letter: dead_letter}
output_resources:
  - label: dead_letter
    esa_dead_letter: {task: t, path: %q}
`, in, dlPath)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
