// Package oss holds the end-to-end tests of the OSS destination: esa-connect run of a task against the
// OSS protocol test server (which verifies every request's signature), then every object read back
// and compared record by record with what the processors must produce.
package oss

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/esa-connect/esa-connect/tests/servers/osstest"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// input writes n records and returns the file and what esa_fields delivers for fields
// [EdgeStartTimestamp, ClientRequestID, EdgeResponseStatusCode, ClientRequestHost, ClientSrcPort]
// with the filter EdgeResponseStatusCode >= 400.
func input(t *testing.T, dir string, n int) (string, [][]byte) {
	t.Helper()
	var in bytes.Buffer
	var want [][]byte
	statuses := []string{`200`, `404`, `"503"`, `302`}
	for i := 0; i < n; i++ {
		ts := time.Date(2026, 11, 25, 7, 59, 30, 0, time.FixedZone("", 8*3600)).Add(time.Duration(i%90) * time.Second).Format(time.RFC3339)
		st := statuses[i%len(statuses)]
		fmt.Fprintf(&in, `{"EdgeStartTimestamp":%q,"ClientRequestHost":"h.example.com","ClientRequestID":"id-%06d","EdgeResponseStatusCode":%s,"ClientSrcPort":"%d"}`+"\n", ts, i, st, 1000+i%5000)
		if code := strings.Trim(st, `"`); code >= "400" {
			want = append(want, fmt.Appendf(nil, `{"EdgeStartTimestamp":%q,"ClientRequestID":"id-%06d","EdgeResponseStatusCode":%s,"ClientRequestHost":"h.example.com","ClientSrcPort":%d}`, ts, i, code, 1000+i%5000))
		}
	}
	p := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(p, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, want
}

func task(name, in, endpoint, extra string) string {
	return fmt.Sprintf(`name: %s
category: access
fields: [EdgeStartTimestamp, ClientRequestID, EdgeResponseStatusCode, ClientRequestHost, ClientSrcPort]
filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 400}
source: {type: file, paths: [%q]}
destination:
  type: oss
  bucket: logs
  region: cn-hangzhou
  endpoint: %s
  prefix: esa/oss
%s`, name, in, endpoint, extra)
}

var keyRE = regexp.MustCompile(`^esa/oss/(\d{8})/([a-z0-9-]+)_(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_\d+_[0-9a-f]{8}\.log\.gz$`)

// readBack lists the bucket through the SDK (ListObjectsV2, pages of 5) and reads every object with
// GetObject, checking names and headers, and returns the records of each object.
func readBack(t *testing.T, s *osstest.Server, task string) [][][]byte {
	t.Helper()
	c, err := alioss.New(s.Endpoint, osstest.AccessKeyID, osstest.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("logs")
	var out [][][]byte
	tok := ""
	for {
		opts := []alioss.Option{alioss.Prefix("esa/oss/"), alioss.MaxKeys(5)}
		if tok != "" {
			opts = append(opts, alioss.ContinuationToken(tok))
		}
		page, err := b.ListObjectsV2(opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			m := keyRE.FindStringSubmatch(o.Key)
			if m == nil || m[2] != task {
				t.Fatalf("key %q does not follow the object layout", o.Key)
			}
			meta, err := b.GetObjectDetailedMeta(o.Key)
			if err != nil {
				t.Fatal(err)
			}
			if meta.Get("Content-Type") != "application/x-ndjson" || meta.Get("Content-Encoding") != "gzip" {
				t.Errorf("%s: Content-Type %q, Content-Encoding %q", o.Key, meta.Get("Content-Type"), meta.Get("Content-Encoding"))
			}
			// Read the stored bytes (the Go HTTP client may undo Content-Encoding on GET).
			var body []byte
			for _, so := range s.Objects("logs", o.Key) {
				if so.Key == o.Key {
					body = so.Body
				}
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s is not gzip: %v", o.Key, err)
			}
			raw, _ := io.ReadAll(zr)
			if len(raw) == 0 || raw[len(raw)-1] != '\n' {
				t.Fatalf("%s: empty or no final newline", o.Key)
			}
			out = append(out, bytes.Split(raw[:len(raw)-1], []byte("\n")))
		}
		if !page.IsTruncated {
			break
		}
		tok = page.NextContinuationToken
	}
	return out
}

var idRE = regexp.MustCompile(`"ClientRequestID":"id-(\d+)"`)

// check: every wanted record exactly once, byte for byte, and within an object the records of each
// input batch (esa_file reads 1,000 lines at a time; batches are processed in parallel) in input order.
func check(t *testing.T, objs [][][]byte, want [][]byte) {
	t.Helper()
	byID := map[int]int{}
	for i, w := range want {
		n, _ := strconv.Atoi(string(idRE.FindSubmatch(w)[1]))
		byID[n] = i
	}
	seen := make([]bool, len(want))
	for _, recs := range objs {
		lastInBlock := map[int]int{}
		for i, r := range recs {
			m := idRE.FindSubmatch(r)
			if m == nil {
				t.Fatalf("record %d without id: %s", i, r)
			}
			line, _ := strconv.Atoi(string(m[1]))
			wi, ok := byID[line]
			if !ok || !bytes.Equal(r, want[wi]) {
				t.Fatalf("record %d of an object is\n%s\nnot an expected record", i, r)
			}
			if seen[wi] {
				t.Fatalf("record %s delivered twice", r)
			}
			seen[wi] = true
			if prev, ok := lastInBlock[line/1000]; ok && prev > line {
				t.Fatalf("line %d after line %d of the same input batch", line, prev)
			}
			lastInBlock[line/1000] = line
		}
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("record %d (%s) was not delivered", i, want[i])
		}
	}
}

func env(extra ...string) []string {
	return append([]string{"ALIBABA_CLOUD_ACCESS_KEY_ID=", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=", "ALIBABA_CLOUD_SECURITY_TOKEN=", "HTTP_PROXY=", "http_proxy="}, extra...)
}

// TestRunOSS: file → processors → OSS with static credentials by reference; small batches, one of
// them large enough for a multipart upload.
func TestRunOSS(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	dir := t.TempDir()
	in, want := input(t, dir, 4000)
	p := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(p, []byte(task("e2e-oss", in, s.Addr, `  access_key_id: ${E2E_OSS_KEY}
  access_key_secret: ${E2E_OSS_SECRET}
  batching: {count: 450}
`)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env("E2E_OSS_KEY="+osstest.AccessKeyID, "E2E_OSS_SECRET="+osstest.AccessKeySecret), Timeout: 2 * time.Minute}, "run", p)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	if strings.Contains(res.Output(), osstest.AccessKeySecret) {
		t.Fatal("the secret was printed")
	}
	objs := readBack(t, s, "e2e-oss")
	if len(objs) < 2 {
		t.Fatalf("%d objects for %d records in batches of 450", len(objs), len(want))
	}
	check(t, objs, want)
}

// TestRunOSSSTSFromEnvironment: credentials from ALIBABA_CLOUD_* including the STS token.
func TestRunOSSSTSFromEnvironment(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	s.AddCredentials("STS.e2e", "sts-e2e-secret", "sts-e2e-token")
	dir := t.TempDir()
	in, want := input(t, dir, 500)
	p := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(p, []byte(task("e2e-sts", in, s.Addr, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env("ALIBABA_CLOUD_ACCESS_KEY_ID=STS.e2e", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=sts-e2e-secret", "ALIBABA_CLOUD_SECURITY_TOKEN=sts-e2e-token"), Timeout: 2 * time.Minute}, "run", p)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	check(t, readBack(t, s, "e2e-sts"), want)
	var withToken int
	for _, r := range s.Requests() {
		if r.Header.Get("X-Oss-Security-Token") == "sts-e2e-token" {
			withToken++
		}
	}
	if withToken == 0 {
		t.Fatal("no request carried the STS token")
	}
}

// TestRunOSSWrongSecret: the server rejects the signature; the run exits 1 naming the credential.
func TestRunOSSWrongSecret(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	dir := t.TempDir()
	in, _ := input(t, dir, 20)
	p := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(p, []byte(task("e2e-bad", in, s.Addr, `  access_key_id: ${E2E_OSS_KEY}
  access_key_secret: ${E2E_OSS_SECRET}
`)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env("E2E_OSS_KEY="+osstest.AccessKeyID, "E2E_OSS_SECRET=not-the-right-secret"), Timeout: 2 * time.Minute}, "run", p)
	// The key ID is masked (config.MaskKeyID): osstest.AccessKeyID is "LTAItestosskey".
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "esa_oss") || !strings.Contains(res.Stderr, `access key secret does not match access_key_id "LTAI*******key"`) {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	for _, secret := range []string{"not-the-right-secret", osstest.AccessKeyID} {
		if strings.Contains(res.Output(), secret) {
			t.Fatalf("%q was printed:\n%s", secret, res.Output())
		}
	}
	for _, r := range s.Requests() {
		if r.Method == http.MethodPut && r.Status == http.StatusOK {
			t.Fatal("an object was stored with a wrong secret")
		}
	}
}

// unzstd decodes a zstd body (testutil.Unzstd).
func unzstd(t *testing.T, name string, raw []byte) []byte { return testutil.Unzstd(t, name, raw) }

var partKeyRE = regexp.MustCompile(`^esa/oss/(dt=\d{4}-\d{2}-\d{2}/hour=\d{2})/e2e-oss-part_(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_\d+_[0-9a-f]{8}\.log\.zst$`)

var tsRE = regexp.MustCompile(`"EdgeStartTimestamp":"([^"]+)"`)

// TestRunOSSPartitionedZstd: hive partitions by date and hour, zstd objects with Content-Encoding
// zstd: the input's batches span a UTC midnight, so each becomes objects in both days' partitions, and
// every record is in the partition of its own time.
func TestRunOSSPartitionedZstd(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	dir := t.TempDir()
	in, want := input(t, dir, 3000)
	p := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(p, []byte(task("e2e-oss-part", in, s.Addr, `  access_key_id: ${E2E_OSS_KEY}
  access_key_secret: ${E2E_OSS_SECRET}
  compression: zstd
  compression_level: 5
  partition: {by: [date, hour]}
  batching: {count: 450}
`)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env("E2E_OSS_KEY="+osstest.AccessKeyID, "E2E_OSS_SECRET="+osstest.AccessKeySecret), Timeout: 2 * time.Minute}, "run", p)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	var objs [][][]byte
	dirs := map[string]int{}
	for _, o := range s.Objects("logs", "esa/oss/") {
		m := partKeyRE.FindStringSubmatch(o.Key)
		if m == nil {
			t.Fatalf("key %q is not <prefix>/dt=<date>/hour=<hour>/<task>_<first>_<last>_<seq>_<rand>.log.zst", o.Key)
		}
		if o.ContentType != "application/x-ndjson" || o.ContentEncoding != "zstd" {
			t.Errorf("%s: Content-Type %q, Content-Encoding %q", o.Key, o.ContentType, o.ContentEncoding)
		}
		dirs[m[1]]++
		raw := unzstd(t, o.Key, o.Body)
		if len(raw) == 0 || raw[len(raw)-1] != '\n' {
			t.Fatalf("%s: empty or no final newline", o.Key)
		}
		recs := bytes.Split(raw[:len(raw)-1], []byte("\n"))
		var first, last time.Time
		for i, r := range recs {
			ts, err := time.Parse(time.RFC3339, string(tsRE.FindSubmatch(r)[1]))
			if err != nil {
				t.Fatal(err)
			}
			if got := ts.UTC().Format("dt=2006-01-02/hour=15"); got != m[1] {
				t.Errorf("%s holds a record of %s", o.Key, got)
			}
			if i == 0 || ts.Before(first) {
				first = ts
			}
			if i == 0 || ts.After(last) {
				last = ts
			}
		}
		if m[2] != first.UTC().Format("20060102T150405Z") || m[3] != last.UTC().Format("20060102T150405Z") {
			t.Errorf("%s: its records span %s–%s", o.Key, first.UTC(), last.UTC())
		}
		objs = append(objs, recs)
	}
	if len(dirs) != 2 || dirs["dt=2026-11-24/hour=23"] < 2 || dirs["dt=2026-11-25/hour=00"] < 2 {
		t.Fatalf("partitions %v: want several objects in each hour around midnight", dirs)
	}
	check(t, objs, want)
}
