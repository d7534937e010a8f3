package httpdelivery

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestRunTaskEndToEnd runs `esa-connect run task.yaml` with an http destination (generated access
// records → sampling → field selection → esa_http, signed and snappy-compressed) against
// `esa-connect receive`, and checks that every record arrived with exactly the selected fields.
func TestRunTaskEndToEnd(t *testing.T) {
	const n = 5000
	addr, out, proc := startReceive(t, "aliyuncdn1234", "--path", "/accesslog/post")
	dir := t.TempDir()
	task := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(task, []byte(`
name: e2e-http
category: access
fields: [ClientRequestID, EdgeResponseStatusCode, ClientRequestHost]
source: {type: generate, count: `+itoa(n)+`, seed: 7}
destination:
  type: http
  url: http://`+addr+`/accesslog/post
  compression: snappy
  auth: {private_key: "${E2E_HTTP_KEY}", expired_time: 60}
  headers: {X-Source: e2e}
  max_batch_size: 400
  period: 200ms
`), 0o600); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Timeout: 2 * time.Minute,
		Env: []string{"E2E_HTTP_KEY=aliyuncdn1234", "ESA_HTTP_ADDRESS=" + testutil.FreeAddr(t)}}, "run", task)
	if res.ExitCode != 0 {
		t.Fatalf("run exited %d:\n%s", res.ExitCode, res.Output())
	}
	if strings.Contains(res.Output(), "aliyuncdn1234") {
		t.Error("run printed the private key")
	}
	_ = proc.Terminate()
	if r := proc.Wait(t, 20*time.Second); r.ExitCode != 0 {
		t.Fatalf("receive exited %d: %s", r.ExitCode, r.Output())
	}
	lines := readLines(t, out)
	ids := map[string]bool{}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if len(v) != 3 || v["ClientRequestID"] == nil || v["EdgeResponseStatusCode"] == nil || v["ClientRequestHost"] == nil {
			t.Fatalf("record without exactly the selected fields: %s", l)
		}
		if !strings.HasPrefix(l, `{"ClientRequestID":`) {
			t.Fatalf("fields not in task order: %s", l)
		}
		ids[v["ClientRequestID"].(string)] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct records arrived (%d lines), want %d", len(ids), len(lines), n)
	}
}

// TestRunTaskRejected4xx: a receiver that answers 400 to every request (it expects a body prefix the
// task does not send). Without a dead letter the run exits 1, names the status and counts the records
// not delivered; with one, every record lands there unchanged and the run exits 0.
func TestRunTaskRejected4xx(t *testing.T) {
	const n = 1200
	addr, out, proc := startReceive(t, "", "--body-prefix", "EXPECTED-PREFIX")
	dir := t.TempDir()
	writeTask := func(name, deadLetter string) string {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(`
name: `+name+`
category: access
fields: [ClientRequestID, EdgeResponseStatusCode]
source: {type: generate, count: `+itoa(n)+`, seed: 3}
destination:
  type: http
  url: http://`+addr+`/ingest?token=querysecret
  max_batch_size: 500
  period: 100ms
`+deadLetter), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	env := []string{"ESA_HTTP_ADDRESS=" + testutil.FreeAddr(t)}

	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Timeout: 2 * time.Minute, Env: env}, "run", writeTask("rejected", ""))
	if res.ExitCode == 0 {
		t.Fatalf("run exited 0 although every request was rejected:\n%s", res.Output())
	}
	for _, want := range []string{"400 Bad Request", "prefix", itoa(n) + " records were not delivered"} {
		if !strings.Contains(res.Output(), want) {
			t.Errorf("output lacks %q:\n%s", want, res.Output())
		}
	}
	if strings.Contains(res.Output(), "querysecret") {
		t.Error("run printed a query parameter value")
	}

	deadDir := filepath.Join(dir, "dead")
	res = testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Timeout: 2 * time.Minute, Env: env}, "run",
		writeTask("dead-lettered", "dead_letter: {type: local, path: "+deadDir+"}\n"))
	if res.ExitCode != 0 {
		t.Fatalf("with a dead letter the run must exit 0, got %d:\n%s", res.ExitCode, res.Output())
	}
	files, _ := filepath.Glob(filepath.Join(deadDir, "*"))
	lines := 0
	for _, f := range files {
		for _, l := range readLines(t, f) {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil || len(v) != 2 {
				t.Fatalf("dead letter line %q is not a delivered record", l)
			}
			lines++
		}
	}
	if lines != n {
		t.Fatalf("%d records in the dead letter %v, want %d", lines, files, n)
	}
	_ = proc.Terminate()
	proc.Wait(t, 20*time.Second)
	if got := readLinesIfAny(t, out); len(got) != 0 {
		t.Errorf("the receiver stored %d records it rejected", len(got))
	}
}

func readLinesIfAny(t *testing.T, path string) []string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	return readLines(t, path)
}

// TestRunTaskFlappingDestinationWithDeadLetter: a destination that answers 503 to its first requests
// (longer than the output's own retries last) with a dead letter set: every record is still delivered,
// nothing reaches the dead letter (a transient failure is redelivered, never dead-lettered), and the run
// exits 0. Before, the fallback sent every record of the run to the dead letter.
func TestRunTaskFlappingDestinationWithDeadLetter(t *testing.T) {
	const n, failFirst = 100, 6
	ta := newTally("ClientRequestID")
	var mu sync.Mutex
	served503 := 0
	rc := &httpout.Receiver{OnBatch: ta.onBatch}
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := served503 < failFirst
		if fail {
			served503++
		}
		mu.Unlock()
		if fail {
			http.Error(w, "flapping", http.StatusServiceUnavailable)
			return
		}
		rc.ServeHTTP(w, r)
	}))
	dir := t.TempDir()
	task := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(task, []byte(`
name: flapping
category: access
fields: [ClientRequestID, EdgeResponseStatusCode]
source: {type: generate, count: `+itoa(n)+`, seed: 11}
destination:
  type: http
  url: `+srv.URL+`/ingest
  max_batch_size: 10
  period: 100ms
  max_retry: 1
dead_letter: {type: local, path: dead}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Timeout: 2 * time.Minute}, "run", task)
	if res.ExitCode != 0 {
		t.Fatalf("run exited %d:\n%s", res.ExitCode, res.Output())
	}
	mu.Lock()
	failed := served503
	mu.Unlock()
	if failed != failFirst {
		t.Fatalf("the destination answered 503 %d times, want %d: the fault did not happen", failed, failFirst)
	}
	var want []string
	ta.mu.Lock()
	for id := range ta.seen {
		want = append(want, id)
	}
	ta.mu.Unlock()
	if len(want) != n {
		t.Fatalf("%d distinct records arrived, want %d", len(want), n)
	}
	if got := readLinesIfAny(t, filepath.Join(dir, "dead", "flapping.dead-letter.ndjson")); len(got) != 0 {
		t.Fatalf("%d records reached the dead letter after transient failures: %q", len(got), got[0])
	}
	if !strings.Contains(res.Stdout, "0 dead-lettered, 0 not delivered") {
		t.Errorf("summary line:\n%s", res.Stdout)
	}
}
