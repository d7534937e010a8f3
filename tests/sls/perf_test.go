package sls_test

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// pipelineToServer runs esa_generate (count records of category) → esa_sls against a discarding SLS
// test server and returns the elapsed time and the server's counters.
func pipelineToServer(t testing.TB, category string, count int) (time.Duration, int, int64, int64) {
	srv := startServer(t)
	srv.Discard(true)
	start := time.Now()
	runStream(t, newEnv(t), fmt.Sprintf(`
logger: {level: warn}
input:
  esa_generate:
    category: %s
    count: %d
    seed: 1
output:
  esa_sls:
    project: proj
    logstore: store
    endpoint: %s
    access_key_id: %s
    access_key_secret: %s
    time_field: EdgeStartTimestamp
    max_in_flight: 16
`, category, count, srv.Endpoint, testAK, testSecret), 30*time.Minute)
	elapsed := time.Since(start)
	st := srv.Stats()
	if st.LogsStored != count {
		t.Fatalf("server accepted %d logs, want %d", st.LogsStored, count)
	}
	return elapsed, st.LogsStored, st.WireBytes, st.RawBytes
}

// BenchmarkPipelineToSLS: generated access records (every catalog field) → esa_sls → the SLS test server
// over loopback, with lz4. Reports records/s and the wire/raw byte ratio.
func BenchmarkPipelineToSLS(b *testing.B) {
	b.ReportAllocs()
	elapsed, n, wire, raw := pipelineToServer(b, "access", max(b.N, 1000))
	b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(wire)/float64(raw), "wire/raw")
}

// TestPerformanceReport measures records/s for ESA_SLS_PERF access records (e.g. 1000000), bytes on the
// wire vs raw, and the test process's peak RSS (which includes the generator and the test server).
// Skipped unless ESA_SLS_PERF is set.
func TestPerformanceReport(t *testing.T) {
	v := os.Getenv("ESA_SLS_PERF")
	if v == "" {
		t.Skip("set ESA_SLS_PERF=<records> to run")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("ESA_SLS_PERF=%q: want a positive count", v)
	}
	elapsed, got, wire, raw := pipelineToServer(t, "access", n)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t.Logf("%d access records in %v: %.0f records/s; wire %d bytes, raw protobuf %d bytes (%.1f%%); peak RSS %d MiB (test process: generator + esa_sls + server)",
		got, elapsed.Round(time.Millisecond), float64(got)/elapsed.Seconds(), wire, raw, 100*float64(wire)/float64(raw), ru.Maxrss/1024)
}
