package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestDeadLetterEnvelope: with envelope: true each dead-lettered record says why it is there — a
// record the destination refused (HTTP 400) with reason http_400, the error, the destination without
// its credentials and one attempt; a malformed record with its reason and no attempt — and the record
// itself byte for byte.
func TestDeadLetterEnvelope(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "schema mismatch", http.StatusBadRequest)
	}))
	defer refusing.Close()
	dir := t.TempDir()
	input := filepath.Join(dir, "in.ndjson")
	good := []string{`{"ClientRequestID":"a1","EdgeResponseStatusCode":200}`, `{"ClientRequestID":"a2","EdgeResponseStatusCode":404}`}
	bad := "{\"ClientRequestID\": \"caf\xc3\xa9\", oops"
	if err := os.WriteFile(input, []byte(strings.Join(append(good, bad), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	task := fmt.Sprintf(`name: env
category: access
fields: [ClientRequestID, EdgeResponseStatusCode]
source: {type: file, paths: [%q]}
destination: {type: http, url: "%s/in?token=hunter2-secret-token"}
dead_letter: {type: local, path: dead, envelope: true}
`, input, refusing.URL)
	path := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(path, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", path)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "3 dead-lettered") {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	lines := readLinesFile(t, filepath.Join(dir, "dead", "env.dead-letter.ndjson"))
	if len(lines) != 3 {
		t.Fatalf("%d dead letters: %q", len(lines), lines)
	}
	byRecord := map[string]map[string]any{}
	for _, l := range lines {
		if strings.Contains(l, "hunter2") {
			t.Fatalf("a dead letter shows the URL's token: %s", l)
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		byRecord[e["record"].(string)] = e
	}
	for _, rec := range good {
		e := byRecord[rec]
		if e == nil || e["reason"] != "http_400" || e["attempts"] != float64(1) || e["first_failure"] == nil ||
			!strings.Contains(e["error"].(string), "schema mismatch") || !strings.HasPrefix(e["destination"].(string), "http "+refusing.URL+"/in") {
			t.Errorf("envelope of %s: %v", rec, e)
		}
	}
	if e := byRecord[bad]; e == nil || e["reason"] != "malformed" || e["attempts"] != float64(0) {
		t.Errorf("envelope of the malformed record: %v (records %v)", e, byRecord)
	}
}
