package s3

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/tests/servers/s3test"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestRunRefusedObjectsGoToTheDeadLetter: the store refuses every upload with 403 AccessDenied; the
// task's dead letter gets every delivered record once with the reason s3_AccessDenied, the run
// counts them as dead-lettered and exits 0, and nothing is stored.
func TestRunRefusedObjectsGoToTheDeadLetter(t *testing.T) {
	srv := s3test.Start(t)
	px := s3test.NewProxy(t, srv)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	var refused atomic.Int32
	px.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/logs/esa/access/2") {
			return false
		}
		refused.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		return true
	})
	dir := t.TempDir()
	in, want := input(t, dir, 600)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-refused", fmt.Sprintf("{type: file, paths: [%q]}", in), "s3_compatible", fmt.Sprintf(`  bucket_path: logs/esa/access
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
  batching: {count: 200}
`, px.URL), token("logs", "esa/access", "e2e-refused"))+"dead_letter: {type: local, path: dead, envelope: true}\nretry: {on_status: [5xx], max_elapsed: 1m}\n")
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv(), Timeout: 3 * time.Minute}, "run", task)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, fmt.Sprintf("0 delivered, %d dead-lettered", len(want))) {
		t.Fatalf("exit %d, want %d dead-lettered\n%s", res.ExitCode, len(want), res.Output())
	}
	if refused.Load() == 0 {
		t.Fatal("no upload was refused")
	}
	env := testutil.ReadEnvelopes(t, filepath.Join(dir, "dead", "e2e-refused.dead-letter.ndjson"))
	got := map[string]bool{}
	for _, e := range env {
		if e.Reason != "s3_AccessDenied" || !strings.Contains(e.Error, "AccessDenied") || got[e.Record] {
			t.Fatalf("envelope %+v: want reason s3_AccessDenied, the store's error, each record once", e)
		}
		got[e.Record] = true
	}
	for _, w := range want {
		if !got[string(w)] {
			t.Fatalf("record %s is not in the dead letter (%d envelopes)", w, len(env))
		}
	}
	if objs := readObjects(t, admin, "logs", "esa/access/"); len(objs) != 0 {
		t.Fatalf("%d objects stored", len(objs))
	}
}
