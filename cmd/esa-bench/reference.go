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
	return measure("(c) stock Benthos file → drop (machine reference)", records, bin, "run", "--log.level", "warn", "-c", path)
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

// runProcessors builds the processor benchmarks and runs them count times, with a machine reference
// run (c) before the first round and after each: the speed of a shared machine drifts, so each round
// is scaled by the mean of the two references around it (× 120,000 / reference). It prints, for each
// benchmark, the median records per CPU-second as measured and the median of the scaled rounds (with
// their range), which decides "met".
func runProcessors(bin, work, input string, records, count int) error {
	pkgs := []string{"filter", "fields"}
	for _, pkg := range pkgs {
		cmd := exec.Command("go", "test", "-c", "-o", filepath.Join(work, pkg+".test"), "./plugins/"+pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go test -c ./plugins/%s: %w\n%s", pkg, err, out)
		}
	}
	dirs, err := os.Getwd()
	if err != nil {
		return err
	}
	ref, err := measureReference(bin, work, input, records)
	if err != nil {
		return err
	}
	refs := []float64{ref.rate()}
	raw, scaled := map[string][]float64{}, map[string][]float64{}
	var all bytes.Buffer
	for round := 1; round <= count; round++ {
		fmt.Printf("processor benchmarks, round %d of %d ...\n", round, count)
		var out bytes.Buffer
		for _, pkg := range pkgs {
			cmd := exec.Command(filepath.Join(work, pkg+".test"), "-test.run", "^$", "-test.bench", "Filter5|Fields20|Chain", "-test.benchmem")
			cmd.Dir = filepath.Join(dirs, "plugins", pkg)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s benchmarks: %w\n%s", pkg, err, out.String())
			}
		}
		ref, err := measureReference(bin, work, input, records)
		if err != nil {
			return err
		}
		refs = append(refs, ref.rate())
		scale := issueReferenceRate / ((refs[round-1] + refs[round]) / 2)
		sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
		for sc.Scan() {
			if m := benchLine.FindStringSubmatch(sc.Text()); m != nil {
				v, _ := strconv.ParseFloat(m[3], 64)
				raw[m[1]] = append(raw[m[1]], v)
				scaled[m[1]] = append(scaled[m[1]], v*scale)
			}
		}
		all.Write(out.Bytes())
	}
	fmt.Printf("\nmachine reference (c), records/s:")
	for _, r := range refs {
		fmt.Printf(" %.0f", r)
	}
	fmt.Printf(" (the issue's machine: ~%d)\n\n", issueReferenceRate)
	fmt.Printf("%-34s %10s %14s %22s %10s\n", "records per CPU-second", "median", "scaled median", "scaled range", "target")
	for _, t := range processorTargets {
		r, sc := raw[t.bench], scaled[t.bench]
		if len(r) == 0 {
			return fmt.Errorf("no result for %s in:\n%s", t.bench, all.String())
		}
		sort.Float64s(r)
		sort.Float64s(sc)
		med := sc[len(sc)/2]
		mark := "met"
		if med < t.target {
			mark = "not met"
		}
		fmt.Printf("%-34s %10.0f %14.0f %10.0f – %-9.0f %10.0f  %s\n", t.bench, r[len(r)/2], med, sc[0], sc[len(sc)-1], t.target, mark)
	}
	return nil
}
