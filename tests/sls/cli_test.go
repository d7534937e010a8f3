package sls_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/generate"
	"github.com/esa-connect/esa-connect/tests/servers/slstest"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

var cliFields = []string{"EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientRequestHost", "ClientRequestPath",
	"EdgeResponseStatusCode", "EdgeResponseBytes", "ClientSSLProtocol"}

// writeTask writes a native task (file source → SLS destination at endpoint) and its input file.
func writeTask(t *testing.T, endpoint, logstore string, recs [][]byte) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	var data []byte
	for _, r := range recs {
		data = append(append(data, r...), '\n')
	}
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	task := fmt.Sprintf(`name: access-to-sls
category: access
fields: [%s]
custom_fields:
  request_headers: [x-trace-id]
  cookies: [region]
source: {type: file, paths: [%s]}
destination:
  type: sls
  project: proj
  logstore: %s
  region: cn-hangzhou
  endpoint: %s
  access_key_id: ${TEST_SLS_AK}
  access_key_secret: ${TEST_SLS_SK}
  topic: esa
  source: edge-1
`, strings.Join(cliFields, ", "), in, logstore, endpoint)
	p := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(p, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLIRunTaskToSLS: `esa-connect run task.yaml` (file → esa_sample → esa_filter → esa_fields →
// esa_sls) delivers every record; each stored log holds exactly the selected fields in task order,
// then CustomFields as JSON text, with the record's time, topic and source.
func TestCLIRunTaskToSLS(t *testing.T) {
	srv := startServer(t)
	gen, err := generate.New("access", 7)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	recs := make([][]byte, n)
	byID := map[string][]byte{}
	for i := range recs {
		recs[i] = gen.Next(nil)
		var probe struct{ ClientRequestID string }
		if err := json.Unmarshal(recs[i], &probe); err != nil {
			t.Fatal(err)
		}
		byID[probe.ClientRequestID] = recs[i]
	}
	task := writeTask(t, srv.Endpoint, "store", recs)
	res := testutil.RunBinary(t, testutil.RunOptions{Timeout: 3 * time.Minute,
		Env: []string{"TEST_SLS_AK=" + testAK, "TEST_SLS_SK=" + testSecret}}, "run", task)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d:\n%s", res.ExitCode, res.Output())
	}
	logs := srv.Logs("proj", "store")
	if len(logs) != n {
		t.Fatalf("stored %d logs, want %d\n%s", len(logs), n, res.Output())
	}
	seen := map[string]bool{}
	for i, l := range logs {
		id, _ := l.Value("ClientRequestID")
		rec, ok := byID[id]
		if !ok || seen[id] {
			t.Fatalf("log %d: unknown or duplicate id %q", i, id)
		}
		seen[id] = true
		if diff := compareCLILog(t, l, rec); diff != "" {
			t.Fatalf("log %d (%s): %s", i, id, diff)
		}
	}
}

// compareCLILog checks a stored log against the input record under the task's field selection.
func compareCLILog(t *testing.T, l slstest.Log, rec []byte) string {
	full := expect(t, rec, "EdgeStartTimestamp")
	if l.Topic != "esa" || l.Source != "edge-1" {
		return fmt.Sprintf("topic/source %q/%q", l.Topic, l.Source)
	}
	if l.Time != full.sec || l.TimeNs != full.ns || l.HasTimeNs != full.hasNs {
		return fmt.Sprintf("time %d.%09d, want %d.%09d", l.Time, l.TimeNs, full.sec, full.ns)
	}
	if len(l.Contents) != len(cliFields)+1 {
		return fmt.Sprintf("%d contents, want %d: %v", len(l.Contents), len(cliFields)+1, l.Contents)
	}
	for i, f := range cliFields {
		want := ""
		for _, c := range full.contents {
			if c.Key == f {
				want = c.Value
			}
		}
		if l.Contents[i].Key != f || l.Contents[i].Value != want {
			return fmt.Sprintf("content %d: %q=%q, want %q=%q", i, l.Contents[i].Key, l.Contents[i].Value, f, want)
		}
	}
	cf := l.Contents[len(cliFields)]
	var in struct {
		RequestHeaders map[string]string
	}
	if err := json.Unmarshal(rec, &in); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"request_headers": map[string]any{}, "cookies": map[string]any{}}
	if v, ok := in.RequestHeaders["x-trace-id"]; ok {
		want["request_headers"] = map[string]any{"x-trace-id": v}
	}
	for _, kv := range strings.Split(in.RequestHeaders["cookie"], ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == "region" {
			want["cookies"] = map[string]any{"region": v}
		}
	}
	var got map[string]any
	if cf.Key != "CustomFields" || json.Unmarshal([]byte(cf.Value), &got) != nil || !reflect.DeepEqual(got, want) ||
		!strings.HasPrefix(cf.Value, `{"request_headers":`) {
		return fmt.Sprintf("CustomFields %q=%s, want %v", cf.Key, cf.Value, want)
	}
	return ""
}

// TestCLIConfigurationErrors: wrong secret, unknown AccessKey ID, missing project or logstore stop the
// run with a non-zero exit and an error that names what is wrong, without printing the secret.
func TestCLIConfigurationErrors(t *testing.T) {
	srv := startServer(t)
	gen, _ := generate.New("access", 1)
	recs := [][]byte{gen.Next(nil), gen.Next(nil)}
	cases := []struct {
		name, logstore, ak, sk, want string
	}{
		{"wrong secret", "store", testAK, "not-the-secret", "access_key_secret is wrong"},
		{"unknown access key", "store", "LTAInosuchkey999", testSecret, "access_key_id"},
		{"missing logstore", "nosuch", testAK, testSecret, `logstore "nosuch" does not exist in project "proj"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := writeTask(t, srv.Endpoint, c.logstore, recs)
			res := testutil.RunBinary(t, testutil.RunOptions{Timeout: 2 * time.Minute,
				Env: []string{"TEST_SLS_AK=" + c.ak, "TEST_SLS_SK=" + c.sk}}, "run", task)
			if res.ExitCode == 0 || !strings.Contains(res.Output(), c.want) {
				t.Fatalf("exit %d, want non-zero with %q:\n%s", res.ExitCode, c.want, res.Output())
			}
			t.Logf("exit %d: %s", res.ExitCode, lastLine(res.Output()))
			if strings.Contains(res.Output(), c.sk) {
				t.Errorf("output contains the secret")
			}
		})
	}
	if n := srv.LogCount(); n != 0 {
		t.Errorf("%d logs stored by failed runs", n)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
