package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/bloblang"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/filter"
	"github.com/esa-connect/esa-connect/plugins/generate"
	"github.com/esa-connect/esa-connect/plugins/sample"
)

// TestBloblSampleMatchesEsaSample: the stock pipeline's Bloblang sampling keeps exactly the records
// that esa_sample with the same rate and key keeps.
func TestBloblSampleMatchesEsaSample(t *testing.T) {
	keys := []any{"", "a", "b818d59725fa3c01586adcdc37821df6", "ünïcödé ✓", `quote " and \ backslash`, 42, 0, true}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteByte("0123456789abcdef"[rng.IntN(16)])
		}
		keys = append(keys, b.String())
	}
	for _, rate := range []float64{50, 10, 99.5} {
		exe, err := bloblang.Parse(bloblSampleMap(rate, "ClientRequestID") + `root = this.apply("esa_sampled")`)
		if err != nil {
			t.Fatalf("rate %v: %v", rate, err)
		}
		kept := 0
		for _, k := range keys {
			rec, _ := json.Marshal(map[string]any{"ClientRequestID": k, "Other": 1})
			var v any
			if err := json.Unmarshal(rec, &v); err != nil {
				t.Fatal(err)
			}
			got, err := exe.Query(v)
			if err != nil {
				t.Fatalf("rate %v key %q: %v", rate, k, err)
			}
			text := fmt.Sprint(k)
			want := sample.KeyHash(text) < sample.Threshold(rate)
			if got != want {
				t.Errorf("rate %v key %q: Bloblang keeps %v, esa_sample %v", rate, k, got, want)
			}
			if want {
				kept++
			}
		}
		t.Logf("rate %v: %d of %d kept", rate, kept, len(keys))
	}
	// A missing key hashes as "".
	exe, err := bloblang.Parse(bloblSampleMap(50, "ClientRequestID") + `root = this.apply("esa_sampled")`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := exe.Query(map[string]any{"Other": 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := sample.KeyHash("") < sample.Threshold(50); got != want {
		t.Errorf("missing key: Bloblang keeps %v, esa_sample %v", got, want)
	}
}

// TestBloblFilterMatchesEsaFilter: each workload's Bloblang filter keeps the same records as
// esa_filter with the task's conditions, on generated records and on variants of them where a
// filtered field is missing, null, "-", "", a number as a string, a fraction or not a number.
func TestBloblFilterMatchesEsaFilter(t *testing.T) {
	g, err := generate.New("access", 7)
	if err != nil {
		t.Fatal(err)
	}
	var base []map[string]any
	for range 300 {
		var m map[string]any
		if err := json.Unmarshal(g.Next(nil), &m); err != nil {
			t.Fatal(err)
		}
		base = append(base, m)
	}
	variants := []func(any) (any, bool){
		func(any) (any, bool) { return nil, false }, // missing
		func(any) (any, bool) { return nil, true },  // null
		func(any) (any, bool) { return "-", true },
		func(any) (any, bool) { return "", true },
		func(any) (any, bool) { return "abc", true },
		func(v any) (any, bool) { return fmt.Sprint(v), true },
		func(v any) (any, bool) {
			if f, ok := v.(float64); ok {
				return f + 0.5, true
			}
			return v, true
		},
		func(any) (any, bool) { return 503, true },
		func(any) (any, bool) { return "503", true },
		func(any) (any, bool) { return "TRACE", true },
		func(any) (any, bool) { return "/healthz/x", true },
	}
	for _, name := range []string{"bench", "a"} {
		w := workloads[name]
		task, err := config.Load([]byte(taskYAML(w, "in.ndjson", "destination: {type: local, path: out}\n")))
		if err != nil {
			t.Fatalf("workload %s: %v", name, err)
		}
		f, err := filter.New(filter.Config{Category: "access", Conditions: task.Filters}, nil)
		if err != nil {
			t.Fatal(err)
		}
		exe, err := bloblang.Parse(w.bloblFilter + "root = $keep\n")
		if err != nil {
			t.Fatalf("workload %s: %v", name, err)
		}
		var fieldsUsed []string
		for _, c := range task.Filters {
			fieldsUsed = append(fieldsUsed, c.Field)
		}
		check := func(m map[string]any, what string) bool {
			rec, _ := json.Marshal(m)
			want, err := f.Match(rec)
			if err != nil {
				t.Fatalf("workload %s, %s: %v", name, what, err)
			}
			var v any
			_ = json.Unmarshal(rec, &v)
			got, err := exe.Query(v)
			if err != nil {
				t.Fatalf("workload %s, %s: %v", name, what, err)
			}
			if got != want {
				t.Errorf("workload %s, %s: Bloblang keeps %v, esa_filter %v: %s", name, what, got, want, rec)
			}
			return want
		}
		kept, total := 0, 0
		for i, m := range base {
			if check(m, fmt.Sprintf("record %d", i)) {
				kept++
			}
			total++
			for _, field := range fieldsUsed {
				for j, vary := range variants {
					c := maps.Clone(m)
					if v, ok := vary(m[field]); ok {
						c[field] = v
					} else {
						delete(c, field)
					}
					if check(c, fmt.Sprintf("record %d, %s variant %d", i, field, j)) {
						kept++
					}
					total++
				}
			}
		}
		t.Logf("workload %s: %d of %d kept", name, kept, total)
	}
}
