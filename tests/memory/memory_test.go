// Package memory measures the peak RSS of `esa-connect run` for every destination, on the two
// workloads of the memory issue, over the cached benchmark input (1,000,000 generated access records
// of about 1.3 KB):
//
//	B: 50 % sample, 15 fields
//	A: B plus a filter that keeps about 2 % (EdgeResponseStatusCode 403, 500, 502, 503 or 504)
//
// to a local directory, an HTTP server (gzip), Kafka (kfake), an S3-compatible store (versitygw), OSS
// (the OSS protocol test server) and SLS (the SLS protocol test server), every server on loopback.
// It is an opt-in benchmark, not a timed test:
//
//	go test -run '^$' -bench PeakRSS -benchtime 1x -timeout 60m ./tests/memory/
//
// Besides the default layout, local-part (gzip) and s3_compatible-part (zstd) partition the objects by
// date, hour and ClientRequestHost (hive style: ten partitions being filled at a time), and
// local-part-notime does so without delivering the time field (EdgeStartTimestamp): each record's
// event time then travels beside it, not in it.
//
// ESA_MEMBENCH_RECORDS changes the number of records (e.g. 5000000 to check that memory is flat in
// the input size); -bench 'PeakRSS/local' picks destinations. Each sub-benchmark reports peak-MB (the
// process's maximum resident set), records/s (input records per wall second) and delivered.
package memory

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/internal/benchinput"
	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/plugins/s3verified"
	"github.com/esa-connect/esa-connect/tests/servers/osstest"
	"github.com/esa-connect/esa-connect/tests/servers/s3test"
	"github.com/esa-connect/esa-connect/tests/servers/slstest"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// The 15 delivered fields, and the 14 without the time field.
const (
	fields       = "[EdgeStartTimestamp, " + otherFields + "]"
	fieldsNoTime = "[" + otherFields + "]"
	otherFields  = `ClientRequestID, ClientIP, ClientCountryCode, ClientRequestHost,
  ClientRequestMethod, ClientRequestPath, ClientRequestQuery, ClientRequestUserAgent, EdgeResponseStatusCode,
  EdgeResponseBytes, EdgeResponseTime, EdgeCacheStatus, OriginResponseStatusCode, SecAction`
)

// workloads are the task lines after the fields, by name.
var workloads = []struct{ name, lines string }{
	{"B", "sampling_rate: 50\n"},
	{"A", "sampling_rate: 50\nfilters:\n  - {field: EdgeResponseStatusCode, op: equals, value: [403, 500, 502, 503, 504]}\n"},
}

const ownershipSecret = "membench-ownership-secret"

// destination is one destination under test: its task lines (the destination block and anything else).
type destination struct {
	name  string
	lines func(b *testing.B, task string) string
}

// notimeDestination is the destination whose task does not deliver the time field.
const notimeDestination = "local-part-notime"

func BenchmarkPeakRSS(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("ESA_MEMBENCH_RECORDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("ESA_MEMBENCH_RECORDS=%q: want a positive number", v)
		}
	}
	input, err := benchinput.Ensure("", n, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	bin := testutil.Binary(b)
	for _, d := range destinations() {
		for _, w := range workloads {
			b.Run(d.name+"/"+w.name, func(b *testing.B) {
				for range b.N {
					dir := b.TempDir()
					task := "mem-" + d.name + "-" + w.name
					fs := fields
					if d.name == notimeDestination {
						fs = fieldsNoTime
					}
					def := fmt.Sprintf("name: %s\ncategory: access\nfields: %s\n%ssource: {type: file, paths: [%q]}\n%s",
						task, fs, w.lines, input, d.lines(b, task))
					path := filepath.Join(dir, "task.yaml")
					if err := os.WriteFile(path, []byte(def), 0o600); err != nil {
						b.Fatal(err)
					}
					r := runMeasured(b, bin, dir, path)
					b.ReportMetric(float64(r.maxRSS)/(1<<20), "peak-MB")
					b.ReportMetric(float64(n)/r.wall.Seconds(), "records/s")
					b.ReportMetric(float64(r.delivered), "delivered")
				}
			})
		}
	}
}

// measured is one run of esa-connect.
type measured struct {
	wall      time.Duration
	maxRSS    int64
	delivered int64
}

var (
	deliveredRE = regexp.MustCompile(`(\d+) delivered, (\d+) dead-lettered, (\d+) not delivered`)
	// peakRE is run's own report of its peak RSS (VmHWM): rusage's ru_maxrss of a child includes the
	// size of this (large) test process at fork, so it cannot be used here.
	peakRE = regexp.MustCompile(`peak memory ([0-9.]+) MB`)
)

