package config

import (
	"strings"
	"testing"
)

func TestTransformsValidation(t *testing.T) {
	_, err := Load([]byte(`name: t
category: access
fields: [ClientIP, ClientRequestUserAgent, EdgeResponseStatusCode]
destination: {type: local, path: out}
transforms:
  - {field: ClientIP, truncate_ip: {ipv4_prefix: 33}}
  - {field: ClientRequestUserAgnt, redact: {}}
  - {field: EdgeResponseStatusCode, hash: {key: "${K}"}}
  - {field: ClientIP, hash: {key: short, encoding: base32}}
  - {field: ClientRequestUserAgent, redact: {}, truncate_ip: {}}
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"transforms[0].truncate_ip.ipv4_prefix: 33",
		`transforms[1].field: "ClientRequestUserAgnt" is not one of the task's fields (did you mean "ClientRequestUserAgent"?)`,
		`transforms[2].field: "EdgeResponseStatusCode" is a int field`,
		`transforms[3].field: "ClientIP" has a transform already (transforms[0])`,
		"transforms[3].hash.key: at least 16 bytes",
		"transforms[3].hash.encoding",
		"transforms[4]: give exactly one of hash, truncate_ip and redact",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	task, err := Load([]byte(`name: t
category: access
fields: [ClientIP]
destination: {type: local, path: out}
transforms: [{field: ClientIP, truncate_ip: {}}]
log4shell_guard: true
`))
	if err != nil || len(task.Transforms) != 1 || task.Transforms[0].TruncateIP == nil || !task.Log4ShellGuard {
		t.Fatalf("valid transforms: %v %+v", err, task)
	}
}

// sampling_rate: null is no rate: the default (100), like an absent key.
func TestNullSamplingRate(t *testing.T) {
	task, err := Load([]byte("name: t\ncategory: access\nfields: [ClientIP]\nsampling_rate: null\ndestination: {type: local, path: out}\n"))
	if err != nil || task.SamplingRate != 100 {
		t.Fatalf("%v %v", err, task)
	}
}

func TestValidateCustomFields(t *testing.T) {
	errs := ValidateCustomFields(&CustomFields{RequestHeaders: []string{"x-ok", "bad;name"}, Cookies: []string{"a", "a"}})
	got := errs.Error()
	for _, want := range []string{`request_headers[1]: "bad;name"`, `cookies[1]: "a" is already listed`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %s", want, got)
		}
	}
	if errs := ValidateCustomFields(&CustomFields{RequestHeaders: []string{"user-agent"}}); len(errs) != 0 {
		t.Fatalf("valid custom fields refused: %v", errs)
	}
}
