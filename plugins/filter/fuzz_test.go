package filter

import (
	"errors"
	"testing"

	"github.com/esa-connect/esa-connect/config"
)

// fuzzRecords are matched against every filter that compiles: the vector record, records with other
// layouts and types (so the shape learnt from one record is tested against the next) and invalid ones.
var fuzzRecords = []string{
	vectorRecord,
	`{}`,
	`{"EdgeResponseStatusCode":200,"ClientRequestHost":"b.example.com","ClientIP":"10.0.0.1"}`,
	`{"EdgeResponseStatusCode":"-","EdgeStartTimestamp":"yesterday","ClientRequestPath":null,"EdgeResponseCompressionRatio":0.25}`,
	`{"RequestHeaders":{"Cookie":"a=1; region=eu; =x; b"},"ResponseHeaders":[],"QueryName":"api.example.com"}`,
	`{"ClientIP":1e400,"EdgeResponseStatusCode":-9223372036854775809,"IpFirewall":true,"Action":"deny"}`,
	`{"EdgeResponseStatusCode":50`,
	`[]`,
	"{\"ClientIP\":\"\xff\"}",
}

// FuzzCompile feeds arbitrary bytes through what esa_filter does with its esa_rules: ParseESAFilter,
// ValidateConditions, the compiler, then matching. Invalid input must give an error, never a panic;
// valid conditions must compile; matching a record twice (the second time with the record's layout
// learnt) must give the same answer.
// Run longer with: go test -run '^$' -fuzz FuzzCompile -fuzztime 60s ./plugins/filter/
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`[{"EdgeResponseStatusCode": {"ge": [500]}}, {"ClientRequestHost": {"equals": ["a.example.com", "b.example.com"], "ignore_case": true}}]`,
		`[{"any": [{"ClientRequestPath": {"starts_with": ["/api/"]}}, {"ClientCountryCode": {"not_equals": ["CN"]}}]}]`,
		`[{"CustomFields.request_headers.X-Trace-Id": {"exists": []}}, {"CustomFields.cookies.region": {"equals": ["eu"]}}]`,
		`[{"CustomFields.response_headers.cache-control": {"not_contains": ["no-store"]}}]`,
		`[{"ClientRequestPath": {"regex": ["v[0-9]+/items"], "ignore_case": true}}, {"ClientRequestPath": {"not_regex": ["^/static/"]}}]`,
		`[{"EdgeStartTimestamp": {"gt": ["2026-11-24T23:59:59.999Z"]}}, {"EdgeStartTimestamp": {"equals": ["2026-11-25T00:00:00Z"]}}]`,
		`[{"EdgeResponseCompressionRatio": {"lt": [0.5]}}, {"OriginResponseStatusCode": {"not_exists": []}}]`,
		`[{"field": "ClientIP", "op": "not_ends_with", "value": [".1", ".2"]}, {"field": "EdgeResponseBytes", "op": "le", "value": "1e3"}]`,
		`[{"IpFirewall": {"equals": [true]}}, {"Action": {"equals": ["deny"]}}]`,
		`[{"ClientIP": {"regex": ["("]}}]`,
		`[{"ClientIp": {"equals": ["1.1.1.1"]}}]`,
		`[{"any": [{"any": [{"ClientIP": {"exists": []}}]}]}]`,
		`[{"ClientIP": {"equals": [null]}}]`,
		`&r [{"any": *r}]`,
		`[{"a": &a [1,1,1,1,1,1,1,1,1]}, {"b": &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]}, {"c": [*b,*b,*b,*b,*b,*b,*b,*b,*b]}]`,
		``, `[`, `{}`, `"x"`, `[1]`,
	} {
		f.Add([]byte(seed))
	}
	access, _ := config.LookupCategory("access")
	firewall, _ := config.LookupCategory("firewall")
	f.Fuzz(func(t *testing.T, data []byte) {
		conds, err := config.ParseESAFilter(data)
		if err != nil {
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 || len(errs) > config.MaxProblems+1 {
				t.Fatalf("ParseESAFilter error is not 1..%d problems: %v", config.MaxProblems+1, err)
			}
			return
		}
		for _, cat := range []*config.Category{access, firewall} {
			if errs := config.ValidateConditions(cat, conds, "esa_rules"); len(errs) > 0 {
				if _, err := New(Config{Category: cat.Name, Conditions: conds}, nil); err == nil {
					t.Fatalf("%s: New accepted conditions that do not validate: %v", cat.Name, errs)
				}
				continue
			}
			if _, err := compile(cat, conds); err != nil {
				t.Fatalf("%s: validated conditions do not compile: %v\n%+v", cat.Name, err, conds)
			}
			p, err := New(Config{Category: cat.Name, Conditions: conds}, nil)
			if err != nil {
				t.Fatalf("%s: New: %v", cat.Name, err)
			}
			fresh := make([]bool, len(fuzzRecords))
			for i, rec := range fuzzRecords {
				fresh[i], _ = p.Match([]byte(rec))
			}
			for i, rec := range fuzzRecords {
				if again, _ := p.Match([]byte(rec)); again != fresh[i] {
					t.Fatalf("%s: record %d: %v, then %v", cat.Name, i, fresh[i], again)
				}
			}
		}
	})
}
