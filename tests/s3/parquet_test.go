package s3

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/tests/duckdbtest"
	"github.com/esa-connect/esa-connect/tests/servers/s3test"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestRunParquetPartitioned: an S3-compatible task with output.format parquet, zstd pages and
// partitions by date stores one .parquet object per partition (Content-Type
// application/vnd.apache.parquet, no Content-Encoding), which DuckDB reads back as exactly the
// delivered records, each once, typed from the catalog.
func TestRunParquetPartitioned(t *testing.T) {
	srv := s3test.Start(t)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	in, want := input(t, dir, 5000)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-parquet", fmt.Sprintf("{type: file, paths: [%q]}", in), "s3_compatible", fmt.Sprintf(`  bucket_path: logs/esa/pq
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
  compression: zstd
  partition: {by: [date]}
output: {format: parquet}
`, srv.URL), token("logs", "esa/pq", "e2e-parquet")))
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv(), Timeout: 3 * time.Minute}, "run", task)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	local := filepath.Join(dir, "objects")
	dates := map[string]bool{}
	for _, o := range rawObjects(t, admin, "logs", "esa/pq/") {
		if !strings.HasSuffix(o.Key, ".parquet") || o.ContentType != "application/vnd.apache.parquet" || o.ContentEncoding != "" {
			t.Errorf("%s: Content-Type %q, Content-Encoding %q", o.Key, o.ContentType, o.ContentEncoding)
		}
		rel := strings.TrimPrefix(o.Key, "esa/pq/")
		dates[strings.Split(rel, "/")[0]] = true
		p := filepath.Join(local, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, o.Body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The records span a UTC midnight: two partitions.
	if !reflect.DeepEqual(dates, map[string]bool{"dt=2026-11-24": true, "dt=2026-11-25": true}) {
		t.Fatalf("partitions %v", dates)
	}
	glob := filepath.Join(local, "*", "*.parquet")
	types, _ := duckdbtest.Describe(t, glob)
	wantTypes := map[string]string{"EdgeStartTimestamp": "VARCHAR", "ClientRequestID": "VARCHAR", "EdgeResponseStatusCode": "BIGINT",
		"ClientRequestHost": "VARCHAR", "ClientRegionCode": "VARCHAR", "ClientSrcPort": "BIGINT",
		"dt": "DATE"} // DuckDB discovers the hive partition

	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("types %v, want %v", types, wantTypes)
	}
	// Each record in the partition of its own date (hive_partitioning off: the values as stored).
	rows := duckdbtest.Query(t, "SELECT to_json(t)::VARCHAR AS j, filename AS f FROM read_parquet("+duckdbtest.Quote(glob)+", filename=true, hive_partitioning=false) t")
	var got []string
	for _, r := range rows {
		var rec map[string]any
		if err := json.Unmarshal([]byte(r["j"].(string)), &rec); err != nil {
			t.Fatal(err)
		}
		delete(rec, "filename")
		ts, _ := time.Parse(time.RFC3339, rec["EdgeStartTimestamp"].(string))
		if !strings.Contains(r["f"].(string), "dt="+ts.UTC().Format("2006-01-02")) {
			t.Errorf("record of %s in %s", ts.UTC(), r["f"])
		}
		b, _ := json.Marshal(rec)
		got = append(got, string(b))
	}
	var exp []string
	for _, w := range want {
		var rec map[string]any
		if err := json.Unmarshal(w, &rec); err != nil {
			t.Fatal(err)
		}
		// The input has no ClientRegionCode or ClientSrcPort: NULL in Parquet, where NDJSON objects
		// carry the placeholders "-" and -1.
		if rec["ClientRegionCode"] != "-" || rec["ClientSrcPort"] != -1.0 {
			t.Fatalf("expected record without the placeholders of its missing fields: %s", w)
		}
		rec["ClientRegionCode"], rec["ClientSrcPort"] = nil, nil
		b, _ := json.Marshal(rec)
		exp = append(exp, string(b))
	}
	sort.Strings(got)
	sort.Strings(exp)
	if len(got) != len(exp) {
		t.Fatalf("%d records read back, want %d", len(got), len(exp))
	}
	for i := range got {
		if got[i] != exp[i] {
			t.Fatalf("record differs:\n got %s\nwant %s", got[i], exp[i])
		}
	}
}
