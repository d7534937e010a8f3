package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/alibabacloud-go/tea/tea"

	"github.com/esa-connect/esa-connect/config"
)

func mustLoad(t *testing.T, def string) *config.Task {
	t.Helper()
	task, err := config.Load([]byte(def))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return task
}

// The parameters carry every setting, with the secrets that an export masks, and load back (as serve
// loads them) to the same task.
func TestTaskParamsSecretsAndExtensions(t *testing.T) {
	cases := map[string]struct {
		def     string
		site    bool
		key     string
		secrets []string
	}{
		"http": {`
name: h
category: access
site_id: 7301
fields: [ClientIP, ClientRequestID]
sampling_rate: 33.33
sample_key: ClientRequestID
filters: [{field: ClientRequestHost, op: ends_with, value: [".example.com"], ignore_case: true}, {any: [{field: EdgeResponseStatusCode, op: ge, value: 500}, {field: ClientIP, op: starts_with, value: "10."}]}]
custom_fields: {request_headers: [X-Trace], cookies: [sid]}
destination:
  type: http
  url: https://user:pa55@logs.example.com/in?token=t0k3n&x=1
  auth: {private_key: aliyuncdn1234, expired_time: 300, url_path: /in}
  headers: {Authorization: "Bearer s3cr3t", X-Team: edge}
  query: {api_key: q-secret}
  compression: gzip
  max_retry: 0
buffer: {type: disk, path: /var/lib/buf, max_bytes: 1GiB, when_full: reject}
dead_letter: {type: local, path: /var/lib/dead}
output: {format: tsv, record_prefix: "\u0085>", record_delimiter: "|"}
`, true, "HttpDelivery", []string{"pa55", "t0k3n", "aliyuncdn1234", "Bearer s3cr3t", "q-secret"}},
		"s3": {`
name: s
category: firewall
site_id: 9
fields: [ClientIP]
destination: {type: s3_compatible, bucket_path: b/p, region: r, endpoint: "https://s3.example.com", access_key_id: AKID, secret_access_key: "${S3_SECRET}", server_side_encryption: AES256}
ownership_token: tok-123
`, true, "S3Delivery", []string{"AKID", "${S3_SECRET}"}},
		"kafka, account-level": {`
name: k
category: edge_routine
fields: [ClientRequestID]
destination: {type: kafka, topic: t, brokers: ["k1:9092"], sasl: {mechanism: PLAIN, username: u, password: kafka-pw}, balancer: Hash}
`, false, "KafkaDelivery", []string{"kafka-pw"}},
		"local": {`
name: l
category: dns
site_id: 5
fields: [QueryName]
destination: {type: local, path: ./out}
`, true, "SinkConfig", nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			task := mustLoad(t, tc.def)
			req, err := taskParams(task, false)
			if err != nil {
				t.Fatal(err)
			}
			if req.Site != tc.site {
				t.Errorf("Site = %v", req.Site)
			}
			if _, ok := req.Params["SiteId"]; ok != tc.site {
				t.Errorf("SiteId given: %v (%v)", ok, req.Params)
			}
			sink := req.Params[tc.key]
			if sink == "" || strings.Contains(sink, config.ESASecretMask) {
				t.Fatalf("%s = %q", tc.key, sink)
			}
			for _, s := range tc.secrets {
				if !strings.Contains(sink, s) {
					t.Errorf("%s lacks the secret %q: %s", tc.key, s, sink)
				}
			}
			back, err := loadParams(req.Params)
			if err != nil {
				t.Fatal(err)
			}
			want := *task
			want.Source = back.Source
			if !reflect.DeepEqual(*back, want) {
				t.Errorf("loaded back:\n got %+v\nwant %+v", back, want)
			}
			if len(req.Notes) != 0 {
				t.Errorf("notes: %v", req.Notes)
			}
		})
	}
}

