package sls_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// pipelineToServer runs esa_generate (count records of category) → esa_sls against a discarding SLS
// test server and returns the elapsed time and the server's counters.
func pipelineToServer(t testing.TB, category string, count int) (time.Duration, int, int64, int64) {
	srv := startServer(t)
	srv.Discard(true)
	start := time.Now()
	input := fmt.Sprintf("  esa_generate:\n    category: %s\n    count: %d\n    seed: 1", category, count)
	runStream(t, newEnv(t), toSLS(srv, "warn", input, `
    time_field: EdgeStartTimestamp
    max_in_flight: 16
`), 30*time.Minute)
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

// TestPerformanceCLI runs `esa-connect run task.yaml` with a generate source of ESA_SLS_PERF access
// records (every catalog field selected) against the SLS test server in this process, and reports
// records/s, bytes on the wire vs raw, and the peak RSS of the esa-connect process. Skipped unless
// ESA_SLS_PERF is set.
func TestPerformanceCLI(t *testing.T) {
	v := os.Getenv("ESA_SLS_PERF")
	if v == "" {
		t.Skip("set ESA_SLS_PERF=<records> to run")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("ESA_SLS_PERF=%q: want a positive count", v)
	}
	inFlight := 8
	if v := os.Getenv("ESA_SLS_PERF_INFLIGHT"); v != "" {
		inFlight, _ = strconv.Atoi(v)
	}
	srv := startServer(t)
	srv.Discard(true)
	cat, _ := config.LookupCategory("access")
	var fields []string
	for _, f := range cat.Fields {
		fields = append(fields, f.Name)
	}
	task := fmt.Sprintf(`name: perf-sls
category: access
fields: [%s]
source: {type: generate, count: %d}
destination:
  type: sls
  project: proj
  logstore: store
  region: cn-hangzhou
  endpoint: %s
  access_key_id: ${TEST_SLS_AK}
  access_key_secret: ${TEST_SLS_SK}
  max_in_flight: %d
`, strings.Join(fields, ", "), n, srv.Endpoint, inFlight)
	p := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(p, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.Binary(t), "run", p)
	cmd.Env = append(os.Environ(), "TEST_SLS_AK="+testAK, "TEST_SLS_SK="+testSecret)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	elapsed := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	st := srv.Stats()
	if st.LogsStored != n {
		t.Fatalf("server accepted %d logs, want %d", st.LogsStored, n)
	}
	t.Logf("esa-connect run (max_in_flight %d): %d access records (%d fields) in %v: %.0f records/s; %d PutLogs; wire %d bytes, raw protobuf %d bytes (%.1f%%); esa-connect peak RSS %d MiB, CPU user %v sys %v",
		inFlight, n, len(fields), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), st.PutLogsAccepted, st.WireBytes, st.RawBytes,
		100*float64(st.WireBytes)/float64(st.RawBytes), ru.Maxrss/1024,
		time.Duration(ru.Utime.Nano()).Round(time.Millisecond), time.Duration(ru.Stime.Nano()).Round(time.Millisecond))
}
