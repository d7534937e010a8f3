package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad checks that no input crashes Load and that every failure is a non-empty Errors list.
// Run longer with: go test -run '^$' -fuzz FuzzLoad -fuzztime 60s ./config/
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		native("filters: [{field: ClientIP, op: equals, value: [a, 1, true]}, {any: [{ClientIP: {exists: []}}]}]"),
		esaDef(`"DeliveryType":"http","HttpDelivery":"{\"DestUrl\":\"http://x\",\"HeaderParam\":{\"a\":{\"StaticValue\":\"b\"}}}"`),
		esaDef(`"FilterRules":"[{\"ClientIP\":{\"regex\":[\"(\"]}}]"`),
		esaDef(`"DeliveryType":"http","Status":"online","RawRule":"","FieldList":"ClientIP","SinkConfig":"{\"DestUrl\":\"https://******@x?token=******\",\"StandardAuthParam\":{\"PrivateKey\":\"******\"}}"`),
		esaDef(`"DeliveryType":"local","SinkConfig":{"Path":"o"},"FilterRules":"[]"`),
		"a: &x [*x]", "- - -", "{", "name: *y", "<<: {a: 1}", "destination: {type: kafka, tls: {<<: {a: 1}}}",
		bombAnchors("") + native("filters: *i"),
		esaDef(`"FilterRules":` + quoteJSON("["+bombFlow()+"]")),
		native("filters: &x [{any: *x}]"),
		native("#" + strings.Repeat("x", MaxDefinitionBytes)),
		native("destination: {type: local, path: o, batching: {period: 1ns, count: 10000001, byte_size: 1}}"),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := Load(data)
		if err == nil {
			if task == nil {
				t.Fatal("nil task without error")
			}
			if errs := Validate(task); len(errs) != 0 {
				t.Fatalf("loaded task does not validate: %v", errs)
			}
			// Its export is JSON that Load decodes (a setting ESA has no member for may be missing), with
			// the filters as they were.
			export, err := json.Marshal(ExportESA(task))
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			if again, err := Load(export); err == nil && !reflect.DeepEqual(again.Filters, task.Filters) {
				t.Fatalf("filters of the export:\n got %#v\nwant %#v", again.Filters, task.Filters)
			} else if err != nil && !errors.As(err, new(Errors)) {
				t.Fatalf("Load(export) error is not Errors: %v", err)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 || len(errs) > MaxProblems+1 {
			t.Fatalf("error is not 1..%d problems: %v", MaxProblems+1, err)
		}
		if _, err := ParseESAFilter(data); err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("ParseESAFilter error is not Errors: %v", err)
			}
		}
	})
}
