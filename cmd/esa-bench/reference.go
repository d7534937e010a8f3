package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
)

// issueReferenceRate is what issue #2 measured for stock Benthos passing the bench input's lines
// through with no processing on its reference machine (2 cores): about 120,000 records/s. Run (c)
// measures the same job here, so figures from a slower or busier machine can be set against it.
const issueReferenceRate = 120_000

// stockFileInput is the start of the stock Benthos configs (b) and (c): no HTTP server, and the
// file input reading the bench input's lines.
func stockFileInput(input string) string {
	return fmt.Sprintf(`http:
  enabled: false
input:
  file:
    paths: [%q]
    scanner:
      lines:
        max_buffer_size: 2097152`, input)
}

// referenceYAML is run (c): stock Benthos, the file input (lines) straight into the drop output.
func referenceYAML(input string) string {
	return stockFileInput(input) + "\noutput:\n  drop: {}\n"
}

// measureReference runs (c) and returns it.
func measureReference(bin, work, input string, records int) (result, error) {
	path := filepath.Join(work, "reference.yaml")
	if err := os.WriteFile(path, []byte(referenceYAML(input)), 0o644); err != nil {
		return result{}, err
	}
	r, err := measure("(c) stock Benthos file → drop (machine reference)", records, bin, "run", "--log.level", "warn", "-c", path)
	r.outRecs = records
	return r, err
}

// processorTarget is one processor benchmark of issue #2 and its per-core target.
type processorTarget struct {
	bench  string // benchmark name as go test prints it, without the -N suffix
	target float64
}

var processorTargets = []processorTarget{
	{"BenchmarkFilter5/esa_generate", 1_000_000},
	{"BenchmarkFilter5/unchecked", 1_000_000},
	{"BenchmarkFields20/esa_generate", 500_000},
	{"BenchmarkFields20/unchecked", 500_000},
	{"BenchmarkChain/esa_generate", 300_000},
	{"BenchmarkChain/unchecked", 300_000},
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s.*?\s([0-9.]+) records/cpu-s`)

// runProcessors runs the processor benchmarks count times, with the machine reference (c) before and
// after, and prints the best and median records per CPU-second of each next to its target, and the
// median scaled to the issue's reference machine (× 120,000 / the mean of the two reference runs),
// which decides "met".
func runProcessors(bin, work, input string, records, count int) error {
	before, err := measureReference(bin, work, input, records)
	if err != nil {
		return err
	}
	fmt.Printf("running the processor benchmarks (%d times each) ...\n", count)
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "Filter5|Fields20|Chain", "-benchmem",
		"-count", strconv.Itoa(count), "./plugins/filter", "./plugins/fields")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test -bench: %w\n%s", err, out.String())
	}
	after, err := measureReference(bin, work, input, records)
	if err != nil {
		return err
	}
	rates := map[string][]float64{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if m := benchLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			rates[m[1]] = append(rates[m[1]], v)
		}
	}
	ref := (before.rate() + after.rate()) / 2
	scale := issueReferenceRate / ref
	fmt.Printf("\nmachine reference (c): %.0f and %.0f records/s (the issue's machine: ~%d); scale %.2f\n\n",
		before.rate(), after.rate(), issueReferenceRate, scale)
	fmt.Printf("%-34s %10s %10s %14s %10s\n", "records per CPU-second", "best", "median", "scaled median", "target")
	for _, t := range processorTargets {
		v := rates[t.bench]
		if len(v) == 0 {
			return fmt.Errorf("no result for %s in:\n%s", t.bench, out.String())
		}
		sort.Float64s(v)
		best, med := v[len(v)-1], v[len(v)/2]
		mark := "met"
		if med*scale < t.target {
			mark = "not met"
		}
		fmt.Printf("%-34s %10.0f %10.0f %14.0f %10.0f  %s\n", t.bench, best, med, med*scale, t.target, mark)
	}
	return nil
}
