// Package metrics provides the `prometheus` metrics exporter: every Benthos and esa_* metric
// (counters, gauges, timers) with its labels, served in the Prometheus text format on Benthos's HTTP
// server at `/metrics` (and `/stats`). Core Benthos v4 ships no Prometheus exporter.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// Name is the component name.
const Name = "prometheus"

// ConfigSpec is the prometheus exporter's configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Summary("Serves metrics in the Prometheus text format at `/metrics` (and `/stats`) on the service-wide HTTP server.").
		Description(`Counters are Prometheus counters, gauges are gauges and timers (values in nanoseconds, such as
`+"`esa_batch_latency_ns`"+`) are summaries with the 0.5, 0.9 and 0.99 quantiles, or histograms with
`+"`use_histogram_timing`"+`. Labels are kept as they are (for example `+"`task`"+` on every esa_* metric). Names and
label names are made valid for Prometheus by replacing other characters with `+"`_`"+`.`).
		Fields(
			service.NewStringField("prefix").
				Description("A prefix for every metric name (for example `esa_connect_`). Empty adds none.").
				Default(""),
			service.NewBoolField("use_histogram_timing").
				Description("Export timers as histograms (aggregatable across instances) instead of summaries.").
				Default(false).Advanced(),
			service.NewFloatListField("histogram_buckets").
				Description("Histogram bucket upper bounds in nanoseconds. Empty: 1 ms to about 65 s in powers of two.").
				Default([]any{}).Advanced(),
			service.NewBoolField("add_process_metrics").
				Description("Also export the process's CPU, memory and file-descriptor metrics.").
				Default(false).Advanced(),
			service.NewBoolField("add_go_metrics").
				Description("Also export Go runtime metrics (goroutines, GC, heap).").
				Default(false).Advanced(),
		).
		Example("Scrape the pipeline", "Serve metrics on :4195/metrics.", `
http:
  address: 0.0.0.0:4195
metrics:
  prometheus:
    add_process_metrics: true
`)
}

// Register registers the prometheus exporter on env.
func Register(env *service.Environment) error {
	return env.RegisterMetricsExporter(Name, ConfigSpec(), func(conf *service.ParsedConfig, log *service.Logger) (service.MetricsExporter, error) {
		return fromParsed(conf, log)
	})
}

// Exporter keeps metrics in its own Prometheus registry.
type Exporter struct {
	reg       *prometheus.Registry
	prefix    string
	histogram bool
	buckets   []float64
	log       *service.Logger

	// task, when set, labels every metric of the stream task=<task> (see NewTaskExporter); vecs are
	// the collectors it used, whose task series Close removes.
	task string
	mu   sync.Mutex
	vecs []interface {
		DeletePartialMatch(prometheus.Labels) int
	}
}

// NewTaskExporter returns the exporter of one stream among several that share reg (esa-connect serve
// runs a stream per task and serves one /metrics): every metric of the stream carries the label
// task=<task> (added to the metrics that have no task label; a metric with one keeps its value), so
// the streams' series never collide, and Close removes the stream's series. Timers are summaries.
func NewTaskExporter(reg *prometheus.Registry, task string, log *service.Logger) *Exporter {
	return &Exporter{reg: reg, task: task, log: log, buckets: prometheus.ExponentialBuckets(1e6, 2, 17)}
}

// taskLabels adds the task label to keys when the exporter is a task's and keys lack it; extra is
// the label value to append to each metric's values (or "" when none is added).
func (e *Exporter) taskLabels(keys []string) ([]string, bool) {
	if e.task == "" || slices.Contains(keys, "task") {
		return keys, false
	}
	return append(slices.Clip(keys), "task"), true
}

// used remembers a collector whose series Close removes.
func (e *Exporter) used(v interface {
	DeletePartialMatch(prometheus.Labels) int
}) {
	if e.task == "" {
		return
	}
	e.mu.Lock()
	e.vecs = append(e.vecs, v)
	e.mu.Unlock()
}

// fromParsed builds a prometheus exporter from its parsed config (ConfigSpec).
func fromParsed(conf *service.ParsedConfig, log *service.Logger) (*Exporter, error) {
	e := &Exporter{reg: prometheus.NewRegistry(), log: log}
	var err error
	if e.prefix, err = conf.FieldString("prefix"); err != nil {
		return nil, err
	}
	if e.histogram, err = conf.FieldBool("use_histogram_timing"); err != nil {
		return nil, err
	}
	if e.buckets, err = conf.FieldFloatList("histogram_buckets"); err != nil {
		return nil, err
	}
	if len(e.buckets) == 0 {
		e.buckets = prometheus.ExponentialBuckets(1e6, 2, 17) // 1 ms … 65.5 s
	}
	for i := 1; i < len(e.buckets); i++ {
		if e.buckets[i] <= e.buckets[i-1] {
			return nil, errors.New("prometheus: histogram_buckets must be increasing")
		}
	}
	if b, err := conf.FieldBool("add_process_metrics"); err != nil {
		return nil, err
	} else if b {
		e.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if b, err := conf.FieldBool("add_go_metrics"); err != nil {
		return nil, err
	} else if b {
		e.reg.MustRegister(collectors.NewGoCollector())
	}
	return e, nil
}

// sanitize makes s a valid Prometheus metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]* (colons only in
// metric names).
func sanitize(s string, colons bool) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (colons && r == ':') || (i > 0 && r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (e *Exporter) name(n string) string { return sanitize(e.prefix+n, true) }

func labelNames(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = sanitize(k, false)
	}
	return out
}

// register adds c to the registry, or returns the collector already registered under the same
// description. ok is false when the name is taken by a metric of another type or other labels.
func register[T prometheus.Collector](e *Exporter, c T, name string) (T, bool) {
	err := e.reg.Register(c)
	if err == nil {
		return c, true
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, true
		}
	}
	if e.log != nil {
		e.log.Warnf("prometheus: metric %s is not exported: %v", name, err)
	}
	var zero T
	return zero, false
}

