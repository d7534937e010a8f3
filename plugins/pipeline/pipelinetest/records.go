package pipelinetest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/generate"
)

// AccessRecords returns n realistic access-log records from plugins/generate (seeded, fixed clock).
func AccessRecords(tb testing.TB, n int) [][]byte {
	tb.Helper()
	g, err := generate.New("access", 1)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	g.SetClock(func() time.Time { return now })
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Next(nil)
	}
	return out
}

// Batch wraps records in messages.
func Batch(recs [][]byte) service.MessageBatch {
	b := make(service.MessageBatch, len(recs))
	for i, r := range recs {
		b[i] = service.NewMessage(r)
	}
	return b
}

// Object is Batch followed by a flush marker: written to an object output, it becomes one object at
// once instead of waiting for the output's batch policy.
func Object(recs [][]byte) service.MessageBatch {
	return append(Batch(recs), pipeline.NewFlushMarker())
}

// Fields20 are the 20 access fields the esa_fields and record benchmarks select.
var Fields20 = []string{"EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientRequestHost", "ClientRequestMethod",
	"ClientRequestPath", "ClientRequestQuery", "ClientRequestUserAgent", "EdgeResponseStatusCode", "EdgeResponseBytes",
	"EdgeResponseTime", "EdgeCacheStatus", "ClientCountryCode", "ClientSSLProtocol", "OriginResponseStatusCode",
	"EdgeResponseCompressionRatio", "ClientSrcPort", "SecAction", "EdgeServerIP", "ClientRequestReferer"}

// GeneratedBatch wraps records in messages marked as esa_generate marks its own (pipeline.MarkChecked:
// valid, distinct names), so the esa_* processors look fields up without validating again.
func GeneratedBatch(recs [][]byte) service.MessageBatch {
	b := Batch(recs)
	pipeline.MarkChecked(b, true)
	return b
}

// PaddedRecords returns n small records, each with an EdgeStartTimestamp, its index "i" and pad random
// bytes (base64) that do not compress.
func PaddedRecords(n, pad int) [][]byte {
	out := make([][]byte, n)
	buf := make([]byte, pad)
	for i := range out {
		_, _ = rand.Read(buf)
		out[i] = fmt.Appendf(nil, `{"EdgeStartTimestamp":"2026-11-25T08:00:%02d+08:00","i":%d,"pad":%q}`, i%60, i, base64.StdEncoding.EncodeToString(buf))
	}
	return out
}

// MeanSize returns the mean length of recs.
func MeanSize(recs [][]byte) int {
	n := 0
	for _, r := range recs {
		n += len(r)
	}
	return n / max(len(recs), 1)
}

// CPUTime returns the CPU time (user + system) this process has used so far. Benchmarks report
// records per CPU-second next to records per wall-second because the machine they run on may be
// shared: wall time then overstates the per-core cost.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Report adds records/s (wall) and records/cpu-s metrics for n records processed since cpu0.
func Report(b *testing.B, n int, cpu0 time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	if cpu := CPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "records/cpu-s")
	}
	if n > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
	}
}
