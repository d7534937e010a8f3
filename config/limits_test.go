package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// bombAnchors returns YAML mapping entries (one per line, indented by indent) defining the anchors
// a … i: a is a list of nine scalars and each next one a list of nine aliases to the previous, so *i
// stands for 9^9 (387,420,489) scalars in about 300 bytes.
func bombAnchors(indent string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%sa: &a [x, x, x, x, x, x, x, x, x]\n", indent)
	prev := "a"
	for _, name := range "bcdefghi" {
		fmt.Fprintf(&b, "%s%c: &%c [%s*%s]\n", indent, name, name, strings.Repeat("*"+prev+", ", 8), prev)
		prev = string(name)
	}
	return b.String()
}

// bombFlow is the same bomb as one YAML flow mapping whose key z refers to *i, to embed in a JSON string.
func bombFlow() string {
	parts := []string{"a: &a [x, x, x, x, x, x, x, x, x]"}
	prev := "a"
	for _, name := range "bcdefghi" {
		parts = append(parts, fmt.Sprintf("%c: &%c [%s*%s]", name, name, strings.Repeat("*"+prev+", ", 8), prev))
		prev = string(name)
	}
	return "{" + strings.Join(parts, ", ") + ", z: *i}"
}

const bombMsg = "the task definition expands to more than 100000 values through YAML aliases (&anchor/*alias)"

// TestLoadRefusesHostileYAML checks that alias bombs (which would take gigabytes to decode) and alias
// cycles (which would never end) are refused before decoding, with one problem naming them.
func TestLoadRefusesHostileYAML(t *testing.T) {
	if len(bombAnchors("")) > 1024 {
		t.Fatalf("the bomb is %d bytes, not a 1 KB one", len(bombAnchors("")))
	}
	cases := []struct {
		name string
		def  string
		want Errors
	}{
		{"bomb in filters", bombAnchors("") + native("filters: *i"), Errors{{Msg: bombMsg}}},
		{"bomb in an any group", bombAnchors("") + native("filters: [{any: *i}]"), Errors{{Msg: bombMsg}}},
		{"bomb in fields", bombAnchors("") + "name: t\ncategory: access\nfields: *i\ndestination: {type: local, path: o}\n",
			Errors{{Msg: bombMsg}}},
		{"bomb in a benthos source config", native("source:\n  type: benthos\n  config:\n    generate:\n" +
			bombAnchors("      ") + "      mapping: *i\n"), Errors{{Msg: bombMsg}}},
		{"bomb in a benthos dead letter config", native("dead_letter:\n  type: benthos\n  config:\n" +
			bombAnchors("    ") + "    stdout: {codec: *i}\n"), Errors{{Msg: bombMsg}}},
		{"bomb under an unknown key", native("extra:\n" + bombAnchors("  ") + "  z: *i\n"), Errors{{Msg: bombMsg}}},
		{"bomb in ESA FilterRules (JSON string)", esaDef(`"FilterRules":` + quoteJSON("["+bombFlow()+"]")),
			Errors{{Path: "FilterRules", Msg: bombMsg}}},
		{"bomb in an ESA delivery (JSON string)", esaDef(`"DeliveryType":"http","HttpDelivery":` + quoteJSON(bombFlow())),
			Errors{{Path: "HttpDelivery", Msg: bombMsg}}},
		{"bomb in ESA HeaderParam (JSON string in a JSON string)", esaDef(`"DeliveryType":"http","HttpDelivery":` +
			quoteJSON(`{"DestUrl":"http://x","HeaderParam":`+quoteJSON(bombFlow())+`}`)),
			Errors{{Path: "HttpDelivery.HeaderParam", Msg: bombMsg}}},
		{"no aliases but too many values", native("sampling_rate: [" + strings.Repeat("1,", MaxExpandedValues) + "1]"),
			Errors{{Msg: "the task definition has more than 100000 values"}}},
		{"alias cycle in filters", native("filters: &x [{any: *x}]"),
			Errors{{Msg: "the YAML alias *x refers to a value that contains it"}}},
		{"alias cycle in a benthos config", native("source: {type: benthos, config: &c {stdin: *c}}"),
			Errors{{Msg: "the YAML alias *c refers to a value that contains it"}}},
		{"alias cycle in a JSON string", esaDef(`"FilterRules":"&r [{any: *r}]"`),
			Errors{{Path: "FilterRules", Msg: "the YAML alias *r refers to a value that contains it"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task, err := Load([]byte(tc.def))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", task)
			}
			var errs Errors
			if !errors.As(err, &errs) || !reflect.DeepEqual(errs, tc.want) {
				t.Fatalf("got %#v\nwant %#v", err, tc.want)
			}
		})
	}
}