// runMeasured runs `esa-connect run task` to its end and reads its peak RSS and summary line.
func runMeasured(b *testing.B, bin, dir, task string) measured {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--log.level", "warn", task)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ESA_HTTP_ADDRESS=127.0.0.1:0", "ESA_OWNERSHIP_SECRET="+ownershipSecret)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("esa-connect run: %v\n%s", err, out.String())
	}
	m := deliveredRE.FindStringSubmatch(out.String())
	if m == nil || m[3] != "0" {
		b.Fatalf("no clean summary line:\n%s", out.String())
	}
	delivered, _ := strconv.ParseInt(m[1], 10, 64)
	if delivered == 0 {
		b.Fatalf("nothing was delivered:\n%s", out.String())
	}
	p := peakRE.FindStringSubmatch(out.String())
	if p == nil {
		b.Fatalf("run did not report its peak memory (only on Linux):\n%s", out.String())
	}
	mb, _ := strconv.ParseFloat(p[1], 64)
	return measured{wall: wall, maxRSS: int64(mb * (1 << 20)), delivered: delivered}
}

// destinations starts each destination's server (once, on first use) and returns the task lines.
func destinations() []destination {
	return []destination{
		{"local", func(b *testing.B, _ string) string {
			return fmt.Sprintf("destination: {type: local, path: %q}\n", b.TempDir())
		}},
		{"local-part", func(b *testing.B, _ string) string {
			return fmt.Sprintf("destination:\n  type: local\n  path: %q\n%s", b.TempDir(), partitioned)
		}},
		{notimeDestination, func(b *testing.B, _ string) string {
			return fmt.Sprintf("destination:\n  type: local\n  path: %q\n%s", b.TempDir(), partitioned)
		}},
		{"http", func(b *testing.B, _ string) string {
			var recs atomic.Int64
			rc := &httpout.Receiver{OnBatch: func(_ *http.Request, _ []byte, r [][]byte) error {
				recs.Add(int64(len(r)))
				return nil
			}}
			srv := httptest.NewServer(rc)
			b.Cleanup(srv.Close)
			return fmt.Sprintf("destination: {type: http, url: %q, compression: gzip}\n", srv.URL+"/ingest")
		}},
		{"kafka", func(b *testing.B, _ string) string {
			c, err := kfake.NewCluster(kfake.SeedTopics(6, "esa"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			return fmt.Sprintf("destination: {type: kafka, topic: esa, brokers: [%q]}\n", c.ListenAddrs()[0])
		}},
		{"s3_compatible", s3Compatible},
		{"s3_compatible-part", func(b *testing.B, task string) string {
			return s3Compatible(b, task) + "  compression: zstd\n" + partitioned
		}},
		{"oss", func(b *testing.B, _ string) string {
			srv := osstest.Start(b)
			srv.CreateBucket("logs")
			return fmt.Sprintf("destination: {type: oss, bucket: logs, region: cn-hangzhou, endpoint: %q, prefix: esa, access_key_id: %s, access_key_secret: %s}\n",
				srv.Endpoint, osstest.AccessKeyID, osstest.AccessKeySecret)
		}},
		{"sls", func(b *testing.B, _ string) string {
			srv := slstest.Start(b, "LTAImembenchkey", "membench-secret")
			srv.AddLogstore("proj", "store")
			srv.Discard(true)
			return fmt.Sprintf("destination: {type: sls, project: proj, logstore: store, region: cn-hangzhou, endpoint: %q, access_key_id: LTAImembenchkey, access_key_secret: membench-secret}\n",
				srv.Endpoint)
		}},
	}
}

// partitioned are the destination lines of the partitioned tasks.
const partitioned = "  partition: {by: [date, hour, ClientRequestHost]}\n"

// s3Compatible starts versitygw with a bucket and returns the destination lines of an S3-compatible
// task (and its ownership token).
func s3Compatible(b *testing.B, task string) string {
	srv := s3test.Start(b)
	c, err := s3verified.NewClient(context.Background(), s3verified.Config{BucketPath: "x", Endpoint: srv.URL,
		ForcePathStyle: true, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		b.Fatal(err)
	}
	token := config.OwnershipToken(ownershipSecret, "logs", "esa", task, time.Now().Unix(), "6d656d62")
	// The destination block comes last: the partitioned task adds its lines to it.
	return fmt.Sprintf(`ownership_token: %s
destination:
  type: s3_compatible
  bucket_path: logs/esa
  endpoint: %s
  region: us-east-1
  force_path_style: true
  access_key_id: %s
  secret_access_key: %s
`, token, srv.URL, s3test.AccessKey, s3test.SecretKey)
}
