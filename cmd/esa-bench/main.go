// Command esa-bench is the whole-process benchmark of the README's "Performance" (go tool task bench):
// it writes N generated access records (about 1.3 KB each) to an NDJSON file once (cached), then runs
// the esa-connect binary twice on it, doing the same job:
//
//	(a) esa-connect run task.yaml — a task: file source → sampling → filter → fields → destination
//	(b) esa-connect run -c pipeline.yaml — the same job with stock Benthos components: the `file`
//	    input (lines) → a `mapping` processor with the equivalent Bloblang → the destination
//
//	(c) esa-connect run -c — stock Benthos passing the lines to `drop`: a reference for the speed of the
//	    machine at the time (the issue measured ~120,000 records/s on its reference machine)
//
// and prints records/s, CPU seconds (user+system), peak RSS and the ratio.
//
// The job is chosen with -workload:
//
//	bench (default)  sample 100 → 5 conditions that most records pass → 20 fields
//	a                workload A of tests/memory: sample 50 → EdgeResponseStatusCode equals 403, 500,
//	                 502, 503 or 504 (about 2 % of the sampled records) → 15 fields
//
// Workload a samples by `sample_key: ClientRequestID`, and (b) reproduces esa_sample's key hash in
// Bloblang, so both runs keep the same records. (b)'s mapping tests the filter before it samples
// (same outcome, and the Bloblang hash runs only for the records the filter keeps).
//
// The destination is chosen with -dest:
//
//	local (default)  gzip objects in a directory: (a) destination local, (b) the esa_local output
//	http             gzip POSTs to an HTTP receiver that esa-bench runs on 127.0.0.1 (one for each
//	                 run; httpout.Receiver, which decodes what esa_http sends): (a) destination http
//	                 with compression gzip, (b) the stock http_client output with the batch size and
//	                 max_in_flight that the translator gives (a), each batch archived as NDJSON lines
//	                 and gzip-compressed, with Content-Encoding: gzip
//
// (b) batches with a 1 s period: the stock file input sends no flush marker at its end, and Benthos
// waits for the period before it sends the last batch. For example:
//
//	go tool task bench -- -workload a -dest http
//
// Both runs must deliver the same records (counted, and their ClientRequestIDs compared), which is
// checked. It exits 1 when (a)'s peak RSS is 200 MB or more, or when (a) is not at least 3× (b) in
// records/s — 8× for workload a to http.
//
// With -processors N it instead runs the processor benchmarks (go test -bench 'Filter5|Fields20|Chain'
// in plugins/filter and plugins/fields) N times between two reference runs (c), and prints the best and
// median records per CPU-second next to the targets, also scaled to the issue's reference machine.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/esa-connect/esa-connect/internal/benchinput"
)

func main() {
	records := flag.Int("records", 1_000_000, "number of generated access records")
	cacheDir := flag.String("cache", "", "directory for the generated input (default: the user cache dir)")
	bin := flag.String("bin", "", "esa-connect binary (default: go build ./cmd/esa-connect)")
	keep := flag.Bool("keep", false, "keep the work directory (configs, local outputs)")
	processors := flag.Int("processors", 0, "instead: run the processor benchmarks this many times, between two machine reference runs (c)")
	inputOnly := flag.Bool("input", false, "only write (or find) the input file and print its path")
	wname := flag.String("workload", "bench", "the job: bench (sample 100, 5-condition filter, 20 fields) or a (workload A: sample 50, status filter keeping ~2 %, 15 fields)")
	dest := flag.String("dest", "local", "where both runs deliver: local (gzip objects in a directory) or http (gzip POSTs to a receiver in this process)")
	flag.Parse()
	if *inputOnly {
		path, err := benchinput.Ensure(*cacheDir, *records, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "esa-bench:", err)
			os.Exit(1)
		}
		fmt.Println(path)
		return
	}
	w, ok := workloads[*wname]
	if !ok {
		fmt.Fprintf(os.Stderr, "esa-bench: unknown -workload %q (want bench or a)\n", *wname)
		os.Exit(2)
	}
	if *dest != "local" && *dest != "http" {
		fmt.Fprintf(os.Stderr, "esa-bench: unknown -dest %q (want local or http)\n", *dest)
		os.Exit(2)
	}
	if err := run(*records, *cacheDir, *bin, *keep, *processors, w, *dest); err != nil {
		fmt.Fprintln(os.Stderr, "esa-bench:", err)
		os.Exit(1)
	}
}

// result is one measured run.
type result struct {
	name     string
	wall     time.Duration
	cpu      time.Duration
	maxRSS   int64 // bytes
	selfRSS  int64 // esa-bench's own peak RSS when the run started (bytes)
	records  int   // input records
	delivery       // what was delivered
}

func (r result) rate() float64 { return float64(r.records) / r.wall.Seconds() }

// targets returns the records/s ratio (a)/(b) to reach for workload w to dest: 8× for workload A to
// HTTP, 3× otherwise. (a)'s peak RSS must stay under 200 MB in every case.
func targets(w workload, dest string) (minRatio float64, maxRSS int64) {
	if w.name == "a" && dest == "http" {
		return 8, 200 << 20
	}
	return 3, 200 << 20
}

