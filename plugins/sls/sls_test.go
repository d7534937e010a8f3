package sls

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/generate"
)

func testOutput(t testing.TB, mutate func(c *Config)) *output {
	t.Helper()
	c := Config{Project: "p", Logstore: "l", Endpoint: "127.0.0.1:1", AccessKeyID: "id", AccessKeySecret: "secret",
		MaxRetries: 3, Timeout: time.Second, MaxInFlight: 1}
	if mutate != nil {
		mutate(&c)
	}
	o, err := newOutput(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func batchOf(recs ...string) service.MessageBatch {
	b := make(service.MessageBatch, len(recs))
	for i, r := range recs {
		b[i] = service.NewMessage([]byte(r))
	}
	return b
}

type kv struct{ k, v string }

// sdkGroup decodes a group's bytes with the SDK's generated protobuf code: an independent check of the
// serialisation.
func sdkGroup(t testing.TB, g *group) *slssdk.LogGroup {
	t.Helper()
	lg := &slssdk.LogGroup{}
	if err := lg.Unmarshal(g.raw); err != nil {
		t.Fatalf("the SDK cannot decode the LogGroup: %v", err)
	}
	if lg.Size() != len(g.raw) || len(lg.Logs) != len(g.indexes) {
		t.Fatalf("SDK size %d vs %d bytes, %d logs vs %d indexes", lg.Size(), len(g.raw), len(lg.Logs), len(g.indexes))
	}
	return lg
}

func contentsOf(l *slssdk.Log) []kv {
	var out []kv
	for _, c := range l.Contents {
		out = append(out, kv{c.GetKey(), c.GetValue()})
	}
	return out
}

func TestResolveEndpoint(t *testing.T) {
	cases := []struct {
		region, endpoint         string
		sdk, display, dial, errs string
	}{
		{"cn-hangzhou", "", "https://cn-hangzhou.log.aliyuncs.com", "cn-hangzhou.log.aliyuncs.com", "", ""},
		{"cn-hangzhou", "cn-hangzhou-intranet.log.aliyuncs.com", "https://cn-hangzhou-intranet.log.aliyuncs.com", "cn-hangzhou-intranet.log.aliyuncs.com", "", ""},
		{"", "127.0.0.1:8080", "http://127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1:8080", ""},
		{"", "10.0.0.5", "http://10.0.0.5", "10.0.0.5", "10.0.0.5:80", ""},
		{"", "https://10.0.0.5", "https://10.0.0.5", "10.0.0.5", "10.0.0.5:443", ""},
		{"", "http://sls.local:9000/", "http://sls.local:9000", "sls.local:9000", "sls.local:9000", ""},
		{"", "[::1]:9000", "http://[::1]:9000", "[::1]:9000", "[::1]:9000", ""},
		{"", "https://example.com", "https://example.com", "example.com", "", ""},
		{"", "ftp://x", "", "", "", "only http"},
		{"", "http://x/path", "", "", "", `"http://x/path": want a host, host:port or http(s)://host[:port] without user info, a path or a query`},
		{"", "x:99999", "", "", "", `"x:99999": bad port "99999"`},
		// Errors never quote user info or a query.
		{"", "https://ak:pw-secret@sls.local/p?token=t0k", "", "", "", `"https://sls.local/p?REDACTED": want a host`},
		{"", "ak:pw-secret@10.0.0.5:99999", "", "", "", `"10.0.0.5:99999": want a host`},
		{"", "ftp://ak:pw-secret@x", "", "", "", `"ftp://x": only http:// and https://`},
	}
	for _, c := range cases {
		sdk, display, dial, err := resolveEndpoint(c.region, c.endpoint)
		if c.errs != "" {
			if err == nil || !strings.Contains(err.Error(), c.errs) {
				t.Errorf("%q: err %v, want %q", c.endpoint, err, c.errs)
			}
			if err != nil && (strings.Contains(err.Error(), "pw-secret") || strings.Contains(err.Error(), "t0k")) {
				t.Errorf("%q: the error shows a credential: %v", c.endpoint, err)
			}
			continue
		}
		if err != nil || sdk != c.sdk || display != c.display || dial != c.dial {
			t.Errorf("%q: got (%q, %q, %q, %v), want (%q, %q, %q)", c.endpoint, sdk, display, dial, err, c.sdk, c.display, c.dial)
		}
	}
}

func TestApplyEnvAndValidate(t *testing.T) {
	env := map[string]string{envAccessKeyID: "env-id", envAccessKeySecret: "env-secret", envSecurityToken: "env-token"}
	getenv := func(k string) string { return env[k] }

	c := Config{}
	c.applyEnv(getenv)
	if c.AccessKeyID != "env-id" || c.AccessKeySecret != "env-secret" || c.SecurityToken != "env-token" {
		t.Errorf("env defaults not applied: %+v", c)
	}
	c = Config{AccessKeyID: "mine", AccessKeySecret: "s"}
	c.applyEnv(getenv)
	if c.AccessKeyID != "mine" || c.AccessKeySecret != "s" || c.SecurityToken != "" {
		t.Errorf("explicit key pair must not take the environment's token: %+v", c)
	}

	c = Config{AccessKeySecret: "very-secret-value", Timeout: 0, MaxRetries: -1}
	err := c.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"project: required", "logstore: required", "region: required", "access_key_id: required", "max_retries", "timeout", "max_in_flight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "very-secret-value") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

func TestBuildGroupsContentsAndTime(t *testing.T) {
	o := testOutput(t, func(c *Config) { c.TimeField = "T"; c.Topic = "top"; c.Source = "src" })
	now := time.Unix(1700000000, 5).UTC()
	meta := service.NewMessage([]byte(`{"a":"b"}`))
	meta.MetaSetMut(pipeline.MetaEventTime, "2026-03-04T05:06:07.000000009Z")
	batch := service.MessageBatch{
		service.NewMessage([]byte(`{"T":"2026-01-02T03:04:05.123456789+08:00","s":"x\"y\u00e9\\n","i":-12,"f":1.5e3,"b":true,"z":null,"CustomFields":{"request_headers":{"x":"1"}}}`)),
		service.NewMessage([]byte(`{"T":1767323045123,"k":"v"}`)),
		meta,
		service.NewMessage([]byte(`{"k":"no time"}`)),
		service.NewMessage([]byte(`[1,2]`)),
		service.NewMessage([]byte(`{"broken":`)),
		service.NewMessage([]byte(` { "sp" : "a" , "e\u0041" : 1 } `)),
	}
	groups, bad := o.buildGroups(batch, now)
	if len(groups) != 1 {
		t.Fatalf("groups: %d", len(groups))
	}
	if len(bad) != 2 || bad[0].index != 4 || bad[1].index != 5 || !delivery.IsPermanent(bad[0].err) {
		t.Fatalf("bad records: %+v", bad)
	}
	g := groups[0]
	lg := sdkGroup(t, g)
	if lg.GetTopic() != "top" || lg.GetSource() != "src" {
		t.Errorf("topic/source: %q %q", lg.GetTopic(), lg.GetSource())
	}
	if fmt.Sprint(g.indexes) != "[0 1 2 3 6]" {
		t.Errorf("indexes %v", g.indexes)
	}
	logs := lg.Logs
	want0 := []kv{{"T", "2026-01-02T03:04:05.123456789+08:00"}, {"s", "x\"yé\\n"}, {"i", "-12"}, {"f", "1.5e3"}, {"b", "true"}, {"z", "null"},
		{"CustomFields", `{"request_headers":{"x":"1"}}`}}
	if got := contentsOf(logs[0]); fmt.Sprint(got) != fmt.Sprint(want0) {
		t.Errorf("contents 0:\n got %q\nwant %q", got, want0)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("", 8*3600))
	if logs[0].GetTime() != uint32(ts.Unix()) || logs[0].GetTimeNs() != 123456789 {
		t.Errorf("time 0: %d.%d", logs[0].GetTime(), logs[0].GetTimeNs())
	}
	if logs[1].GetTime() != 1767323045 || logs[1].GetTimeNs() != 123000000 {
		t.Errorf("time 1 (unix ms): %d.%d", logs[1].GetTime(), logs[1].GetTimeNs())
	}
	if logs[2].GetTime() != uint32(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).Unix()) || logs[2].GetTimeNs() != 9 {
		t.Errorf("time 2 (metadata): %d.%d", logs[2].GetTime(), logs[2].GetTimeNs())
	}
	if logs[3].GetTime() != 1700000000 || logs[3].GetTimeNs() != 5 {
		t.Errorf("time 3 (receive time): %d.%d", logs[3].GetTime(), logs[3].GetTimeNs())
	}
	if got := contentsOf(logs[4]); fmt.Sprint(got) != fmt.Sprint([]kv{{"sp", "a"}, {"eA", "1"}}) {
		t.Errorf("contents 4: %q", got)
	}
}

func TestBuildGroupsSecondNoTimeNs(t *testing.T) {
	o := testOutput(t, func(c *Config) { c.TimeField = "T" })
	groups, _ := o.buildGroups(batchOf(`{"T":"2026-01-02T03:04:05Z"}`), time.Now())
	l := sdkGroup(t, groups[0]).Logs[0]
	if l.TimeNs != nil || l.GetTime() != 1767323045 {
		t.Errorf("whole-second time: Time %d TimeNs %v", l.GetTime(), l.TimeNs)
	}
}

func TestBuildGroupsInvalidUTF8Repaired(t *testing.T) {
	o := testOutput(t, nil)
	groups, bad := o.buildGroups(batchOf("{\"k\":\"a\xffb\"}"), time.Now())
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	if v := sdkGroup(t, groups[0]).Logs[0].Contents[0].GetValue(); v != "a\uFFFDb" {
		t.Errorf("value %q", v)
	}
}

func TestBuildGroupsSplitsByCount(t *testing.T) {
	o := testOutput(t, nil)
	recs := make([]string, 10000)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	groups, bad := o.buildGroups(batchOf(recs...), time.Now())
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	var sizes []int
	next := 0
	for _, g := range groups {
		lg := sdkGroup(t, g)
		sizes = append(sizes, len(lg.Logs))
		for j, l := range lg.Logs {
			if g.indexes[j] != next || l.Contents[0].GetValue() != fmt.Sprint(next) {
				t.Fatalf("record %d out of place: index %d value %s", next, g.indexes[j], l.Contents[0].GetValue())
			}
			next++
		}
	}
	if fmt.Sprint(sizes) != "[4096 4096 1808]" {
		t.Errorf("group sizes %v", sizes)
	}
}

func TestBuildGroupsSplitsByBytes(t *testing.T) {
	o := testOutput(t, func(c *Config) { c.Topic = "t" })
	big := strings.Repeat("x", 300_000)
	recs := make([]string, 40) // 12 MB
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"i":%d,"v":"%s"}`, i, big)
	}
	recs = append(recs, `{"huge":"`+strings.Repeat("y", MaxRawBytesPerPut)+`"}`)
	groups, bad := o.buildGroups(batchOf(recs...), time.Now())
	if len(bad) != 1 || bad[0].index != 40 || !strings.Contains(bad[0].err.Error(), "more than") {
		t.Fatalf("bad: %+v", bad)
	}
	total := 0
	for _, g := range groups {
		lg := sdkGroup(t, g)
		if len(g.raw) > MaxRawBytesPerPut || lg.GetTopic() != "t" {
			t.Errorf("group of %d bytes (limit %d), topic %q", len(g.raw), MaxRawBytesPerPut, lg.GetTopic())
		}
		for j, l := range lg.Logs {
			if l.Contents[0].GetValue() != fmt.Sprint(total) || g.indexes[j] != total || l.Contents[1].GetValue() != big {
				t.Fatalf("record %d out of place", total)
			}
			total++
		}
	}
	if total != 40 || len(groups) != 3 {
		t.Errorf("%d records in %d groups", total, len(groups))
	}
}

func TestRetryable(t *testing.T) {
	cases := []struct {
		e    slssdk.Error
		want bool
	}{
		{slssdk.Error{HTTPCode: 403, Code: "WriteQuotaExceed"}, true},
		{slssdk.Error{HTTPCode: 403, Code: "ShardWriteQuotaExceed"}, true},
		{slssdk.Error{HTTPCode: 429, Code: "TooManyRequests"}, true},
		{slssdk.Error{HTTPCode: 500, Code: "InternalServerError"}, true},
		{slssdk.Error{HTTPCode: 503, Code: "ServerBusy"}, true},
		{slssdk.Error{HTTPCode: -1, Code: "ClientError"}, true},
		{slssdk.Error{HTTPCode: 401, Code: "Unauthorized"}, false},
		{slssdk.Error{HTTPCode: 401, Code: "SignatureNotMatch"}, false},
		{slssdk.Error{HTTPCode: 404, Code: "LogStoreNotExist"}, false},
		{slssdk.Error{HTTPCode: 400, Code: "PostBodyInvalid"}, false},
	}
	o := testOutput(t, nil)
	g := &group{indexes: []int{0}}
	for _, c := range cases {
		e := c.e
		if got := retryable(&e); got != c.want {
			t.Errorf("%s: retryable %v", c.e.Code, got)
		}
		err := o.classify(g, &e)
		if delivery.IsPermanent(err) == c.want {
			t.Errorf("%s: classified permanent=%v", c.e.Code, delivery.IsPermanent(err))
		}
		if !strings.Contains(err.Error(), c.e.Code) || !strings.HasPrefix(err.Error(), "esa_sls: PutLogs p/l") {
			t.Errorf("error text %q", err)
		}
	}
	if err := o.classify(g, errors.New("boom")); delivery.IsPermanent(err) {
		t.Errorf("unknown errors are retried: %v", err)
	}
}

// BenchmarkBuildGroups measures the record → LogGroup conversion of generated access records
// (1,000 per batch), the per-record hot path of esa_sls.
func BenchmarkBuildGroups(b *testing.B) {
	gen, err := generate.New("access", 1)
	if err != nil {
		b.Fatal(err)
	}
	batch := make(service.MessageBatch, 1000)
	for i := range batch {
		batch[i] = service.NewMessage(gen.Next(nil))
	}
	o := testOutput(b, func(c *Config) { c.TimeField = "EdgeStartTimestamp" })
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		groups, _ := o.buildGroups(batch, now)
		n += len(groups[0].indexes)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
