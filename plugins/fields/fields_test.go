package fields

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/filter"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// vectorRecord is the record of the examples of docs/processing.md (#filter-example and
// #field-selection-example).
const vectorRecord = `{"ClientRequestID":"r1","ClientRequestHost":"A.example.com","EdgeResponseStatusCode":"502",
 "ClientSSLProtocol":"-","OriginResponseStatusCode":-1,"SecRuleID":"-1","EdgeResponseBytes":"lots",
 "ClientRequestPath":"/api/v1/items","EdgeStartTimestamp":"2026-11-25T08:00:00+08:00",
 "RequestHeaders":{"X-Trace-Id":"t-1","Cookie":"sid=9; region=eu"},"ResponseHeaders":{"Cache-Control":"no-cache"}}`

const vectorOutput = `{"ClientRequestID":"r1","EdgeResponseStatusCode":502,"EdgeResponseBytes":-1,"ClientSSLProtocol":"-","ClientRegionCode":"-","ClientSrcPort":-1,"CustomFields":{"request_headers":{"x-trace-id":"t-1"},"response_headers":{"cache-control":"no-cache"},"cookies":{"region":"eu"}}}`

func vectorConfig() Config {
	return Config{
		Category: "access",
		Fields:   []string{"ClientRequestID", "EdgeResponseStatusCode", "EdgeResponseBytes", "ClientSSLProtocol", "ClientRegionCode", "ClientSrcPort"},
		CustomFields: &config.CustomFields{
			RequestHeaders:  []string{"X-Trace-Id"},
			ResponseHeaders: []string{"cache-control", "server"},
			Cookies:         []string{"region", "missing"},
		},
	}
}

func mustNew(t testing.TB, c Config) *Processor {
	t.Helper()
	p, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVector(t *testing.T) {
	p := mustNew(t, vectorConfig())
	out, evt, mismatches, err := p.Transform(nil, []byte(vectorRecord))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != vectorOutput {
		t.Fatalf("got\n%s\nwant\n%s", out, vectorOutput)
	}
	if mismatches != 1 { // EdgeResponseBytes "lots"
		t.Errorf("mismatches = %d, want 1", mismatches)
	}
	if want := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC); !evt.Equal(want) {
		t.Errorf("event time = %v, want %v", evt, want)
	}
}