func run(records int, cacheDir, bin string, keep bool, processors int, w workload, dest string) error {
	input, err := benchinput.Ensure(cacheDir, records, os.Stdout)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "esa-bench-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	if bin == "" {
		bin = filepath.Join(work, "esa-connect")
		fmt.Println("building esa-connect ...")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/esa-connect")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}

	if processors > 0 {
		return runProcessors(bin, work, input, records, processors)
	}
	sinkA, err := newSink(dest, work, "a")
	if err != nil {
		return err
	}
	defer sinkA.close()
	sinkB, err := newSink(dest, work, "b")
	if err != nil {
		return err
	}
	defer sinkB.close()
	taskPath, pipePath := filepath.Join(work, "task.yaml"), filepath.Join(work, "pipeline.yaml")
	if err := os.WriteFile(taskPath, []byte(taskYAML(w, input, sinkA.taskDestination())), 0o644); err != nil {
		return err
	}
	output, err := stockOutput(sinkB, bin, taskPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(pipePath, []byte(pipelineYAML(w, input, output)), 0o644); err != nil {
		return err
	}

	a, err := measure("(a) esa-connect run task.yaml", records, bin, "run", "--log.level", "warn", taskPath)
	if err != nil {
		return err
	}
	if a.delivery, err = sinkA.delivered(); err != nil {
		return err
	}
	b, err := measure("(b) stock Benthos run -c", records, bin, "run", "--log.level", "warn", "-c", pipePath)
	if err != nil {
		return err
	}
	if b.delivery, err = sinkB.delivered(); err != nil {
		return err
	}
	c, err := measureReference(bin, work, input, records)
	if err != nil {
		return err
	}

	to, units := "HTTP POSTs (gzip) to a receiver in esa-bench", "requests"
	if sinkA.kind.Object {
		to, units = "local gzip objects", "objects"
	}
	fmt.Printf("\n%d access records (%s input), workload %s: %s → %s\n\n",
		records, humanSize(fileSize(input)), w.name, w.description, to)
	fmt.Printf("%-50s %12s %10s %10s %12s %12s %10s\n", "run", "records/s", "wall s", "CPU s", "peak RSS MB", "delivered", units)
	var rssNote bool
	for _, r := range []result{a, b, c} {
		mark := ""
		if r.maxRSS <= r.selfRSS {
			mark, rssNote = "*", true
		}
		del, n := fmt.Sprint(r.records), "-"
		if r.name != c.name {
			del, n = fmt.Sprint(r.delivery.records), fmt.Sprint(r.units)
		}
		fmt.Printf("%-50s %12.0f %10.2f %10.2f %11.1f%1s %12s %10s\n", r.name, r.rate(), r.wall.Seconds(), r.cpu.Seconds(),
			float64(r.maxRSS)/(1<<20), mark, del, n)
	}
	if rssNote {
		fmt.Println("* not above esa-bench's own peak RSS when the run started, which a child's peak includes: not meaningful")
	}
	minRatio, maxRSS := targets(w, dest)
	ratio := a.rate() / b.rate()
	fmt.Printf("\nratio (a)/(b) records/s: %.2f× (target ≥ %.0f×); CPU (b)/(a): %.2f×; peak RSS (a): %.0f MB (target < %d MB)\n",
		ratio, minRatio, b.cpu.Seconds()/a.cpu.Seconds(), float64(a.maxRSS)/(1<<20), maxRSS>>20)
	if b.wall > 2*time.Second {
		// The stock output waits for its batching period (1 s) before the last batch at the end.
		noWait := float64(records) / (b.wall - time.Second).Seconds()
		fmt.Printf("(b)'s wall time includes up to 1 s waiting for the batching period before its last batch; without it the ratio would be ≥ %.2f×\n",
			a.rate()/noWait)
	}
	fmt.Printf("machine reference (c) %.0f records/s; the issue's reference machine: ~%d (scale %.2f)\n",
		c.rate(), issueReferenceRate, issueReferenceRate/c.rate())

	var problems []string
	for _, r := range []result{a, b} {
		if r.problem != "" {
			problems = append(problems, r.name+": "+r.problem)
		}
		if r.missing > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d delivered records without a ClientRequestID", r.name, r.missing))
		}
	}
	switch {
	case a.delivery.records != b.delivery.records:
		problems = append(problems, fmt.Sprintf("the two runs delivered different numbers of records (%d vs %d)", a.delivery.records, b.delivery.records))
	case a.digest != b.digest:
		problems = append(problems, "the two runs delivered as many records but not the same ones (ClientRequestIDs differ)")
	default:
		fmt.Printf("(a) and (b) delivered the same %d records (same ClientRequestIDs)\n", a.delivery.records)
	}
	if a.delivery.records == 0 {
		problems = append(problems, "nothing was delivered")
	}
	if ratio < minRatio {
		problems = append(problems, fmt.Sprintf("records/s ratio %.2f is below %.0f", ratio, minRatio))
	}
	if a.maxRSS >= maxRSS {
		problems = append(problems, fmt.Sprintf("peak RSS %.0f MB is not under %d MB", float64(a.maxRSS)/(1<<20), maxRSS>>20))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("targets met")
	return nil
}

// measure runs bin with args and reads its resource usage.
func measure(name string, records int, bin string, args ...string) (result, error) {
	fmt.Printf("running %s ...\n", name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "ESA_HTTP_ADDRESS=127.0.0.1:0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	var self syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", name, err, out.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return result{}, errors.New("no rusage on this platform")
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return result{name: name, wall: wall, cpu: cpu, maxRSS: ru.Maxrss * 1024,
		selfRSS: self.Maxrss * 1024, records: records}, nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func humanSize(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", n>>10)
}
