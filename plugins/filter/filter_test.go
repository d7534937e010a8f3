package filter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// vectorRecord is the record of docs/processing.md#filter-example.
const vectorRecord = `{"ClientRequestID":"r1","ClientRequestHost":"A.example.com","EdgeResponseStatusCode":"502",
 "ClientSSLProtocol":"-","OriginResponseStatusCode":-1,"SecRuleID":"-1","EdgeResponseBytes":"lots",
 "ClientRequestPath":"/api/v1/items","EdgeStartTimestamp":"2026-11-25T08:00:00+08:00",
 "RequestHeaders":{"X-Trace-Id":"t-1","Cookie":"sid=9; region=eu"},"ResponseHeaders":{"Cache-Control":"no-cache"}}`

func cnd(field, op string, ignoreCase bool, values ...any) config.Condition {
	return config.Condition{Field: field, Op: op, Values: values, IgnoreCase: ignoreCase}
}

type filterCase struct {
	name string
	cond config.Condition
	want bool
}

// vectorCases is the table of docs/processing.md#filter-example, exactly.
var vectorCases = []filterCase{
	{"numeric string compares as a number", cnd("EdgeResponseStatusCode", "ge", false, int64(500)), true},
	{"any of the list", cnd("EdgeResponseStatusCode", "equals", false, int64(500), int64(502)), true},
	{"case-sensitive by default", cnd("ClientRequestHost", "equals", false, "a.example.com"), false},
	{"ignore_case", cnd("ClientRequestHost", "equals", true, "a.example.com"), true},
	{"missing field: positive operator false", cnd("ClientRequestReferer", "equals", false, "x"), false},
	{"missing field: negative operator true", cnd("ClientRequestReferer", "not_equals", false, "x"), true},
	{"none of the list", cnd("ClientRequestPath", "not_starts_with", false, "/static/", "/img/"), true},
	{"negative list = none of", cnd("ClientRequestHost", "not_equals", false, "A.example.com", "b.example.com"), false},
	{"- marks not applicable", cnd("ClientSSLProtocol", "exists", false), false},
	{"-1 on an int field", cnd("OriginResponseStatusCode", "not_exists", false), true},
	{"the string -1 is a value", cnd("SecRuleID", "exists", false), true},
	{"not a number: numeric comparison false", cnd("EdgeResponseBytes", "gt", false, int64(0)), false},
	{"not a number: not_equals true", cnd("EdgeResponseBytes", "not_equals", false, int64(0)), true},
	{"unanchored search", cnd("ClientRequestPath", "regex", false, "v[0-9]+/items"), true},
}

