// Package e2e runs the esa-connect binary end to end with the local destination: the quickstart, a
// file-source task whose every delivered record is checked against an expectation computed here from
// the input (not by calling the processors), invalid task definitions, malformed input with a dead
// letter, and a clean flush on SIGTERM.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// env keeps each run's Benthos HTTP server off the shared default port.
var env = []string{"ESA_HTTP_ADDRESS=127.0.0.1:0"}

// inputRecord is one hand-built access record; nil fields are left out of the JSON.
type inputRecord map[string]any

// makeInput builds n access records that exercise the filter and field rules of docs/processing.md:
// numbers as strings, values that are not numbers, missing fields, sentinels, numbers in string
// fields, and request/response headers for custom fields.
func makeInput(n int, seed uint64) []inputRecord {
	r := rand.New(rand.NewPCG(seed, 1))
	pick := func(vals ...any) any { return vals[r.IntN(len(vals))] }
	base := time.Date(2026, 11, 25, 7, 59, 0, 0, time.FixedZone("", 8*3600))
	recs := make([]inputRecord, n)
	for i := range recs {
		rec := inputRecord{
			"ClientRequestID":              fmt.Sprintf("req-%06d", i),
			"EdgeStartTimestamp":           base.Add(time.Duration(r.IntN(180_000)) * time.Millisecond).Format("2006-01-02T15:04:05.000-07:00"),
			"ClientRequestHost":            pick("a.example.com", "A.Example.COM", "b.example.com", "c.example.com"),
			"ClientRequestPath":            pick("/api/v1/items", "/static/app.js", "/", "/api"),
			"ClientCountryCode":            pick("CN", "US", "DE"),
			"EdgeResponseStatusCode":       pick(200, 200, 404, "502", 503, "x", 500.0),
			"ClientIP":                     pick("10.0.0.1", "2001:db8::1", 167772161),
			"EdgeResponseBytes":            pick(1234, "987", "lots", -1),
			"EdgeResponseCompressionRatio": pick(1.5, "2.25", 3, "n/a"),
			"ClientSSLProtocol":            pick("TLSv1.3", "-"),
			"ClientSrcPort":                pick(443, 50000),
		}
		switch r.IntN(6) { // missing fields
		case 0:
			delete(rec, "ClientCountryCode")
		case 1:
			delete(rec, "ClientRequestPath")
		case 2:
			delete(rec, "EdgeResponseStatusCode")
		case 3:
			delete(rec, "ClientSrcPort")
		case 4:
			delete(rec, "ClientSSLProtocol")
		}
		if r.IntN(3) > 0 {
			h := map[string]any{"X-Trace-Id": fmt.Sprintf("t-%d", i), "User-Agent": "curl/8"}
			if r.IntN(2) == 0 {
				h["Cookie"] = "sid=9; region=eu; other=1"
			}
			rec["RequestHeaders"] = h
		}
		if r.IntN(2) == 0 {
			rec["ResponseHeaders"] = map[string]any{"Cache-Control": "no-cache", "Server": "esa"}
		}
		recs[i] = rec
	}
	return recs
}

