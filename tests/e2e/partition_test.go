package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// partObject is one object of a partitioned task: its directory under the destination, its name's
// parts and its records.
type partObject struct {
	dir, task, first, last string
	records                []map[string]any
	lines                  [][]byte
}

// partName is an object's name inside its partition directory.
var partName = regexp.MustCompile(`^([A-Za-z0-9_-]+)_(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_(\d+)_([0-9a-f]{8})\.log\.(gz|zst)$`)

// readPartitioned reads every object under root, decompressing .log.gz with Go's gzip and .log.zst
// with the zstd command (an independent implementation) when installed, else klauspost's decoder;
// ext is the extension every object must have.
func readPartitioned(t *testing.T, root, ext string) []partObject {
	t.Helper()
	var objs []partObject
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil // a spool file
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		m := partName.FindStringSubmatch(d.Name())
		if m == nil || ".log."+m[6] != ext {
			t.Errorf("object %s is not named <task>_<first>_<last>_<seq>_<rand>%s", rel, ext)
			return nil
		}
		if seen[m[4]+m[5]] {
			t.Errorf("%s: seq/rand repeated", rel)
		}
		seen[m[4]+m[5]] = true
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		body := decompress(t, rel, raw)
		o := partObject{dir: filepath.ToSlash(filepath.Dir(rel)), task: m[1], first: m[2], last: m[3]}
		for _, l := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			var rec map[string]any
			if err := json.Unmarshal(l, &rec); err != nil {
				t.Fatalf("%s: %v: %s", rel, err, l)
			}
			o.records = append(o.records, rec)
			o.lines = append(o.lines, l)
		}
		objs = append(objs, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// decompress decodes an object's body by its name.
func decompress(t *testing.T, name string, raw []byte) []byte {
	t.Helper()
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return body
	}
	return testutil.Unzstd(t, name, raw)
}

// partitionInput writes n access records whose event times are spread over 23:58–00:02 UTC across the
// night of 2026-11-24 (so every input batch spans midnight), written at +08:00, with a few hosts and
// security actions (one missing), and returns each record's event time by request id.
func partitionInput(t *testing.T, path string, n int) map[string]time.Time {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 9))
	hosts := []string{"a.example.com", "b.example.com", "odd host/ü"}
	actions := []string{"deny", "monitor", "-", ""}
	base := time.Date(2026, 11, 24, 23, 58, 0, 0, time.UTC)
	times := map[string]time.Time{}
	var buf bytes.Buffer
	for i := range n {
		id := fmt.Sprintf("req-%06d", i)
		ts := base.Add(time.Duration(r.IntN(240_000)) * time.Millisecond)
		times[id] = ts
		rec := map[string]any{"ClientRequestID": id, "EdgeStartTimestamp": ts.In(time.FixedZone("", 8*3600)).Format("2006-01-02T15:04:05.000-07:00"),
			"ClientRequestHost": hosts[i%len(hosts)], "EdgeResponseStatusCode": 200}
		if a := actions[i%len(actions)]; a != "" {
			rec["SecAction"] = a
		}
		b, _ := json.Marshal(rec)
		buf.Write(append(b, '\n'))
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return times
}

// runPartitioned runs a file task with fields and destination lines and returns the output directory.
func runPartitioned(t *testing.T, name, input, fields, dest string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	task := fmt.Sprintf("name: %s\ncategory: access\nfields: %s\nsource: {type: file, paths: [%q]}\ndestination:\n  type: local\n  path: %q\n%s",
		name, fields, input, out, dest)
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", taskPath)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	return out
}

// checkAll checks that every input record was delivered exactly once, and that each object's name
// spans exactly its records' times.
func checkAll(t *testing.T, objs []partObject, times map[string]time.Time, task string) {
	t.Helper()
	got := map[string]int{}
	for _, o := range objs {
		if o.task != task {
			t.Errorf("object in %s: task %q", o.dir, o.task)
		}
		var first, last time.Time
		for i, rec := range o.records {
			id, _ := rec["ClientRequestID"].(string)
			got[id]++
			ts := times[id]
			if i == 0 || ts.Before(first) {
				first = ts
			}
			if i == 0 || ts.After(last) {
				last = ts
			}
		}
		const layout = "20060102T150405Z"
		if o.first != first.UTC().Format(layout) || o.last != last.UTC().Format(layout) {
			t.Errorf("object in %s named %s–%s, its records span %s–%s", o.dir, o.first, o.last, first.UTC().Format(layout), last.UTC().Format(layout))
		}
	}
	for id := range times {
		if got[id] != 1 {
			t.Fatalf("record %s delivered %d times", id, got[id])
		}
	}
	if len(got) != len(times) {
		t.Fatalf("%d distinct records delivered, want %d", len(got), len(times))
	}
}

// TestPartitionByDateAndHour: hive partitions dt=<date>/hour=<hour> from each record's own event time;
// input batches spanning midnight become objects in both days' partitions.
func TestPartitionByDateAndHour(t *testing.T) {
	input := filepath.Join(t.TempDir(), "in.ndjson")
	times := partitionInput(t, input, 2400)
	out := runPartitioned(t, "part-hour", input, "[EdgeStartTimestamp, ClientRequestID, ClientRequestHost, SecAction]",
		"  partition: {by: [date, hour]}\n  batching: {count: 700}\n")
	objs := readPartitioned(t, out, ".log.gz")
	dirs := map[string]int{}
	for _, o := range objs {
		dirs[o.dir]++
		for _, rec := range o.records {
			ts := times[rec["ClientRequestID"].(string)].UTC()
			if want := ts.Format("dt=2006-01-02/hour=15"); o.dir != want {
				t.Errorf("record at %s in %s, want %s", ts, o.dir, want)
			}
		}
	}
	if len(dirs) != 2 || dirs["dt=2026-11-24/hour=23"] == 0 || dirs["dt=2026-11-25/hour=00"] == 0 {
		t.Fatalf("partitions %v, want the two hours around midnight", dirs)
	}
	checkAll(t, objs, times, "part-hour")
}

