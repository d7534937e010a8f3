package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	want := []string{"access", "firewall", "tcp_udp_proxy", "dns", "edge_routine", "edge_container"}
	var got []string
	for _, c := range Categories() {
		got = append(got, c.Name)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Categories() = %v, want %v", got, want)
	}
	for alias, name := range map[string]string{"dcdn_log_access_l1": "access", "dcdn_log_waf": "firewall",
		"dcdn_log_ipa": "tcp_udp_proxy", "dcdn_log_er": "edge_routine", "dns": "dns", "edge_container": "edge_container"} {
		c, ok := LookupCategory(alias)
		if !ok || c.Name != name {
			t.Errorf("LookupCategory(%q) = %v, %v; want %s", alias, c, ok, name)
		}
	}
	if _, ok := LookupCategory("Access"); ok {
		t.Error("LookupCategory is case-sensitive")
	}
	access, _ := LookupCategory("access")
	if access.TimeField != "EdgeStartTimestamp" || !access.CustomFields || access.APIID != "dcdn_log_access_l1" ||
		access.Scope != "site" || access.Title != "Access and Origin Log" {
		t.Errorf("access = %+v", access)
	}
	if f, ok := access.Field("EdgeResponseStatusCode"); !ok || f.Type != TypeInt || f.Group != "Edge" {
		t.Errorf("Field(EdgeResponseStatusCode) = %+v, %v", f, ok)
	}
	if f, ok := access.Field("EdgeResponseCompressionRatio"); !ok || f.Type != TypeFloat {
		t.Errorf("Field(EdgeResponseCompressionRatio) = %+v, %v", f, ok)
	}
	if _, ok := access.Field("clientip"); ok {
		t.Error("Field is case-sensitive")
	}
	tcp, _ := LookupCategory("tcp_udp_proxy")
	if f, _ := tcp.Field("IpFirewall"); f.Type != TypeBool {
		t.Errorf("IpFirewall type %q", f.Type)
	}
	counts := map[string]int{"access": 57, "firewall": 26, "tcp_udp_proxy": 23, "dns": 10, "edge_routine": 26, "edge_container": 9}
	for _, c := range Categories() {
		if len(c.Fields) != counts[c.Name] {
			t.Errorf("%s has %d fields, want %d", c.Name, len(c.Fields), counts[c.Name])
		}
		if _, ok := c.Field(c.TimeField); !ok {
			t.Errorf("%s: time field %s missing", c.Name, c.TimeField)
		}
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"ClientIP", "ClientISP", "ClientASN", "ClientSrcPort", "EdgeResponseStatusCode"}
	for _, tc := range []struct{ in, want string }{
		{"ClientIp", "ClientIP"}, // same letters ignoring case wins over one edit (ClientISP)
		{"clientip", "ClientIP"},
		{"ClientIPP", "ClientIP"},         // one edit
		{"ClentISP", "ClientISP"},         // one edit
		{"ClientSrcPrt", "ClientSrcPort"}, // one edit
		{"ClntSrcPrt", "ClientSrcPort"},   // three edits: too far
		{"EdgeResponseStatus", ""},
		{"ClientIP", ""}, // exact: nothing to suggest
		{"", ""},
	} {
		want := tc.want
		if tc.in == "ClntSrcPrt" {
			want = ""
		}
		if got := Suggest(tc.in, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.in, got, want)
		}
	}
	// Closest first.
	if got := Suggest("abcd", []string{"abxy", "abcx"}); got != "abcx" {
		t.Errorf("closest: got %q", got)
	}
}