// writeNDJSON writes records, one JSON object per line.
func writeNDJSON(t *testing.T, path string, recs []inputRecord, extra ...string) {
	t.Helper()
	var buf bytes.Buffer
	for i, rec := range recs {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		if i == len(recs)/2 {
			for _, e := range extra {
				buf.WriteString(e)
				buf.WriteByte('\n')
			}
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The file task's filter and fields; passes and expect implement docs/processing.md#filters and
// #field-selection for them.
const fileTaskFilters = `filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 400}
  - {field: ClientRequestHost, op: equals, value: [a.example.com, b.example.com], ignore_case: true}
  - any:
      - {field: ClientRequestPath, op: starts_with, value: /api/}
      - {field: ClientCountryCode, op: not_equals, value: [CN]}
`

var fileTaskFields = []struct{ name, typ string }{
	{"ClientRequestID", "string"},
	{"EdgeStartTimestamp", "timestamp"},
	{"EdgeResponseStatusCode", "int"},
	{"ClientRequestHost", "string"},
	{"ClientIP", "string"},
	{"EdgeResponseBytes", "int"},
	{"ClientSrcPort", "int"},
	{"EdgeResponseCompressionRatio", "float"},
	{"ClientSSLProtocol", "string"},
	{"ClientRegionCode", "string"},
}

// asNumber is the numeric value of a JSON number or numeric string.
func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// passes evaluates fileTaskFilters on rec.
func passes(rec inputRecord) bool {
	status, ok := asNumber(rec["EdgeResponseStatusCode"])
	if !ok || status < 400 {
		return false
	}
	host, _ := rec["ClientRequestHost"].(string)
	if !strings.EqualFold(host, "a.example.com") && !strings.EqualFold(host, "b.example.com") {
		return false
	}
	path, hasPath := rec["ClientRequestPath"].(string)
	country, hasCountry := rec["ClientCountryCode"].(string)
	return (hasPath && strings.HasPrefix(path, "/api/")) || !hasCountry || country != "CN"
}

// expect is the delivered record for rec: the selected fields in order with catalog types and
// sentinels (null with nulls: esa_fields' missing_as_null, as for Parquet), then CustomFields.
func expect(rec inputRecord, nulls bool) *ordered {
	out := &ordered{}
	for _, f := range fileTaskFields {
		v, present := rec[f.name]
		var val any
		switch f.typ {
		case "string", "timestamp":
			val = "-"
			if nulls {
				val = nil
			}
			switch x := v.(type) {
			case string:
				val = x
			case int:
				val = strconv.Itoa(x)
			case float64:
				val = strconv.FormatFloat(x, 'f', -1, 64)
			}
		case "int":
			val = -1
			if n, ok := asNumber(v); present && ok && n == float64(int64(n)) {
				val = n
			} else if nulls {
				val = nil
			}
		case "float":
			val = -1
			if n, ok := asNumber(v); present && ok {
				val = n
			} else if nulls {
				val = nil
			}
		}
		out.keys = append(out.keys, f.name)
		out.vals = append(out.vals, val)
	}
	cf := &ordered{}
	reqH, _ := rec["RequestHeaders"].(map[string]any)
	respH, _ := rec["ResponseHeaders"].(map[string]any)
	rh := &ordered{}
	if v, ok := reqH["X-Trace-Id"]; ok {
		rh.keys, rh.vals = []string{"x-trace-id"}, []any{v}
	}
	sh := &ordered{}
	if v, ok := respH["Cache-Control"]; ok {
		sh.keys, sh.vals = []string{"cache-control"}, []any{v}
	}
	ck := &ordered{}
	if c, ok := reqH["Cookie"].(string); ok {
		for _, kv := range strings.Split(c, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if k == "region" {
				ck.keys, ck.vals = []string{"region"}, []any{v}
			}
		}
	}
	cf.keys = []string{"request_headers", "response_headers", "cookies"}
	cf.vals = []any{rh, sh, ck}
	out.keys = append(out.keys, "CustomFields")
	out.vals = append(out.vals, cf)
	return out
}

// fileTask is a task reading input, writing under out, with optional extra YAML.
func fileTask(name, input, out, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ncategory: access\nfields:\n", name)
	for _, f := range fileTaskFields {
		fmt.Fprintf(&b, "  - %s\n", f.name)
	}
	b.WriteString(fileTaskFilters)
	b.WriteString("custom_fields:\n  request_headers: [X-Trace-Id]\n  response_headers: [cache-control]\n  cookies: [region]\n")
	fmt.Fprintf(&b, "source: {type: file, paths: [%q]}\n", input)
	fmt.Fprintf(&b, "destination: {type: local, path: %q, batching: {count: 300}}\n", out)
	b.WriteString(extra)
	return b.String()
}

// compareDelivered checks that the delivered lines are exactly the expectation for the input records,
// record by record (matched by ClientRequestID), including key order and value types; nulls: with
// null in place of the sentinels.
func compareDelivered(t *testing.T, recs []inputRecord, lines [][]byte, nulls bool) {
	t.Helper()
	want := map[string]string{}
	for _, rec := range recs {
		if passes(rec) {
			want[rec["ClientRequestID"].(string)] = expect(rec, nulls).String()
		}
	}
	if len(want) == 0 || len(want) == len(recs) {
		t.Fatalf("bad test input: %d of %d records pass the filter", len(want), len(recs))
	}
	got := map[string]string{}
	for _, l := range lines {
		o, err := parseOrdered(l)
		if err != nil {
			t.Fatalf("delivered record: %v", err)
		}
		id, _ := o.get("ClientRequestID")
		s, _ := id.(string)
		if _, dup := got[s]; dup {
			t.Errorf("record %s delivered twice", s)
		}
		got[s] = o.String()
	}
	if len(got) != len(want) {
		t.Errorf("delivered %d records, want %d", len(got), len(want))
	}
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	bad := 0
	for _, id := range ids {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("record %s passes the filter but was not delivered", id)
		case g != want[id]:
			t.Errorf("record %s:\n got  %s\n want %s", id, g, want[id])
		default:
			continue
		}
		if bad++; bad > 10 {
			t.Fatal("too many differences")
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("record %s was delivered but does not pass the filter", id)
		}
	}
}

func TestFileTaskEndToEnd(t *testing.T) {
	dir := t.TempDir()
	recs := makeInput(3000, 1)
	input := filepath.Join(dir, "in.ndjson")
	writeNDJSON(t, input, recs)
	out := filepath.Join(dir, "out")
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(fileTask("file-e2e", input, out, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", taskPath)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	if !strings.Contains(res.Stdout, out) {
		t.Errorf("run did not say where the files went (%s):\n%s", out, res.Stdout)
	}
	objs := readObjects(t, out)
	// The batch count is reached within an input batch of up to 1,000 records, which Benthos adds
	// whole, so objects hold at least 300 records (but the last) and there are several.
	if len(objs) < 2 {
		t.Errorf("%d objects; with batches of 300 want several", len(objs))
	}
	checkObjectNames(t, "file-e2e", "EdgeStartTimestamp", objs)
	compareDelivered(t, recs, allLines(objs), false)
}

func TestMalformedRecordsDeadLetter(t *testing.T) {
	malformed := []string{
		`{"ClientRequestID": "broken", `,
		`"a bare string"`,
		`[1,2,3]`,
		`42`,
		`{"ClientRequestID":"too-big","Pad":"` + strings.Repeat("x", 1<<20) + `"}`,
	}
	for _, withDL := range []bool{true, false} {
		t.Run(fmt.Sprintf("dead_letter=%v", withDL), func(t *testing.T) {
			dir := t.TempDir()
			recs := makeInput(1000, 2)
			input := filepath.Join(dir, "in.ndjson")
			writeNDJSON(t, input, recs, malformed...)
			out, dead := filepath.Join(dir, "out"), filepath.Join(dir, "dead")
			extra := ""
			if withDL {
				extra = fmt.Sprintf("dead_letter: {type: local, path: %q}\n", dead)
			}
			taskPath := filepath.Join(dir, "task.yaml")
			if err := os.WriteFile(taskPath, []byte(fileTask("bad-input", input, out, extra)), 0o644); err != nil {
				t.Fatal(err)
			}
			res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", taskPath)
			// Malformed records never stop the run. With a dead letter they are kept there and the run
			// exits 0; without one they are lost to the destination: the run says how many and exits 1.
			passing := 0
			for _, rec := range recs {
				if passes(rec) {
					passing++
				}
			}
			notDelivered, deadLettered := len(malformed), 0
			if withDL {
				notDelivered, deadLettered = 0, len(malformed)
			}
			summary := fmt.Sprintf("%d in, 0 sampled out, %d filtered out, %d invalid, %d delivered, %d dead-lettered, %d not delivered",
				len(recs)+len(malformed), len(recs)-passing, len(malformed), passing, deadLettered, notDelivered)
			if !strings.Contains(res.Stdout, summary) {
				t.Errorf("summary line lacks %q:\n%s", summary, res.Output())
			}
			if withDL && res.ExitCode != 0 {
				t.Fatalf("exit %d, want 0 (malformed records are dead-lettered)\n%s", res.ExitCode, res.Output())
			}
			if !withDL {
				want := fmt.Sprintf("%d records were not delivered (%d invalid records were dropped: set dead_letter", len(malformed), len(malformed))
				if res.ExitCode != 1 || !strings.Contains(res.Stderr, want) {
					t.Fatalf("exit %d, want 1 with %q\n%s", res.ExitCode, want, res.Output())
				}
			}
			compareDelivered(t, recs, allLines(readObjects(t, out)), false)
			if !withDL {
				if _, err := os.Stat(dead); err == nil {
					t.Error("a dead-letter directory appeared without dead_letter")
				}
				return
			}
			got := readLinesFile(t, filepath.Join(dead, "bad-input.dead-letter.ndjson"))
			want := append([]string(nil), malformed...)
			sort.Strings(want)
			if len(got) != len(want) {
				t.Fatalf("dead letter holds %d lines, want the %d malformed records", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("dead letter line %d = %.80q…, want %.80q…", i, got[i], want[i])
				}
			}
		})
	}
}

func TestInvalidTaskNothingStarted(t *testing.T) {
	dir := t.TempDir()
	task := `name: "-bad"
category: access
fields: [ClientIp, EdgeResponseStatusCode]
sampling_rate: 150
filters:
  - {field: EdgeResponseStatusCode, op: contains, value: 4}
surprise: true
source: {type: generate, count: 10}
destination: {type: local, path: ./out}
`
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"run", "translate"} {
		res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, cmd, taskPath)
		if res.ExitCode != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", cmd, res.ExitCode, res.Output())
		}
		for _, path := range []string{"name:", "fields[0]:", `"ClientIP"`, "sampling_rate:", "filters[0].op:", "surprise:"} {
			if !strings.Contains(res.Stderr, path) {
				t.Errorf("%s: the errors do not mention %s:\n%s", cmd, path, res.Stderr)
			}
		}
		if strings.Contains(res.Stdout, "http:") {
			t.Errorf("%s printed a config for an invalid task", cmd)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("the invalid task started: ./out exists")
	}
}

func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env})
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	out := filepath.Join(dir, "out")
	if !strings.Contains(res.Stdout, out) {
		t.Errorf("the quickstart did not print where the files went (%s):\n%s", out, res.Stdout)
	}
	objs := readObjects(t, out)
	if len(objs) == 0 {
		t.Fatal("no objects")
	}
	checkObjectNames(t, "quickstart", "EdgeStartTimestamp", objs)
	fields := []string{"EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientCountryCode", "ClientRequestMethod",
		"ClientRequestScheme", "ClientRequestHost", "ClientRequestPath", "ClientRequestUserAgent",
		"EdgeResponseStatusCode", "EdgeResponseBytes", "EdgeResponseTime", "EdgeCacheStatus",
		"OriginResponseStatusCode", "SecAction"}
	lines := allLines(objs)
	for i, l := range lines {
		o, err := parseOrdered(l)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(o.keys, ",") != strings.Join(fields, ",") {
			t.Fatalf("record %d has fields %v, want %v", i, o.keys, fields)
		}
		m, _ := o.get("ClientRequestMethod")
		p, _ := o.get("ClientRequestPath")
		if m == "OPTIONS" || strings.HasPrefix(fmt.Sprint(p), "/healthz") {
			t.Fatalf("record %d should have been filtered out: %s", i, l)
		}
		if _, ok := o.vals[9].(json.Number); !ok {
			t.Fatalf("record %d: EdgeResponseStatusCode is not a number: %s", i, l)
		}
	}
	// 100,000 records sampled at 50 %: the kept count is binomial (sd ≈ 158) times the filter's pass
	// rate, which is at most 1.
	if n := len(lines); n > 51000 || n < 30000 {
		t.Errorf("%d records delivered; 50 %% of 100,000 then a light filter should give 30,000–51,000", n)
	}
}

