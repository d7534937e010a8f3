package main

import (
	"fmt"
	"strings"

	"github.com/esa-connect/esa-connect/plugins/sample"
)

// workload is one job of the whole-process benchmark, as a task (a) and as stock Benthos (b).
type workload struct {
	name        string
	description string   // for the table's heading
	fields      []string // delivered fields (access category)
	rate        float64  // sampling_rate
	sampleKey   string   // sample_key ("" with rate 100)
	taskFilters string   // the task's filters block
	// bloblFilter is the task's filter in Bloblang: statements that end by setting $keep. It follows
	// docs/processing.md#filters: a missing field makes a positive condition false and a negative one
	// true; numbers may arrive as strings; "-" and "" mean absent.
	bloblFilter string
}

// The 20 delivered fields of the default job (access category).
var benchFields = []string{
	"EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientCountryCode", "ClientRequestMethod",
	"ClientRequestScheme", "ClientRequestHost", "ClientRequestPath", "ClientRequestQuery",
	"ClientRequestProtocol", "ClientRequestUserAgent", "ClientRequestReferer", "EdgeResponseStatusCode",
	"EdgeResponseBytes", "EdgeResponseTime", "EdgeCacheStatus", "EdgeResponseContentType",
	"OriginResponseStatusCode", "SecAction", "ClientSSLProtocol",
}

// The 15 delivered fields of workload A (tests/memory).
var workloadAFields = []string{
	"EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientCountryCode", "ClientRequestHost",
	"ClientRequestMethod", "ClientRequestPath", "ClientRequestQuery", "ClientRequestUserAgent",
	"EdgeResponseStatusCode", "EdgeResponseBytes", "EdgeResponseTime", "EdgeCacheStatus",
	"OriginResponseStatusCode", "SecAction",
}

var workloads = map[string]workload{
	// The default job: no sampling, 5 conditions that most records pass, 20 fields.
	"bench": {
		name:        "bench",
		description: "sample 100 → 5-condition filter → 20 fields",
		fields:      benchFields,
		rate:        100,
		taskFilters: `filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 100}
  - {field: ClientRequestMethod, op: not_equals, value: [TRACE, CONNECT]}
  - {field: ClientRequestPath, op: not_starts_with, value: [/healthz]}
  - {field: ClientRequestHost, op: exists}
  - {field: EdgeResponseTime, op: lt, value: 600000}
`,
		bloblFilter: `let status = this.EdgeResponseStatusCode.or(null).number().catch(null)
let method = this.ClientRequestMethod.or(null)
let path = this.ClientRequestPath.or(null)
let host = this.ClientRequestHost.or("")
let rt = this.EdgeResponseTime.or(null).number().catch(null)
let keep = $status != null && $status >= 100 && ($method == null || ($method != "TRACE" && $method != "CONNECT")) && ($path == null || !$path.string().has_prefix("/healthz")) && $host != "" && $host != "-" && $rt != null && $rt < 600000
`,
	},
	// Workload A of tests/memory: 50 % sampling (by ClientRequestID here, so that (a) and (b) keep the
	// same records), one condition that keeps about 2 % of the sampled records, 15 fields.
	"a": {
		name:        "a",
		description: "sample 50 (key ClientRequestID) → status in [403 500 502 503 504] → 15 fields",
		fields:      workloadAFields,
		rate:        50,
		sampleKey:   "ClientRequestID",
		taskFilters: `filters:
  - {field: EdgeResponseStatusCode, op: equals, value: [403, 500, 502, 503, 504]}
`,
		bloblFilter: `let status = this.EdgeResponseStatusCode.or(null).number().catch(null)
let keep = $status != null && [403, 500, 502, 503, 504].contains($status)
`,
	},
}

// taskYAML is run (a): the workload as a task definition, reading input, delivering by dest.
func taskYAML(w workload, input, dest string) string {
	var b strings.Builder
	b.WriteString("name: bench\ncategory: access\nfields:\n")
	for _, f := range w.fields {
		fmt.Fprintf(&b, "  - %s\n", f)
	}
	fmt.Fprintf(&b, "sampling_rate: %g\n", w.rate)
	if w.sampleKey != "" {
		fmt.Fprintf(&b, "sample_key: %s\n", w.sampleKey)
	}
	b.WriteString(w.taskFilters)
	fmt.Fprintf(&b, "source: {type: file, paths: [%q]}\n", input)
	b.WriteString(dest)
	return b.String()
}