func TestParseESAFilter(t *testing.T) {
	got, err := ParseESAFilter([]byte(`[{"EdgeResponseStatusCode": {"ge": [500]}}, {"ClientRequestHost": {"equals": ["a.example.com"]}},
	  {"any": [{"ClientRequestPath": {"starts_with": ["/api/"]}}, {"ClientCountryCode": {"not_equals": ["CN"], "ignore_case": true}}]},
	  {"ClientSSLProtocol": {"exists": []}}, {"EdgeResponseCompressionRatio": {"lt": [1.5]}}, {"ClientRequestID": {"equals": ["500", true]}}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Condition{
		{Field: "EdgeResponseStatusCode", Op: "ge", Values: []any{int64(500)}},
		{Field: "ClientRequestHost", Op: "equals", Values: []any{"a.example.com"}},
		{Any: []Condition{
			{Field: "ClientRequestPath", Op: "starts_with", Values: []any{"/api/"}},
			{Field: "ClientCountryCode", Op: "not_equals", Values: []any{"CN"}, IgnoreCase: true},
		}},
		{Field: "ClientSSLProtocol", Op: "exists"},
		{Field: "EdgeResponseCompressionRatio", Op: "lt", Values: []any{1.5}},
		{Field: "ClientRequestID", Op: "equals", Values: []any{"500", true}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
	access, _ := LookupCategory("access")
	if errs := ValidateConditions(access, got, "esa_rules"); len(errs) != 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	if c, err := ParseESAFilter([]byte("  ")); err != nil || c != nil {
		t.Errorf("empty: %v %v", c, err)
	}
	for _, tc := range []struct{ in, path, msg string }{
		{`[{"A": {"equals": ["x"], "contains": ["y"]}}]`, "[0].A.contains", "exactly one operator"},
		{`[{"A": ["x"]}]`, "[0].A", "must be an object"},
		{`[{"A": {}}]`, "[0].A", "no operator"},
		{`[{"A": {"equals": [{"x": 1}]}}]`, "[0].A.equals[0]", "must be a string, number or boolean"},
		{`[{"A": {"equals": [null]}}]`, "[0].A.equals[0]", "null is not a value"},
		{`[{"any": []}]`, "[0].any", "at least one condition"},
		{`[1]`, "[0]", "must be a condition object"},
		{`[{"A": `, "", "not valid JSON"},
		{`"x"`, "", "must be a JSON list"},
	} {
		_, err := ParseESAFilter([]byte(tc.in))
		es, ok := err.(Errors)
		if !ok || len(es) == 0 {
			t.Errorf("%s: err = %v, want Errors", tc.in, err)
			continue
		}
		if es[0].Path != tc.path || !strings.Contains(es[0].Msg, tc.msg) {
			t.Errorf("%s: got %q, want path %q msg ~%q", tc.in, es[0].Error(), tc.path, tc.msg)
		}
	}
}

// TestVectorConditions loads every condition of docs/processing.md#filter-example (they are all valid
// for access) in the native form and checks the ESA JSON form of the same vectors decodes to the same
// conditions.
func TestVectorConditions(t *testing.T) {
	task, err := Load([]byte(`
name: vectors
category: access
fields: [ClientRequestID]
destination: {type: local, path: out}
filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 500}
  - {field: EdgeResponseStatusCode, op: equals, value: [500, 502]}
  - {field: ClientRequestHost, op: equals, value: a.example.com}
  - {field: ClientRequestHost, op: equals, value: a.example.com, ignore_case: true}
  - {field: ClientRequestReferer, op: equals, value: x}
  - {field: ClientRequestReferer, op: not_equals, value: x}
  - {field: ClientRequestPath, op: not_starts_with, value: [/static/, /img/]}
  - {field: ClientRequestHost, op: not_equals, value: [A.example.com, b.example.com]}
  - {field: ClientSSLProtocol, op: exists}
  - {field: OriginResponseStatusCode, op: not_exists}
  - {field: SecRuleID, op: exists}
  - {field: EdgeResponseBytes, op: gt, value: 0}
  - {field: EdgeResponseBytes, op: not_equals, value: 0}
  - {field: ClientRequestPath, op: regex, value: "v[0-9]+/items"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(task.Filters) != 14 || Leaves(task.Filters) != 14 {
		t.Fatalf("got %d conditions", len(task.Filters))
	}
	want := []Condition{
		{Field: "EdgeResponseStatusCode", Op: "ge", Values: []any{int64(500)}},
		{Field: "ClientRequestHost", Op: "equals", Values: []any{"a.example.com"}},
	}
	esa, err := ParseESAFilter([]byte(`[{"EdgeResponseStatusCode": {"ge": [500]}}, {"ClientRequestHost": {"equals": ["a.example.com"]}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(esa, want) || !reflect.DeepEqual(task.Filters[0], want[0]) || !reflect.DeepEqual(task.Filters[2], want[1]) {
		t.Errorf("ESA form %#v, native %#v %#v", esa, task.Filters[0], task.Filters[2])
	}
}

func TestValidateConditions(t *testing.T) {
	access, _ := LookupCategory("access")
	tcp, _ := LookupCategory("tcp_udp_proxy")
	cases := []struct {
		name  string
		cat   *Category
		conds []Condition
		path  string // "" = valid
		msg   string
	}{
		{"numeric string on int", access, []Condition{{Field: "EdgeResponseStatusCode", Op: "ge", Values: []any{"500"}}}, "", ""},
		{"float value on float", access, []Condition{{Field: "EdgeResponseCompressionRatio", Op: "le", Values: []any{0.5}}}, "", ""},
		{"int on float", access, []Condition{{Field: "EdgeResponseCompressionRatio", Op: "gt", Values: []any{int64(1)}}}, "", ""},
		{"string equals number", access, []Condition{{Field: "ClientRequestHost", Op: "equals", Values: []any{int64(1)}}}, "", ""},
		{"timestamp equals instant", access, []Condition{{Field: "EdgeStartTimestamp", Op: "equals", Values: []any{"2026-11-25T08:00:00+08:00"}}}, "", ""},
		{"timestamp contains text", access, []Condition{{Field: "EdgeStartTimestamp", Op: "contains", Values: []any{"2026-11"}}}, "", ""},
		{"timestamp regex", access, []Condition{{Field: "EdgeStartTimestamp", Op: "regex", Values: []any{"^2026"}}}, "", ""},
		{"bool equals", tcp, []Condition{{Field: "IpFirewall", Op: "equals", Values: []any{"true", false}}}, "", ""},
		{"bool equals junk", tcp, []Condition{{Field: "IpFirewall", Op: "equals", Values: []any{"yes"}}}, "f[0].value", `bool field: "yes" is not true or false`},
		{"bool gt", tcp, []Condition{{Field: "IpFirewall", Op: "gt", Values: []any{true}}}, "f[0].op", "gt does not apply to bool field"},
		{"bool contains", tcp, []Condition{{Field: "IpFirewall", Op: "contains", Values: []any{"t"}}}, "f[0].op", "contains does not apply to bool field"},
		{"int equals junk", access, []Condition{{Field: "ClientSrcPort", Op: "equals", Values: []any{"80", "http"}}}, "f[0].value[1]", `"http" is not a number`},
		{"timestamp gt number", access, []Condition{{Field: "EdgeStartTimestamp", Op: "gt", Values: []any{int64(1)}}}, "f[0].value", "is not an RFC 3339 time"},
		{"regex number", access, []Condition{{Field: "ClientIP", Op: "regex", Values: []any{int64(1)}}}, "f[0].value", "must be a string"},
		{"unsupported value type", access, []Condition{{Field: "ClientIP", Op: "equals", Values: []any{[]int{1}}}}, "f[0].value", "is not a string, number or boolean"},
		{"group with field", access, []Condition{{Field: "ClientIP", Any: []Condition{{Field: "ClientIP", Op: "exists"}}}}, "f[0]", "cannot also have"},
		{"empty condition", access, []Condition{{}}, "f[0]", "empty condition"},
		{"missing field", access, []Condition{{Op: "exists"}}, "f[0].field", "required"},
		{"missing op", access, []Condition{{Field: "ClientIP"}}, "f[0].op", "required (one of equals"},
		{"member of group", access, []Condition{{Any: []Condition{{Field: "ClientIP", Op: "exists"}, {Field: "Nope", Op: "exists"}}}}, "f[0].any[1].field", `"Nope" is not a field`},
		{"custom field name", access, []Condition{{Field: "CustomFields.cookies.a;b", Op: "exists"}}, "f[0].field", "only letters, digits"},
		{"custom field without name", access, []Condition{{Field: "CustomFields.cookies", Op: "exists"}}, "f[0].field", "the name is empty"},
		{"custom field ok", access, []Condition{{Field: "CustomFields.response_headers.cache-control", Op: "contains", Values: []any{"no"}, IgnoreCase: true}}, "", ""},
		{"nil category skips catalog", nil, []Condition{{Field: "Anything", Op: "contains", Values: []any{"x"}}}, "", ""},
		{"nil category still checks ops", nil, []Condition{{Field: "Anything", Op: "like", Values: []any{"x"}}}, "f[0].op", `"like" is not an operator`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateConditions(tc.cat, tc.conds, "f")
			if tc.path == "" {
				if len(errs) != 0 {
					t.Fatalf("unexpected: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Path != tc.path || !strings.Contains(errs[0].Msg, tc.msg) {
				t.Fatalf("got %v, want %s: ~%s", errs, tc.path, tc.msg)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	for s, want := range map[string]bool{"${A}": true, "${_a1}": true, "${1A}": false, "${A-B}": false, "$A": false, "x${A}": false} {
		if IsEnvRef(s) != want {
			t.Errorf("IsEnvRef(%q) = %v", s, !want)
		}
	}
	if kind, name, ok := SplitCustomField("CustomFields.request_headers.x-a.b"); !ok || kind != "request_headers" || name != "x-a.b" {
		t.Errorf("SplitCustomField = %q %q %v", kind, name, ok)
	}
	if _, _, ok := SplitCustomField("ClientIP"); ok {
		t.Error("SplitCustomField(ClientIP) ok")
	}
	if !IsNegativeOp("not_regex") || IsNegativeOp("equals") || IsNegativeOp("not") {
		t.Error("IsNegativeOp")
	}
	es := Errors{{Path: "a", Msg: "x"}, {Msg: "y"}}
	if es.Error() != "a: x\ny" {
		t.Errorf("Errors.Error() = %q", es.Error())
	}
}

// TestFormatESAFilter checks that FormatESAFilter writes ESA's form and that ParseESAFilter reads back
// exactly the conditions written, in both spellings and with values that JSON and YAML tell apart only
// by their spelling.
func TestFormatESAFilter(t *testing.T) {
	conds := []Condition{
		{Field: "EdgeResponseStatusCode", Op: "ge", Values: []any{int64(500)}},
		{Any: []Condition{
			{Field: "ClientRequestPath", Op: "starts_with", Values: []any{"/api/"}},
			{Field: "ClientCountryCode", Op: "not_equals", Values: []any{"CN", "US"}, IgnoreCase: true},
		}},
		{Field: "ClientSSLProtocol", Op: "exists"},
		{Field: "EdgeResponseCompressionRatio", Op: "lt", Values: []any{2.0}},
		{Field: "X", Op: "equals", Values: []any{"500", true, false, int64(-9223372036854775808), 1e21, 1e-7, -0.5, 1e15}},
		{Field: "CustomFields.request_headers.x-trace", Op: "equals", Values: []any{
			"quote \" backslash \\ newline \n tab \t nul \x00 del \x7f c1 \u0085 ls \u2028 bom \ufeff \uffff emoji 😀 <&>"}},
		{Field: "", Op: "equals", Values: []any{"no field"}},
		{Field: "value", Op: "equals", Values: []any{"a field called value"}},
		{Field: "any", Op: "exists"},
		{Field: "F", Op: "ignore_case", Values: []any{"an operator called ignore_case"}},
		{Field: "F"},
		{},
	}
	text := FormatESAFilter(conds)
	if !strings.HasPrefix(text, `[{"EdgeResponseStatusCode": {"ge": [500]}}, {"any": [{"ClientRequestPath": {"starts_with": ["/api/"]}}, {"ClientCountryCode": {"not_equals": ["CN", "US"], "ignore_case": true}}]}, {"ClientSSLProtocol": {"exists": []}}, {"EdgeResponseCompressionRatio": {"lt": [2.0]}}, {"X": {"equals": ["500", true, false, -9223372036854775808, 1e+21, 1e-07, -0.5, 1e+15]}}`) {
		t.Errorf("ESA form:\n%s", text)
	}
	if !json.Valid([]byte(text)) {
		t.Fatalf("not JSON: %s", text)
	}
	got, err := ParseESAFilter([]byte(text))
	if err != nil {
		t.Fatalf("ParseESAFilter(%s): %v", text, err)
	}
	if !reflect.DeepEqual(got, conds) {
		t.Errorf("round trip:\n got %#v\nwant %#v\ntext %s", got, conds, text)
	}
	if s := FormatESAFilter(nil); s != "[]" {
		t.Errorf("no conditions: %q", s)
	}
	if c, err := ParseESAFilter([]byte("[]")); err != nil || c != nil {
		t.Errorf(`ParseESAFilter("[]") = %#v, %v; want nil`, c, err)
	}
}

// FuzzESAFilterRoundTrip checks that FormatESAFilter is the inverse of ParseESAFilter on everything
// ParseESAFilter accepts.
func FuzzESAFilterRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`[{"EdgeResponseStatusCode": {"ge": [500]}}, {"any": [{"A": {"equals": ["x"], "ignore_case": true}}]}]`,
		`[{"field": "value", "op": "equals", "value": 2.0}, {"A": {"exists": []}}, {"B": {"lt": 1e300}}]`,
		`{"A": {"equals": ["\u007f\u2028", 9223372036854775808, -0.0, true, "1"]}}`,
		"- {field: a, op: ignore_case, value: [x, 0x1F, .5, ~a]}\n- {any: [{any: [{}]}]}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		conds, err := ParseESAFilter(data)
		if err != nil {
			return
		}
		text := FormatESAFilter(conds)
		if !json.Valid([]byte(text)) {
			t.Fatalf("not JSON: %s", text)
		}
		again, err := ParseESAFilter([]byte(text))
		if err != nil {
			t.Fatalf("ParseESAFilter(FormatESAFilter(c)) failed: %v\ntext %s", err, text)
		}
		if !reflect.DeepEqual(again, conds) {
			t.Fatalf("round trip:\n got %#v\nwant %#v\ntext %s", again, conds, text)
		}
	})
}
