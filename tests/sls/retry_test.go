package sls_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/tests/servers/slstest"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// deadLetterStream is a stream from the records of path to esa_sls on srv with the fields of extra
// (indented by four spaces) and an enveloped dead-letter file dead; its counters go to the Metrics.
func deadLetterStream(t *testing.T, srv *slstest.Server, path, dead, extra string) (*service.Stream, *testutil.Metrics) {
	t.Helper()
	yaml := toSLS(srv, "none", fileInput(path), fmt.Sprintf(`    task: retry
    time_field: ts
    dead_letter: dead_letter
%s
metrics: {%s: {}}
output_resources:
  - label: dead_letter
    esa_dead_letter: {task: retry, path: %q, envelope: true}
`, extra, testutil.MetricsName, dead))
	return testutil.MeteredStream(t, yaml)
}

// TestRefusalsGoToTheDeadLetter: SLS refuses every PutLogs; each record is in the dead letter once
// with the reason of SLS's error code (sls_Unauthorized; a code without a reason of its own is
// sls_error), and the metric counts them under that reason.
func TestRefusalsGoToTheDeadLetter(t *testing.T) {
	for _, c := range []struct {
		fault slstest.Fault
		want  string
	}{
		{slstest.Fault{Status: 403, Code: "Unauthorized", Message: "denied by sts or ram, action: log:PostLogStoreLogs"}, "sls_Unauthorized"},
		{slstest.Fault{Status: 400, Code: "SomethingNewInSLS", Message: "no such rule yet"}, "sls_error"},
	} {
		t.Run(c.fault.Code, func(t *testing.T) {
			srv := startServer(t)
			srv.SetFaultRate(1, 1, c.fault)
			const n = 300
			dead := filepath.Join(t.TempDir(), "dead.ndjson")
			st, m := deadLetterStream(t, srv, writeNDJSON(t, smallRecords(n)), dead, "")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := st.Run(ctx); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if got := srv.Stats().Faults[c.fault.Code]; got == 0 {
				t.Fatal("no PutLogs was refused")
			}
			env := testutil.ReadEnvelopes(t, dead)
			seen := map[string]bool{}
			for _, e := range env {
				if e.Reason != c.want || !strings.Contains(e.Error, c.fault.Code) || seen[e.Record] {
					t.Fatalf("envelope %+v: want reason %s, SLS's error, each record once", e, c.want)
				}
				seen[e.Record] = true
			}
			if len(env) != n {
				t.Fatalf("%d records in the dead letter, want %d", len(env), n)
			}
			if got := m.Counter("esa_records_dead_lettered_total", "task=retry", "reason="+c.want); got != n {
				t.Fatalf("esa_records_dead_lettered_total{reason=%s} = %d, want %d (%v)", c.want, got, n, m.Counters("esa_records_dead"))
			}
			if got := len(srv.Logs("proj", "store")); got != 0 {
				t.Fatalf("%d logs stored", got)
			}
		})
	}
}

// TestServerBusyWithinMaxElapsed: SLS answers ServerBusy until the output retried twice, then takes
// the logs: every record is stored once, none is dead-lettered.
func TestServerBusyWithinMaxElapsed(t *testing.T) {
	srv := startServer(t)
	srv.SetFaultRate(1, 1, slstest.Fault{Status: 503, Code: "ServerBusy", Message: "busy"})
	const n = 300
	dead := filepath.Join(t.TempDir(), "dead.ndjson")
	st, m := deadLetterStream(t, srv, writeNDJSON(t, smallRecords(n)), dead, "    max_retries: 100000\n    retry: {max_elapsed: 1m, max_backoff: 100ms}")
	done := testutil.RunStream(t, st)
	testutil.WaitFor(t, "two retries", 30*time.Second, func() bool {
		return m.Counter("esa_delivery_retries_total", "task=retry") >= 2
	})
	srv.SetFaultRate(0, 1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the stream did not finish once SLS took the logs")
	}
	if env := testutil.ReadEnvelopes(t, dead); len(env) != 0 {
		t.Fatalf("%d records dead-lettered, first %+v", len(env), env[0])
	}
	if got := len(srv.Logs("proj", "store")); got != n {
		t.Fatalf("%d logs stored, want %d", got, n)
	}
	if f := m.Counter("esa_records_failed_total", "task=retry"); f != 0 {
		t.Fatalf("%d records failed within max_elapsed", f)
	}
}

// TestMaxElapsedEndsTheRetries: SLS is always busy; max_retries (100,000) would keep the output
// retrying for hours, but retry.max_elapsed (1s) fails the records (the input sends them again); none
// is dead-lettered.
func TestMaxElapsedEndsTheRetries(t *testing.T) {
	srv := startServer(t)
	srv.SetFaultRate(1, 1, slstest.Fault{Status: 503, Code: "ServerBusy", Message: "busy"})
	dead := filepath.Join(t.TempDir(), "dead.ndjson")
	st, m := deadLetterStream(t, srv, writeNDJSON(t, smallRecords(100)), dead, "    max_retries: 100000\n    retry: {max_elapsed: 1s, max_backoff: 100ms}")
	testutil.RunStream(t, st)
	testutil.WaitFor(t, "records failed after retry.max_elapsed", 30*time.Second, func() bool {
		return m.Counter("esa_records_failed_total", "task=retry") > 0
	})
	if srv.Stats().Faults["ServerBusy"] < 2 {
		t.Fatalf("faults %v: want retries before giving up", srv.Stats().Faults)
	}
	if env := testutil.ReadEnvelopes(t, dead); len(env) != 0 {
		t.Fatalf("a transient failure was dead-lettered: %+v", env[0])
	}
}