func TestSIGTERMFlushesPartialBatches(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	task := fmt.Sprintf(`name: forever
category: access
fields: [EdgeStartTimestamp, ClientRequestID, EdgeResponseStatusCode]
source: {type: generate, count: 0, rate: 2000/s}
destination: {type: local, path: %q, batching: {count: 10000000, period: 1h}}
`, out)
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", taskPath)
	p.WaitOutput(t, "running task forever", 60*time.Second)
	// Let records reach the output's batcher. Its count is never reached and its period (1 h) does
	// not pass, so the batch can only be written by the drain on SIGTERM.
	time.Sleep(2 * time.Second)
	if objs := readObjects(t, out); len(objs) != 0 {
		t.Fatalf("%d objects written before the signal; the batch policy should hold them", len(objs))
	}
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	res := p.Wait(t, 2*time.Minute)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0 (everything read was delivered)\n%s", res.ExitCode, res.Output())
	}
	objs := readObjects(t, out)
	lines := allLines(objs)
	if len(lines) == 0 {
		t.Fatalf("SIGTERM did not flush the partial batch\n%s", res.Output())
	}
	if spools, _ := filepath.Glob(filepath.Join(out, ".*")); len(spools) != 0 {
		t.Errorf("spool files left behind after the drain: %v", spools)
	}
	ids := map[string]bool{}
	for _, l := range lines {
		o, err := parseOrdered(l)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := o.get("ClientRequestID")
		ids[fmt.Sprint(id)] = true
	}
	if len(ids) != len(lines) {
		t.Errorf("%d records but %d distinct request IDs", len(lines), len(ids))
	}
}
