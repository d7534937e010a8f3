// Command esa-bench is the whole-process benchmark of SPEC "Performance" (go tool task bench): it
// writes N generated access records (about 1.3 KB each) to an NDJSON file once (cached), then runs the
// esa-connect binary twice on it:
//
//	(a) esa-connect run task.yaml — file source → sample 100 → 5-condition filter → 20 fields → local
//	(b) esa-connect run -c pipeline.yaml — the same job with stock Benthos components: the `file`
//	    input (lines) → a `mapping` processor with the equivalent Bloblang → the same esa_local output
//
//	(c) esa-connect run -c — stock Benthos passing the lines to `drop`: a reference for the speed of the
//	    machine at the time (the issue measured ~120,000 records/s on its reference machine)
//
// and prints records/s, CPU seconds (user+system), peak RSS and the ratio. Both runs must deliver the
// same number of records, which is checked. It exits 1 when (a) is not at least 3× (b) in records/s
// or its peak RSS is 200 MB or more.
//
// With -processors N it instead runs the processor benchmarks (go test -bench 'Filter5|Fields20|Chain'
// in plugins/filter and plugins/fields) N times between two reference runs (c), and prints the best and
// median records per CPU-second next to the targets, also scaled to the issue's reference machine.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/esa-connect/esa-connect/internal/benchinput"
)

// The 20 delivered fields (access category).
var benchFields = []string{
	"EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientCountryCode", "ClientRequestMethod",
	"ClientRequestScheme", "ClientRequestHost", "ClientRequestPath", "ClientRequestQuery",
	"ClientRequestProtocol", "ClientRequestUserAgent", "ClientRequestReferer", "EdgeResponseStatusCode",
	"EdgeResponseBytes", "EdgeResponseTime", "EdgeCacheStatus", "EdgeResponseContentType",
	"OriginResponseStatusCode", "SecAction", "ClientSSLProtocol",
}

// The 5 filter conditions, as a task (a) and as Bloblang (b). Most records pass.
const taskFilters = `filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 100}
  - {field: ClientRequestMethod, op: not_equals, value: [TRACE, CONNECT]}
  - {field: ClientRequestPath, op: not_starts_with, value: [/healthz]}
  - {field: ClientRequestHost, op: exists}
  - {field: EdgeResponseTime, op: lt, value: 600000}
`

// bloblFilter is the same filter in Bloblang. It follows SPEC §2.2: a missing field makes a positive
// condition false and a negative one true; numbers may arrive as strings; "-" and "" mean absent.
const bloblFilter = `let status = this.EdgeResponseStatusCode.or(null).number().catch(null)
let method = this.ClientRequestMethod.or(null)
let path = this.ClientRequestPath.or(null)
let host = this.ClientRequestHost.or("")
let rt = this.EdgeResponseTime.or(null).number().catch(null)
let keep = $status != null && $status >= 100 && ($method == null || ($method != "TRACE" && $method != "CONNECT")) && ($path == null || !$path.string().has_prefix("/healthz")) && $host != "" && $host != "-" && $rt != null && $rt < 600000
`

