package config

import (
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
		{Field: "ClientSSLProtocol", Op: "exists", Values: []any{}},
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