// NewCounterCtor returns a constructor of the counter name with the given label keys.
func (e *Exporter) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	n := e.name(name)
	labelKeys, addTask := e.taskLabels(labelKeys)
	vec, ok := register(e, prometheus.NewCounterVec(prometheus.CounterOpts{Name: n, Help: "Benthos counter " + name}, labelNames(labelKeys)), n)
	if ok {
		e.used(vec)
	}
	return func(labelValues ...string) service.MetricsExporterCounter {
		if !ok {
			return nopMetric{}
		}
		if addTask {
			labelValues = append(slices.Clip(labelValues), e.task)
		}
		c, err := vec.GetMetricWithLabelValues(labelValues...)
		if err != nil {
			return nopMetric{}
		}
		return counter{c}
	}
}

// NewTimerCtor returns a constructor of the timer name (nanoseconds) with the given label keys.
func (e *Exporter) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	n := e.name(name)
	labelKeys, addTask := e.taskLabels(labelKeys)
	var vec interface {
		GetMetricWithLabelValues(...string) (prometheus.Observer, error)
		DeletePartialMatch(prometheus.Labels) int
	}
	ok := false
	if e.histogram {
		var h *prometheus.HistogramVec
		h, ok = register(e, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: n, Help: "Benthos timer " + name + " (nanoseconds)", Buckets: e.buckets}, labelNames(labelKeys)), n)
		vec = h
	} else {
		var s *prometheus.SummaryVec
		s, ok = register(e, prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name: n, Help: "Benthos timer " + name + " (nanoseconds)",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		}, labelNames(labelKeys)), n)
		vec = s
	}
	if ok {
		e.used(vec)
	}
	return func(labelValues ...string) service.MetricsExporterTimer {
		if !ok {
			return nopMetric{}
		}
		if addTask {
			labelValues = append(slices.Clip(labelValues), e.task)
		}
		o, err := vec.GetMetricWithLabelValues(labelValues...)
		if err != nil {
			return nopMetric{}
		}
		return timer{o}
	}
}

// NewGaugeCtor returns a constructor of the gauge name with the given label keys.
func (e *Exporter) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	n := e.name(name)
	labelKeys, addTask := e.taskLabels(labelKeys)
	vec, ok := register(e, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: "Benthos gauge " + name}, labelNames(labelKeys)), n)
	if ok {
		e.used(vec)
	}
	return func(labelValues ...string) service.MetricsExporterGauge {
		if !ok {
			return nopMetric{}
		}
		if addTask {
			labelValues = append(slices.Clip(labelValues), e.task)
		}
		g, err := vec.GetMetricWithLabelValues(labelValues...)
		if err != nil {
			return nopMetric{}
		}
		return gauge{g}
	}
}

// HandlerFunc serves the registry in the Prometheus exposition format; Benthos mounts it at /metrics
// and /stats.
func (e *Exporter) HandlerFunc() http.HandlerFunc {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}).ServeHTTP
}

// Close removes the series of a task's exporter from the shared registry (see NewTaskExporter);
// otherwise it has nothing to release.
func (e *Exporter) Close(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range e.vecs {
		v.DeletePartialMatch(prometheus.Labels{"task": e.task})
	}
	e.vecs = nil
	return nil
}

type counter struct{ c prometheus.Counter }

// Incr adds count; Prometheus counters never go down, so negative counts are ignored.
func (c counter) Incr(count int64) {
	if count > 0 {
		c.c.Add(float64(count))
	}
}

func (c counter) IncrFloat64(count float64) {
	if count > 0 {
		c.c.Add(count)
	}
}

type gauge struct{ g prometheus.Gauge }

func (g gauge) Set(v int64)          { g.g.Set(float64(v)) }
func (g gauge) SetFloat64(v float64) { g.g.Set(v) }

type timer struct{ o prometheus.Observer }

func (t timer) Timing(ns int64) { t.o.Observe(float64(ns)) }

type nopMetric struct{}

func (nopMetric) Incr(int64)   {}
func (nopMetric) Set(int64)    {}
func (nopMetric) Timing(int64) {}
