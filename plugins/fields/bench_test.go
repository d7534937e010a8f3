package fields

import (
	"context"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/filter"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/plugins/sample"
)

var fields20 = pipelinetest.Fields20

// resetBatch restores the original contents (esa_fields rewrites messages in place).
func resetBatch(work, batch service.MessageBatch, recs [][]byte) {
	copy(work, batch)
	for i, m := range work {
		m.SetBytes(recs[i])
	}
}

// BenchmarkFields20 runs esa_fields selecting 20 fields over batches of 1000 generated access
// records, on one goroutine (records/s is per core): as esa_generate delivers them (marked valid) and
// unchecked, as a file, HTTP or Kafka source delivers them (each record is validated whole).
func BenchmarkFields20(b *testing.B) {
	b.Run("esa_generate", func(b *testing.B) { benchFields20(b, true) })
	b.Run("unchecked", func(b *testing.B) { benchFields20(b, false) })
}

// BenchmarkFields20MissingAsNull is BenchmarkFields20 with missing_as_null (as for Parquet objects).
func BenchmarkFields20MissingAsNull(b *testing.B) {
	b.Run("esa_generate", func(b *testing.B) { benchFields20(b, true, func(c *Config) { c.MissingAsNull = true }) })
	b.Run("unchecked", func(b *testing.B) { benchFields20(b, false, func(c *Config) { c.MissingAsNull = true }) })
}

func benchFields20(b *testing.B, generated bool, opts ...func(*Config)) {
	recs := pipelinetest.AccessRecords(b, 1000)
	c := Config{Category: "access", Fields: fields20}
	for _, o := range opts {
		o(&c)
	}
	p, err := New(c, nil)
	if err != nil {
		b.Fatal(err)
	}
	batch := pipelinetest.Batch(recs)
	if generated {
		batch = pipelinetest.GeneratedBatch(recs)
	}
	b.ReportMetric(float64(pipelinetest.MeanSize(recs)), "bytes/record")
	benchProcess(b, p, batch, recs)
}

// benchProcess runs p over batch (whose contents are recs, restored before each round) and reports
// records per CPU-second; every record must come out.
func benchProcess(b *testing.B, p *Processor, batch service.MessageBatch, recs [][]byte) {
	work := make(service.MessageBatch, len(batch))
	b.ReportAllocs()
	n := 0
	cpu0 := pipelinetest.CPUTime()
	for b.Loop() {
		resetBatch(work, batch, recs)
		out, err := p.ProcessBatch(context.Background(), work)
		if err != nil || len(out) != 1 || len(out[0]) != len(recs) {
			b.Fatalf("out %d batches, err %v", len(out), err)
		}
		n += len(recs)
	}
	pipelinetest.Report(b, n, cpu0)
}

// BenchmarkChain runs esa_sample (rate 100, by key) → esa_filter (5 conditions) → esa_fields (20
// fields, custom fields) with every record passing, on one goroutine, on records as esa_generate
// delivers them and unchecked.
func BenchmarkChain(b *testing.B) {
	b.Run("esa_generate", func(b *testing.B) { benchChain(b, true) })
	b.Run("unchecked", func(b *testing.B) { benchChain(b, false) })
}

func benchChain(b *testing.B, generated bool) {
	recs := pipelinetest.AccessRecords(b, 1000)
	s, err := sample.New(sample.Config{Rate: 100, Key: "ClientRequestID"}, nil, 1, 2)
	if err != nil {
		b.Fatal(err)
	}
	cnd := func(field, op string, values ...any) config.Condition {
		return config.Condition{Field: field, Op: op, Values: values}
	}
	f, err := filter.New(filter.Config{Category: "access", ShareParse: true, Conditions: []config.Condition{
		cnd("EdgeResponseStatusCode", "ge", int64(100)),
		cnd("ClientRequestHost", "ends_with", "example.com"),
		cnd("ClientRequestMethod", "not_equals", "TRACE", "CONNECT"),
		cnd("EdgeResponseTime", "lt", int64(1000000)),
		{Any: []config.Condition{cnd("ClientSSLProtocol", "exists"), cnd("ClientRequestScheme", "equals", "http")}},
	}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Category: "access", Fields: fields20, CustomFields: &config.CustomFields{
		RequestHeaders: []string{"x-trace-id"}, ResponseHeaders: []string{"cache-control"}, Cookies: []string{"region"},
	}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	batch := pipelinetest.Batch(recs)
	if generated {
		batch = pipelinetest.GeneratedBatch(recs)
	}
	work := make(service.MessageBatch, len(batch))
	ctx := context.Background()
	b.ReportAllocs()
	b.ReportMetric(float64(pipelinetest.MeanSize(recs)), "bytes/record")
	n := 0
	cpu0 := pipelinetest.CPUTime()
	for b.Loop() {
		resetBatch(work, batch, recs)
		out := []service.MessageBatch{work}
		for _, proc := range []service.BatchProcessor{s, f, p} {
			if out, err = proc.ProcessBatch(ctx, out[0]); err != nil || len(out) != 1 {
				b.Fatalf("%T: %d batches, %v", proc, len(out), err)
			}
		}
		if len(out[0]) != len(recs) {
			b.Fatalf("%d of %d records passed", len(out[0]), len(recs))
		}
		n += len(recs)
	}
	pipelinetest.Report(b, n, cpu0)
}
