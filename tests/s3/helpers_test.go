// Package s3 holds the end-to-end tests of the S3 and S3-compatible destinations: esa-connect run of a
// task against a real S3 server (versitygw, started by the tests), then every object read back and
// compared record by record with what the processors must produce.
package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/s3verified"
	"github.com/esa-connect/esa-connect/tests/servers/s3test"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// ownershipSecret is the ESA_OWNERSHIP_SECRET of the tests; no output may ever contain it.
const ownershipSecret = "e2e-ownership-secret-5c0ffee"

// input writes n access records to dir/in.ndjson and returns its path and the records esa_fields must
// deliver for the task of taskYAML (fields below, filter EdgeResponseStatusCode >= 300), in order.
//
// Records vary on purpose: status codes as numbers and as a numeric string ("502" → 502), times on
// both sides of a UTC midnight (two date directories), fields that are not selected, and selected
// fields that are missing (ClientRegionCode → "-", ClientSrcPort → -1).
func input(t *testing.T, dir string, n int) (string, [][]byte) {
	t.Helper()
	var in bytes.Buffer
	var want [][]byte
	statuses := []string{`200`, `404`, `"502"`, `301`, `204`}
	for i := 0; i < n; i++ {
		// 07:59:xx and 08:00:xx at +08:00 are 23:59:xx on the 24th and 00:00:xx on the 25th in UTC.
		local := time.Date(2026, 11, 25, 7, 59, 0, 0, time.FixedZone("", 8*3600)).Add(time.Duration(i%120) * time.Second)
		ts := local.Format(time.RFC3339)
		status := statuses[i%len(statuses)]
		fmt.Fprintf(&in, `{"ClientIP":"10.0.%d.%d","EdgeStartTimestamp":%q,"ClientRequestID":"req-%07d","EdgeResponseStatusCode":%s,"ClientRequestHost":"h%d.example.com","ClientRequestPath":"/p/%d","Unselected":{"x":1}}`+"\n",
			i/256%256, i%256, ts, i, status, i%7, i)
		code := strings.Trim(status, `"`)
		if code >= "300" {
			want = append(want, fmt.Appendf(nil, `{"EdgeStartTimestamp":%q,"ClientRequestID":"req-%07d","EdgeResponseStatusCode":%s,"ClientRequestHost":"h%d.example.com","ClientRegionCode":"-","ClientSrcPort":-1}`,
				ts, i, code, i%7))
		}
	}
	p := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(p, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, want
}

const taskFields = `[EdgeStartTimestamp, ClientRequestID, EdgeResponseStatusCode, ClientRequestHost, ClientRegionCode, ClientSrcPort]`

// taskYAML is a task reading inPath and delivering to an S3-compatible destination; dest holds the
// destination lines after `type:` (indented by two spaces).
func taskYAML(name, source, destType, dest, token string) string {
	y := fmt.Sprintf(`name: %s
category: access
fields: %s
sampling_rate: 100
filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 300}
source: %s
destination:
  type: %s
%s`, name, taskFields, source, destType, dest)
	if token != "" {
		y += "ownership_token: " + token + "\n"
	}
	return y
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// adminClient is a path-style client of the server with the root credentials.
func adminClient(t *testing.T, srv *s3test.Server, region string) *s3.Client {
	t.Helper()
	c, err := s3verified.NewClient(context.Background(), s3verified.Config{BucketPath: "x", Endpoint: srv.URL, ForcePathStyle: true,
		Region: region, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createBucket(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
}

// object is one delivered object read back.
type object struct {
	Key, ContentType, ContentEncoding, SSE string
	Records                                [][]byte
}

// readObjects lists every object under prefix (except ownership files) and reads, gunzips and splits
// each.
func readObjects(t *testing.T, c *s3.Client, bucket, prefix string) []object {
	t.Helper()
	var out []object
	for _, ro := range rawObjects(t, c, bucket, prefix) {
		zr, err := gzip.NewReader(bytes.NewReader(ro.Body))
		if err != nil {
			t.Fatalf("%s is not gzip: %v", ro.Key, err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: gunzip: %v", ro.Key, err)
		}
		if len(raw) == 0 || raw[len(raw)-1] != '\n' {
			t.Fatalf("%s: NDJSON does not end with a newline", ro.Key)
		}
		obj := object{Key: ro.Key, ContentType: ro.ContentType, ContentEncoding: ro.ContentEncoding, SSE: ro.SSE}
		for _, line := range bytes.Split(raw[:len(raw)-1], []byte("\n")) {
			obj.Records = append(obj.Records, line)
		}
		out = append(out, obj)
	}
	return out
}

var keyRE = regexp.MustCompile(`^(.*)/(\d{8})/([A-Za-z0-9_-]+)_(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_(\d+)_([0-9a-f]{8})\.log\.gz$`)

var tsRE = regexp.MustCompile(`"EdgeStartTimestamp":"([^"]+)"`)

var idRE = regexp.MustCompile(`"ClientRequestID":"req-(\d+)"`)

// readBatch is the number of records esa_file reads at a time: the pipeline processes input batches
// in parallel, so an object may hold several input batches, but each one's records stay in order.
const readBatch = 1000

// checkObjects checks that the objects hold exactly the records of want, each once, byte for byte
// (field order, types, sentinels), with the records of each input batch in input order within an
// object, and that every key follows docs/destinations.md#object-layout (date directory and first/last
// times from the records, task name, sequence, random suffix).
func checkObjects(t *testing.T, objs []object, want [][]byte, path, task string) {
	t.Helper()
	byID := make(map[int]int, len(want)) // input line → index in want
	for i, w := range want {
		m := idRE.FindSubmatch(w)
		n, _ := strconv.Atoi(string(m[1]))
		byID[n] = i
	}
	seen := make([]bool, len(want))
	for _, o := range objs {
		if o.ContentType != "application/x-ndjson" || o.ContentEncoding != "gzip" {
			t.Errorf("%s: Content-Type %q, Content-Encoding %q", o.Key, o.ContentType, o.ContentEncoding)
		}
		m := keyRE.FindStringSubmatch(o.Key)
		if m == nil || m[1] != path || m[3] != task {
			t.Fatalf("key %q does not follow <path>/<YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz", o.Key)
		}
		var first, last time.Time
		lastInBlock := map[int]int{}
		for i, r := range o.Records {
			tm := tsRE.FindSubmatch(r)
			if tm == nil {
				t.Fatalf("%s: record without EdgeStartTimestamp: %s", o.Key, r)
			}
			ts, err := time.Parse(time.RFC3339, string(tm[1]))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 || ts.Before(first) {
				first = ts
			}
			if i == 0 || ts.After(last) {
				last = ts
			}
			idm := idRE.FindSubmatch(r)
			if idm == nil {
				t.Fatalf("%s: record %d has no request id: %s", o.Key, i, r)
			}
			line, _ := strconv.Atoi(string(idm[1]))
			wi, ok := byID[line]
			if !ok {
				t.Fatalf("%s: record %d should have been filtered out: %s", o.Key, i, r)
			}
			if !bytes.Equal(r, want[wi]) {
				t.Fatalf("%s: record %d is\n%s\nwant\n%s", o.Key, i, r, want[wi])
			}
			if seen[wi] {
				t.Fatalf("%s: record %s delivered twice", o.Key, r)
			}
			seen[wi] = true
			if prev, ok := lastInBlock[line/readBatch]; ok && prev > line {
				t.Fatalf("%s: input line %d comes after line %d of the same input batch", o.Key, line, prev)
			}
			lastInBlock[line/readBatch] = line
		}
		if m[2] != first.UTC().Format("20060102") || m[4] != first.UTC().Format("20060102T150405Z") || m[5] != last.UTC().Format("20060102T150405Z") {
			t.Errorf("%s: want date %s, first %s, last %s", o.Key, first.UTC().Format("20060102"), first.UTC().Format("20060102T150405Z"), last.UTC().Format("20060102T150405Z"))
		}
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("record %d was not delivered: %s", i, want[i])
		}
	}
}

// token is a valid ownership token for bucket/path/task, as the challenge object would hold.
func token(bucket, path, task string) string {
	return config.OwnershipToken(ownershipSecret, bucket, path, task, time.Now().Unix(), "5eed5eed")
}

// noSecrets fails when out contains the ownership secret or the S3 secret key.
func noSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{ownershipSecret, s3test.SecretKey} {
		if strings.Contains(out, s) {
			t.Fatalf("output contains a secret:\n%s", out)
		}
	}
}

// baseEnv is the environment of an esa-connect run: credentials by reference, the ownership secret,
// and no proxy unless a test sets one.
func baseEnv(extra ...string) []string {
	return append([]string{
		"E2E_S3_KEY=" + s3test.AccessKey, "E2E_S3_SECRET=" + s3test.SecretKey,
		"ESA_OWNERSHIP_SECRET=" + ownershipSecret,
		"HTTP_PROXY=", "http_proxy=", "NO_PROXY=", "no_proxy=",
	}, extra...)
}

// rawObject is an object as stored: its compressed body.
type rawObject struct {
	Key, ContentType, ContentEncoding, SSE string
	Body                                   []byte
}

// rawObjects lists every object under prefix (except ownership files) and reads each as it is stored.
func rawObjects(t *testing.T, c *s3.Client, bucket, prefix string) []rawObject {
	t.Helper()
	ctx := context.Background()
	var out []rawObject
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if strings.Contains(aws.ToString(o.Key), "esa-ownership-") {
				continue
			}
			g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(g.Body)
			g.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rawObject{Key: aws.ToString(o.Key), ContentType: aws.ToString(g.ContentType),
				ContentEncoding: aws.ToString(g.ContentEncoding), SSE: string(g.ServerSideEncryption), Body: body})
		}
	}
	return out
}

// unzstd decodes a zstd body (testutil.Unzstd).
func unzstd(t *testing.T, name string, raw []byte) []byte { return testutil.Unzstd(t, name, raw) }
