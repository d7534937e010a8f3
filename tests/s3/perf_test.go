package s3

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/esa-connect/esa-connect/tests/servers/s3test"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestPerformance measures one esa-connect process delivering generated access records through the
// three processors (sampling 100 %, a filter that keeps about 95 %, 15 fields) to the local S3 server
// at the default object batching. It runs only when ESA_S3_PERF_RECORDS is set, e.g.
//
//	ESA_S3_PERF_RECORDS=1000000 go test ./tests/s3/ -run TestPerformance -v
//
// and reports records/s, uncompressed and compressed MB/s and the peak RSS of the process.
func TestPerformance(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ESA_S3_PERF_RECORDS"))
	if n <= 0 {
		t.Skip("set ESA_S3_PERF_RECORDS to measure")
	}
	srv := s3test.Start(t)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	task := writeFile(t, dir, "task.yaml", fmt.Sprintf(`name: perf
category: access
fields: [EdgeStartTimestamp, ClientRequestID, ClientIP, ClientCountryCode, ClientRequestHost, ClientRequestMethod,
  ClientRequestPath, ClientRequestProtocol, ClientRequestUserAgent, EdgeCacheStatus, EdgeResponseBytes,
  EdgeResponseStatusCode, EdgeServerID, OriginResponseStatusCode, ClientSSLProtocol]
sampling_rate: 100
filters:
  - {field: EdgeResponseStatusCode, op: lt, value: 500}
source: {type: generate, count: %d, seed: 42}
destination:
  type: s3_compatible
  bucket_path: logs/perf
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
%sownership_token: %s
`, n, srv.URL, inflight(), token("logs", "perf", "perf")))
	cmd := exec.Command(testutil.Binary(t), "run", task)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), baseEnv()...)
	out, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Sample the resident set every 250 ms: it must level off, not grow with the number of records.
	stop := make(chan struct{})
	samples := make(chan []int64, 1)
	go func() {
		var s []int64
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				samples <- s
				return
			case <-tick.C:
				if kb := vmRSS(cmd.Process.Pid); kb > 0 {
					s = append(s, kb)
				}
			}
		}
	}()
	err = cmd.Wait()
	elapsed := time.Since(start)
	close(stop)
	rssSamples := <-samples
	if err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("run: %v\n%s", err, b)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := ru.Maxrss // KiB on Linux
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var objects int
	var compressed int64
	var lastWrite time.Time
	p := s3.NewListObjectsV2Paginator(admin, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), Prefix: aws.String("perf/2")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			objects++
			compressed += aws.ToInt64(o.Size)
			if lm := aws.ToTime(o.LastModified); lm.After(lastWrite) {
				lastWrite = lm
			}
		}
	}
	// The uncompressed size: read one object back and scale by its ratio would be approximate, so
	// count exactly by reading every object.
	var raw int64
	var records int
	for _, o := range readObjects(t, admin, "logs", "perf/2") {
		records += len(o.Records)
		for _, r := range o.Records {
			raw += int64(len(r)) + 1
		}
	}
	secs := elapsed.Seconds()
	if d := lastWrite.Sub(start).Seconds() + 1; d > 0 && d < secs {
		secs = d // until the last object was written (1 s resolution), not the exit
	}
	t.Logf("%d generated records → %d delivered in %d objects in %.1f s (process %.1f s, CPU %.1f s)", n, records, objects, secs, elapsed.Seconds(), cpu.Seconds())
	t.Logf("%.0f generated records/s, %.0f delivered records/s", float64(n)/secs, float64(records)/secs)
	t.Logf("%.1f MB/s uncompressed NDJSON (%.1f MB), %.1f MB/s gzip on the wire (%.1f MB)", float64(raw)/1e6/secs, float64(raw)/1e6, float64(compressed)/1e6/secs, float64(compressed)/1e6)
	t.Logf("%.0f delivered records per CPU second", float64(records)/cpu.Seconds())
	t.Logf("peak RSS of esa-connect: %.0f MiB; RSS at 25/50/75/100 %% of the run: %s", float64(rss)/1024, quartiles(rssSamples))
}

// vmRSS is the resident set of pid in KiB, from /proc (0 when unavailable).
func vmRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func quartiles(s []int64) string {
	if len(s) == 0 {
		return "n/a"
	}
	var out []string
	for _, q := range []int{1, 2, 3, 4} {
		out = append(out, fmt.Sprintf("%d MiB", s[min(len(s)-1, len(s)*q/4)]/1024))
	}
	return strings.Join(out, " / ")
}

// inflight is the max_in_flight line from ESA_S3_PERF_MAX_IN_FLIGHT (default: the output's default).
func inflight() string {
	if v := os.Getenv("ESA_S3_PERF_MAX_IN_FLIGHT"); v != "" {
		return "  max_in_flight: " + v + "\n"
	}
	return ""
}
