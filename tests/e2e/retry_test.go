package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestRetryPolicy: an HTTP destination that answers 418 twice, then 200. By default 418 is a refusal
// (the records go to the dead letter); with retry.on_status listing it, the requests are retried and
// every record is delivered.
func TestRetryPolicy(t *testing.T) {
	for _, withPolicy := range []bool{false, true} {
		t.Run(fmt.Sprintf("on_status_418=%v", withPolicy), func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if calls.Add(1) <= 2 {
					http.Error(w, "teapot", http.StatusTeapot)
				}
			}))
			defer srv.Close()
			dir := t.TempDir()
			input := filepath.Join(dir, "in.ndjson")
			if err := os.WriteFile(input, []byte(`{"ClientRequestID":"a"}`+"\n"+`{"ClientRequestID":"b"}`+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			policy := ""
			if withPolicy {
				policy = "retry: {on_status: [418, 5xx], max_backoff: 200ms, max_elapsed: 1m}\n"
			}
			task := fmt.Sprintf("name: retry\ncategory: access\nfields: [ClientRequestID]\nsource: {type: file, paths: [%q]}\ndestination: {type: http, url: %q}\ndead_letter: {type: local, path: dead}\n%s",
				input, srv.URL, policy)
			path := filepath.Join(dir, "task.yaml")
			if err := os.WriteFile(path, []byte(task), 0o644); err != nil {
				t.Fatal(err)
			}
			res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", path)
			want := "0 delivered, 2 dead-lettered"
			if withPolicy {
				want = "2 delivered, 0 dead-lettered"
			}
			if res.ExitCode != 0 || !strings.Contains(res.Stdout, want) {
				t.Fatalf("exit %d, want %q\n%s", res.ExitCode, want, res.Output())
			}
		})
	}
}