func TestConversions(t *testing.T) {
	p := mustNew(t, Config{Category: "access", Fields: []string{"ClientIP", "ClientSrcPort", "EdgeResponseCompressionRatio", "EdgeStartTimestamp"}})
	cases := []struct {
		in, want string
		bad      int
	}{
		{`{}`, `{"ClientIP":"-","ClientSrcPort":-1,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"-"}`, 0},
		{`{"ClientIP":null,"ClientSrcPort":null,"EdgeResponseCompressionRatio":null,"EdgeStartTimestamp":null}`, `{"ClientIP":"-","ClientSrcPort":-1,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"-"}`, 0},
		{`{"ClientIP":"1.2.3.4","ClientSrcPort":"443","EdgeResponseCompressionRatio":"2.5","EdgeStartTimestamp":"2026-01-01T00:00:00+08:00"}`,
			`{"ClientIP":"1.2.3.4","ClientSrcPort":443,"EdgeResponseCompressionRatio":2.5,"EdgeStartTimestamp":"2026-01-01T00:00:00+08:00"}`, 0},
		{`{"ClientIP":1234,"ClientSrcPort":443.0,"EdgeResponseCompressionRatio":3,"EdgeStartTimestamp":1767196800}`,
			`{"ClientIP":"1234","ClientSrcPort":443,"EdgeResponseCompressionRatio":3,"EdgeStartTimestamp":"1767196800"}`, 0},
		{`{"ClientIP":true,"ClientSrcPort":"-","EdgeResponseCompressionRatio":"","EdgeStartTimestamp":"-"}`,
			`{"ClientIP":"true","ClientSrcPort":-1,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"-"}`, 0},
		{`{"ClientIP":{"a":1},"ClientSrcPort":"x","EdgeResponseCompressionRatio":[1],"EdgeStartTimestamp":{}}`,
			`{"ClientIP":"-","ClientSrcPort":-1,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"-"}`, 4},
		{`{"ClientSrcPort":1.5,"EdgeResponseCompressionRatio":"NaN"}`, `{"ClientIP":"-","ClientSrcPort":-1,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"-"}`, 2},
		{`{"ClientSrcPort":1e2,"EdgeResponseCompressionRatio":".5"}`, `{"ClientIP":"-","ClientSrcPort":100,"EdgeResponseCompressionRatio":0.5,"EdgeStartTimestamp":"-"}`, 0},
		{`{"ClientSrcPort":99999999999999999999,"EdgeResponseCompressionRatio":true}`, `{"ClientIP":"-","ClientSrcPort":-1,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"-"}`, 2},
		{`{"ClientIP":"a\"b\\c\u00e9"}`, `{"ClientIP":"a\"b\\c\u00e9","ClientSrcPort":-1,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"-"}`, 0},
	}
	for _, tc := range cases {
		out, _, bad, err := p.Transform(nil, []byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if string(out) != tc.want || bad != tc.bad {
			t.Errorf("%s:\n got %s (%d bad)\nwant %s (%d bad)", tc.in, out, bad, tc.want, tc.bad)
		}
		if !json.Valid(out) {
			t.Errorf("invalid JSON output %s", out)
		}
	}
	// bool fields
	pb := mustNew(t, Config{Category: "tcp_udp_proxy", Fields: []string{"IpFirewall", "Status"}})
	for in, want := range map[string]string{
		`{"IpFirewall":true,"Status":200}`:  `{"IpFirewall":true,"Status":200}`,
		`{"IpFirewall":"false","Status":1}`: `{"IpFirewall":false,"Status":1}`,
		`{"IpFirewall":"yes"}`:              `{"IpFirewall":false,"Status":-1}`,
		`{}`:                                `{"IpFirewall":false,"Status":-1}`,
	} {
		if out, _, _, err := pb.Transform(nil, []byte(in)); err != nil || string(out) != want {
			t.Errorf("%s: %s %v, want %s", in, out, err, want)
		}
	}
	// A bool field with a value that is not a boolean is counted; the markers "-" and "" are not.
	for in, bad := range map[string]int{`{"IpFirewall":"yes"}`: 1, `{"IpFirewall":1}`: 1, `{"IpFirewall":"-"}`: 0, `{"IpFirewall":null}`: 0} {
		if _, _, got, _ := pb.Transform(nil, []byte(in)); got != bad {
			t.Errorf("%s: %d type errors, want %d", in, got, bad)
		}
	}
}

func TestTimestampFormats(t *testing.T) {
	in := `{"EdgeStartTimestamp":"2026-11-25T08:00:00.123456+08:00","EdgeEndTimestamp":1764028800123}`
	cases := map[string]string{
		TimeRFC3339:   `{"EdgeStartTimestamp":"2026-11-25T08:00:00.123456+08:00","EdgeEndTimestamp":"1764028800123","ClientIP":"-"}`,
		TimeRFC3339ms: `{"EdgeStartTimestamp":"2026-11-25T08:00:00.123+08:00","EdgeEndTimestamp":"2025-11-25T00:00:00.123Z","ClientIP":"-"}`,
		TimeUnix:      `{"EdgeStartTimestamp":1795564800,"EdgeEndTimestamp":1764028800,"ClientIP":"-"}`,
		TimeUnixMs:    `{"EdgeStartTimestamp":1795564800123,"EdgeEndTimestamp":1764028800123,"ClientIP":"-"}`,
		TimeUnixNano:  `{"EdgeStartTimestamp":1795564800123456000,"EdgeEndTimestamp":1764028800123000000,"ClientIP":"-"}`,
	}
	for format, want := range cases {
		p := mustNew(t, Config{Category: "access", Fields: []string{"EdgeStartTimestamp", "EdgeEndTimestamp", "ClientIP"}, TimestampFormat: format})
		out, evt, _, err := p.Transform(nil, []byte(in))
		if err != nil || string(out) != want {
			t.Errorf("%s: got %s %v\nwant %s", format, out, err, want)
		}
		if !evt.IsZero() {
			t.Errorf("%s: event time set although the time field is selected", format)
		}
	}
	p := mustNew(t, Config{Category: "access", Fields: []string{"EdgeStartTimestamp"}, TimestampFormat: TimeUnix})
	for in, want := range map[string]string{`{}`: `{"EdgeStartTimestamp":-1}`, `{"EdgeStartTimestamp":"soon"}`: `{"EdgeStartTimestamp":-1}`} {
		if out, _, _, _ := p.Transform(nil, []byte(in)); string(out) != want {
			t.Errorf("unix %s: %s, want %s", in, out, want)
		}
	}
}

// TestUnixNanoRange: unixnano holds only 1677-09-21 … 2262-04-11 in an int64; times outside it are the
// sentinel and counted as type errors, never an overflowed number (year 9999 once gave
// -4852116232933722624). unix and unixms keep them.
func TestUnixNanoRange(t *testing.T) {
	cases := []struct {
		in, nano, ms string
		bad          int
	}{
		{`{"EdgeStartTimestamp":"9999-12-31T23:59:59Z"}`, `{"EdgeStartTimestamp":-1}`, `{"EdgeStartTimestamp":253402300799000}`, 1},
		{`{"EdgeStartTimestamp":"1600-01-01T00:00:00Z"}`, `{"EdgeStartTimestamp":-1}`, `{"EdgeStartTimestamp":-11676096000000}`, 1},
		{`{"EdgeStartTimestamp":"2262-04-11T23:47:16.854775807Z"}`, `{"EdgeStartTimestamp":9223372036854775807}`, `{"EdgeStartTimestamp":9223372036854}`, 0},
		{`{"EdgeStartTimestamp":"2262-04-11T23:47:16.854775808Z"}`, `{"EdgeStartTimestamp":-1}`, `{"EdgeStartTimestamp":9223372036854}`, 1},
		{`{"EdgeStartTimestamp":1e300}`, `{"EdgeStartTimestamp":-1}`, `{"EdgeStartTimestamp":-1}`, 1},
	}
	nano := mustNew(t, Config{Category: "access", Fields: []string{"EdgeStartTimestamp"}, TimestampFormat: TimeUnixNano})
	ms := mustNew(t, Config{Category: "access", Fields: []string{"EdgeStartTimestamp"}, TimestampFormat: TimeUnixMs})
	for _, c := range cases {
		out, _, bad, err := nano.Transform(nil, []byte(c.in))
		if err != nil || string(out) != c.nano || bad != c.bad {
			t.Errorf("unixnano %s: %s (%d type errors) %v, want %s (%d)", c.in, out, bad, err, c.nano, c.bad)
		}
		if out, _, _, err := ms.Transform(nil, []byte(c.in)); err != nil || string(out) != c.ms {
			t.Errorf("unixms %s: %s %v, want %s", c.in, out, err, c.ms)
		}
	}
}

func TestCustomFields(t *testing.T) {
	p := mustNew(t, Config{Category: "access", Fields: []string{"ClientIP"}, CustomFields: &config.CustomFields{
		RequestHeaders: []string{"User-Agent", "x-missing", "x-multi"}, Cookies: []string{"sid", "Region"},
	}})
	cases := map[string]string{
		`{"ClientIP":"x"}`: `{"ClientIP":"x","CustomFields":{"request_headers":{},"cookies":{}}}`,
		`{"RequestHeaders":{"user-agent":"curl/8 \"q\"","X-Multi":["a","b"],"cookie":"sid=1; Region=\"eu\""}}`: `{"ClientIP":"-","CustomFields":{"request_headers":{"user-agent":"curl/8 \"q\"","x-multi":"a, b"},"cookies":{"sid":"1","Region":"eu"}}}`,
		`{"Cookies":{"sid":"from-map"},"RequestHeaders":{"cookie":"sid=hdr; region=x"}}`:                       `{"ClientIP":"-","CustomFields":{"request_headers":{},"cookies":{"sid":"from-map"}}}`,
		`{"RequestHeaders":"not an object","ResponseHeaders":null}`:                                            `{"ClientIP":"-","CustomFields":{"request_headers":{},"cookies":{}}}`,
		`{"RequestHeaders":{"User-Agent":"first","user-agent":"second"}}`:                                      `{"ClientIP":"-","CustomFields":{"request_headers":{"user-agent":"first"},"cookies":{}}}`,
		`{"RequestHeaders":{"user-\u0061gent":"ua\u0021","Cookie":"sid=h"},"Cookies":{"sid":null}}`:            `{"ClientIP":"-","CustomFields":{"request_headers":{"user-agent":"ua\u0021"},"cookies":{"sid":"h"}}}`,
		`{"RequestHeaders":{"x-multi":7,"cookie":["sid=1","Region=2"]}}`:                                       `{"ClientIP":"-","CustomFields":{"request_headers":{"x-multi":"7"},"cookies":{"sid":"1","Region":"2"}}}`,
	}
	for in, want := range cases {
		out, _, _, err := p.Transform(nil, []byte(in))
		if err != nil || string(out) != want {
			t.Errorf("%s:\n got %s %v\nwant %s", in, out, err, want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	cases := []Config{
		{Category: "nope", Fields: []string{"ClientIP"}},
		{Category: "access"},
		{Category: "access", Fields: []string{"ClientIp"}},
		{Category: "access", Fields: []string{"ClientIP", "ClientIP"}},
		{Category: "access", Fields: []string{"ClientIP"}, TimestampFormat: "iso"},
		{Category: "dns", Fields: []string{"QueryName"}, CustomFields: &config.CustomFields{Cookies: []string{"a"}}},
		{Category: "access", Fields: []string{"ClientIP"}, CustomFields: &config.CustomFields{Cookies: []string{"a;b"}}},
	}
	for _, c := range cases {
		if _, err := New(c, nil); err == nil || !strings.HasPrefix(err.Error(), Name) {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
	_, err := New(Config{Category: "access", Fields: []string{"ClientIp"}}, nil)
	if !strings.Contains(err.Error(), `did you mean "ClientIP"`) {
		t.Errorf("no suggestion: %v", err)
	}
}

// badRecords are ≥ 15 kinds of bad input; each must be counted with its reason and never crash.
var badRecords = []struct{ name, rec, reason string }{
	{"truncated JSON", `{"ClientIP":"1.2`, record.ReasonMalformed},
	{"bare string", `"ClientIP"`, record.ReasonNotObject},
	{"array", `[{"ClientIP":"x"}]`, record.ReasonNotObject},
	{"number", `12`, record.ReasonNotObject},
	{"null", `null`, record.ReasonNotObject},
	{"empty line", ``, record.ReasonEmpty},
	{"invalid UTF-8", "{\"ClientIP\":\"\xc0\xaf\"}", record.ReasonInvalidUTF8},
	{"over 1 MiB", `{"ClientIP":"` + strings.Repeat("9", record.MaxRecordSize) + `"}`, record.ReasonTooLarge},
	{"duplicate keys", `{"ClientIP":"a","ClientIP":"b"}`, record.ReasonDuplicateKey},
	{"nested garbage", `{"RequestHeaders":{"a":"b",}}`, record.ReasonMalformed},
	{"unterminated string", `{"ClientIP":"x}`, record.ReasonMalformed},
	{"trailing garbage", `{"ClientIP":"x"} trailing`, record.ReasonMalformed},
	{"BOM", "\xef\xbb\xbf{\"ClientIP\":\"x\"}", record.ReasonMalformed},
	{"too deep", strings.Repeat(`{"a":`, 600) + `1` + strings.Repeat(`}`, 600), record.ReasonTooDeep},
	{"single quotes", `{'ClientIP':'x'}`, record.ReasonMalformed},
	{"NaN literal", `{"ClientSrcPort":NaN}`, record.ReasonMalformed},
	{"whitespace only", "  \n", record.ReasonEmpty},
}

// wrongTypes are valid records whose catalog fields have wrong types: delivered with sentinels and
// counted in esa_field_type_errors_total.
var wrongTypes = []string{
	`{"ClientIP":{"v":1}}`, `{"ClientSrcPort":"eighty"}`, `{"EdgeResponseCompressionRatio":[2]}`, `{"EdgeStartTimestamp":{"t":1}}`,
}

func TestBadRecordsInStream(t *testing.T) {
	var inputs [][]byte
	for _, b := range badRecords {
		inputs = append(inputs, []byte(b.rec))
	}
	for _, w := range wrongTypes {
		inputs = append(inputs, []byte(w))
	}
	procs := `
- esa_fields:
    category: access
    task: bad
    fields: [ClientIP, ClientSrcPort, EdgeResponseCompressionRatio, EdgeStartTimestamp]
`
	outs, m := pipelinetest.Run(t, Register, procs, inputs)
	if len(outs) != len(wrongTypes) {
		t.Fatalf("%d outputs, want %d", len(outs), len(wrongTypes))
	}
	want := map[string]int64{}
	for _, b := range badRecords {
		want[b.reason]++
	}
	for reason, n := range want {
		if got := m.Get(pipeline.MetricInvalid, "task", "bad", "reason", reason); got != n {
			t.Errorf("reason %s: %d, want %d (%v)", reason, got, n, m.All())
		}
	}
	if got := m.Get(MetricTypeErrors, "task", "bad"); got != int64(len(wrongTypes)) {
		t.Errorf("type errors = %d, want %d (%v)", got, len(wrongTypes), m.All())
	}
	if got := m.Get(MetricTypeErrors, "task", "bad", "field", "ClientSrcPort"); got != 1 {
		t.Errorf("ClientSrcPort type errors = %d", got)
	}
	// route_invalid keeps them, unchanged and flagged.
	outs, _ = pipelinetest.Run(t, Register, strings.Replace(procs, "task: bad", "task: bad\n    route_invalid: true", 1), inputs)
	if len(outs) != len(inputs) {
		t.Fatalf("route_invalid: %d outputs, want %d", len(outs), len(inputs))
	}
	for i, b := range badRecords {
		if outs[i].Err == nil || outs[i].Meta[pipeline.MetaInvalidReason] != b.reason || outs[i].Content != b.rec {
			t.Errorf("%s: routed output %.80q err=%v meta=%v", b.name, outs[i].Content, outs[i].Err, outs[i].Meta)
		}
	}
}

func TestStreamVectorAndMetadata(t *testing.T) {
	procs := `
- esa_fields:
    category: access
    task: v
    fields: [ClientRequestID, EdgeResponseStatusCode, EdgeResponseBytes, ClientSSLProtocol, ClientRegionCode, ClientSrcPort]
    custom_fields:
      request_headers: [X-Trace-Id]
      response_headers: [cache-control, server]
      cookies: [region, missing]
`
	outs, _ := pipelinetest.Run(t, Register, procs, [][]byte{[]byte(vectorRecord), []byte(`{"ClientRequestID":"r2"}`)})
	if len(outs) != 2 || outs[0].Content != vectorOutput {
		t.Fatalf("outputs %+v", outs)
	}
	if got := outs[0].Meta[pipeline.MetaEventTime]; got != "2026-11-25T08:00:00+08:00" {
		t.Errorf("esa_event_time = %q", got)
	}
	if _, ok := outs[1].Meta[pipeline.MetaEventTime]; ok {
		t.Error("esa_event_time set for a record without a time")
	}
}

func TestErroredPassThrough(t *testing.T) {
	p := mustNew(t, Config{Category: "access", Fields: []string{"ClientIP"}})
	m := service.NewMessage([]byte(`{"ClientIP":"x","other":1}`))
	m.SetError(errors.New("x"))
	out, err := p.ProcessBatch(context.Background(), service.MessageBatch{m})
	if err != nil || len(out) != 1 || out[0][0] != m {
		t.Fatal("errored message not passed through")
	}
	if b, _ := out[0][0].AsBytes(); string(b) != `{"ClientIP":"x","other":1}` {
		t.Errorf("errored message changed: %s", b)
	}
}

// FuzzTransform checks that any input either is rejected with an *record.InvalidError or yields
// valid JSON with exactly the selected keys, and never panics.
func FuzzTransform(f *testing.F) {
	f.Add([]byte(vectorRecord))
	for _, b := range badRecords {
		if len(b.rec) < 5000 {
			f.Add([]byte(b.rec))
		}
	}
	for _, w := range wrongTypes {
		f.Add([]byte(w))
	}
	c := vectorConfig()
	c.Fields = append(c.Fields, "EdgeStartTimestamp", "EdgeResponseCompressionRatio")
	procs := []*Processor{mustNew(f, c)}
	c.TimestampFormat = TimeUnixNano
	procs = append(procs, mustNew(f, c))
	f.Fuzz(func(t *testing.T, rec []byte) {
		for _, p := range procs {
			out, _, _, err := p.Transform(nil, rec)
			if err != nil {
				var ie *record.InvalidError
				if !errors.As(err, &ie) {
					t.Fatalf("error %v is not an InvalidError", err)
				}
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("output %s of %q is not JSON: %v", out, rec, err)
			}
			if len(m) != len(c.Fields)+1 {
				t.Fatalf("output %s has %d keys", out, len(m))
			}
		}
	})
}

// TestFlushMarkers checks a flush marker passes untouched (still empty) and is not counted invalid.
func TestFlushMarkers(t *testing.T) {
	outs, m := pipelinetest.RunMessages(t, Register, `
- esa_fields:
    category: access
    fields: [ClientIP]
`, service.MessageBatch{pipeline.NewFlushMarker(), service.NewMessage([]byte(`{"ClientIP":"x"}`))})
	if len(outs) != 2 || outs[0].Content != "" || outs[0].Meta[pipeline.MetaFlush] != "1" || outs[1].Content != `{"ClientIP":"x"}` {
		t.Fatalf("outputs %+v", outs)
	}
	if got := m.Get(pipeline.MetricInvalid); got != 0 {
		t.Errorf("marker counted invalid: %v", m.All())
	}
}

// TestCheckedRecords checks that records marked valid by their source (as esa_generate marks its own)
// come out byte for byte as the same records unmarked, with the same metadata, for a selection that
// ends early in the record, one that needs all of it, and custom fields.
func TestCheckedRecords(t *testing.T) {
	recs := pipelinetest.AccessRecords(t, 2000)
	for _, c := range []Config{
		{Category: "access", Fields: []string{"ClientRequestID", "ClientIP", "EdgeResponseStatusCode"}},
		{Category: "access", Fields: []string{"SecSources", "BotTag", "EdgeStartTimestamp", "ClientRequestUserAgent"}, TimestampFormat: TimeUnixMs},
		vectorConfig(),
	} {
		p := mustNew(t, c)
		run := func(batch service.MessageBatch) []string {
			out, err := p.ProcessBatch(context.Background(), batch)
			if err != nil || len(out) != 1 || len(out[0]) != len(recs) {
				t.Fatalf("%v: %d batches, %v", c.Fields, len(out), err)
			}
			var s []string
			for _, m := range out[0] {
				b, _ := m.AsBytes()
				et, _ := m.MetaGet(pipeline.MetaEventTime)
				s = append(s, string(b)+" "+et)
			}
			return s
		}
		// Behind esa_filter, which validated the records (or, for generated ones, walked them whole)
		// and marks them with their Index: every record but the first (which teaches the layout).
		filtered, n := throughFilter(t, "ClientIP", pipelinetest.Batch(recs))
		filteredGen, nGen := throughFilter(t, "ClientIP", pipelinetest.GeneratedBatch(recs))
		if n != len(recs)-1 || nGen != len(recs)-1 {
			t.Fatalf("%d and %d of %d records left esa_filter with an index", n, nGen, len(recs))
		}
		plain, marked := run(pipelinetest.Batch(recs)), run(pipelinetest.GeneratedBatch(recs))
		behindFilter, genBehindFilter := run(filtered), run(filteredGen)
		for i := range plain {
			if plain[i] != marked[i] || plain[i] != behindFilter[i] || plain[i] != genBehindFilter[i] {
				t.Fatalf("%v: record %d unmarked\n%s\nmarked\n%s\nbehind esa_filter\n%s\ngenerated, behind esa_filter\n%s",
					c.Fields, i, plain[i], marked[i], behindFilter[i], genBehindFilter[i])
			}
		}
	}
}

// TestIndexAcrossLayouts feeds esa_filter → esa_fields records whose layouts change from one record
// to the next (other orders, whitespace, escaped and repeated names, nested values, missing fields)
// and checks every output equals esa_fields' alone.
func TestIndexAcrossLayouts(t *testing.T) {
	layouts := []string{
		vectorRecord,
		`{"ClientRequestID":"r2","EdgeResponseStatusCode":404,"ClientIP":"1.2.3.4","ClientSrcPort":443}`,
		`{"ClientIP":"1.2.3.4","ClientRequestID":"r3","EdgeResponseStatusCode":"200","x":{"y":[1,"\"}"]}}`,
		`{ "ClientIP" : "5.6.7.8" , "ClientRequestID" : "r\u00e9" , "EdgeResponseBytes" : 12 }`,
		`{"Client\u0049P":"9.9.9.9","ClientRequestID":"r5","x":1,"x":2,"ClientSSLProtocol":"TLSv1.3"}`,
		`{"ClientIP":"1.1.1.1","ClientRequestID":"r6","EdgeResponseStatusCode":500,"ClientRegionCode":"CN-ZJ","RequestHeaders":{"x-trace-id":"t"}}`,
		`{"ClientIP":"1.1.1.1","ClientRequestID":"r7\\\"","EdgeResponseStatusCode":-1}`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([][]byte, 3000)
	for i := range recs {
		recs[i] = []byte(layouts[rng.IntN(len(layouts))])
	}
	for _, c := range []Config{vectorConfig(), {Category: "access", Fields: []string{"ClientIP", "ClientSSLProtocol", "ClientRequestID"}}} {
		p := mustNew(t, c)
		run := func(batch service.MessageBatch) []string {
			out, err := p.ProcessBatch(context.Background(), batch)
			if err != nil || len(out) != 1 {
				t.Fatalf("%d batches, %v", len(out), err)
			}
			var s []string
			for _, m := range out[0] {
				b, _ := m.AsBytes()
				s = append(s, string(b))
			}
			return s
		}
		want := run(pipelinetest.Batch(recs))
		filtered, indexed := throughFilter(t, "ClientRequestID", pipelinetest.Batch(recs))
		if indexed < len(recs)/10 {
			t.Fatalf("only %d of %d records carry an index", indexed, len(recs))
		}
		got := run(filtered)
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("record %d %s:\nalone         %s\nbehind filter %s", i, recs[i], want[i], got[i])
			}
		}
	}
}

// throughFilter passes batch through an esa_filter with share_parse whose one condition (field
// exists) every record meets, and returns what it kept and how many records carry an Index.
func throughFilter(t *testing.T, field string, batch service.MessageBatch) (service.MessageBatch, int) {
	t.Helper()
	f, err := filter.New(filter.Config{Category: "access", ShareParse: true, Conditions: []config.Condition{{Field: field, Op: "exists"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := len(batch)
	out, err := f.ProcessBatch(context.Background(), batch)
	if err != nil || len(out) != 1 || len(out[0]) != n {
		t.Fatalf("esa_filter: %d batches, %v", len(out), err)
	}
	indexed := 0
	for _, m := range out[0] {
		b, _ := m.AsBytes()
		if _, _, ix := pipeline.CheckedIndex(m, b); ix.Valid() {
			indexed++
		}
	}
	return out[0], indexed
}