// moreCases cover the remaining operators, types and custom fields.
var moreCases = []filterCase{
	{"contains", cnd("ClientRequestPath", "contains", false, "zzz", "/v1/"), true},
	{"not_contains", cnd("ClientRequestPath", "not_contains", false, "/v1/"), false},
	{"ends_with", cnd("ClientRequestPath", "ends_with", false, "/items"), true},
	{"not_ends_with", cnd("ClientRequestPath", "not_ends_with", false, "/items"), false},
	{"starts_with ignore_case", cnd("ClientRequestHost", "starts_with", true, "a.EXAMPLE"), true},
	{"contains ignore_case", cnd("ClientRequestHost", "contains", true, "EXAMPLE.COM"), true},
	{"regex anchored", cnd("ClientRequestPath", "regex", false, "^v1"), false},
	{"not_regex", cnd("ClientRequestPath", "not_regex", false, "^/api/"), false},
	{"regex ignore_case", cnd("ClientRequestHost", "regex", true, "^a\\.EXAMPLE\\.com$"), true},
	{"lt on numeric string", cnd("EdgeResponseStatusCode", "lt", false, int64(503)), true},
	{"le float value", cnd("EdgeResponseStatusCode", "le", false, 501.5), false},
	{"equals numeric string value", cnd("EdgeResponseStatusCode", "equals", false, "502"), true},
	{"int -1 equals", cnd("OriginResponseStatusCode", "equals", false, int64(-1)), true},
	{"exists on present int", cnd("EdgeResponseStatusCode", "exists", false), true},
	{"not_exists on missing", cnd("ClientSrcPort", "not_exists", false), true},
	{"exists on missing", cnd("ClientSrcPort", "exists", false), false},
	{"timestamp equals as instant", cnd("EdgeStartTimestamp", "equals", false, "2026-11-25T00:00:00Z"), true},
	{"timestamp gt", cnd("EdgeStartTimestamp", "gt", false, "2026-11-24T23:59:59.999Z"), true},
	{"timestamp lt", cnd("EdgeStartTimestamp", "lt", false, "2026-11-25T00:00:00Z"), false},
	{"timestamp starts_with text", cnd("EdgeStartTimestamp", "starts_with", false, "2026-11-25T08"), true},
	{"header case-insensitive", cnd("CustomFields.request_headers.x-trace-id", "equals", false, "t-1"), true},
	{"header upper-case name", cnd("CustomFields.request_headers.X-TRACE-ID", "equals", false, "t-1"), true},
	{"missing header negative", cnd("CustomFields.request_headers.x-nope", "not_equals", false, "t-1"), true},
	{"missing header positive", cnd("CustomFields.request_headers.x-nope", "exists", false), false},
	{"response header", cnd("CustomFields.response_headers.cache-control", "contains", false, "no-"), true},
	{"cookie from header", cnd("CustomFields.cookies.region", "equals", false, "eu"), true},
	{"cookie case-sensitive", cnd("CustomFields.cookies.Region", "exists", false), false},
	{"cookie not_exists", cnd("CustomFields.cookies.nope", "not_exists", false), true},
}

func newProc(t testing.TB, conds ...config.Condition) *Processor {
	t.Helper()
	p, err := New(Config{Category: "access", Conditions: conds}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVectors(t *testing.T) {
	for _, tc := range append(append([]filterCase{}, vectorCases...), moreCases...) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newProc(t, tc.cond).Match([]byte(vectorRecord))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("%+v = %v, want %v", tc.cond, got, tc.want)
			}
		})
	}
}

