package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// esaParams is the JSON of a create request's parameters as text, the way an API server receives them
// (every form parameter is a string), with extra parameters added.
func esaParams(t *testing.T, extra map[string]string) []byte {
	t.Helper()
	p := map[string]string{"TaskName": "ext", "BusinessType": "dcdn_log_access_l1", "SiteId": "7",
		"FieldName": "ClientIP,ClientRequestHost", "DiscardRate": "0", "DeliveryType": "http",
		"HttpDelivery": `{"DestUrl":"http://127.0.0.1:9/in"}`}
	for k, v := range extra {
		p[k] = v
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The object extension keys come as JSON strings when they are form parameters.
func TestLoadESAExtensionKeysAsJSONText(t *testing.T) {
	delim := ";"
	got, err := Load(esaParams(t, map[string]string{
		"buffer":          `{"type":"disk","path":"/var/buf","max_bytes":"1GiB","when_full":"reject"}`,
		"dead_letter":     `{"type":"local","path":"dead"}`,
		"output":          `{"format":"csv","record_delimiter":";"}`,
		"custom_fields":   `{"request_headers":["X-Trace"],"cookies":["sid"]}`,
		"source":          `{"type":"file","paths":["in.ndjson"]}`,
		"sample_key":      "ClientIP",
		"ownership_token": "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := struct {
		Buffer       *Buffer
		DeadLetter   *DeadLetter
		Output       Output
		CustomFields *CustomFields
		Source       Source
		SampleKey    string
	}{
		&Buffer{Type: "disk", Path: "/var/buf", MaxBytes: "1GiB", WhenFull: "reject"},
		&DeadLetter{Type: "local", Path: "dead"},
		Output{Format: "csv", TimestampFormat: "rfc3339", RecordDelimiter: &delim},
		&CustomFields{RequestHeaders: []string{"x-trace"}, Cookies: []string{"sid"}},
		Source{Type: "file", File: &FileSource{Paths: []string{"in.ndjson"}}},
		"ClientIP",
	}
	for name, pair := range map[string][2]any{
		"buffer": {got.Buffer, want.Buffer}, "dead_letter": {got.DeadLetter, want.DeadLetter},
		"output": {got.Output, want.Output}, "custom_fields": {got.CustomFields, want.CustomFields},
		"source": {got.Source, want.Source}, "sample_key": {got.SampleKey, want.SampleKey},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s: got %+v, want %+v", name, pair[0], pair[1])
		}
	}
}

// An empty string is no value: the default.
func TestLoadESAExtensionKeysEmptyText(t *testing.T) {
	got, err := Load(esaParams(t, map[string]string{"buffer": "", "dead_letter": " ", "output": "",
		"custom_fields": "", "source": "", "sample_key": "", "ownership_token": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Buffer != nil || got.DeadLetter != nil || got.CustomFields != nil || got.SampleKey != "" ||
		!reflect.DeepEqual(got.Output, defaultOutput) || !reflect.DeepEqual(got.Source, defaultSource) {
		t.Errorf("empty extension keys gave %+v", got)
	}
}

// Problems inside the JSON text are reported at their path, and text that is not JSON at the key.
func TestLoadESAExtensionKeysTextProblems(t *testing.T) {
	_, err := Load(esaParams(t, map[string]string{"buffer": `{"type":"ram"}`, "output": `{"format":`,
		"dead_letter": `"local"`}))
	var es Errors
	if err == nil || !errors.As(err, &es) {
		t.Fatalf("want problems, got %v", err)
	}
	text := es.Error()
	for _, want := range []string{`buffer.type: "ram" is not one of memory, disk`, "output: not valid JSON", "dead_letter: must be an object, not a string"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems do not contain %q:\n%s", want, text)
		}
	}
}