// quoteJSON returns s as a JSON string literal.
func quoteJSON(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// TestLoadAliasesWithinLimits checks that ordinary use of anchors and aliases still loads.
func TestLoadAliasesWithinLimits(t *testing.T) {
	def := "name: t\ncategory: access\nfields: [&ip ClientIP, EdgeStartTimestamp]\nsample_key: *ip\n" +
		"filters: [&c {field: ClientIP, op: exists}, *c]\ndestination: {type: local, path: out}\n"
	task, err := Load([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if task.SampleKey != "ClientIP" || len(task.Filters) != 2 || task.Filters[1].Op != "exists" {
		t.Fatalf("task = %+v", task)
	}
}

func TestParseESAFilterRefusesHostileInput(t *testing.T) {
	cases := []struct {
		name, in string
		want     Errors
	}{
		{"alias bomb", "[" + bombFlow() + "]", Errors{{Msg: "the filter expands to more than 100000 values through YAML aliases (&anchor/*alias)"}}},
		{"alias cycle", "&r [{any: *r}]", Errors{{Msg: "the YAML alias *r refers to a value that contains it"}}},
		{"too large", "[" + strings.Repeat(" ", MaxDefinitionBytes) + "]",
			Errors{{Msg: "the filter is 1048578 bytes; at most 1048576 bytes (1 MiB) are accepted"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conds, err := ParseESAFilter([]byte(tc.in))
			var errs Errors
			if !errors.As(err, &errs) || !reflect.DeepEqual(errs, tc.want) {
				t.Fatalf("got %v, %#v\nwant %#v", conds, err, tc.want)
			}
		})
	}
}

// TestLoadSizeLimit checks the MaxDefinitionBytes limit in Load and ReadFile.
func TestLoadSizeLimit(t *testing.T) {
	def := native("")
	pad := func(n int) []byte { // def padded with a comment to exactly n bytes
		return []byte(def + "#" + strings.Repeat("x", n-len(def)-2) + "\n")
	}
	if _, err := Load(pad(MaxDefinitionBytes)); err != nil {
		t.Fatalf("a definition of exactly MaxDefinitionBytes: %v", err)
	}
	_, err := Load(pad(MaxDefinitionBytes + 1))
	want := Errors{{Msg: "the task definition is 1048577 bytes; at most 1048576 bytes (1 MiB) are accepted"}}
	var errs Errors
	if !errors.As(err, &errs) || !reflect.DeepEqual(errs, want) {
		t.Fatalf("got %#v, want %#v", err, want)
	}

	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, pad(3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(big)
	want = Errors{{Msg: "the task definition is 3145728 bytes; at most 1048576 bytes (1 MiB) are accepted"}}
	if !errors.As(err, &errs) || !reflect.DeepEqual(errs, want) {
		t.Fatalf("LoadFile: got %#v, want %#v", err, want)
	}
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, pad(MaxDefinitionBytes), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(ok); err != nil || len(data) != MaxDefinitionBytes {
		t.Fatalf("ReadFile = %d bytes, %v", len(data), err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) ||
		!strings.HasPrefix(err.Error(), "config: read task definition: open ") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestLoadCapsProblems checks that at most MaxProblems problems are listed, then one entry counting
// the rest, whether they come from decoding, from validation or from both.
func TestLoadCapsProblems(t *testing.T) {
	keys := func(n int) string { return repeat("k%d: 1", n) }
	badFields := func(n int) string { return repeat("f%d", n) }
	cases := []struct {
		name      string
		def       string
		last      string
		firstPath string
	}{
		{"unknown keys", nativeBase + "destination: {type: local, path: o}\n" +
			strings.ReplaceAll(keys(150), ", ", "\n") + "\n", "… and 50 more problems", "k0"},
		{"exactly the maximum", nativeBase + "destination: {type: local, path: o}\n" +
			strings.ReplaceAll(keys(100), ", ", "\n") + "\n", "", "k0"},
		{"one more than the maximum", nativeBase + "destination: {type: local, path: o}\n" +
			strings.ReplaceAll(keys(101), ", ", "\n") + "\n", "… and 1 more problem", "k0"},
		{"bad fields (validation)", "name: t\ncategory: access\nfields: [" + badFields(120) + "]\ndestination: {type: local, path: o}\n",
			"… and 20 more problems", "fields[0]"},
		{"decoding and validation", "name: t\ncategory: access\nfields: [" + badFields(60) + "]\ndestination: {type: local, path: o}\n" +
			strings.ReplaceAll(keys(60), ", ", "\n") + "\n", "… and 20 more problems", "k0"},
		{"ESA filter values (rewritten paths)", esaDef(`"FilterRules":[{"EdgeResponseStatusCode":{"equals":[` +
			repeat(`"v%d"`, 150) + `]}}]`), "… and 50 more problems", "FilterRules[0].EdgeResponseStatusCode.equals[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.def))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v", err)
			}
			if tc.last == "" {
				if len(errs) > MaxProblems {
					t.Fatalf("%d problems listed", len(errs))
				}
			} else {
				if len(errs) != MaxProblems+1 {
					t.Fatalf("%d problems listed, want %d", len(errs), MaxProblems+1)
				}
				if got := errs[MaxProblems]; got != (FieldError{Msg: tc.last}) {
					t.Fatalf("last entry %#v, want %q", got, tc.last)
				}
			}
			if errs[0].Path != tc.firstPath {
				t.Fatalf("first problem %v, want path %s", errs[0], tc.firstPath)
			}
		})
	}
}

// TestLoadManyUnknownKeys loads a definition of almost MaxExpandedValues values made of unknown keys:
// the count is exact and only the first MaxProblems are described.
func TestLoadManyUnknownKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString(native(""))
	n := 0
	for 2*n+100 < MaxExpandedValues { // n keys are 2n values
		fmt.Fprintf(&b, "k%d: 1\n", n)
		n++
	}
	_, err := Load([]byte(b.String()))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != MaxProblems+1 {
		t.Fatalf("got %d problems: %v", len(errs), err)
	}
	if want := fmt.Sprintf("… and %d more problems", n-MaxProblems); errs[MaxProblems].Msg != want {
		t.Fatalf("last = %q, want %q", errs[MaxProblems].Msg, want)
	}
	if errs[99].Path != "k99" || errs[99].Msg != "unknown key" {
		t.Fatalf("errs[99] = %#v", errs[99])
	}
}

// TestBoundsAccepted loads definitions at every bound of validate.go exactly.
func TestBoundsAccepted(t *testing.T) {
	for _, dest := range []string{
		"{type: local, path: o, batching: {count: 10000000, byte_size: 1024, period: 100ms}}",
		"{type: s3, bucket_path: b, region: r, max_in_flight: 1024, batching: {byte_size: 1073741824, period: 0.1s}}",
		"{type: oss, bucket: b, region: r, max_in_flight: 1024, batching: {count: 1, period: 1h}}",
		"{type: sls, project: p, logstore: l, region: r, max_in_flight: 1024, batching: {count: 0, byte_size: 0}}",
		"{type: kafka, topic: t, brokers: ['k:1'], max_in_flight: 1024, batching: {period: 100ms}}",
		"{type: http, url: 'http://x', timeout: 3600, max_retry: 100, max_batch_mb: 100, max_in_flight: 1024, period: 100ms}",
	} {
		if _, err := Load([]byte(native("destination: " + dest))); err != nil {
			t.Errorf("%s: %v", dest, err)
		}
	}
	if _, err := Load([]byte(esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://x","TransformTimeout":3600,"MaxRetry":100}`))); err != nil {
		t.Errorf("ESA http at the bounds: %v", err)
	}
}
