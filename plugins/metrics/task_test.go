package metrics

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Two tasks' exporters share one registry: a metric without a task label gets one, a metric with one
// keeps it, the series never collide, and closing one exporter removes only its series.
func TestTaskExportersShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewTaskExporter(reg, "a", nil), NewTaskExporter(reg, "b", nil)
	a.NewCounterCtor("input_received", "label")("source").Incr(3)
	b.NewCounterCtor("input_received", "label")("source").Incr(5)
	a.NewCounterCtor("esa_records_delivered_total", "task")("a").Incr(7)
	b.NewGaugeCtor("esa_buffer_records", "task")("b").Set(2)
	a.NewTimerCtor("esa_batch_latency_ns", "task")("a").Timing(1000)

	want := `
# HELP input_received Benthos counter input_received
# TYPE input_received counter
input_received{label="source",task="a"} 3
input_received{label="source",task="b"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "input_received"); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want = `
# HELP input_received Benthos counter input_received
# TYPE input_received counter
input_received{label="source",task="b"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "input_received"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "esa_records_delivered_total", "esa_batch_latency_ns"); err != nil || n != 0 {
		t.Fatalf("task a's series left after Close: %d %v", n, err)
	}
	if n, err := testutil.GatherAndCount(reg, "esa_buffer_records"); err != nil || n != 1 {
		t.Fatalf("task b's gauge: %d %v", n, err)
	}
}
