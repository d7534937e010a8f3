package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var defaultSource = Source{Type: "http", HTTP: &HTTPSource{Address: DefaultIngestAddress, Path: "/v1/logs"}}
var defaultOutput = Output{Format: "ndjson", TimestampFormat: "rfc3339"}

func ptr[T any](v T) *T { return &v }

// TestLoadGood decodes good definitions of every category and destination type, in both shapes, and
// compares the whole Task.
func TestLoadGood(t *testing.T) {
	cases := []struct {
		name string
		def  string
		want Task
	}{
		{"native access to s3, everything set", `
name: access-to-s3
category: access
site_id: 123456
data_center: cn
fields: [EdgeStartTimestamp, ClientIP, ClientRequestHost, EdgeResponseStatusCode]
sampling_rate: 25
sample_key: ClientRequestID
filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 400}
  - {field: ClientRequestHost, op: equals, value: [a.example.com, b.example.com], ignore_case: true}
  - any:
      - {field: ClientRequestPath, op: starts_with, value: /api/}
      - {field: ClientCountryCode, op: not_equals, value: CN}
  - {field: CustomFields.request_headers.X-Trace-Id, op: exists}
  - {EdgeResponseCompressionRatio: {lt: [0.5]}}
custom_fields:
  request_headers: [X-Trace-Id]
  response_headers: [Cache-Control]
  cookies: [session_Region]
source:
  type: kafka
  brokers: [k1:9092, k2:9092]
  topics: [raw]
  group: esa
  sasl: {mechanism: scram-sha-256, username: u, password: "${KAFKA_PASSWORD}"}
  tls: true
destination:
  type: s3
  bucket_path: logs-bucket/esa/access
  region: us-east-1
  server_side_encryption: AES256
  access_key_id: "${AWS_ACCESS_KEY_ID}"
  secret_access_key: "${AWS_SECRET_ACCESS_KEY}"
  batching: {count: 5000, byte_size: 1000000, period: 30s}
  max_in_flight: 4
  compression: zstd
  compression_level: 19
  partition: {by: [date, hour, ClientRequestHost], style: plain, max_open: 8}
output: {format: csv, timestamp_format: unixms, record_delimiter: "\r\n", batch_prefix: "["}
dead_letter: {type: local, path: ./dead}
ownership_token: v1.1764028800.9f86d081.4xPE32w0D8zqnofmAEV9bqilkGGU11AL22cRCrAvfRU
`, Task{Name: "access-to-s3", Category: "access", SiteID: 123456, DataCenter: "cn",
			Fields:       []string{"EdgeStartTimestamp", "ClientIP", "ClientRequestHost", "EdgeResponseStatusCode"},
			SamplingRate: 25, SampleKey: "ClientRequestID",
			Filters: []Condition{
				{Field: "EdgeResponseStatusCode", Op: "ge", Values: []any{int64(400)}},
				{Field: "ClientRequestHost", Op: "equals", Values: []any{"a.example.com", "b.example.com"}, IgnoreCase: true},
				{Any: []Condition{
					{Field: "ClientRequestPath", Op: "starts_with", Values: []any{"/api/"}},
					{Field: "ClientCountryCode", Op: "not_equals", Values: []any{"CN"}}}},
				{Field: "CustomFields.request_headers.x-trace-id", Op: "exists"},
				{Field: "EdgeResponseCompressionRatio", Op: "lt", Values: []any{0.5}},
			},
			CustomFields: &CustomFields{RequestHeaders: []string{"x-trace-id"}, ResponseHeaders: []string{"cache-control"},
				Cookies: []string{"session_Region"}},
			Source: Source{Type: "kafka", Kafka: &KafkaSource{Brokers: []string{"k1:9092", "k2:9092"}, Topics: []string{"raw"},
				Group: "esa", SASL: &SASL{Mechanism: "SCRAM-SHA-256", Username: "u", Password: "${KAFKA_PASSWORD}"},
				TLS: &TLS{Enabled: true}, StartOffset: "earliest"}},
			Destination: Destination{Type: "s3", S3: &S3Destination{BucketPath: "logs-bucket/esa/access", Region: "us-east-1",
				ServerSideEncryption: "AES256", AccessKeyID: "${AWS_ACCESS_KEY_ID}", SecretAccessKey: "${AWS_SECRET_ACCESS_KEY}",
				Batching: &Batching{Count: 5000, ByteSize: 1000000, Period: "30s"}, MaxInFlight: 4,
				Compression: "zstd", CompressionLevel: 19,
				Partition: &Partition{By: []string{"date", "hour", "ClientRequestHost"}, Style: "plain", MaxOpen: 8}}},
			Output:         Output{Format: "csv", TimestampFormat: "unixms", RecordDelimiter: ptr("\r\n"), BatchPrefix: "["},
			DeadLetter:     &DeadLetter{Type: "local", Path: "./dead"},
			OwnershipToken: "v1.1764028800.9f86d081.4xPE32w0D8zqnofmAEV9bqilkGGU11AL22cRCrAvfRU",
		}},
		{"native firewall to sls (JSON)", `{"name": "waf_sls", "category": "dcdn_log_waf", "fields": ["Datetime", "Action", "RuleID"],
  "sampling_rate": 12.5, "filters": "[{\"Action\": {\"equals\": [\"deny\", \"captcha\"]}}]",
  "destination": {"type": "sls", "project": "p", "logstore": "waf", "region": "cn-hangzhou", "endpoint": "127.0.0.1:8080",
    "access_key_id": "id", "access_key_secret": "${SLS_SECRET}", "topic": "esa", "source": "edge"}}`,
			Task{Name: "waf_sls", Category: "firewall", Fields: []string{"Datetime", "Action", "RuleID"}, SamplingRate: 12.5,
				Filters: []Condition{{Field: "Action", Op: "equals", Values: []any{"deny", "captcha"}}},
				Source:  defaultSource, Output: defaultOutput,
				Destination: Destination{Type: "sls", SLS: &SLSDestination{Project: "p", Logstore: "waf", Region: "cn-hangzhou",
					Endpoint: "127.0.0.1:8080", AccessKeyID: "id", AccessKeySecret: "${SLS_SECRET}", Topic: "esa", LogSource: "edge"}}}},
		{"native tcp_udp_proxy to oss", `
name: ipa-oss
category: tcp_udp_proxy
fields: [LogTimeStamp, ClientIP, IpFirewall, Status]
filters: [{field: IpFirewall, op: equals, value: true}, {field: LogTimeStamp, op: ge, value: "2026-01-01T00:00:00+08:00"}]
source: {type: file, paths: [a.ndjson, "logs/*.ndjson.gz"]}
destination: {type: oss, bucket: b, region: cn-shanghai, prefix: esa/ipa, aliuid: "123", security_token: "${T}",
  access_key_id: a, access_key_secret: s, compression_level: 9, partition: {by: [Status]}}
`, Task{Name: "ipa-oss", Category: "tcp_udp_proxy", Fields: []string{"LogTimeStamp", "ClientIP", "IpFirewall", "Status"},
			SamplingRate: 100, Filters: []Condition{{Field: "IpFirewall", Op: "equals", Values: []any{true}},
				{Field: "LogTimeStamp", Op: "ge", Values: []any{"2026-01-01T00:00:00+08:00"}}},
			Source: Source{Type: "file", File: &FileSource{Paths: []string{"a.ndjson", "logs/*.ndjson.gz"}}}, Output: defaultOutput,
			Destination: Destination{Type: "oss", OSS: &OSSDestination{Bucket: "b", Region: "cn-shanghai", Prefix: "esa/ipa",
				AliUID: "123", SecurityToken: "${T}", AccessKeyID: "a", AccessKeySecret: "s", CompressionLevel: 9,
				Partition: &Partition{By: []string{"Status"}}}}}},
		{"native dns to http", `
name: dns-http
category: dns
fields: [Timestamp, QueryName, ProcessTime]
filters: [{field: QueryName, op: regex, value: "^api\\."}]
source: {type: http, address: "127.0.0.1:9000"}
destination:
  type: http
  url: https://logs.example.com/accesslog/post
  compression: snappy
  auth: {private_key: aliyuncdn1234, expired_time: 300}
  headers: {Authorization: "${TOKEN}"}
  query: {src: esa}
  body_prefix: "["
  body_suffix: "]"
  split: true
  split_words: ","
  last_split: false
  max_batch_size: 200
  max_batch_mb: 1.5
  max_retry: 0
  timeout: 30
  period: 2s
  tls: {ca_file: /etc/ca.pem}
`, Task{Name: "dns-http", Category: "dns", Fields: []string{"Timestamp", "QueryName", "ProcessTime"}, SamplingRate: 100,
			Filters: []Condition{{Field: "QueryName", Op: "regex", Values: []any{`^api\.`}}},
			Source:  Source{Type: "http", HTTP: &HTTPSource{Address: "127.0.0.1:9000", Path: "/v1/logs"}}, Output: defaultOutput,
			Destination: Destination{Type: "http", HTTP: &HTTPDestination{URL: "https://logs.example.com/accesslog/post",
				Compression: "snappy", Auth: &HTTPAuth{PrivateKey: "aliyuncdn1234", ExpiredTime: 300},
				Headers: map[string]string{"Authorization": "${TOKEN}"}, Query: map[string]string{"src": "esa"},
				BodyPrefix: "[", BodySuffix: "]", Split: ptr(true), SplitWords: ",", LastSplit: ptr(false),
				MaxBatchSize: 200, MaxBatchMB: 1.5, MaxRetry: ptr(0), Timeout: 30, Period: "2s",
				TLS: &TLS{Enabled: true, CAFile: "/etc/ca.pem"}}}}},
		{"native edge_routine to kafka", `
name: er-kafka
category: edge_routine
fields: [LogTimestamp, RoutineName, ErrorCode]
filters: [{field: ErrorCode, op: not_equals, value: 0}]
destination:
  type: kafka
  topic: er
  brokers: "k1:9092, k2:9092"
  compression: zstd
  balancer: kafka.Murmur2Balancer
  key_field: RoutineName
  tls: {enabled: false}
  sasl: {mechanism: PLAIN, username: u, password: p}
`, Task{Name: "er-kafka", Category: "edge_routine", Fields: []string{"LogTimestamp", "RoutineName", "ErrorCode"},
			SamplingRate: 100, Filters: []Condition{{Field: "ErrorCode", Op: "not_equals", Values: []any{int64(0)}}},
			Source: defaultSource, Output: defaultOutput,
			Destination: Destination{Type: "kafka", Kafka: &KafkaDestination{Topic: "er", Brokers: []string{"k1:9092", "k2:9092"},
				Compression: "zstd", Balancer: "Murmur2Balancer", KeyField: "RoutineName", TLS: &TLS{},
				SASL: &SASL{Mechanism: "PLAIN", Username: "u", Password: "p"}}}}},
		{"native edge_container to local", `
name: ec
category: edge_container
data_center: sg
fields: [LogTimestamp, ContainerLog]
source: {type: generate, count: 1000, rate: 100/s, seed: 7}
destination: {type: local, path: ./out, batching: {period: 1s}}
dead_letter: {type: benthos, config: {file: {path: ./dead.ndjson}}}
`, Task{Name: "ec", Category: "edge_container", DataCenter: "oversea", Fields: []string{"LogTimestamp", "ContainerLog"},
			SamplingRate: 100, Source: Source{Type: "generate", Generate: &GenerateSource{Count: 1000, Rate: "100/s", Seed: 7}},
			Output:      defaultOutput,
			Destination: Destination{Type: "local", Local: &LocalDestination{Path: "./out", Batching: &Batching{Period: "1s"}}},
			DeadLetter:  &DeadLetter{Type: "benthos", Config: map[string]any{"file": map[string]any{"path": "./dead.ndjson"}}}}},
		{"native access to s3_compatible from stdin", `
name: cmpt
category: access
fields: [ClientIP]
source: {type: stdin}
destination: {type: s3_compatible, bucket_path: b, region: cn-hangzhou, endpoint: "http://127.0.0.1:9000",
  access_key_id: a, secret_access_key: s, force_path_style: true, session_token: x}
`, Task{Name: "cmpt", Category: "access", Fields: []string{"ClientIP"}, SamplingRate: 100,
			Source: Source{Type: "stdin"}, Output: defaultOutput,
			Destination: Destination{Type: "s3_compatible", S3: &S3Destination{BucketPath: "b", Region: "cn-hangzhou",
				Endpoint: "http://127.0.0.1:9000", AccessKeyID: "a", SecretAccessKey: "s", ForcePathStyle: true, SessionToken: "x"}}}},
		{"native benthos source", `
name: bs
category: access
fields: [ClientIP]
source: {type: benthos, config: {stdin: {}}}
destination: {type: local, path: out}
`, Task{Name: "bs", Category: "access", Fields: []string{"ClientIP"}, SamplingRate: 100,
			Source: Source{Type: "benthos", Benthos: map[string]any{"stdin": map[string]any{}}}, Output: defaultOutput,
			Destination: Destination{Type: "local", Local: &LocalDestination{Path: "out"}}}},

		// ESA shape.
		{"esa firewall to http, YAML, FilterRules array, native extensions", `
TaskName: waf-http
BusinessType: dcdn_log_waf
DataCenter: sg
DeliveryType: http
FieldName: Datetime,Action,ClientIP
DiscardRate: 0.5
FilterRules:
  - {Action: {equals: [deny]}}
  - any: [{ClientCountryCode: {equals: [CN]}}, {ClientIP: {starts_with: ["10."]}}]
HttpDelivery:
  DestUrl: http://127.0.0.1:8080/logs
  StandardAuthOn: false
  StandardAuthParam: {PrivateKey: abc123, ExpiredTime: 10}
  HeaderParam: {X-A: {StaticValue: "1"}}
source: {type: file, paths: [x.ndjson]}
output: {format: tsv}
dead_letter: {type: local, path: dead}
buffer: {type: disk, path: buf, max_bytes: 1GiB, when_full: reject}
`, Task{Name: "waf-http", Category: "firewall", DataCenter: "oversea", Fields: []string{"Datetime", "Action", "ClientIP"},
			SamplingRate: 50, Filters: []Condition{{Field: "Action", Op: "equals", Values: []any{"deny"}},
				{Any: []Condition{{Field: "ClientCountryCode", Op: "equals", Values: []any{"CN"}},
					{Field: "ClientIP", Op: "starts_with", Values: []any{"10."}}}}},
			Source: Source{Type: "file", File: &FileSource{Paths: []string{"x.ndjson"}}},
			Output: Output{Format: "tsv", TimestampFormat: "rfc3339"}, DeadLetter: &DeadLetter{Type: "local", Path: "dead"},
			Buffer: &Buffer{Type: "disk", Path: "buf", MaxBytes: "1GiB", WhenFull: "reject"},
			Destination: Destination{Type: "http", HTTP: &HTTPDestination{URL: "http://127.0.0.1:8080/logs",
				Headers: map[string]string{"X-A": "1"}}}}},
		{"esa tcp_udp_proxy to oss, delivery and filter as JSON strings", `{"TaskName": "ipa", "BusinessType": "dcdn_log_ipa",
  "DeliveryType": "oss", "FieldName": "LogTimeStamp, ClientIP", "DiscardRate": 0, "SiteId": "42",
  "FilterRules": "[{\"ClientPort\": {\"gt\": [\"1024\"]}}]",
  "OssDelivery": "{\"BucketName\": \"b\", \"Region\": \"cn-beijing\", \"PrefixPath\": \"p\"}"}`,
			Task{Name: "ipa", Category: "tcp_udp_proxy", SiteID: 42, Fields: []string{"LogTimeStamp", "ClientIP"}, SamplingRate: 100,
				Filters: []Condition{{Field: "ClientPort", Op: "gt", Values: []any{"1024"}}},
				Source:  defaultSource, Output: defaultOutput,
				Destination: Destination{Type: "oss", OSS: &OSSDestination{Bucket: "b", Region: "cn-beijing", Prefix: "p"}}}},
		{"esa dns (canonical name) to kafka without auth, GetDeliveryTask export keys", `{"TaskName": "dns", "BusinessType": "dns",
  "DeliveryType": "kafka", "FieldList": "Timestamp,QueryName", "Status": "online", "RequestId": "r", "SiteName": "example.com",
  "KafkaDelivery": {"Topic": "t", "Brokers": ["k:9092"], "UserAuth": false, "UserName": "ignored", "Balancer": "RoundRobin"}}`,
			Task{Name: "dns", Category: "dns", Fields: []string{"Timestamp", "QueryName"}, SamplingRate: 100,
				Source: defaultSource, Output: defaultOutput, Status: "online",
				Destination: Destination{Type: "kafka", Kafka: &KafkaDestination{Topic: "t", Brokers: []string{"k:9092"},
					Balancer: "RoundRobin"}}}},
		{"esa edge_routine to aws3 with ownership token", `{"TaskName": "er", "BusinessType": "dcdn_log_er", "DeliveryType": "aws3",
  "FieldName": "LogTimestamp", "DiscardRate": 0.9, "ownership_token": "v1.x", "sample_key": "ClientRequestID",
  "S3Delivery": {"BucketPath": "b/p/", "PrefixPath": "/q", "Region": "eu-west-1", "S3Cmpt": false}}`,
			Task{Name: "er", Category: "edge_routine", Fields: []string{"LogTimestamp"}, SamplingRate: 10, SampleKey: "ClientRequestID",
				OwnershipToken: "v1.x", Source: defaultSource, Output: defaultOutput,
				Destination: Destination{Type: "s3", S3: &S3Destination{BucketPath: "b/p/q", Region: "eu-west-1"}}}},
		{"esa edge_container to sls", `{"TaskName": "ec", "BusinessType": "edge_container", "DeliveryType": "sls",
  "FieldName": ["LogTimestamp", "Region"], "Details": "d", "FilterVer": "1.0",
  "SlsDelivery": "{\"SLSProject\":\"p\",\"SLSLogStore\":\"l\",\"SLSRegion\":\"cn-hangzhou\"}"}`,
			Task{Name: "ec", Category: "edge_container", Fields: []string{"LogTimestamp", "Region"}, SamplingRate: 100,
				Source: defaultSource, Output: defaultOutput,
				Destination: Destination{Type: "sls", SLS: &SLSDestination{Project: "p", Logstore: "l", Region: "cn-hangzhou"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load([]byte(tc.def))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("\n got %s\nwant %s", dump(got), dump(&tc.want))
			}
			if errs := Validate(got); len(errs) != 0 {
				t.Errorf("Validate(loaded) = %v", errs)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(p, []byte("name: a\ncategory: dns\nfields: [QueryName]\ndestination: {type: local, path: o}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	task, err := LoadFile(p)
	if err != nil || task.Name != "a" || task.Destination.Local.Path != "o" {
		t.Fatalf("LoadFile = %+v, %v", task, err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

const nativeBase = "name: t\ncategory: access\nfields: [ClientIP, EdgeResponseStatusCode, EdgeStartTimestamp]\n"

// native builds a native definition from the base plus extra top-level YAML (and a local destination
// unless extra has one).
func native(extra string) string {
	s := nativeBase + extra
	if !strings.Contains(extra, "destination:") {
		s += "\ndestination: {type: local, path: out}\n"
	}
	return s
}

func nativeWith(base, extra string) string {
	return base + extra
}

const esaBase = `"TaskName":"t","BusinessType":"dcdn_log_access_l1","FieldName":"ClientIP,EdgeResponseStatusCode"`

// esaDef builds an ESA definition from the base plus members.
func esaDef(members string) string {
	s := "{" + esaBase
	if members != "" {
		s += "," + members
	}
	if !strings.Contains(members, "DeliveryType") {
		s += `,"DeliveryType":"sls","SlsDelivery":{"SLSProject":"p","SLSLogStore":"l","SLSRegion":"r"}`
	}
	return s + "}"
}

func repeat(format string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(parts, ", ")
}

// TestLoadBad checks that each bad definition reports the exact path and reason, and (unless noted)
// nothing else.
func TestLoadBad(t *testing.T) {
	cases := []struct {
		name, def, path, msg string
		n                    int // expected number of problems; 0 means 1
	}{
		// Task-level rules.
		{"name with space", "name: my task\ncategory: dns\nfields: [QueryName]\ndestination: {type: local, path: o}", "name", "letters, digits", 0},
		{"name too long", "name: " + strings.Repeat("a", 65) + "\ncategory: dns\nfields: [QueryName]\ndestination: {type: local, path: o}", "name", "at most 64", 0},
		{"name starts with dash", "name: -x\ncategory: dns\nfields: [QueryName]\ndestination: {type: local, path: o}", "name", "starting with a letter or digit", 0},
		{"name missing", "category: dns\nfields: [QueryName]\ndestination: {type: local, path: o}", "name", "required", 0},
		{"category typo", "name: t\ncategory: acess\nfields: [ClientIP]\ndestination: {type: local, path: o}", "category", `"acess" is not a log category (one of access, firewall, tcp_udp_proxy, dns, edge_routine, edge_container) (did you mean "access"?)`, 0},
		{"field typo", "name: t\ncategory: access\nfields: [EdgeStartTimestamp, ClientRequestHost, ClientIp]\ndestination: {type: local, path: o}", "fields[2]", `"ClientIp" is not a field of category access (did you mean "ClientIP"?)`, 0},
		{"field of another category", "name: t\ncategory: dns\nfields: [QueryName, ClientIP]\ndestination: {type: local, path: o}", "fields[1]", `"ClientIP" is not a field of category dns`, 0},
		{"duplicate field", "name: t\ncategory: dns\nfields: [QueryName, Timestamp, QueryName]\ndestination: {type: local, path: o}", "fields[2]", `"QueryName" is already listed as fields[0]`, 0},
		{"no fields", "name: t\ncategory: dns\nfields: []\ndestination: {type: local, path: o}", "fields", "at least one field", 0},
		{"CustomFields as a field", "name: t\ncategory: access\nfields: [ClientIP, CustomFields]\ndestination: {type: local, path: o}", "fields[1]", "configure custom_fields", 0},
		{"sampling rate zero", native("sampling_rate: 0"), "sampling_rate", "not in (0, 100]", 0},
		{"sampling rate above 100", native("sampling_rate: 100.5"), "sampling_rate", "not in (0, 100]", 0},
		{"sampling rate 3 decimals", native("sampling_rate: 12.345"), "sampling_rate", "more than 2 decimals", 0},
		{"sampling rate not a number", native("sampling_rate: half"), "sampling_rate", `must be a number, not "half"`, 0},
		{"sample key unknown", native("sample_key: ClientRequestId"), "sample_key", `(did you mean "ClientRequestID"?)`, 0},
		{"data center", native("data_center: us"), "data_center", `"us" is not one of cn, oversea`, 0},
		{"unknown top-level key", native("filter: []"), "filter", `unknown key (did you mean "filters"?)`, 0},
		{"duplicate top-level key", native("name: u"), "name", "duplicate key", 0},
		{"duplicate category", "name: t\ncategory: access\ncategory: dns\nfields: [ClientIP]\ndestination: {type: local, path: o}", "category", "duplicate key", 0},
		{"duplicate key in a benthos source config", native("source: {type: benthos, config: {stdin: {}, stdin: {codec: lines}}}"), "source.config.stdin", "duplicate key", 0},
		{"duplicate nested key in a benthos dead letter", native("dead_letter: {type: benthos, config: {file: {path: a, path: b}}}"), "dead_letter.config.file.path", "duplicate key", 0},
		{"duplicate header", native("destination: {type: http, url: 'http://x', headers: {A: b, A: c}}"), "destination.headers.A", "duplicate key", 0},

		// Filters.
		{"21 filter leaves across groups", native("filters: [" + repeat("{field: ClientIP, op: equals, value: '%d'}", 15) +
			", {any: [" + repeat("{field: ClientIP, op: equals, value: 'x%d'}", 6) + "]}]"), "filters", "21 conditions; at most 20", 0},
		{"op not for int", native("filters: [{field: EdgeResponseStatusCode, op: contains, value: '50'}]"), "filters[0].op", "contains does not apply to int field EdgeResponseStatusCode", 0},
		{"gt on string field", native("filters: [{field: ClientIP, op: gt, value: 1}]"), "filters[0].op", "gt does not apply to string field ClientIP", 0},
		{"gt value not a number", native("filters: [{field: EdgeResponseStatusCode, op: gt, value: lots}]"), "filters[0].value", `int field: "lots" is not a number`, 0},
		{"gt with two values", native("filters: [{field: EdgeResponseStatusCode, op: gt, value: [1, 2]}]"), "filters[0].value", "exactly one value, not 2", 0},
		{"timestamp comparison", native("filters: [{field: EdgeStartTimestamp, op: ge, value: yesterday}]"), "filters[0].value", "not an RFC 3339 time", 0},
		{"bad regex", native("filters: [{field: ClientIP, op: regex, value: ['^1', '(']}]"), "filters[0].value[1]", "invalid regular expression", 0},
		{"exists with value", native("filters: [{field: ClientIP, op: exists, value: x}]"), "filters[0].value", "exists takes no value", 0},
		{"equals without value", native("filters: [{field: ClientIP, op: equals}]"), "filters[0].value", "equals needs at least one value", 0},
		{"unknown op", native("filters: [{field: ClientIP, op: equal, value: x}]"), "filters[0].op", `"equal" is not an operator (did you mean "equals"?)`, 0},
		{"unknown filter field", native("filters: [{field: ClientIp, op: equals, value: x}]"), "filters[0].field", `"ClientIp" is not a field of category access (did you mean "ClientIP"?)`, 0},
		{"unknown key in condition", native("filters: [{field: ClientIP, op: equals, vale: x}]"), "filters[0].vale", `unknown key (did you mean "value"?)`, 2},
		{"nested any", native("filters: [{any: [{any: [{field: ClientIP, op: exists}]}]}]"), "filters[0].any[0]", "cannot be nested", 0},
		{"ignore_case on int", native("filters: [{field: EdgeResponseStatusCode, op: equals, value: 1, ignore_case: true}]"), "filters[0].ignore_case", "only to string", 0},
		{"value is an object", native("filters: [{field: ClientIP, op: equals, value: {a: 1}}]"), "filters[0].value", "must be a value or a list of values", 0},
		{"custom field filter kind", native("filters: [{field: CustomFields.headers.x, op: exists}]"), "filters[0].field", `kind "headers" is not one of request_headers`, 0},
		{"custom field filter outside access", "name: t\ncategory: dns\nfields: [QueryName]\nfilters: [{field: CustomFields.cookies.a, op: exists}]\ndestination: {type: local, path: o}", "filters[0].field", "only in category access", 0},
		{"ESA-form filter in native task", native(`filters: '[{"EdgeResponseStatusCode": {"contains": ["5"]}}]'`), "filters[0].EdgeResponseStatusCode", "contains does not apply to int field", 0},

		// Custom fields.
		{"custom fields outside access", "name: t\ncategory: firewall\nfields: [Action]\ncustom_fields: {cookies: [a]}\ndestination: {type: local, path: o}", "custom_fields", "only category access", 0},
		{"custom field name", native("custom_fields: {request_headers: [x-trace-id, 'x:trace']}"), "custom_fields.request_headers[1]", "only letters, digits", 0},
		{"too many cookies", native("custom_fields: {cookies: [" + repeat("c%d", 101) + "]}"), "custom_fields.cookies", "101 names; at most 100", 0},
		{"duplicate header ignoring case", native("custom_fields: {response_headers: [Server, server]}"), "custom_fields.response_headers[1]", "already listed", 0},

		// Destinations.
		{"destination key typo", native("destination: {type: s3, bucket_pth: b/p, region: us-east-1}"), "destination.bucket_pth", `unknown key (did you mean "bucket_path"?)`, 2},
		{"destination type", native("destination: {type: s4}"), "destination.type", `"s4" is not one of sls, oss, s3, s3_compatible, http, kafka, local (did you mean "s3"?)`, 0},
		{"destination missing", nativeBase, "destination.type", "required", 0},
		{"sls logstore", native("destination: {type: sls, project: p, region: r}"), "destination.logstore", "required", 0},
		{"sls region or endpoint", native("destination: {type: sls, project: p, logstore: l}"), "destination.region", "required (or endpoint)", 0},
		{"sls half credentials", native("destination: {type: sls, project: p, logstore: l, region: r, access_key_id: a}"), "destination.access_key_secret", "required with access_key_id", 0},
		{"oss region", native("destination: {type: oss, bucket: b}"), "destination.region", "required", 0},
		{"s3 region", native("destination: {type: s3, bucket_path: b}"), "destination.region", "required", 0},
		{"s3 leading slash", native("destination: {type: s3, bucket_path: /b, region: r}"), "destination.bucket_path", "without a leading /", 0},
		{"s3 sse", native("destination: {type: s3, bucket_path: b, region: r, server_side_encryption: 'aws:kms'}"), "destination.server_side_encryption", `"aws:kms" is not one of AES256`, 0},
		{"s3_compatible without endpoint", native("destination: {type: s3_compatible, bucket_path: b, region: r}"), "destination.endpoint", "required", 0},
		{"s3_compatible endpoint with path", native("destination: {type: s3_compatible, bucket_path: b, region: r, endpoint: 'https://s3.example.com/b'}"), "destination.endpoint", "without bucket, path", 0},
		{"s3_compatible endpoint scheme", native("destination: {type: s3_compatible, bucket_path: b, region: r, endpoint: 's3.example.com'}"), "destination.endpoint", "not a URL like https://host", 0},
		{"malformed env reference", native("destination: {type: s3, bucket_path: b, region: r, access_key_id: a, secret_access_key: '${bad-name}'}"), "destination.secret_access_key", "malformed environment reference", 0},
		{"http url scheme", native("destination: {type: http, url: 'ftp://x'}"), "destination.url", "must start with http:// or https://", 0},
		{"http compression", native("destination: {type: http, url: 'http://x', compression: br}"), "destination.compression", `"br" is not one of gzip, zlib, snappy, zstd, no`, 0},
		{"http compression level", native("destination: {type: http, url: 'http://x', compression: gzip, compression_level: 10}"), "destination.compression_level", "10 is not a gzip level (1–9)", 0},
		{"http zstd level", native("destination: {type: http, url: 'http://x', compression: zstd, compression_level: 23}"), "destination.compression_level", "23 is not a zstd level (1–22)", 0},
		{"http level without codec", native("destination: {type: http, url: 'http://x', compression_level: 3}"), "destination.compression_level", "only gzip, zlib and zstd take a level; compression is no", 0},
		{"object compression", native("destination: {type: local, path: o, compression: zstandard}"), "destination.compression", `"zstandard" is not one of gzip, zstd`, 0},
		{"object gzip level", native("destination: {type: s3, bucket_path: b, region: r, compression_level: 12}"), "destination.compression_level", "12 is not a gzip level (1–9)", 0},
		{"object zstd level", native("destination: {type: oss, bucket: b, region: r, compression: zstd, compression_level: 30}"), "destination.compression_level", "30 is not a zstd level (1–22)", 0},
		{"partition level typo", native("destination: {type: local, path: o, partition: {by: [date, ClientIp]}}"), "destination.partition.by[1]", `"ClientIp" is not date, hour or one of the task's fields (did you mean "ClientIP"?)`, 0},
		{"partition date typo", native("destination: {type: local, path: o, partition: {by: [dat]}}"), "destination.partition.by[0]", `(did you mean "date"?)`, 0},
		{"partition hour alone", native("destination: {type: s3_compatible, bucket_path: b, region: r, endpoint: 'http://h', partition: {by: [hour]}}"), "destination.partition.by[0]", "hour needs date before it", 0},
		{"partition duplicate", native("destination: {type: local, path: o, partition: {by: [date, date]}}"), "destination.partition.by[1]", "already listed as by[0]", 0},
		{"partition empty", native("destination: {type: local, path: o, partition: {style: plain}}"), "destination.partition.by", "at least one level", 0},
		{"partition style", native("destination: {type: local, path: o, partition: {by: [date], style: flat}}"), "destination.partition.style", `"flat" is not one of hive, plain`, 0},
		{"partition max_open", native("destination: {type: local, path: o, partition: {by: [date], max_open: 1000}}"), "destination.partition.max_open", "1000 is not in 1..256", 0},
		{"partition timestamp", native("destination: {type: local, path: o, partition: {by: [EdgeStartTimestamp]}}"), "destination.partition.by[0]", "is a timestamp: partition by date and hour instead", 0},
		{"partition too deep", native("destination: {type: local, path: o, partition: {by: [date, hour, ClientIP, EdgeResponseStatusCode, x]}}"), "destination.partition.by", "5 levels; at most 4", 2},
		{"partition key typo", native("destination: {type: local, path: o, partition: {by: [date], max_opne: 3}}"), "destination.partition.max_opne", `unknown key (did you mean "max_open"?)`, 0},
		{"http private key letters only", native("destination: {type: http, url: 'http://x', auth: {private_key: abcdefg, expired_time: 10}}"), "destination.auth.private_key", "at least one of each", 0},
		{"http private key too short", native("destination: {type: http, url: 'http://x', auth: {private_key: ab1, expired_time: 10}}"), "destination.auth.private_key", "6–18 letters and digits", 0},
		{"http expired time", native("destination: {type: http, url: 'http://x', auth: {private_key: '${KEY}'}}"), "destination.auth.expired_time", "greater than 0", 0},
		{"http too many headers", native("destination: {type: http, url: 'http://x', headers: {" + repeat("H%d: v", 21) + "}}"), "destination.headers", "21 headers; at most 20", 0},
		{"http too many query params", native("destination: {type: http, url: 'http://x', query: {" + repeat("q%d: v", 21) + "}}"), "destination.query", "21 query parameters; at most 20", 0},
		{"http max batch size", native("destination: {type: http, url: 'http://x', max_batch_size: -5}"), "destination.max_batch_size", "is not in 1..", 0},
		{"http max batch mb", native("destination: {type: http, url: 'http://x', max_batch_mb: 500}"), "destination.max_batch_mb", "is not in (0, 100] MB", 0},
		{"http tls not a bool", native("destination: {type: http, url: 'http://x', tls: yes}"), "destination.tls", `must be true or false, not "yes"`, 0},
		{"kafka broker without port", native("destination: {type: kafka, topic: t, brokers: [localhost]}"), "destination.brokers[0]", `"localhost" is not host:port`, 0},
		{"kafka broker with user info", native("destination: {type: kafka, topic: t, brokers: ['user:pw-5c@k1:9092']}"), "destination.brokers[0]", `"k1:9092": give host:port without user info`, 0},
		{"kafka too many brokers", native("destination: {type: kafka, topic: t, brokers: [" + repeat("b%d:9092", 51) + "]}"), "destination.brokers", "51 brokers; at most 50", 0},
		{"kafka compression", native("destination: {type: kafka, topic: t, brokers: ['k:1'], compression: brotli}"), "destination.compression", "is not one of gzip, snappy, lz4, zstd, no", 0},
		{"kafka sasl mechanism", native("destination: {type: kafka, topic: t, brokers: ['k:1'], sasl: {mechanism: GSSAPI, username: u, password: p}}"), "destination.sasl.mechanism", `"GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`, 0},
		{"kafka sasl password", native("destination: {type: kafka, topic: t, brokers: ['k:1'], sasl: {mechanism: PLAIN, username: u}}"), "destination.sasl.password", "required", 0},
		{"kafka balancer", native("destination: {type: kafka, topic: t, brokers: ['k:1'], balancer: Random}"), "destination.balancer", "is not one of LeastBytes, Hash", 0},
		{"kafka key field", native("destination: {type: kafka, topic: t, brokers: ['k:1'], key_field: ClientRequestID}"), "destination.key_field", "not one of the delivered fields", 0},
		{"kafka topic", native("destination: {type: kafka, brokers: ['k:1']}"), "destination.topic", "required", 0},
		{"local path", native("destination: {type: local}"), "destination.path", "required", 0},
		{"batching period", native("destination: {type: local, path: o, batching: {period: soon}}"), "destination.batching.period", "not a positive duration", 0},
		// Bounds of what costs CPU or memory (limits in validate.go).
		{"local batching period 1ns", native("destination: {type: local, path: o, batching: {period: 1ns}}"), "destination.batching.period", "1ns is below the minimum of 100ms", 0},
		{"s3 batching period", native("destination: {type: s3, bucket_path: b, region: r, batching: {period: 99ms}}"), "destination.batching.period", "99ms is below the minimum of 100ms", 0},
		{"s3_compatible batching period", native("destination: {type: s3_compatible, bucket_path: b, region: r, endpoint: 'http://h', batching: {period: 1us}}"), "destination.batching.period", "1us is below the minimum of 100ms", 0},
		{"oss batching period", native("destination: {type: oss, bucket: b, region: r, batching: {period: 0.05s}}"), "destination.batching.period", "0.05s is below the minimum of 100ms", 0},
		{"sls batching period", native("destination: {type: sls, project: p, logstore: l, region: r, batching: {period: 1ns}}"), "destination.batching.period", "1ns is below the minimum of 100ms", 0},
		{"kafka batching period", native("destination: {type: kafka, topic: t, brokers: ['k:1'], batching: {period: 10ms}}"), "destination.batching.period", "10ms is below the minimum of 100ms", 0},
		{"http period", native("destination: {type: http, url: 'http://x', period: 1ns}"), "destination.period", "1ns is below the minimum of 100ms", 0},
		{"batching count", native("destination: {type: local, path: o, batching: {count: 10000001}}"), "destination.batching.count", "10000001 is above the maximum of 10000000 records", 0},
		{"batching count negative", native("destination: {type: local, path: o, batching: {count: -1}}"), "destination.batching.count", "must not be negative, not -1", 0},
		{"batching byte size too small", native("destination: {type: s3, bucket_path: b, region: r, batching: {byte_size: 1023}}"), "destination.batching.byte_size", "1023 is below the minimum of 1024 (1 KiB)", 0},
		{"batching byte size too large", native("destination: {type: oss, bucket: b, region: r, batching: {byte_size: 1073741825}}"), "destination.batching.byte_size", "1073741825 is above the maximum of 1073741824 (1 GiB)", 0},
		{"http timeout", native("destination: {type: http, url: 'http://x', timeout: 3601}"), "destination.timeout", "3601 is above the maximum of 3600 seconds", 0},
		{"http timeout negative", native("destination: {type: http, url: 'http://x', timeout: -1}"), "destination.timeout", "must not be negative, not -1", 0},
		{"kafka retry on_status", native("destination: {type: kafka, topic: t, brokers: ['k:1']}\nretry: {on_status: [503], max_elapsed: 1m}"), "retry.on_status", "applies to the oss, s3, s3_compatible and http destinations (HTTP statuses); kafka retries by its own error codes", 0},
		{"local retry", native("destination: {type: local, path: o}\nretry: {max_elapsed: 1m}"), "retry", "applies to the sls, oss, s3, s3_compatible, http and kafka destinations; local retries by its own rules", 0},
		{"oss retry status", native("destination: {type: oss, bucket: b, region: r}\nretry: {on_status: [5xx, 6xx]}"), "retry.on_status[1]", `"6xx" is not an HTTP status`, 0},
		{"s3 retry max_elapsed", native("destination: {type: s3, bucket_path: b, region: r}\nretry: {max_elapsed: 10ms}"), "retry.max_elapsed", "want a duration of at least 1s", 0},
		{"http max retry", native("destination: {type: http, url: 'http://x', max_retry: 101}"), "destination.max_retry", "101 is above the maximum of 100 retries", 0},
		{"http max in flight", native("destination: {type: http, url: 'http://x', max_in_flight: 1025}"), "destination.max_in_flight", "1025 is above the maximum of 1024", 0},
		{"s3 max in flight", native("destination: {type: s3, bucket_path: b, region: r, max_in_flight: 1025}"), "destination.max_in_flight", "1025 is above the maximum of 1024", 0},
		{"oss max in flight", native("destination: {type: oss, bucket: b, region: r, max_in_flight: 100000}"), "destination.max_in_flight", "100000 is above the maximum of 1024", 0},
		{"sls max in flight", native("destination: {type: sls, project: p, logstore: l, region: r, max_in_flight: 1025}"), "destination.max_in_flight", "1025 is above the maximum of 1024", 0},
		{"kafka max in flight", native("destination: {type: kafka, topic: t, brokers: ['k:1'], max_in_flight: 1025}"), "destination.max_in_flight", "1025 is above the maximum of 1024", 0},
		{"kafka max in flight negative", native("destination: {type: kafka, topic: t, brokers: ['k:1'], max_in_flight: -2}"), "destination.max_in_flight", "must not be negative, not -2", 0},
		{"esa http timeout", esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://x","TransformTimeout":86400}`), "HttpDelivery.TransformTimeout", "86400 is above the maximum of 3600 seconds", 0},
		{"esa http max retry", esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://x","MaxRetry":1000}`), "HttpDelivery.MaxRetry", "1000 is above the maximum of 100 retries", 0},
		{"esa http max batch mb", esaDef(`"DeliveryType":"http","HttpDelivery":"{\"DestUrl\":\"http://x\",\"MaxBatchMB\":2048}"`), "HttpDelivery.MaxBatchMB", "2048 is not in (0, 100] MB", 0},
		{"esa http max batch size", esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://x","MaxBatchSize":100001}`), "HttpDelivery.MaxBatchSize", "100001 is not in 1..100000 records", 0},
		{"ownership token on http", native("destination: {type: http, url: 'http://x'}\nownership_token: v1.x"), "ownership_token", "only the s3 and s3_compatible", 0},

		// Source, output, dead letter.
		{"source type", native("source: {type: ftp}"), "source.type", `"ftp" is not one of http, kafka, file, stdin, generate, benthos`, 0},
		{"source key for another type", native("source: {type: http, paths: [a]}"), "source.paths", "unknown key", 0},
		{"kafka source group", native("source: {type: kafka, brokers: ['k:1'], topics: [t]}"), "source.group", "required", 0},
		{"http source address", native("source: {type: http, address: nope}"), "source.address", `"nope" is not host:port`, 0},
		{"generate rate", native("source: {type: generate, rate: fast}"), "source.rate", "not a rate like 1000/s", 0},
		{"ingest on every interface unauthenticated", native("source: {type: http, address: '0.0.0.0:4196'}"), "source.address", "0.0.0.0:4196 is not a loopback address and requests are not authenticated", 0},
		{"ingest on all interfaces, empty host", native("source: {type: http, address: ':4196'}"), "source.address", "not a loopback address", 0},
		{"ingest server TLS is not authentication", native("source: {type: http, address: '10.0.0.1:4196', tls: {cert_file: c.pem, key_file: k.pem}}"), "source.address", "not a loopback address", 0},
		{"ingest tls without key", native("source: {type: http, tls: {cert_file: c.pem}}"), "source.tls", "cert_file and key_file are both required", 0},
		{"ingest auth empty", native("source: {type: http, auth: {}}"), "source.auth", "set bearer_token or private_key", 0},
		{"ingest auth both", native("source: {type: http, auth: {bearer_token: '${T}', private_key: abc123}}"), "source.auth", "not both", 0},
		{"ingest bearer too short", native("source: {type: http, auth: {bearer_token: short}}"), "source.auth.bearer_token", "too short: use at least 16 characters", 0},
		{"ingest private key", native("source: {type: http, auth: {private_key: '123456'}}"), "source.auth.private_key", "at least one of each", 0},
		{"ingest auth url path", native("source: {type: http, auth: {private_key: abc123, url_path: x}}"), "source.auth.url_path", "must start with /", 0},
		{"ingest bearer token masked", native("source: {type: http, auth: {bearer_token: '******'}}"), "source.auth.bearer_token", "the export does not carry the secret", 0},
		{"kafka sasl password masked", native("destination: {type: kafka, topic: t, brokers: ['k:1'], sasl: {mechanism: PLAIN, username: u, password: '******'}}"), "destination.sasl.password", "the export does not carry the secret", 0},
		{"ingest auth unknown key", native("source: {type: http, auth: {token: x}}"), "source.auth.token", "unknown key", 2},
		{"benthos source config", native("source: {type: benthos}"), "source.config", "required", 0},
		{"output format", native("output: {format: json}"), "output.format", `"json" is not one of ndjson, csv, tsv`, 0},
		{"timestamp format", native("output: {timestamp_format: iso}"), "output.timestamp_format", `"iso" is not one of rfc3339`, 0},
		{"dead letter path", native("dead_letter: {type: local}"), "dead_letter.path", "required", 0},
		{"dead letter type", native("dead_letter: {type: s3, path: x}"), "dead_letter.type", `"s3" is not one of local, benthos`, 0},
		{"buffer type", native("buffer: {type: ram}"), "buffer.type", `"ram" is not one of memory, disk`, 0},
		{"buffer type missing", native("buffer: {path: /var/buf}"), "buffer.type", "required", 0},
		{"buffer path", native("buffer: {type: disk}"), "buffer.path", "required", 0},
		{"buffer max bytes", native("buffer: {type: disk, path: b, max_bytes: lots}"), "buffer.max_bytes", `"lots" is not a size such as 10GiB or 500MB`, 0},
		{"buffer max bytes small", native("buffer: {type: disk, path: b, max_bytes: 1MB}"), "buffer.max_bytes", "1MB is below the minimum of 16MiB", 0},
		{"buffer when full", native("buffer: {type: disk, path: b, when_full: drop}"), "buffer.when_full", `"drop" is not one of block, reject`, 0},
		{"memory buffer path", native("buffer: {type: memory, path: b}"), "buffer.path", "only for type disk", 0},
		{"buffer unknown key", native("buffer: {type: disk, path: b, size: 1GiB}"), "buffer.size", "unknown key", 0},

		// ESA shape.
		{"esa delivery type native name", esaDef(`"DeliveryType":"s3"`), "DeliveryType", `ESA calls AWS S3 "aws3"`, 0},
		{"esa delivery type typo", esaDef(`"DeliveryType":"kafak","KafkaDelivery":{}`), "DeliveryType", `(did you mean "kafka"?)`, 0},
		{"esa delivery type missing", esaDef(`"SlsDelivery":{"SLSProject":"p","SLSLogStore":"l","SLSRegion":"r"},"DeliveryType":""`), "DeliveryType", "required", 0},
		{"esa discard rate range", esaDef(`"DiscardRate":1.5`), "DiscardRate", "must be a fraction from 0 to 1", 0},
		{"esa discard rate one", esaDef(`"DiscardRate":1`), "DiscardRate", "0 is not in (0, 100]", 0},
		{"esa discard rate decimals", esaDef(`"DiscardRate":0.12345`), "DiscardRate", "more than 2 decimals", 0},
		{"esa field typo", "{" + strings.Replace(esaBase, "ClientIP,", "ClientIp,", 1) + `,"DeliveryType":"sls","SlsDelivery":{"SLSProject":"p","SLSLogStore":"l","SLSRegion":"r"}}`, "FieldName[0]", `(did you mean "ClientIP"?)`, 0},
		{"esa business type typo", `{"TaskName":"t","BusinessType":"dcdn_log_wav","FieldName":"Action","DeliveryType":"sls","SlsDelivery":{"SLSProject":"p","SLSLogStore":"l","SLSRegion":"r"}}`, "BusinessType", `(did you mean "dcdn_log_waf"?)`, 0},
		{"esa task name key typo", `{"TaskNmae":"t","BusinessType":"dns","FieldName":"QueryName","DeliveryType":"sls","SlsDelivery":{"SLSProject":"p","SLSLogStore":"l","SLSRegion":"r"}}`, "TaskNmae", `unknown key (did you mean "TaskName"?)`, 2},
		{"esa sls member typo", esaDef(`"DeliveryType":"sls","SlsDelivery":{"SLSProject":"p","SLSLogstore":"l","SLSRegion":"r"}`), "SlsDelivery.SLSLogstore", `unknown key (did you mean "SLSLogStore"?)`, 2},
		{"esa sls missing member", esaDef(`"DeliveryType":"sls","SlsDelivery":"{\"SLSProject\":\"p\",\"SLSRegion\":\"r\"}"`), "SlsDelivery.SLSLogStore", "required", 0},
		{"esa delivery JSON string broken", esaDef(`"DeliveryType":"http","HttpDelivery":"{\"DestUrl\": "`), "HttpDelivery", "not valid JSON", 0},
		{"esa delivery missing", esaDef(`"DeliveryType":"oss"`), "OssDelivery", "required with DeliveryType oss", 0},
		{"esa wrong delivery object", esaDef(`"DeliveryType":"oss","OssDelivery":{"BucketName":"b","Region":"r"},"SlsDelivery":{}`), "SlsDelivery", "not used with DeliveryType oss", 0},
		{"esa S3Cmpt contradicts aws3", esaDef(`"DeliveryType":"aws3","S3Delivery":{"BucketPath":"b","Region":"r","S3Cmpt":true}`), "S3Delivery.S3Cmpt", "use DeliveryType aws3cmpt", 0},
		{"esa aws3cmpt endpoint", esaDef(`"DeliveryType":"aws3cmpt","S3Delivery":{"BucketPath":"b","Region":"r"}`), "S3Delivery.Endpoint", "required", 0},
		{"esa http url", esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"logs.example.com"}`), "HttpDelivery.DestUrl", "must start with http:// or https://", 0},
		{"esa http private key", esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://x","StandardAuthOn":true,"StandardAuthParam":{"PrivateKey":"123456","ExpiredTime":300}}`), "HttpDelivery.StandardAuthParam.PrivateKey", "at least one of each", 0},
		{"esa http auth on without param", esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://x","StandardAuthOn":true}`), "HttpDelivery.StandardAuthParam", "required when StandardAuthOn is true", 0},
		{"esa http header param member", esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://x","HeaderParam":{"X":{"StaticValu":"1"}}}`), "HttpDelivery.HeaderParam.X.StaticValu", `unknown key (did you mean "StaticValue"?)`, 0},
		{"esa kafka broker", esaDef(`"DeliveryType":"kafka","KafkaDelivery":{"Topic":"t","Brokers":["k1:9092","k2"]}`), "KafkaDelivery.Brokers[1]", `"k2" is not host:port`, 0},
		{"esa kafka mechanism", esaDef(`"DeliveryType":"kafka","KafkaDelivery":{"Topic":"t","Brokers":["k:1"],"UserAuth":true,"MachanismType":"gssapi","UserName":"u","Password":"p"}`), "KafkaDelivery.MachanismType", `"GSSAPI" is not one of PLAIN`, 0},
		{"esa kafka compress", esaDef(`"DeliveryType":"kafka","KafkaDelivery":{"Topic":"t","Brokers":["k:1"],"Compress":"deflate"}`), "KafkaDelivery.Compress", `"deflate" is not one of gzip`, 0},
		{"esa filter field typo (string form)", esaDef(`"FilterRules":"[{\"ClientIp\": {\"equals\": [\"1.1.1.1\"]}}]"`), "FilterRules[0].ClientIp", `(did you mean "ClientIP"?)`, 0},
		{"esa filter op for type", esaDef(`"FilterRules":[{"EdgeResponseStatusCode": {"starts_with": ["5"]}}]`), "FilterRules[0].EdgeResponseStatusCode", "starts_with does not apply to int field", 0},
		{"esa filter value", esaDef(`"FilterRules":[{"EdgeResponseStatusCode": {"ge": ["many"]}}]`), "FilterRules[0].EdgeResponseStatusCode.ge", `"many" is not a number`, 0},
		{"esa filter two operators", esaDef(`"FilterRules":[{"EdgeResponseStatusCode": {"ge": [500], "lt": [600]}}]`), "FilterRules[0].EdgeResponseStatusCode.lt", "exactly one operator", 0},
		{"esa filter rules not JSON", esaDef(`"FilterRules":"[{"`), "FilterRules", "not valid JSON", 0},
		{"esa native key not allowed", esaDef(`"destination":{"type":"local"}`), "destination", "unknown key", 0},
		{"esa SiteId not a number", esaDef(`"SiteId":"abc"`), "SiteId", `must be an integer, not "abc"`, 0},
		{"esa status", esaDef(`"Status":"paused"`), "Status", `"paused" is not one of online, offline`, 0},
		{"esa status typo", esaDef(`"Status":"onlin"`), "Status", `(did you mean "online"?)`, 0},

		// Documents that are not tasks.
		{"not YAML", "name: [", "", "not valid YAML or JSON", 0},
		{"a list", "[1, 2]", "", "must be an object, not a list", 0},
		{"empty", "", "", "is empty", 0},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			task, err := Load([]byte(tc.def))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", task)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			want := tc.n
			if want == 0 {
				want = 1
			}
			found := false
			for _, e := range errs {
				if e.Path == tc.path && strings.Contains(e.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s: ...%s...; got:\n%v", tc.path, tc.msg, err)
			}
			if len(errs) != want {
				t.Errorf("got %d problems, want %d:\n%v", len(errs), want, err)
			}
		})
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
}

// TestLoadReportsEveryProblem checks that problems are reported together, in both shapes.
func TestLoadReportsEveryProblem(t *testing.T) {
	for name, tc := range map[string]struct {
		def  string
		want []string
	}{
		"native": {`
name: "bad name"
category: access
fields: [ClientIP, ClientIp]
sampling_rate: 0
filters: [{field: EdgeResponseStatusCode, op: regex, value: "5.."}]
destination: {type: s3, region: us-east-1}
`, []string{
			`name: "bad name": use letters, digits, '-' and '_', starting with a letter or digit`,
			`fields[1]: "ClientIp" is not a field of category access (did you mean "ClientIP"?)`,
			`sampling_rate: 0 is not in (0, 100] percent`,
			`filters[0].op: regex does not apply to int field EdgeResponseStatusCode`,
			`destination.bucket_path: required`,
		}},
		"esa": {`{"TaskName": "t!", "BusinessType": "dcdn_log_waf", "FieldName": "Action,Acton", "DiscardRate": 2,
  "DeliveryType": "kafka", "KafkaDelivery": "{\"Topic\": \"t\", \"Brokers\": [\"k\"], \"Balancer\": \"kafka.Random\"}"}`, []string{
			`DiscardRate: must be a fraction from 0 to 1 (sampling rate = (1 − DiscardRate) × 100 %), not 2`,
			`TaskName: "t!": use letters, digits, '-' and '_', starting with a letter or digit`,
			`FieldName[1]: "Acton" is not a field of category firewall (did you mean "Action"?)`,
			`KafkaDelivery.Brokers[0]: "k" is not host:port`,
			`KafkaDelivery.Balancer: "Random" is not one of LeastBytes, Hash, RoundRobin, CRC32Balancer, Murmur2Balancer`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load([]byte(tc.def))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v", err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestIsTaskKey(t *testing.T) {
	for key, want := range map[string]bool{
		"name": true, "category": true, "destination": true, "output": true, "dead_letter": true,
		"TaskName": true, "DeliveryType": true, "HttpDelivery": true,
		"input": false, "pipeline": false, "Name": false, "": false, "-": false, "status": false,
	} {
		if got := IsTaskKey(key); got != want {
			t.Errorf("IsTaskKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestLoadIngestSecurity: an ingest on a non-loopback address loads when its requests are
// authenticated (or insecure is set), and the security settings reach the task.
func TestLoadIngestSecurity(t *testing.T) {
	for _, src := range []string{
		"source: {type: http, address: '0.0.0.0:4196', insecure: true}",
		"source: {type: http, address: '0.0.0.0:4196', auth: {bearer_token: '${INGEST_TOKEN}'}}",
		"source: {type: http, address: '0.0.0.0:4196', auth: {bearer_token: 0123456789abcdef}}",
		"source: {type: http, address: '10.1.2.3:4196', auth: {private_key: abc123, expired_time: 300}}",
		"source: {type: http, address: '[::]:4196', tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem}}",
		"source: {type: http, address: 'localhost:4196'}",
	} {
		task, err := Load([]byte(native(src)))
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		h := task.Source.HTTP
		if h == nil || h.Address == "" || h.Path != "/v1/logs" {
			t.Errorf("%s: source %+v", src, h)
		}
	}
	task, err := Load([]byte(native("source: {type: http, auth: {private_key: abc123, expired_time: 300, url_path: /signed}, tls: {cert_file: c.pem, key_file: k.pem}}")))
	if err != nil {
		t.Fatal(err)
	}
	h := task.Source.HTTP
	if h.Address != DefaultIngestAddress || h.Auth == nil || h.Auth.PrivateKey != "abc123" || h.Auth.ExpiredTime != 300 ||
		h.Auth.URLPath != "/signed" || h.TLS == nil || h.TLS.CertFile != "c.pem" || h.TLS.KeyFile != "k.pem" {
		t.Fatalf("source %+v auth %+v tls %+v", h, h.Auth, h.TLS)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "localhost:1": true, "[::1]:1": true, "127.3.4.5:1": true,
		"0.0.0.0:1": false, ":1": false, "10.0.0.1:1": false, "[::]:1": false, "example.com:1": false, "nope": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}