// TestESAForm checks the JSON form of the vectors gives the same decisions.
func TestESAForm(t *testing.T) {
	conds, err := config.ParseESAFilter([]byte(`[{"EdgeResponseStatusCode": {"ge": [500]}}, {"ClientRequestHost": {"equals": ["a.example.com"]}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := newProc(t, conds[0]).Match([]byte(vectorRecord)); !got {
		t.Error("ge 500 should hold")
	}
	if got, _ := newProc(t, conds...).Match([]byte(vectorRecord)); got {
		t.Error("AND with a case-sensitive mismatch should fail")
	}
}

func TestAndOr(t *testing.T) {
	yes := cnd("EdgeResponseStatusCode", "ge", false, int64(500))
	no := cnd("ClientRequestHost", "equals", false, "a.example.com")
	cases := []struct {
		conds []config.Condition
		want  bool
	}{
		{nil, true},
		{[]config.Condition{yes, yes}, true},
		{[]config.Condition{yes, no}, false},
		{[]config.Condition{yes, {Any: []config.Condition{no, yes}}}, true},
		{[]config.Condition{{Any: []config.Condition{no, no}}}, false},
	}
	for i, tc := range cases {
		if got, err := newProc(t, tc.conds...).Match([]byte(vectorRecord)); err != nil || got != tc.want {
			t.Errorf("case %d: %v, %v; want %v", i, got, err, tc.want)
		}
	}
}

func TestTypesAndSentinels(t *testing.T) {
	cases := []struct {
		rec  string
		cond config.Condition
		want bool
	}{
		{`{"ClientRequestHost":null}`, cnd("ClientRequestHost", "not_equals", false, "x"), true},
		{`{"ClientRequestHost":null}`, cnd("ClientRequestHost", "exists", false), false},
		{`{"ClientRequestHost":""}`, cnd("ClientRequestHost", "exists", false), false},
		{`{"ClientRequestHost":"a\u0042c"}`, cnd("ClientRequestHost", "equals", false, "aBc"), true},
		{`{"ClientSrcPort":"-"}`, cnd("ClientSrcPort", "exists", false), false},
		{`{"ClientSrcPort":"-1"}`, cnd("ClientSrcPort", "exists", false), false},
		{`{"ClientSrcPort":443.0}`, cnd("ClientSrcPort", "equals", false, int64(443)), true},
		{`{"ClientSrcPort":9223372036854775807}`, cnd("ClientSrcPort", "gt", false, int64(9223372036854775806)), true},
		{`{"ClientSrcPort":{"a":1}}`, cnd("ClientSrcPort", "equals", false, int64(1)), false},
		{`{"ClientSrcPort":true}`, cnd("ClientSrcPort", "not_equals", false, int64(1)), true},
		{`{"EdgeResponseCompressionRatio":"1.5"}`, cnd("EdgeResponseCompressionRatio", "gt", false, 1.25), true},
		{`{"EdgeStartTimestamp":1764028800}`, cnd("EdgeStartTimestamp", "equals", false, "2025-11-25T00:00:00Z"), true},
		{`{"EdgeStartTimestamp":"yesterday"}`, cnd("EdgeStartTimestamp", "gt", false, "2025-11-25T00:00:00Z"), false},
		{`{"EdgeStartTimestamp":"yesterday"}`, cnd("EdgeStartTimestamp", "not_equals", false, "2025-11-25T00:00:00Z"), true},
		{`{"SecRuleID":12}`, cnd("SecRuleID", "equals", false, "12"), true},
		{`{"Cookies":{"sid":"x"},"RequestHeaders":{"cookie":"sid=y"}}`, cnd("CustomFields.cookies.sid", "equals", false, "x"), true},
		{`{"RequestHeaders":{"cookie":"a=1; sid=\"q\""}}`, cnd("CustomFields.cookies.sid", "equals", false, "q"), true},
		{`{"RequestHeaders":{"x-multi":["a","b"]}}`, cnd("CustomFields.request_headers.x-multi", "equals", false, "a, b"), true},
		{`{"RequestHeaders":"oops"}`, cnd("CustomFields.request_headers.x", "not_exists", false), true},
		{`{"RequestHeaders":{"Cookie":["sid=1","Region=2"]}}`, cnd("CustomFields.cookies.Region", "equals", false, "2"), true},
	}
	for _, tc := range cases {
		got, err := newProc(t, tc.cond).Match([]byte(tc.rec))
		if err != nil || got != tc.want {
			t.Errorf("%s with %+v: %v, %v; want %v", tc.rec, tc.cond, got, err, tc.want)
		}
	}
	// bool fields (tcp_udp_proxy IpFirewall)
	p, err := New(Config{Category: "tcp_udp_proxy", Conditions: []config.Condition{cnd("IpFirewall", "equals", false, true)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for rec, want := range map[string]bool{`{"IpFirewall":true}`: true, `{"IpFirewall":"true"}`: true, `{"IpFirewall":false}`: false, `{"IpFirewall":1}`: false} {
		if got, _ := p.Match([]byte(rec)); got != want {
			t.Errorf("%s: %v, want %v", rec, got, want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	cases := []Config{
		{Category: "nope"},
		{Category: "access", Conditions: []config.Condition{cnd("ClientIp", "equals", false, "x")}},
		{Category: "access", Conditions: []config.Condition{cnd("ClientSrcPort", "contains", false, "x")}},
		{Category: "access", Conditions: []config.Condition{cnd("ClientIP", "regex", false, "(")}},
		{Category: "firewall", Conditions: []config.Condition{cnd("CustomFields.cookies.a", "exists", false)}},
	}
	for _, c := range cases {
		if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), Name) {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
	var many []config.Condition
	for i := 0; i < 21; i++ {
		many = append(many, cnd("ClientIP", "exists", false))
	}
	if _, err := New(Config{Category: "access", Conditions: many}, nil); err == nil {
		t.Error("21 conditions accepted")
	}
}

func TestBadRecordsNeverCrash(t *testing.T) {
	p := newProc(t, cnd("EdgeResponseStatusCode", "ge", false, int64(500)), cnd("CustomFields.cookies.a", "not_exists", false))
	for _, rec := range badRecords() {
		_, err := p.Match([]byte(rec.rec))
		var ie *record.InvalidError
		if !errors.As(err, &ie) || ie.Reason != rec.reason {
			t.Errorf("%s: err = %v, want reason %s", rec.name, err, rec.reason)
		}
	}
}

type badRecord struct{ name, rec, reason string }

func badRecords() []badRecord {
	return []badRecord{
		{"truncated", `{"EdgeResponseStatusCode":50`, record.ReasonMalformed},
		{"bare string", `"x"`, record.ReasonNotObject},
		{"array", `[]`, record.ReasonNotObject},
		{"number", `1`, record.ReasonNotObject},
		{"null", `null`, record.ReasonNotObject},
		{"empty", ``, record.ReasonEmpty},
		{"invalid utf8", "{\"ClientIP\":\"\xff\"}", record.ReasonInvalidUTF8},
		{"too large", `{"a":"` + strings.Repeat("x", record.MaxRecordSize) + `"}`, record.ReasonTooLarge},
		{"duplicate key", `{"EdgeResponseStatusCode":500,"EdgeResponseStatusCode":200}`, record.ReasonDuplicateKey},
		{"nested garbage", `{"RequestHeaders":{"a":[}}`, record.ReasonMalformed},
		{"unterminated string", `{"ClientIP":"1.2.3.4}`, record.ReasonMalformed},
		{"trailing garbage", `{"ClientIP":"x"}}`, record.ReasonMalformed},
		{"BOM", "\xef\xbb\xbf{}", record.ReasonMalformed},
		{"deep", strings.Repeat("[", record.MaxDepth+1), record.ReasonTooDeep},
		{"bad escape", `{"ClientIP":"\q"}`, record.ReasonMalformed},
		{"control char", "{\"ClientIP\":\"\x01\"}", record.ReasonMalformed},
	}
}

func TestStream(t *testing.T) {
	inputs := [][]byte{
		[]byte(vectorRecord),
		[]byte(`{"EdgeResponseStatusCode":200,"ClientRequestHost":"b.example.com"}`),
		[]byte(`{"EdgeResponseStatusCode":503,"ClientRequestHost":"b.example.com"}`),
		[]byte(`not json`),
	}
	procs := `
- esa_filter:
    category: access
    task: t1
    conditions:
      - {field: EdgeResponseStatusCode, op: ge, value: 500}
      - any:
          - {field: ClientRequestHost, op: equals, value: [b.example.com]}
          - {field: CustomFields.request_headers.x-trace-id, op: exists}
    esa_rules: '[{"ClientRequestHost": {"not_equals": ["c.example.com"]}}]'
`
	outs, m := pipelinetest.Run(t, Register, procs, inputs)
	if len(outs) != 2 || outs[0].Content != vectorRecord || !strings.Contains(outs[1].Content, "503") {
		t.Fatalf("outputs: %+v", outs)
	}
	if got := m.Get(MetricFilteredOut, "task", "t1"); got != 1 {
		t.Errorf("filtered out = %d (%v)", got, m.All())
	}
	if got := m.Get(pipeline.MetricInvalid, "task", "t1", "reason", record.ReasonMalformed); got != 1 {
		t.Errorf("invalid = %d (%v)", got, m.All())
	}
	outs, _ = pipelinetest.Run(t, Register, strings.Replace(procs, "task: t1", "task: t1\n    route_invalid: true", 1), inputs)
	if len(outs) != 3 || outs[2].Err == nil || outs[2].Meta[pipeline.MetaInvalidReason] != record.ReasonMalformed || outs[2].Content != "not json" {
		t.Fatalf("route_invalid outputs: %+v", outs)
	}
}

func TestErroredPassThrough(t *testing.T) {
	p := newProc(t, cnd("ClientIP", "exists", false))
	m := service.NewMessage([]byte(`{}`))
	m.SetError(errors.New("x"))
	out, err := p.ProcessBatch(context.Background(), service.MessageBatch{m, service.NewMessage([]byte(`{}`))})
	if err != nil || len(out) != 1 || len(out[0]) != 1 || out[0][0] != m {
		t.Fatalf("out = %v, %v", out, err)
	}
}

// TestFlushMarkers checks a flush marker passes untouched and is neither filtered nor counted invalid.
func TestFlushMarkers(t *testing.T) {
	marker := pipeline.NewFlushMarker()
	outs, m := pipelinetest.RunMessages(t, Register, `
- esa_filter:
    category: access
    task: fm
    conditions:
      - {field: ClientIP, op: exists}
`, service.MessageBatch{service.NewMessage([]byte(`{"ClientIP":"-"}`)), marker})
	if len(outs) != 1 || outs[0].Content != "" || outs[0].Meta[pipeline.MetaFlush] != "1" || outs[0].Err != nil {
		t.Fatalf("outputs %+v", outs)
	}
	if got := m.Get(pipeline.MetricInvalid); got != 0 {
		t.Errorf("marker counted invalid: %v", m.All())
	}
	if got := m.Get(MetricFilteredOut, "task", "fm"); got != 1 {
		t.Errorf("filtered out = %d, want 1", got)
	}
}

// TestCheckedRecords checks that records marked valid by their source (pipeline.MarkChecked, as
// esa_generate marks its own) pass or fail exactly as the same records unmarked, and that a mark is
// ignored once a processor in between changed the content (the corrupted record is counted invalid).
func TestCheckedRecords(t *testing.T) {
	recs := pipelinetest.AccessRecords(t, 3000)
	p := newProc(t, cnd("EdgeResponseStatusCode", "ge", false, int64(400)),
		cnd("ClientRequestHost", "ends_with", false, "example.com"),
		config.Condition{Any: []config.Condition{cnd("ClientCountryCode", "equals", false, "CN"), cnd("EdgeCacheStatus", "equals", false, "MISS")}})
	kept := func(batch service.MessageBatch) []string {
		out, err := p.ProcessBatch(context.Background(), batch)
		if err != nil || len(out) > 1 {
			t.Fatalf("out %d batches, %v", len(out), err)
		}
		var s []string
		for _, b := range out {
			for _, m := range b {
				c, _ := m.AsBytes()
				s = append(s, string(c))
			}
		}
		return s
	}
	plain, marked := kept(pipelinetest.Batch(recs)), kept(pipelinetest.GeneratedBatch(recs))
	if len(plain) == 0 || len(plain) == len(recs) || strings.Join(plain, "\n") != strings.Join(marked, "\n") {
		t.Fatalf("kept %d unmarked, %d marked records (of %d), or not the same ones", len(plain), len(marked), len(recs))
	}
	// With share_parse, the records esa_filter validated and kept leave it marked, for esa_fields.
	shared, err := New(Config{Category: "access", ShareParse: true, Conditions: []config.Condition{cnd("ClientIP", "exists", false)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := shared.ProcessBatch(context.Background(), pipelinetest.Batch(recs[:100]))
	if err != nil || len(out) != 1 {
		t.Fatalf("out %d batches, %v", len(out), err)
	}
	for _, m := range out[0] {
		c, _ := m.AsBytes()
		if ok, unique := pipeline.Checked(m, c); !ok || !unique {
			t.Fatalf("a kept record is not marked checked (%v) with distinct names (%v)", ok, unique)
		}
	}

	procs := `
- bloblang: 'root = content().string().replace_all("\"EdgeResponseStatusCode\":", "\"EdgeResponseStatusCode\":x")'
- esa_filter:
    category: access
    task: t1
    conditions:
      - {field: ClientRequestHost, op: exists}
`
	outs, m := pipelinetest.RunMessages(t, Register, procs, pipelinetest.GeneratedBatch(recs[:10]))
	if len(outs) != 0 || m.Get(pipeline.MetricInvalid, "task", "t1", "reason", record.ReasonMalformed) != 10 {
		t.Fatalf("%d records out, metrics %v: corrupted records behind a mark must be counted invalid", len(outs), m.All())
	}
}