// A Kafka source is sent (serve runs the task from it); update resets a source when the file has
// another one, which serve does not use.
func TestTaskParamsKafkaSource(t *testing.T) {
	task := mustLoad(t, `
name: ks
category: access
site_id: 4
fields: [ClientIP]
source: {type: kafka, brokers: ["k1:9092"], topics: [esa-access], group: esa, sasl: {mechanism: PLAIN, username: u, password: src-pw}, tls: {enabled: true, ca_file: /ca.pem}, start_offset: latest}
destination: {type: local, path: out}
`)
	req, err := taskParams(task, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(req.Params["source"], `"src-pw"`) || len(req.Notes) != 0 {
		t.Errorf("source = %s, notes %v", req.Params["source"], req.Notes)
	}
	back, err := loadParams(req.Params)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Source, task.Source) {
		t.Errorf("source loaded back as %+v, want %+v", back.Source, task.Source)
	}

	task = mustLoad(t, `{name: g, category: access, site_id: 4, fields: [ClientIP], source: {type: generate, count: 5}, destination: {type: local, path: out}}`)
	req, err = taskParams(task, true)
	if err != nil || req.Params["source"] != "" || len(req.Notes) != 1 {
		t.Errorf("update with a generate source: %v %q %v", err, req.Params["source"], req.Notes)
	}
	if _, ok := req.Params["source"]; !ok {
		t.Error("update does not reset the source")
	}
}

