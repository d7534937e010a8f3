package s3

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/tests/servers/s3test"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

var hostRE = regexp.MustCompile(`"ClientRequestHost":"([^"]+)"`)

var partKeyRE = regexp.MustCompile(`^part/(dt=(\d{4}-\d{2}-\d{2})/ClientRequestHost=([a-z0-9.]+))/e2e-part_(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_\d+_[0-9a-f]{8}\.log\.gz$`)

// TestRunPartitionedByDateAndHost: an S3-compatible store (versitygw) with hive partitions by the UTC
// date and a field (dt=<date>/ClientRequestHost=<host>/), gzip at level 1: each record is in the
// partition of its own time and host, the input's batches (which span a UTC midnight) become objects
// in both days, every PUT says Content-Encoding: gzip, and every record arrives once.
func TestRunPartitionedByDateAndHost(t *testing.T) {
	srv := s3test.Start(t)
	px := s3test.NewProxy(t, srv)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	in, want := input(t, dir, 4000)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-part", fmt.Sprintf("{type: file, paths: [%q]}", in), "s3_compatible", fmt.Sprintf(`  bucket_path: logs/part
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
  compression_level: 1
  partition: {by: [date, ClientRequestHost], max_open: 4}
`, px.URL), token("logs", "part", "e2e-part")))
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv(), Timeout: 3 * time.Minute}, "run", task)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	objs := readObjects(t, admin, "logs", "part/")
	byID := map[int][]byte{}
	for _, w := range want {
		n, _ := strconv.Atoi(string(idRE.FindSubmatch(w)[1]))
		byID[n] = w
	}
	seen := map[int]bool{}
	dates := map[string]bool{}
	hosts := map[string]bool{}
	for _, o := range objs {
		if o.ContentType != "application/x-ndjson" || o.ContentEncoding != "gzip" {
			t.Errorf("%s: Content-Type %q, Content-Encoding %q", o.Key, o.ContentType, o.ContentEncoding)
		}
		m := partKeyRE.FindStringSubmatch(o.Key)
		if m == nil {
			t.Fatalf("key %q is not part/dt=<date>/ClientRequestHost=<host>/<task>_<first>_<last>_<seq>_<rand>.log.gz", o.Key)
		}
		dates[m[2]], hosts[m[3]] = true, true
		var first, last time.Time
		for i, r := range o.Records {
			ts, err := time.Parse(time.RFC3339, string(tsRE.FindSubmatch(r)[1]))
			if err != nil {
				t.Fatal(err)
			}
			if ts.UTC().Format("2006-01-02") != m[2] || string(hostRE.FindSubmatch(r)[1]) != m[3] {
				t.Errorf("%s holds %s", o.Key, r)
			}
			if i == 0 || ts.Before(first) {
				first = ts
			}
			if i == 0 || ts.After(last) {
				last = ts
			}
			n, _ := strconv.Atoi(string(idRE.FindSubmatch(r)[1]))
			if w, ok := byID[n]; !ok || !bytes.Equal(w, r) || seen[n] {
				t.Fatalf("%s: record %s unexpected or repeated", o.Key, r)
			}
			seen[n] = true
		}
		if m[4] != first.UTC().Format("20060102T150405Z") || m[5] != last.UTC().Format("20060102T150405Z") {
			t.Errorf("%s: its records span %s–%s", o.Key, first.UTC(), last.UTC())
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d of %d records delivered", len(seen), len(want))
	}
	if len(dates) != 2 || len(hosts) != 7 {
		t.Errorf("dates %v, hosts %v: want 2 dates and 7 hosts", dates, hosts)
	}
	puts := 0
	for _, r := range px.Requests() {
		if r.Method == http.MethodPut && strings.HasPrefix(r.Path, "/logs/part/dt=") {
			puts++
			if ce := r.Header.Get("Content-Encoding"); ce != "gzip" {
				t.Errorf("PUT %s with Content-Encoding %q", r.Path, ce)
			}
		}
	}
	if puts < len(objs) {
		t.Fatalf("saw %d PUTs for %d objects", puts, len(objs))
	}
}

// TestRunZstd: zstd objects in the default layout (<path>/<YYYYMMDD>/...log.zst, the date of the
// first record) with Content-Encoding: zstd, read back by the zstd command.
func TestRunZstd(t *testing.T) {
	srv := s3test.Start(t)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	in, want := input(t, dir, 2500)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-zstd", fmt.Sprintf("{type: file, paths: [%q]}", in), "s3_compatible", fmt.Sprintf(`  bucket_path: logs/z
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
  compression: zstd
`, srv.URL), token("logs", "z", "e2e-zstd")))
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv(), Timeout: 3 * time.Minute}, "run", task)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	var objs []object
	for _, o := range rawObjects(t, admin, "logs", "z/") {
		if !strings.HasSuffix(o.Key, ".log.zst") || o.ContentEncoding != "zstd" {
			t.Errorf("%s: Content-Encoding %q", o.Key, o.ContentEncoding)
		}
		body := unzstd(t, o.Key, o.Body)
		if len(body) == 0 || body[len(body)-1] != '\n' {
			t.Fatalf("%s: empty or no final newline", o.Key)
		}
		// checkObjects reads the gzip layout: give it the same object under a .log.gz name.
		objs = append(objs, object{Key: strings.TrimSuffix(o.Key, ".log.zst") + ".log.gz", ContentType: o.ContentType,
			ContentEncoding: "gzip", Records: bytes.Split(body[:len(body)-1], []byte("\n"))})
	}
	checkObjects(t, objs, want, "z", "e2e-zstd")
}
