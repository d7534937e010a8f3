// Package pipelinetest runs esa_* processors in a real Benthos stream for tests and records the
// metrics they emit.
package pipelinetest

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure" // none, generate, ...
)

// Metrics records counter increments by "name{k=v,...}" (label keys sorted).
type Metrics struct {
	mu     sync.Mutex
	counts map[string]int64
}

// Get returns the total of the counter name with exactly the given labels ("task", "t1", ...).
// Labels that Benthos adds (label, path) are ignored.
func (m *Metrics) Get(name string, labels ...string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var total int64
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for k, v := range m.counts {
		n, ls := parseKey(k)
		if n != name {
			continue
		}
		ok := true
		for wk, wv := range want {
			if ls[wk] != wv {
				ok = false
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// All returns every recorded counter key and value, sorted (for failure messages).
func (m *Metrics) All() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k, v := range m.counts {
		out = append(out, k+"="+itoa(v))
	}
	sort.Strings(out)
	return out
}

func itoa(v int64) string {
	var b [20]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func parseKey(k string) (string, map[string]string) {
	name, rest, _ := strings.Cut(k, "{")
	ls := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
		if a, b, ok := strings.Cut(kv, "="); ok {
			ls[a] = b
		}
	}
	return name, ls
}

func (m *Metrics) add(key string, n int64) {
	m.mu.Lock()
	m.counts[key] += n
	m.mu.Unlock()
}

type exporter struct{ m *Metrics }

type counter struct {
	m   *Metrics
	key string
}

func (c counter) Incr(n int64) { c.m.add(c.key, n) }

type nop struct{}

func (nop) Timing(int64) {}
func (nop) Set(int64)    {}

func (e exporter) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(vals ...string) service.MetricsExporterCounter {
		var kv []string
		for i, k := range keys {
			kv = append(kv, k+"="+vals[i])
		}
		sort.Strings(kv)
		return counter{e.m, name + "{" + strings.Join(kv, ",") + "}"}
	}
}

func (e exporter) NewTimerCtor(string, ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return nop{} }
}

func (e exporter) NewGaugeCtor(string, ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge { return nop{} }
}

func (e exporter) Close(context.Context) error { return nil }

// Output is one message that left the pipeline.
type Output struct {
	Content string
	Meta    map[string]string
	Err     error
}

// Run builds a stream on a fresh environment (register adds the processors under test), feeds
// inputs as one batch through the processors given as YAML (a list), and returns what came out and
// the metrics. It fails the test on any stream error.
func Run(t testing.TB, register func(*service.Environment) error, processorsYAML string, inputs [][]byte) ([]Output, *Metrics) {
	t.Helper()
	batch := make(service.MessageBatch, len(inputs))
	for i, in := range inputs {
		batch[i] = service.NewMessage(in)
	}
	return RunMessages(t, register, processorsYAML, batch)
}

// RunMessages is Run with prepared messages (e.g. with metadata).
func RunMessages(t testing.TB, register func(*service.Environment) error, processorsYAML string, batch service.MessageBatch) ([]Output, *Metrics) {
	t.Helper()
	env := service.NewEnvironment()
	if err := register(env); err != nil {
		t.Fatal(err)
	}
	m := &Metrics{counts: map[string]int64{}}
	if err := env.RegisterMetricsExporter("pipelinetest", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return exporter{m}, nil }); err != nil {
		t.Fatal(err)
	}
	sb := env.NewStreamBuilder()
	if err := sb.SetMetricsYAML("pipelinetest: {}"); err != nil {
		t.Fatal(err)
	}
	if err := sb.SetLoggerYAML("level: none"); err != nil {
		t.Fatal(err)
	}
	for _, p := range splitList(processorsYAML) {
		if err := sb.AddProcessorYAML(p); err != nil {
			t.Fatalf("processor config %q: %v", p, err)
		}
	}
	produce, err := sb.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var outs []Output
	if err := sb.AddBatchConsumerFunc(func(_ context.Context, b service.MessageBatch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, msg := range b {
			c, _ := msg.AsBytes()
			meta := map[string]string{}
			_ = msg.MetaWalk(func(k, v string) error { meta[k] = v; return nil })
			outs = append(outs, Output{Content: string(c), Meta: meta, Err: msg.GetError()})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx) }()
	if err := produce(ctx, batch); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := stream.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	return outs, m
}

// splitList splits a YAML list of processors ("- a: ...\n- b: ...") into its items.
func splitList(y string) []string {
	var items []string
	var cur []string
	for _, line := range strings.Split(strings.Trim(y, "\n"), "\n") {
		if strings.HasPrefix(line, "- ") {
			if len(cur) > 0 {
				items = append(items, strings.Join(cur, "\n"))
			}
			cur = []string{"  " + line[2:]}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		items = append(items, strings.Join(cur, "\n"))
	}
	return items
}
