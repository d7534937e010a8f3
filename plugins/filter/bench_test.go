package filter

import (
	"context"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
)

// BenchmarkFilter5 runs esa_filter with 5 conditions over batches of 1000 generated access records
// (records/s is per core: the benchmark runs on one goroutine): as esa_generate delivers them
// (marked valid: fields are looked up, up to the last one needed) and unchecked, as a file, HTTP or
// Kafka source delivers them (each record is validated whole).
func BenchmarkFilter5(b *testing.B) {
	b.Run("esa_generate", func(b *testing.B) { benchFilter5(b, true) })
	b.Run("unchecked", func(b *testing.B) { benchFilter5(b, false) })
}

func benchFilter5(b *testing.B, generated bool) {
	recs := pipelinetest.AccessRecords(b, 1000)
	p, err := New(Config{Category: "access", Conditions: []config.Condition{
		cnd("EdgeResponseStatusCode", "ge", false, int64(100)),
		cnd("ClientRequestHost", "ends_with", false, "example.com"),
		cnd("ClientRequestMethod", "not_equals", false, "TRACE", "CONNECT"),
		cnd("EdgeResponseTime", "lt", false, int64(1000000)),
		{Any: []config.Condition{cnd("ClientSSLProtocol", "exists", false), cnd("ClientRequestScheme", "equals", false, "http")}},
	}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	batch := pipelinetest.Batch(recs)
	if generated {
		batch = pipelinetest.GeneratedBatch(recs)
	}
	work := make(service.MessageBatch, len(batch))
	b.ReportAllocs()
	b.ReportMetric(float64(pipelinetest.MeanSize(recs)), "bytes/record")
	n, kept := 0, 0
	cpu0 := pipelinetest.CPUTime()
	for b.Loop() {
		copy(work, batch) // esa_filter replaced the messages it marked: start from the unmarked ones
		out, err := p.ProcessBatch(context.Background(), work)
		if err != nil {
			b.Fatal(err)
		}
		if len(out) == 1 {
			kept += len(out[0])
		}
		n += len(batch)
	}
	pipelinetest.Report(b, n, cpu0)
	b.ReportMetric(float64(kept)/float64(n), "kept/record")
	// ns/op, B/op and allocs/op are per batch of 1000 records.
}
