package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestRunTap: `esa-connect run` serves a tap of its task on its metrics server: the records it
// delivers, after the filter and the fields, never the ones the filter dropped.
func TestRunTap(t *testing.T) {
	dir := t.TempDir()
	ingest, admin := testutil.FreeAddr(t), testutil.FreeAddr(t)
	task := fmt.Sprintf(`name: tapped
category: access
fields: [ClientRequestID]
filters: [{field: EdgeResponseStatusCode, op: ge, value: 400}]
source: {type: http, address: %q}
destination: {type: local, path: out}
`, ingest)
	path := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(path, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: []string{"ESA_HTTP_ADDRESS=" + admin}}, "run", path)
	p.WaitTCP(t, ingest)
	p.WaitTCP(t, admin)
	resp, err := http.Get("http://" + admin + "/tap?limit=5")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("tap: %v %v", err, resp)
	}
	defer resp.Body.Close()
	var body strings.Builder
	for i := range 10 {
		fmt.Fprintf(&body, "{\"ClientRequestID\":\"r%d\",\"EdgeResponseStatusCode\":%d}\n", i, 200+300*(i%2))
	}
	r, err := (&http.Client{Timeout: time.Minute}).Post("http://"+ingest+"/v1/logs", "application/x-ndjson", strings.NewReader(body.String()))
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("ingest: %v %v", err, r)
	}
	r.Body.Close()
	var got []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	want := `{"ClientRequestID":"r1"}|{"ClientRequestID":"r3"}|{"ClientRequestID":"r5"}|{"ClientRequestID":"r7"}|{"ClientRequestID":"r9"}|{"tap_dropped":0}`
	if strings.Join(got, "|") != want {
		t.Fatalf("tap: %q", got)
	}
	_ = p.Terminate()
	p.Wait(t, time.Minute)
}
