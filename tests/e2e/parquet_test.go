package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/tests/duckdbtest"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// parquetName is the object layout of a Parquet object: <YYYYMMDD>/<task>_<first>_<last>_<seq>_<8 hex>.parquet.
var parquetName = regexp.MustCompile(`^(\d{8})/([A-Za-z0-9_-]+)_(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_(\d+)_([0-9a-f]{8})\.parquet$`)

// TestParquetLocalEndToEnd: esa-connect run of the file task with output.format parquet writes
// Parquet objects that DuckDB reads with the catalog's column types, in the task's order, and that
// hold exactly the records the task delivers (values, CustomFields, each record once), with NULL for
// every field without a value.
func TestParquetLocalEndToEnd(t *testing.T) {
	dir := t.TempDir()
	recs := makeInput(3000, 11)
	input := filepath.Join(dir, "in.ndjson")
	writeNDJSON(t, input, recs)
	out := filepath.Join(dir, "out")
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(fileTask("pq-e2e", input, out, "output: {format: parquet}\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", taskPath)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	files := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		if !parquetName.MatchString(filepath.ToSlash(rel)) {
			t.Errorf("object %s does not follow <YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.parquet", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Errorf("%d objects; with batches of 300 want several", files)
	}
	glob := filepath.Join(out, "*", "*.parquet")
	types, names := duckdbtest.Describe(t, glob)
	var wantNames []string
	wantTypes := map[string]string{}
	for _, f := range fileTaskFields {
		wantNames = append(wantNames, f.name)
		wantTypes[f.name] = map[string]string{"string": "VARCHAR", "timestamp": "VARCHAR", "int": "BIGINT", "float": "DOUBLE"}[f.typ]
	}
	wantNames = append(wantNames, "CustomFields")
	wantTypes["CustomFields"] = "STRUCT(request_headers MAP(VARCHAR, VARCHAR), response_headers MAP(VARCHAR, VARCHAR), cookies MAP(VARCHAR, VARCHAR))"
	if !reflect.DeepEqual(names, wantNames) || !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("columns %v %v\nwant %v %v", names, types, wantNames, wantTypes)
	}
	rows := duckdbtest.Query(t, "SELECT to_json(t)::VARCHAR AS j FROM read_parquet("+duckdbtest.Quote(glob)+") t")
	lines := make([][]byte, len(rows))
	for i, r := range rows {
		lines[i] = []byte(r["j"].(string))
	}
	compareDelivered(t, recs, lines, true)
}

// TestParquetNullsForMissingFields: a field missing from the input is NULL in a Parquet object (the
// translator sets esa_fields' missing_as_null) and its placeholder in NDJSON objects of the same task.
// ClientRegionCode is in no input record; ClientSrcPort is missing from about one in six.
func TestParquetNullsForMissingFields(t *testing.T) {
	dir := t.TempDir()
	recs := makeInput(1200, 23)
	input := filepath.Join(dir, "in.ndjson")
	writeNDJSON(t, input, recs)
	delivered, noPort := 0, 0
	for _, r := range recs {
		if passes(r) {
			delivered++
			if _, ok := r["ClientSrcPort"]; !ok {
				noPort++
			}
		}
	}
	if noPort == 0 || noPort == delivered {
		t.Fatalf("bad test input: %d of %d delivered records lack ClientSrcPort", noPort, delivered)
	}
	run := func(name, extra string) string {
		out := filepath.Join(dir, name)
		taskPath := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(taskPath, []byte(fileTask(name, input, out, extra)), 0o644); err != nil {
			t.Fatal(err)
		}
		res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", taskPath)
		if res.ExitCode != 0 {
			t.Fatalf("%s: exit %d\n%s", name, res.ExitCode, res.Output())
		}
		return out
	}

	out := run("pq-nulls", "output: {format: parquet}\n")
	rows := duckdbtest.Query(t, `SELECT count(*) AS n,
  count(*) FILTER (WHERE ClientRegionCode IS NULL) AS region_null,
  count(*) FILTER (WHERE ClientSrcPort IS NULL) AS port_null,
  count(*) FILTER (WHERE ClientRegionCode = '-' OR ClientSrcPort = -1) AS placeholders
FROM read_parquet(`+duckdbtest.Quote(filepath.Join(out, "*", "*.parquet"))+`)`)
	want := map[string]int{"n": delivered, "region_null": delivered, "port_null": noPort, "placeholders": 0}
	for k, w := range want {
		if got := fmt.Sprint(rows[0][k]); got != fmt.Sprint(w) {
			t.Errorf("parquet: %s = %s, want %d", k, got, w)
		}
	}

	lines := allLines(readObjects(t, run("nd-placeholders", "")))
	if len(lines) != delivered {
		t.Fatalf("ndjson: %d records, want %d", len(lines), delivered)
	}
	port := 0
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatal(err)
		}
		if rec["ClientRegionCode"] != "-" {
			t.Errorf("ndjson: ClientRegionCode %#v, want the placeholder \"-\"", rec["ClientRegionCode"])
		}
		if rec["ClientSrcPort"] == -1.0 {
			port++
		}
	}
	if port != noPort {
		t.Errorf("ndjson: ClientSrcPort -1 in %d records, want %d", port, noPort)
	}
}
