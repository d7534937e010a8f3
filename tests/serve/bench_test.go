package serve

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	esa "github.com/alibabacloud-go/esa-20240910/v3/client"

	"github.com/esa-connect/esa-connect/internal/benchinput"
	"github.com/esa-connect/esa-connect/plugins/httpout"
)

// benchFields are the 15 fields of the project's memory and ingest benchmarks.
const benchFields = "EdgeStartTimestamp,ClientRequestID,ClientIP,ClientCountryCode,ClientRequestHost,ClientRequestMethod," +
	"ClientRequestPath,ClientRequestQuery,ClientRequestUserAgent,EdgeResponseStatusCode,EdgeResponseBytes,EdgeResponseTime," +
	"EdgeCacheStatus,OriginResponseStatusCode,SecAction"

// BenchmarkServeIngest measures serve's ingest: clients POST gzip NDJSON requests of 1,000 access
// records (from the cached benchmark input) to /v1/sites/7301/logs/access, where 1 or 10 online tasks
// of the site each select 15 fields and deliver to an HTTP server (gzip). Opt-in:
//
//	go test -run '^$' -bench ServeIngest -benchtime 1x -timeout 30m ./tests/serve/
//
// ESA_SERVE_BENCH_RECORDS sets the records (default 200,000), ESA_SERVE_BENCH_CLIENTS the clients
// (default 4). Reported: input records/s acknowledged (every task delivered them), records/s delivered
// summed over the tasks, serve's peak RSS and its CPU time per million input records.
func BenchmarkServeIngest(b *testing.B) {
	n, clients := benchEnv(b, "ESA_SERVE_BENCH_RECORDS", 200_000), benchEnv(b, "ESA_SERVE_BENCH_CLIENTS", 4)
	input, err := benchinput.Ensure("", 1_000_000, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	bodies := benchBodies(b, input, n, 1000)
	for _, tasks := range []int{1, 10} {
		b.Run(fmt.Sprintf("tasks=%d", tasks), func(b *testing.B) {
			for range b.N {
				r := runServeIngest(b, bodies, n, tasks, clients)
				b.ReportMetric(float64(n)/r.acked.Seconds(), "input-records/s")
				b.ReportMetric(float64(n*tasks)/r.acked.Seconds(), "delivered-records/s")
				b.ReportMetric(r.peakMB, "peak-MB")
				b.ReportMetric(r.cpu.Seconds()/(float64(n)/1e6), "cpu-s/M-records")
			}
		})
	}
}

func benchEnv(b *testing.B, name string, def int) int {
	n, err := benchinput.EnvInt(name, def)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func benchBodies(b *testing.B, input string, n, per int) [][]byte {
	bodies, err := benchinput.GzipBodies(input, n, per, 0)
	if err != nil {
		b.Fatal(err)
	}
	return bodies
}

type serveRun struct {
	acked  time.Duration
	peakMB float64
	cpu    time.Duration
}

var vmHWM = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)

func runServeIngest(b *testing.B, bodies [][]byte, n, tasks, clients int) serveRun {
	var mu sync.Mutex
	got := map[string]int{}
	rc := &httpout.Receiver{OnBatch: func(r *http.Request, _ []byte, recs [][]byte) error {
		mu.Lock()
		got[r.URL.Path] += len(recs)
		mu.Unlock()
		return nil
	}}
	sink := httptest.NewServer(rc)
	defer sink.Close()
	s := startServe(b, b.TempDir())
	cl := s.client(b, keyID, keySecret)
	for i := range tasks {
		name := fmt.Sprintf("bench%d", i)
		req := httpTask(name, benchFields, sink.URL+"/t/"+name)
		req.HttpDelivery.SetCompress("gzip")
		if _, err := cl.CreateSiteDeliveryTask(req); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	if err := benchinput.PostAll("http://"+s.addr+sitePath("access"), bodies, clients, hdr); err != nil {
		b.Fatalf("a request failed: %v\n%s", err, s.p.Stderr())
	}
	acked := time.Since(start)
	mu.Lock()
	for i := range tasks {
		if c := got[fmt.Sprintf("/t/bench%d", i)]; c != n {
			b.Errorf("task bench%d delivered %d of %d records", i, c, n)
		}
	}
	mu.Unlock()
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.p.Cmd.Process.Pid))
	var peak float64
	if m := vmHWM.FindSubmatch(status); m != nil {
		kb, _ := strconv.ParseFloat(string(m[1]), 64)
		peak = kb / 1024
	}
	if err := s.p.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	s.p.Wait(b, 2*time.Minute)
	var cpu time.Duration
	if ru, ok := s.p.Cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return serveRun{acked: acked, peakMB: peak, cpu: cpu}
}

// BenchmarkServeAPI measures the latency of ESA API calls through the official SDK (signing
// included): CreateSiteDeliveryTask (validation, the destination check, the task's stream started,
// the commit), GetSiteDeliveryTask and ListSiteDeliveryTasks with 50 tasks. Opt-in, like
// BenchmarkServeIngest. Reported: the median of each, in milliseconds.
func BenchmarkServeAPI(b *testing.B) {
	sink := httptest.NewServer(&httpout.Receiver{})
	defer sink.Close()
	for range b.N {
		s := startServe(b, b.TempDir())
		cl := s.client(b, keyID, keySecret)
		var create, get, list []time.Duration
		for i := range 50 {
			name := fmt.Sprintf("api%02d", i)
			t0 := time.Now()
			if _, err := cl.CreateSiteDeliveryTask(httpTask(name, benchFields, sink.URL+"/t/"+name)); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := cl.GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).SetSiteId(site).SetTaskName(name)); err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			if _, err := cl.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(site).SetPageSize(100)); err != nil {
				b.Fatal(err)
			}
			create, get, list = append(create, t1.Sub(t0)), append(get, t2.Sub(t1)), append(list, time.Since(t2))
		}
		b.ReportMetric(median(create), "create-ms")
		b.ReportMetric(median(get), "get-ms")
		b.ReportMetric(median(list), "list-50-ms")
		_ = s.p.Signal(syscall.SIGTERM)
		s.p.Wait(b, 2*time.Minute)
	}
}

func median(d []time.Duration) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[len(d)/2].Microseconds()) / 1000
}
