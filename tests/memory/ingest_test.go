package memory

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/internal/benchinput"
	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// BenchmarkIngest measures the HTTP ingest: clients POST gzip NDJSON requests of 1,000 access records
// (taken from the cached benchmark input, compressed before the clock starts) to `esa-connect run`,
// which selects 15 fields and delivers to an HTTP server (gzip) — with the disk buffer and without
// (memory). It is opt-in:
//
//	go test -run '^$' -bench Ingest -benchtime 1x -timeout 30m ./tests/memory/
//
// ESA_INGEST_RECORDS sets the number of records (default 300,000) and ESA_INGEST_CLIENTS the number of
// clients (default 4), ESA_INGEST_GZIP_LEVEL the gzip level of the requests (default 1, the fastest;
// 6 is the default of gzip and of most shippers, and decompresses faster); ESA_INGEST_CPUPROFILE=DIR writes a CPU profile of esa-connect while the
// clients send (DIR/ingest-<mode>.pprof, from its /debug/pprof) and its allocations over the whole run
// (DIR/ingest-<mode>-allocs.pprof). Reported: records/s acknowledged (200 answers), records/s delivered (the
// destination received them all), peak-MB (the process's peak RSS) and records/cpu-s (records per
// second of esa-connect's own CPU time: the clients and the receiver share the machine's cores) and
// harness-cores (the CPU the clients and the receiver took meanwhile, in cores).
func BenchmarkIngest(b *testing.B) {
	n, clients := envInt(b, "ESA_INGEST_RECORDS", 300_000), envInt(b, "ESA_INGEST_CLIENTS", 4)
	input, err := benchinput.Ensure("", 1_000_000, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	bodies := gzipBodies(b, input, n, 1000, envInt(b, "ESA_INGEST_GZIP_LEVEL", 1))
	bin := testutil.Binary(b)
	for _, mode := range []string{"disk", "memory"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				r := runIngest(b, bin, mode, bodies, n, clients)
				b.ReportMetric(float64(n)/r.acked.Seconds(), "acked-records/s")
				b.ReportMetric(float64(n)/r.delivered.Seconds(), "delivered-records/s")
				b.ReportMetric(float64(r.maxRSS)/(1<<20), "peak-MB")
				b.ReportMetric(float64(n)/r.cpu.Seconds(), "records/cpu-s")
				b.ReportMetric(r.harness.Seconds()/r.delivered.Seconds(), "harness-cores")
			}
		})
	}
}

func envInt(b *testing.B, name string, def int) int {
	n, err := benchinput.EnvInt(name, def)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// gzipBodies reads the first n records of input into gzip bodies of per records each, at level.
func gzipBodies(b *testing.B, input string, n, per, level int) [][]byte {
	bodies, err := benchinput.GzipBodies(input, n, per, level)
	if err != nil {
		b.Fatal(err)
	}
	return bodies
}

type ingestRun struct {
	acked, delivered time.Duration
	cpu              time.Duration // esa-connect's user + system time
	harness          time.Duration // the clients' and the receiver's (this process's) CPU time meanwhile
	maxRSS           int64
}

// runIngest starts the task, sends every body from clients goroutines and waits for the destination
// to receive every record.
func runIngest(b *testing.B, bin, mode string, bodies [][]byte, n, clients int) ingestRun {
	b.Helper()
	var recs atomic.Int64
	all := make(chan struct{})
	rc := &httpout.Receiver{OnBatch: func(_ *http.Request, _ []byte, r [][]byte) error {
		if recs.Add(int64(len(r))) == int64(n) {
			close(all)
		}
		return nil
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	dir := b.TempDir()
	ingest := testutil.FreeAddr(b)
	buffer := ""
	if mode == "disk" {
		buffer = "buffer: {type: disk, path: buf}\n"
	}
	def := fmt.Sprintf("name: ingest\ncategory: access\nfields: %s\nsource: {type: http, address: %q}\ndestination: {type: http, url: %q, compression: gzip}\n%s",
		fields, ingest, srv.URL+"/logs", buffer)
	task := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(task, []byte(def), 0o600); err != nil {
		b.Fatal(err)
	}
	admin := testutil.FreeAddr(b)
	env := []string{"ESA_HTTP_ADDRESS=" + admin}
	profDir := os.Getenv("ESA_INGEST_CPUPROFILE")
	if profDir != "" {
		env = append(env, "ESA_HTTP_DEBUG=1")
	}
	p := testutil.StartBinary(b, testutil.RunOptions{Dir: dir, Env: env}, "run", "--log.level", "warn", task)
	p.WaitTCP(b, ingest)
	profiled := make(chan error, 1)
	if profDir != "" {
		go func() { profiled <- cpuProfile(admin, filepath.Join(profDir, "ingest-"+mode+".pprof")) }()
	} else {
		profiled <- nil
	}

	harness0 := selfCPU()
	start := time.Now()
	if err := benchinput.PostAll("http://"+ingest+"/v1/logs", bodies, clients, nil); err != nil {
		b.Fatalf("a request failed: %v\n%s", err, p.Stderr())
	}
	acked := time.Since(start)
	select {
	case <-all:
	case <-time.After(10 * time.Minute):
		b.Fatalf("the destination received %d of %d records", recs.Load(), n)
	}
	delivered := time.Since(start)
	harness := selfCPU() - harness0
	if err := <-profiled; err != nil {
		b.Fatal(err)
	}
	if profDir != "" {
		if err := saveProfile("http://"+admin+"/debug/pprof/allocs", filepath.Join(profDir, "ingest-"+mode+"-allocs.pprof")); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	res := p.Wait(b, 2*time.Minute)
	pk := peakRE.FindStringSubmatch(res.Stdout)
	if pk == nil {
		b.Fatalf("run did not report its peak memory:\n%s", res.Output())
	}
	mb, _ := strconv.ParseFloat(pk[1], 64)
	var cpu time.Duration
	if ru, ok := p.Cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return ingestRun{acked: acked, delivered: delivered, cpu: cpu, harness: harness, maxRSS: int64(mb * (1 << 20))}
}

// selfCPU is this process's user + system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuProfile saves a 2 s CPU profile of the process serving addr's /debug/pprof.
func cpuProfile(addr, path string) error {
	return saveProfile("http://"+addr+"/debug/pprof/profile?seconds=2", path)
}

// saveProfile saves the profile served at url to path.
func saveProfile(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
