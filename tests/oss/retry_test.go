package oss

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/tests/servers/osstest"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// retryStream is a stream from the records of in (bundled by esa_fields, as a translated task does)
// to esa_oss on s with the output fields of extra (indented by four spaces) and an enveloped
// dead-letter file dead; its counters go to the returned Metrics.
func retryStream(t *testing.T, s *osstest.Server, in, dead, extra string) (*service.Stream, *testutil.Metrics) {
	t.Helper()
	return testutil.MeteredStream(t, fmt.Sprintf(`
logger: {level: none}
metrics: {%s: {}}
input:
  esa_file: {paths: [%q]}
pipeline:
  processors:
    - esa_fields:
        category: access
        fields: [EdgeStartTimestamp, ClientRequestID]
        task: retry
        bundle: true
output:
  esa_oss:
    bucket: logs
    endpoint: %s
    prefix: esa/oss
    access_key_id: %s
    access_key_secret: %s
    task: retry
    time_field: EdgeStartTimestamp
    dead_letter: dead_letter
    batching: {count: 200}
%s
output_resources:
  - label: dead_letter
    esa_dead_letter: {task: retry, path: %q, envelope: true}
`, testutil.MetricsName, in, s.Addr, osstest.AccessKeyID, osstest.AccessKeySecret, extra, dead))
}

// retryInput writes n records with distinct ids and returns the file.
func retryInput(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"EdgeStartTimestamp":"2026-11-25T07:59:30Z","ClientRequestID":"id-%04d","ClientIP":"198.51.100.7"}`+"\n", i)
	}
	p := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runToEnd(t *testing.T, st *service.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.Run(ctx); err != nil {
		t.Fatalf("stream: %v", err)
	}
}

// isObjectPut is an upload of an object (not a bucket request).
func isObjectPut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/esa/oss/")
}

// storedRecords counts the records in the bucket.
func storedRecords(t *testing.T, s *osstest.Server) int {
	n := 0
	for _, recs := range readBack(t, s, "retry") {
		n += len(recs)
	}
	return n
}

// TestRefusedObjectsGoToTheDeadLetter: OSS refuses every upload; each record of the refused objects
// is in the dead letter, once, with the reason of OSS's error code (oss_AccessDenied; a code without
// a reason of its own is oss_error), and the metric counts them under that reason. Without on_status
// listing it, a 409 is a refusal too.
func TestRefusedObjectsGoToTheDeadLetter(t *testing.T) {
	for _, c := range []struct {
		status     int
		code, want string
	}{
		{http.StatusForbidden, "AccessDenied", "oss_AccessDenied"},
		{http.StatusConflict, "SomethingNewInOSS", "oss_error"},
	} {
		t.Run(c.code, func(t *testing.T) {
			s := osstest.Start(t)
			s.CreateBucket("logs")
			var refused atomic.Int32
			s.SetFail(func(r *http.Request) (int, string) {
				if isObjectPut(r) {
					refused.Add(1)
					return c.status, c.code
				}
				return 0, ""
			})
			dir := t.TempDir()
			const n = 500
			dead := filepath.Join(dir, "dead.ndjson")
			st, m := retryStream(t, s, retryInput(t, dir, n), dead, "")
			runToEnd(t, st)

			if refused.Load() == 0 {
				t.Fatal("no upload reached the server")
			}
			env := testutil.ReadEnvelopes(t, dead)
			seen := map[string]bool{}
			for _, e := range env {
				if e.Reason != c.want || !strings.Contains(e.Error, c.code) || e.Attempts != 1 {
					t.Fatalf("envelope %+v: want reason %s and OSS's error", e, c.want)
				}
				if !strings.HasPrefix(e.Record, `{"EdgeStartTimestamp":`) || strings.Contains(e.Record, "\n") || seen[e.Record] {
					t.Fatalf("dead-lettered record %q: want each delivered record once, one per line", e.Record)
				}
				seen[e.Record] = true
			}
			if len(env) != n {
				t.Fatalf("%d records in the dead letter, want %d", len(env), n)
			}
			if got := m.Counter("esa_records_dead_lettered_total", "task=retry", "reason="+c.want); got != n {
				t.Fatalf("esa_records_dead_lettered_total{reason=%s} = %d, want %d (all: %v)", c.want, got, n,
					m.Counters("esa_records_dead_lettered_total"))
			}
			if got := storedRecords(t, s); got != 0 {
				t.Fatalf("%d records stored", got)
			}
		})
	}
}

// TestTransientFailuresWithinMaxElapsed: the first two uploads answer 409, which retry.on_status
// lists: they are retried, and every record is stored once; none is dead-lettered.
func TestTransientFailuresWithinMaxElapsed(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	var faults atomic.Int32
	s.SetFail(func(r *http.Request) (int, string) {
		if isObjectPut(r) && faults.Add(1) <= 2 {
			return http.StatusConflict, "ConcurrentUpdate"
		}
		return 0, ""
	})
	dir := t.TempDir()
	const n = 500
	dead := filepath.Join(dir, "dead.ndjson")
	st, m := retryStream(t, s, retryInput(t, dir, n), dead, "    retry: {on_status: [409, 5xx], max_elapsed: 1m, max_backoff: 100ms}")
	runToEnd(t, st)

	if faults.Load() < 3 {
		t.Fatalf("%d uploads, want the 2 refused and the ones after", faults.Load())
	}
	if env := testutil.ReadEnvelopes(t, dead); len(env) != 0 {
		t.Fatalf("%d records dead-lettered, first %+v", len(env), env[0])
	}
	if got := storedRecords(t, s); got != n {
		t.Fatalf("%d records stored, want %d", got, n)
	}
	if got := m.Counter("esa_delivery_retries_total", "task=retry"); got != 2 {
		t.Fatalf("esa_delivery_retries_total = %d, want 2", got)
	}
}

// TestMaxElapsedEndsTheRetries: every upload answers 503; the output's retry count (100,000) would
// keep it retrying for hours, but retry.max_elapsed (1s) fails the object: its records count as
// failed (the input sends them again), and none is dead-lettered (a 503 may pass).
func TestMaxElapsedEndsTheRetries(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	var attempts atomic.Int32
	s.SetFail(func(r *http.Request) (int, string) {
		if isObjectPut(r) {
			attempts.Add(1)
			return http.StatusServiceUnavailable, "ServiceUnavailable"
		}
		return 0, ""
	})
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.ndjson")
	st, m := retryStream(t, s, retryInput(t, dir, 100), dead, "    max_retries: 100000\n    retry: {max_elapsed: 1s, max_backoff: 100ms}")
	testutil.RunStream(t, st)
	testutil.WaitFor(t, "records failed after retry.max_elapsed", 30*time.Second, func() bool {
		return m.Counter("esa_records_failed_total", "task=retry") > 0
	})
	if attempts.Load() < 2 {
		t.Fatalf("%d uploads: want retries before giving up", attempts.Load())
	}
	if env := testutil.ReadEnvelopes(t, dead); len(env) != 0 {
		t.Fatalf("a transient failure was dead-lettered: %+v", env[0])
	}
}
