package fields

import (
	"encoding/json"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
)

// TestMissingNull: with missing_as_null every placeholder is JSON null — a missing or null field, the
// edge's markers in numeric, bool and timestamp fields, a value of a wrong type (still counted) —
// and the member stays in its place; string values ("-" included) and converted values are as with
// placeholders.
func TestMissingNull(t *testing.T) {
	fields := []string{"ClientIP", "ClientSrcPort", "EdgeResponseCompressionRatio", "EdgeStartTimestamp"}
	for _, tc := range []struct {
		format, in, want string
		bad              int
	}{
		{"", `{}`, `{"ClientIP":null,"ClientSrcPort":null,"EdgeResponseCompressionRatio":null,"EdgeStartTimestamp":null}`, 0},
		{"", `{"ClientIP":null,"ClientSrcPort":null,"EdgeResponseCompressionRatio":null,"EdgeStartTimestamp":null}`,
			`{"ClientIP":null,"ClientSrcPort":null,"EdgeResponseCompressionRatio":null,"EdgeStartTimestamp":null}`, 0},
		{"", `{"ClientIP":"-","ClientSrcPort":"-","EdgeResponseCompressionRatio":"","EdgeStartTimestamp":"-"}`,
			`{"ClientIP":"-","ClientSrcPort":null,"EdgeResponseCompressionRatio":null,"EdgeStartTimestamp":null}`, 0},
		{"", `{"ClientIP":1234,"ClientSrcPort":"443","EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"2026-01-01T00:00:00+08:00"}`,
			`{"ClientIP":"1234","ClientSrcPort":443,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"2026-01-01T00:00:00+08:00"}`, 0},
		{"", `{"ClientIP":{"a":1},"ClientSrcPort":"x","EdgeResponseCompressionRatio":[1],"EdgeStartTimestamp":{}}`,
			`{"ClientIP":null,"ClientSrcPort":null,"EdgeResponseCompressionRatio":null,"EdgeStartTimestamp":null}`, 4},
		{TimeUnixMs, `{"ClientSrcPort":1.5,"EdgeStartTimestamp":"yesterday"}`,
			`{"ClientIP":null,"ClientSrcPort":null,"EdgeResponseCompressionRatio":null,"EdgeStartTimestamp":null}`, 2},
		{TimeUnixMs, `{"EdgeStartTimestamp":"2026-01-01T00:00:00Z"}`,
			`{"ClientIP":null,"ClientSrcPort":null,"EdgeResponseCompressionRatio":null,"EdgeStartTimestamp":1767225600000}`, 0},
	} {
		p := mustNew(t, Config{Category: "access", Fields: fields, TimestampFormat: tc.format, MissingAsNull: true})
		out, _, bad, err := p.Transform(nil, []byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if string(out) != tc.want || bad != tc.bad {
			t.Errorf("%s (%s):\n got %s (%d bad)\nwant %s (%d bad)", tc.in, tc.format, out, bad, tc.want, tc.bad)
		}
		if !json.Valid(out) {
			t.Errorf("invalid JSON output %s", out)
		}
	}
	// bool fields
	pb := mustNew(t, Config{Category: "tcp_udp_proxy", Fields: []string{"IpFirewall", "Status"}, MissingAsNull: true})
	for in, want := range map[string]string{
		`{"IpFirewall":true,"Status":200}`: `{"IpFirewall":true,"Status":200}`,
		`{"IpFirewall":"-"}`:               `{"IpFirewall":null,"Status":null}`,
		`{"IpFirewall":"yes","Status":""}`: `{"IpFirewall":null,"Status":null}`,
	} {
		if out, _, _, err := pb.Transform(nil, []byte(in)); err != nil || string(out) != want {
			t.Errorf("%s: %s %v, want %s", in, out, err, want)
		}
	}
	// A transformed field without a value is null too; one with a value is transformed.
	pt := mustNew(t, Config{Category: "access", Fields: []string{"ClientIP", "ClientRequestHost"}, MissingAsNull: true,
		Transforms: []Transform{{Field: "ClientIP", Kind: TransformTruncateIP}, {Field: "ClientRequestHost", Kind: TransformRedact, With: "R"}}})
	for in, want := range map[string]string{
		`{}`: `{"ClientIP":null,"ClientRequestHost":null}`,
		`{"ClientIP":"192.0.2.77","ClientRequestHost":"a"}`: `{"ClientIP":"192.0.2.0","ClientRequestHost":"R"}`,
	} {
		if out, _, _, err := pt.Transform(nil, []byte(in)); err != nil || string(out) != want {
			t.Errorf("%s: %s %v, want %s", in, out, err, want)
		}
	}
	// Without the option the placeholders stay.
	p := mustNew(t, Config{Category: "access", Fields: fields})
	if out, _, _, _ := p.Transform(nil, []byte(`{}`)); string(out) != `{"ClientIP":"-","ClientSrcPort":-1,"EdgeResponseCompressionRatio":-1,"EdgeStartTimestamp":"-"}` {
		t.Errorf("placeholders: %s", out)
	}
}

// TestMissingNullInStream: the missing_as_null field of the config spec reaches the processor.
func TestMissingNullInStream(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"", `{"ClientRequestID":"r1","ClientSrcPort":-1}`},
		{"    missing_as_null: false\n", `{"ClientRequestID":"r1","ClientSrcPort":-1}`},
		{"    missing_as_null: true\n", `{"ClientRequestID":"r1","ClientSrcPort":null}`},
	} {
		procs := "- esa_fields:\n    category: access\n    fields: [ClientRequestID, ClientSrcPort]\n" + tc.line
		outs, _ := pipelinetest.Run(t, Register, procs, [][]byte{[]byte(`{"ClientRequestID":"r1"}`)})
		if len(outs) != 1 || outs[0].Content != tc.want {
			t.Errorf("%q: outputs %+v, want %s", tc.line, outs, tc.want)
		}
	}
}