func main() {
	records := flag.Int("records", 1_000_000, "number of generated access records")
	cacheDir := flag.String("cache", "", "directory for the generated input (default: the user cache dir)")
	bin := flag.String("bin", "", "esa-connect binary (default: go build ./cmd/esa-connect)")
	keep := flag.Bool("keep", false, "keep the output directories")
	processors := flag.Int("processors", 0, "instead: run the processor benchmarks this many times, between two machine reference runs (c)")
	inputOnly := flag.Bool("input", false, "only write (or find) the input file and print its path")
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
	if err := run(*records, *cacheDir, *bin, *keep, *processors); err != nil {
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
	records  int   // input records
	outRecs  int   // delivered records
	outFiles int
}

func (r result) rate() float64 { return float64(r.records) / r.wall.Seconds() }

func run(records int, cacheDir, bin string, keep bool, processors int) error {
	input, err := benchinput.Ensure(cacheDir, records, os.Stdout)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "esa-bench-")
	if err != nil {
		return err
	}
	if !keep {
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
	outA, outB := filepath.Join(work, "out-a"), filepath.Join(work, "out-b")
	taskPath, pipePath := filepath.Join(work, "task.yaml"), filepath.Join(work, "pipeline.yaml")
	if err := os.WriteFile(taskPath, []byte(taskYAML(input, outA)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(pipePath, []byte(pipelineYAML(input, outB)), 0o644); err != nil {
		return err
	}

	a, err := measure("(a) esa-connect run task.yaml", records, bin, "run", "--log.level", "warn", taskPath)
	if err != nil {
		return err
	}
	if a.outRecs, a.outFiles, err = countOutput(outA); err != nil {
		return err
	}
	b, err := measure("(b) stock Benthos run -c", records, bin, "run", "--log.level", "warn", "-c", pipePath)
	if err != nil {
		return err
	}
	if b.outRecs, b.outFiles, err = countOutput(outB); err != nil {
		return err
	}
	c, err := measureReference(bin, work, input, records)
	if err != nil {
		return err
	}

	fmt.Printf("\n%d access records (%s input), sample 100 → 5-condition filter → 20 fields → local gzip objects\n\n",
		records, humanSize(fileSize(input)))
	fmt.Printf("%-50s %12s %10s %10s %12s %12s\n", "run", "records/s", "wall s", "CPU s", "peak RSS MB", "delivered")
	for _, r := range []result{a, b, c} {
		fmt.Printf("%-50s %12.0f %10.2f %10.2f %12.1f %12d\n", r.name, r.rate(), r.wall.Seconds(), r.cpu.Seconds(),
			float64(r.maxRSS)/(1<<20), r.outRecs)
	}
	ratio := a.rate() / b.rate()
	fmt.Printf("\nratio (a)/(b) records/s: %.2f× (target ≥ 3×); CPU (b)/(a): %.2f×; peak RSS (a): %.0f MB (target < 200 MB)\n",
		ratio, b.cpu.Seconds()/a.cpu.Seconds(), float64(a.maxRSS)/(1<<20))
	fmt.Printf("machine reference (c) %.0f records/s; the issue's reference machine: ~%d (scale %.2f)\n",
		c.rate(), issueReferenceRate, issueReferenceRate/c.rate())

	var problems []string
	if a.outRecs != b.outRecs {
		problems = append(problems, fmt.Sprintf("the two runs delivered different numbers of records (%d vs %d)", a.outRecs, b.outRecs))
	}
	if a.outRecs == 0 {
		problems = append(problems, "nothing was delivered")
	}
	if ratio < 3 {
		problems = append(problems, fmt.Sprintf("records/s ratio %.2f is below 3", ratio))
	}
	if a.maxRSS >= 200<<20 {
		problems = append(problems, fmt.Sprintf("peak RSS %.0f MB is not under 200 MB", float64(a.maxRSS)/(1<<20)))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("targets met")
	return nil
}

// taskYAML is run (a).
func taskYAML(input, out string) string {
	var b strings.Builder
	b.WriteString("name: bench\ncategory: access\nfields:\n")
	for _, f := range benchFields {
		fmt.Fprintf(&b, "  - %s\n", f)
	}
	b.WriteString("sampling_rate: 100\n")
	b.WriteString(taskFilters)
	fmt.Fprintf(&b, "source: {type: file, paths: [%q]}\n", input)
	fmt.Fprintf(&b, "destination: {type: local, path: %q}\n", out)
	return b.String()
}

// pipelineYAML is run (b): stock Benthos input and processor, the esa_local output with the batching
// that the translator gives (a) — but a 1 s period, because the stock input sends no flush marker at
// its end and the last batch would otherwise wait for the 60 s period.
func pipelineYAML(input, out string) string {
	var m strings.Builder
	m.WriteString(bloblFilter)
	m.WriteString("root = if $keep {\n  {\n")
	for i, f := range benchFields {
		sentinel := `"-"`
		switch f {
		case "EdgeResponseStatusCode", "EdgeResponseBytes", "EdgeResponseTime", "OriginResponseStatusCode":
			sentinel = "-1"
		}
		sep := ","
		if i == len(benchFields)-1 {
			sep = ""
		}
		fmt.Fprintf(&m, "    %q: this.%s.or(%s)%s\n", f, f, sentinel, sep)
	}
	m.WriteString("  }\n} else { deleted() }\n")
	return fmt.Sprintf(`%s
pipeline:
  processors:
    - mapping: |
%s
output:
  esa_local:
    path: %q
    task: bench
    time_field: EdgeStartTimestamp
    max_in_flight: 1
    batching: {count: 10000, byte_size: 16777216, period: 1s}
`, stockFileInput(input), indent(m.String(), "        "), out)
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
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
	return result{name: name, wall: wall, cpu: cpu, maxRSS: ru.Maxrss * 1024, records: records}, nil
}

// countOutput counts the records in the gzip objects under dir.
func countOutput(dir string) (records, files int, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log.gz") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		n, err := countLines(zr)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		records += n
		files++
		return nil
	})
	return records, files, err
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
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
