package testutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins"
)

// MetricsName is the name of the metrics exporter that CaptureMetrics registers: a stream config
// selects it with `metrics: {esa_test_metrics: {}}`.
const MetricsName = "esa_test_metrics"

// Metrics keeps the counters of the streams built on an environment in memory, by name and label
// values, so that a test reads a label (the reason of a dead-lettered record, for example).
type Metrics struct {
	mu       sync.Mutex
	counters map[string]int64 // key: name{k=v,...}, labels in their declared order
}

// CaptureMetrics registers the MetricsName exporter on env and returns what it counts.
func CaptureMetrics(t testing.TB, env *service.Environment) *Metrics {
	t.Helper()
	m := &Metrics{counters: map[string]int64{}}
	err := env.RegisterMetricsExporter(MetricsName, service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return m, nil })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Counter is the sum of the series of counter name that carry every one of labels, given as
// "key=value" (Benthos adds labels of its own, such as label and path, which need not be given).
func (m *Metrics) Counter(name string, labels ...string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum int64
	for k, v := range m.counters {
		rest, ok := strings.CutPrefix(k, name+"{")
		if !ok {
			continue
		}
		have := strings.Split(strings.TrimSuffix(rest, "}"), ",")
		match := true
		for _, l := range labels {
			if !slices.Contains(have, l) {
				match = false
				break
			}
		}
		if match {
			sum += v
		}
	}
	return sum
}

// Counters returns every counter whose name starts with prefix, by key (name{k=v,...}).
func (m *Metrics) Counters(prefix string) map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for k, v := range m.counters {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

type capturedCounter struct {
	m   *Metrics
	key string
}

func (c capturedCounter) Incr(n int64) {
	c.m.mu.Lock()
	c.m.counters[c.key] += n
	c.m.mu.Unlock()
}

func (c capturedCounter) IncrFloat64(n float64) { c.Incr(int64(n)) }

type discard struct{}

func (discard) Timing(int64)        {}
func (discard) Set(int64)           {}
func (discard) SetFloat64(float64)  {}
func (discard) Incr(int64)          {}
func (discard) IncrFloat64(float64) {}

// NewCounterCtor implements service.MetricsExporter.
func (m *Metrics) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(values ...string) service.MetricsExporterCounter {
		pairs := make([]string, len(keys))
		for i, k := range keys {
			v := ""
			if i < len(values) {
				v = values[i]
			}
			pairs[i] = k + "=" + v
		}
		return capturedCounter{m, name + "{" + strings.Join(pairs, ",") + "}"}
	}
}

// NewTimerCtor implements service.MetricsExporter (timers are not kept).
func (m *Metrics) NewTimerCtor(string, ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return discard{} }
}

// NewGaugeCtor implements service.MetricsExporter (gauges are not kept).
func (m *Metrics) NewGaugeCtor(string, ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge { return discard{} }
}

// Close implements service.MetricsExporter.
func (m *Metrics) Close(context.Context) error { return nil }

// Envelope is one line of a dead letter written with `envelope: true`.
type Envelope struct {
	Reason       string `json:"reason"`
	Error        string `json:"error"`
	Destination  string `json:"destination"`
	Attempts     int    `json:"attempts"`
	FirstFailure string `json:"first_failure"`
	Record       string `json:"record"`
}

// ReadEnvelopes reads the enveloped records of a dead-letter file (none when it does not exist).
func ReadEnvelopes(t testing.TB, path string) []Envelope {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []Envelope
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("dead letter %s: line %q: %v", path, sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// WaitFor polls cond until it holds, failing the test with what after timeout.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RunStream runs st in the background until the test ends, when it is stopped (within 10 s) and
// waited for; the returned channel receives the result of its Run once.
func RunStream(t testing.TB, st *service.Stream) <-chan error {
	done := make(chan error, 1)
	ended := make(chan struct{})
	go func() {
		done <- st.Run(context.Background())
		close(ended)
	}()
	t.Cleanup(func() {
		_ = st.StopWithin(10 * time.Second)
		<-ended
	})
	return done
}

// MeteredStream builds the stream of config, YAML that selects the metrics exporter MetricsName
// (`metrics: {esa_test_metrics: {}}`), on an environment with every esa-connect component; the
// stream's counters go to the returned Metrics.
func MeteredStream(t testing.TB, config string) (*service.Stream, *Metrics) {
	t.Helper()
	env := service.NewEnvironment()
	if err := plugins.RegisterAll(env); err != nil {
		t.Fatal(err)
	}
	m := CaptureMetrics(t, env)
	b := env.NewStreamBuilder()
	if err := b.SetYAML(config); err != nil {
		t.Fatalf("config: %v\n%s", err, config)
	}
	st, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return st, m
}