// TestPartitionByFieldZstd: plain partitions by a field's value, escaped for keys (a missing value is
// "-"), with zstd objects read back by the zstd command.
func TestPartitionByFieldZstd(t *testing.T) {
	input := filepath.Join(t.TempDir(), "in.ndjson")
	times := partitionInput(t, input, 2000)
	out := runPartitioned(t, "part-host", input, "[EdgeStartTimestamp, ClientRequestID, ClientRequestHost, SecAction]",
		"  compression: zstd\n  compression_level: 19\n  partition: {by: [SecAction, ClientRequestHost], style: plain}\n")
	objs := readPartitioned(t, out, ".log.zst")
	dirs := map[string]bool{}
	for _, o := range objs {
		dirs[o.dir] = true
		for _, rec := range o.records {
			action, _ := rec["SecAction"].(string)
			if action == "" {
				action = "-" // missing in the input: esa_fields delivers "-"
			}
			if want := hostDir(action, rec["ClientRequestHost"].(string)); o.dir != want {
				t.Errorf("record %v in %s, want %s", rec, o.dir, want)
			}
		}
	}
	// deny, monitor and - for each of three hosts.
	if len(dirs) != 9 || !dirs["-/odd%20host%2F%C3%BC"] || !dirs["deny/a.example.com"] {
		t.Errorf("partitions %v", dirs)
	}
	checkAll(t, objs, times, "part-host")
}

// hostDir is the plain partition of an action and a host as the keys escape it.
func hostDir(action, host string) string {
	var b strings.Builder
	for _, c := range []byte(host) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return action + "/" + b.String()
}

// TestPartitionWithoutTimeField: partitions by date and hour when the task does not deliver the time
// field: each record still goes to the partition of its own event time.
func TestPartitionWithoutTimeField(t *testing.T) {
	input := filepath.Join(t.TempDir(), "in.ndjson")
	times := partitionInput(t, input, 1500)
	out := runPartitioned(t, "part-notime", input, "[ClientRequestID, ClientRequestHost]",
		"  partition: {by: [date, hour], style: plain}\n")
	objs := readPartitioned(t, out, ".log.gz")
	dirs := map[string]bool{}
	for _, o := range objs {
		dirs[o.dir] = true
		for _, rec := range o.records {
			if _, ok := rec["EdgeStartTimestamp"]; ok {
				t.Fatalf("the time field was delivered: %v", rec)
			}
			ts := times[rec["ClientRequestID"].(string)].UTC()
			if want := ts.Format("2006-01-02/15"); o.dir != want {
				t.Errorf("record at %s in %s, want %s", ts, o.dir, want)
			}
		}
	}
	if len(dirs) != 2 {
		t.Errorf("partitions %v", dirs)
	}
	checkAll(t, objs, times, "part-notime")
}

// TestPartitionBundleWithoutTimeField: the translation of a task partitioned by date that does not
// deliver the time field bundles its records (esa_fields bundle: true), and the translated config,
// run as it is, files each record of bundles spanning midnight under the date of its own event time.
func TestPartitionBundleWithoutTimeField(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "in.ndjson")
	times := partitionInput(t, input, 2500)
	out := filepath.Join(dir, "out")
	task := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(task, []byte(fmt.Sprintf(`name: part-bundle
category: access
fields: [ClientRequestID, ClientRequestHost]
source: {type: file, paths: [%q]}
destination:
  type: local
  path: %q
  partition: {by: [date]}
`, input, out)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir}, "translate", task)
	if res.ExitCode != 0 {
		t.Fatalf("translate: exit %d\n%s", res.ExitCode, res.Output())
	}
	var conf struct {
		Pipeline struct {
			Processors []map[string]map[string]any `yaml:"processors"`
		} `yaml:"pipeline"`
	}
	if err := yaml.Unmarshal([]byte(res.Stdout), &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Pipeline.Processors) != 1 || conf.Pipeline.Processors[0]["esa_fields"]["bundle"] != true {
		t.Fatalf("esa_fields does not bundle: %v", conf.Pipeline.Processors)
	}
	confPath := filepath.Join(dir, "benthos.yaml")
	if err := os.WriteFile(confPath, []byte(res.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", "-c", confPath); res.ExitCode != 0 {
		t.Fatalf("run -c: exit %d\n%s", res.ExitCode, res.Output())
	}
	objs := readPartitioned(t, out, ".log.gz")
	dirs := map[string]int{}
	for _, o := range objs {
		for _, rec := range o.records {
			if _, ok := rec["EdgeStartTimestamp"]; ok {
				t.Fatalf("the time field was delivered: %v", rec)
			}
			dirs[o.dir]++
			ts := times[rec["ClientRequestID"].(string)].UTC()
			if want := ts.Format("dt=2006-01-02"); o.dir != want {
				t.Errorf("record at %s in %s, want %s", ts, o.dir, want)
			}
		}
	}
	if len(dirs) != 2 || dirs["dt=2026-11-24"] == 0 || dirs["dt=2026-11-25"] == 0 {
		t.Fatalf("records by partition %v, want both dates", dirs)
	}
	checkAll(t, objs, times, "part-bundle")
}