// pipelineYAML is run (b): the stock `file` input (lines), a `mapping` processor with the workload
// in Bloblang, and output (see stockOutput).
//
// The mapping tests the filter first and decides sampling only for the records that pass: the
// outcome is the same as sampling first (both decisions are per record and do not depend on each
// other), and it spares the Bloblang key hash for the records the filter drops.
func pipelineYAML(w workload, input, output string) string {
	var m strings.Builder
	if w.rate < 100 {
		m.WriteString(bloblSampleMap(w.rate, w.sampleKey))
	}
	m.WriteString(w.bloblFilter)
	if w.rate < 100 {
		m.WriteString("root = if $keep && this.apply(\"esa_sampled\") {\n  {\n")
	} else {
		m.WriteString("root = if $keep {\n  {\n")
	}
	for i, f := range w.fields {
		sentinel := `"-"`
		switch f {
		case "EdgeResponseStatusCode", "EdgeResponseBytes", "EdgeResponseTime", "OriginResponseStatusCode":
			sentinel = "-1"
		}
		sep := ","
		if i == len(w.fields)-1 {
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
%s`, stockFileInput(input), indent(m.String(), "        "), output)
}

// bloblSampleMap returns a Bloblang map esa_sampled that decides, for a record, whether esa_sample
// with this rate and key keeps it: FNV-1a 64 of the key's text, the SplitMix64 finalizer, kept when
// the top 53 bits are below sample.Threshold(rate) (see sample.KeyHash). Bloblang has 64-bit integers
// that wrap when multiplied and bitwise_xor/bitwise_and, but no shifts: a logical right shift by n
// clears the sign bit, subtracts the low n bits and divides by 2^n (exact in a float64: at most 53
// significant bits remain for n ≥ 10), then puts the sign bit back at bit 63-n. The key's bytes come
// from formatting the byte slice with %d ("[97 98 57]") and reading that as a JSON array.
//
// A string key hashes its (decoded) text, a number or boolean its text as Bloblang prints it (the
// same as JSON for integers and booleans), anything else (missing, null, object, array) "".
func bloblSampleMap(rate float64, key string) string {
	const (
		fnvOffset uint64 = 14695981039346656037
		fnvPrime  uint64 = 1099511628211
		mix1      uint64 = 0xbf58476d1ce4e5b9
		mix2      uint64 = 0x94d049bb133111eb
	)
	asInt := func(u uint64) int64 { return int64(u) }
	ushr := func(v string, n uint) string {
		return fmt.Sprintf("  let %[1]s63 = $%[1]s.bitwise_and(9223372036854775807)\n"+
			"  let %[1]s_%[2]d = (($%[1]s63 - $%[1]s63 %% %[3]d) / %[3]d).round() + (if $%[1]s < 0 { %[4]d } else { 0 })\n",
			v, n, int64(1)<<n, int64(1)<<(63-n))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "map esa_sampled {\n")
	fmt.Fprintf(&b, "  let k = this.%s\n", key)
	b.WriteString(`  let text = match $k.type() {
    "string" => $k,
    "number" => $k.string(),
    "bool" => $k.string(),
    _ => "",
  }
`)
	fmt.Fprintf(&b, "  let h0 = \"%%d\".format($text.bytes()).replace_all(\" \", \",\").parse_json().fold(%d, item -> item.tally.bitwise_xor(item.value) * %d)\n",
		asInt(fnvOffset), asInt(fnvPrime))
	b.WriteString(ushr("h0", 30))
	fmt.Fprintf(&b, "  let h1 = $h0.bitwise_xor($h0_30) * %d\n", asInt(mix1))
	b.WriteString(ushr("h1", 27))
	fmt.Fprintf(&b, "  let h2 = $h1.bitwise_xor($h1_27) * %d\n", asInt(mix2))
	b.WriteString(ushr("h2", 31))
	b.WriteString("  let h3 = $h2.bitwise_xor($h2_31)\n")
	b.WriteString(ushr("h3", 11))
	fmt.Fprintf(&b, "  root = $h3_11 < %d\n}\n", sample.Threshold(rate))
	return b.String()
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