// Only the extension parameters that a task sets are sent by create; update sends the others empty,
// which resets them in the stored definition.
func TestTaskParamsFull(t *testing.T) {
	task := mustLoad(t, `{name: f, category: access, site_id: 1, fields: [ClientIP], destination: {type: http, url: "http://127.0.0.1/"}, buffer: {type: disk, path: /b}}`)
	req, err := taskParams(task, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"output", "dead_letter", "custom_fields", "sample_key", "ownership_token", "DataCenter"} {
		if _, ok := req.Params[k]; ok {
			t.Errorf("create sends %s", k)
		}
	}
	if req.Params["buffer"] != `{"type":"disk","path":"/b"}` {
		t.Errorf("buffer = %q", req.Params["buffer"])
	}
	req, err = taskParams(task, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := req.Params["ownership_token"]; ok {
		t.Error("update resets the ownership token, which serve keeps once verified")
	}
	for _, k := range []string{"output", "dead_letter", "custom_fields", "sample_key", "DataCenter"} {
		if v, ok := req.Params[k]; !ok || v != "" {
			t.Errorf("update sends %s = %q, %v; want empty", k, v, ok)
		}
	}
	if req.Params["FilterRules"] != "[]" {
		t.Errorf("FilterRules = %q", req.Params["FilterRules"])
	}
}

// Settings that ESA's parameters cannot carry are refused by name; a source is a note.
func TestTaskParamsRefusals(t *testing.T) {
	task := mustLoad(t, `
name: x
category: access
site_id: 1
fields: [ClientIP]
source: {type: generate, count: 10}
destination: {type: sls, project: p, logstore: l, region: cn-hangzhou, access_key_id: a, access_key_secret: b, batching: {count: 10}}
`)
	_, err := taskParams(task, false)
	var lost errNotSendable
	if !errors.As(err, &lost) {
		t.Fatalf("want errNotSendable, got %v", err)
	}
	if got := strings.Join(lost, ","); got != "destination.access_key_id,destination.access_key_secret,destination.batching" {
		t.Errorf("refused %s", got)
	}
	if strings.Contains(err.Error(), "a,") || strings.Contains(err.Error(), ": b") {
		t.Errorf("the refusal shows a value: %v", err)
	}

	task = mustLoad(t, `{name: x, category: access, fields: [ClientIP], source: {type: generate}, destination: {type: local, path: o}}`)
	if _, err := taskParams(task, false); err == nil || !strings.Contains(err.Error(), "site_id") {
		t.Errorf("a site task without a site: %v", err)
	}
	task.SiteID = 3
	req, err := taskParams(task, false)
	if err != nil || len(req.Notes) != 1 || !strings.Contains(req.Notes[0], "source") {
		t.Errorf("source: %v %+v", err, req)
	}
}

// An export (what tasks get prints) is read without its Health.
func TestWithoutHealth(t *testing.T) {
	in := "TaskName: a\nHealth:\n  status: online\nBusinessType: dcdn_log_er\n"
	out := string(withoutHealth([]byte(in)))
	if strings.Contains(out, "Health") || !strings.Contains(out, "TaskName: a") || !strings.Contains(out, "BusinessType") {
		t.Errorf("withoutHealth: %q", out)
	}
	native := "name: a\nHealth: 1\n"
	if got := string(withoutHealth([]byte(native))); got != native {
		t.Errorf("a native file changed: %q", got)
	}
}

func TestEndpointURL(t *testing.T) {
	for in, want := range map[string][2]string{
		"127.0.0.1:8080":          {"http://127.0.0.1:8080", "HTTP"},
		"http://127.0.0.1:8080/":  {"http://127.0.0.1:8080", "HTTP"},
		"HTTPS://esa.example.com": {"https://esa.example.com", "HTTPS"},
		"[::1]:9000":              {"http://[::1]:9000", "HTTP"},
	} {
		base, proto, err := endpointURL(in)
		if err != nil || base != want[0] || proto != want[1] {
			t.Errorf("endpointURL(%q) = %q %q %v", in, base, proto, err)
		}
	}
	for _, in := range []string{"", "ftp://h:1", "http://h:1/path", "http://"} {
		if _, _, err := endpointURL(in); err == nil {
			t.Errorf("endpointURL(%q) accepted", in)
		}
	}
}

// The server's Code and Message, not the SDK's decoration of them.
func TestSDKAPIError(t *testing.T) {
	data, _ := json.Marshal(map[string]any{"Code": "InvalidParameter", "Message": "FieldName[0]: bad", "RequestId": "R"})
	err := tea.NewSDKError(map[string]any{"code": "InvalidParameter", "statusCode": 400,
		"message": "code: 400, FieldName[0]: bad request id: R", "data": json.RawMessage(data)})
	if ae := sdkAPIError(err); ae == nil || ae.Error() != "InvalidParameter: FieldName[0]: bad" {
		t.Errorf("with data: %v", ae)
	}
	err = tea.NewSDKError(map[string]any{"code": "SignatureDoesNotMatch", "message": "code: 403, no match request id: R"})
	if ae := sdkAPIError(err); ae == nil || ae.Error() != "SignatureDoesNotMatch: no match" {
		t.Errorf("without data: %v", ae)
	}
	if ae := sdkAPIError(errors.New("dial tcp: refused")); ae != nil {
		t.Errorf("a network error: %v", ae)
	}
}

// Privacy transforms and the Log4Shell guard are sent to serve, and an Update of a task without them
// resets them.
func TestTaskParamsPrivacy(t *testing.T) {
	task, err := config.Load([]byte(`name: priv
category: access
site_id: 7301
fields: [ClientIP, ClientRequestUserAgent]
destination: {type: http, url: "http://127.0.0.1:9/x"}
transforms:
  - {field: ClientIP, truncate_ip: {ipv4_prefix: 16}}
  - {field: ClientRequestUserAgent, hash: {key: "${UA_KEY}"}}
log4shell_guard: true
`))
	if err != nil {
		t.Fatal(err)
	}
	req, err := taskParams(task, false)
	if err != nil {
		t.Fatal(err)
	}
	if req.Params["log4shell_guard"] != "true" || !strings.Contains(req.Params["transforms"], `"ipv4_prefix":16`) {
		t.Fatalf("params: %v", req.Params)
	}
	task.Transforms, task.Log4ShellGuard = nil, false
	req, err = taskParams(task, true)
	if err != nil {
		t.Fatal(err)
	}
	if req.Params["log4shell_guard"] != "false" || req.Params["transforms"] != "" {
		t.Fatalf("an update without transforms does not reset them: %v", req.Params)
	}
}
