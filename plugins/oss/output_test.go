package oss

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/tests/servers/osstest"
)

func TestEndpointURL(t *testing.T) {
	for _, c := range []struct {
		cfg       Config
		want, err string
	}{
		{Config{Region: "cn-hangzhou"}, "https://oss-cn-hangzhou.aliyuncs.com", ""},
		{Config{Region: "oss-cn-beijing"}, "https://oss-cn-beijing.aliyuncs.com", ""},
		{Config{Region: "cn-hangzhou", Endpoint: "oss-cn-hangzhou-internal.aliyuncs.com"}, "https://oss-cn-hangzhou-internal.aliyuncs.com", ""},
		{Config{Endpoint: "127.0.0.1:9000"}, "http://127.0.0.1:9000", ""},
		{Config{Endpoint: "http://localhost:9000/"}, "http://localhost:9000", ""},
		{Config{}, "", "region or endpoint"},
		{Config{Endpoint: "http://h/path"}, "", `endpoint "http://h/path" is not an http(s) URL or host[:port] without a path`},
		// User info is dropped from the endpoint; errors never quote it or a query.
		{Config{Endpoint: "https://ak:pw-secret@h:9000"}, "https://h:9000", ""},
		{Config{Endpoint: "https://ak:pw-secret@h/path?token=t0k"}, "", `endpoint "https://h/path?REDACTED" is not`},
	} {
		got, err := c.cfg.EndpointURL()
		if got != c.want || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("region %q, endpoint %q: %q, %v; want %q, %q", c.cfg.Region, c.cfg.Endpoint, got, err, c.want, c.err)
		}
		if err != nil && (strings.Contains(err.Error(), "pw-secret") || strings.Contains(err.Error(), "t0k")) {
			t.Errorf("%q: the error shows a credential: %v", c.cfg.Endpoint, err)
		}
	}
}

func newTestOutput(t *testing.T, yaml string) (*output, *service.Resources) {
	t.Helper()
	pc, err := ConfigSpec().ParseYAML(yaml, service.NewEmptyEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	res := service.MockResources()
	o, err := fromParsed(pc, res)
	if err != nil {
		t.Fatal(err)
	}
	o.asm.SetRetryDelays(time.Millisecond, 5*time.Millisecond)
	return o, res
}

func baseYAML(s *osstest.Server, extra string) string {
	return fmt.Sprintf("bucket: logs\nendpoint: %s\nprefix: esa/access\naccess_key_id: %s\naccess_key_secret: %s\ntask: access-to-oss\ntime_field: EdgeStartTimestamp\n",
		s.Addr, osstest.AccessKeyID, osstest.AccessKeySecret) + extra
}

func ndjson(recs [][]byte) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		b.Write(r)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var keyRE = regexp.MustCompile(`^esa/access/20261125/access-to-oss_20261125T000000Z_20261125T000059Z_\d+_[0-9a-f]{8}\.log\.gz$`)

func TestDeliverSmallAndMultipart(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	ctx := context.Background()
	o, res := newTestOutput(t, baseYAML(s, "multipart: {part_size: 102400, concurrency: 2}\n"))
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	small := pipelinetest.PaddedRecords(100, 10)
	if err := o.WriteBatch(ctx, pipelinetest.Object(small)); err != nil {
		t.Fatal(err)
	}
	big := pipelinetest.PaddedRecords(400, 1000) // ~540 KB of base64, ~400 KB gzip: 4 parts of 100 KiB
	if err := o.WriteBatch(ctx, pipelinetest.Object(big)); err != nil {
		t.Fatal(err)
	}
	objs := s.Objects("logs", "esa/access/")
	if len(objs) != 2 {
		t.Fatalf("objects: %d", len(objs))
	}
	got := map[string]bool{}
	for _, ob := range objs {
		if !keyRE.MatchString(ob.Key) {
			t.Errorf("key %q does not follow the object layout", ob.Key)
		}
		if ob.ContentType != "application/x-ndjson" || ob.ContentEncoding != "gzip" {
			t.Errorf("%s: Content-Type %q, Content-Encoding %q", ob.Key, ob.ContentType, ob.ContentEncoding)
		}
		got[string(gunzip(t, ob.Body))] = true
	}
	if !got[string(ndjson(small))] || !got[string(ndjson(big))] {
		t.Fatal("object bodies differ from the records")
	}
	var parts, completes int
	for _, r := range s.Requests() {
		if r.Method == http.MethodPut && r.Query.Has("partNumber") {
			parts++
		}
		if r.Method == http.MethodPost && r.Query.Has("uploadId") {
			completes++
		}
	}
	if parts < 3 || completes != 1 {
		t.Fatalf("multipart: %d parts, %d completes", parts, completes)
	}
	if outcome.From(res).FatalErr() != nil {
		t.Fatal("unexpected fatal")
	}

	// A refused part (400, not retried) fails the batch, and the upload is aborted.
	s.SetFail(func(r *http.Request) (int, string) {
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
			return http.StatusBadRequest, "InvalidArgument"
		}
		return 0, ""
	})
	if err := o.WriteBatch(ctx, pipelinetest.Object(big)); err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Fatalf("refused part: %v", err)
	}
	if n := s.PendingUploads(); n != 0 {
		t.Fatalf("%d multipart uploads left behind", n)
	}
	if n := len(s.Objects("logs", "esa/access/")); n != 2 {
		t.Fatalf("objects after a failed upload: %d", n)
	}
}

func TestRetryThenNack(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	ctx := context.Background()
	o, _ := newTestOutput(t, baseYAML(s, "max_retries: 2\n"))
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	fails := 0
	s.SetFail(func(r *http.Request) (int, string) {
		if r.Method == http.MethodPut {
			fails++
			if fails <= 2 || fails > 100 {
				return http.StatusServiceUnavailable, "ServiceUnavailable"
			}
		}
		return 0, ""
	})
	if err := o.WriteBatch(ctx, pipelinetest.Object(pipelinetest.PaddedRecords(5, 5))); err != nil {
		t.Fatalf("two 503s then success: %v", err)
	}
	if fails != 3 {
		t.Fatalf("attempts %d, want 3", fails)
	}
	fails = 100
	if err := o.WriteBatch(ctx, pipelinetest.Object(pipelinetest.PaddedRecords(5, 5))); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("want a nack after the retries: %v", err)
	}
	if fails != 103 {
		t.Fatalf("attempts %d, want 3", fails-100)
	}
	if n := len(s.Objects("logs", "")); n != 1 {
		t.Fatalf("objects %d", n)
	}
}

func TestConnectRejections(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	s.AddCredentials("STS.tmp", "sts-secret", "the-token")
	ctx := context.Background()
	for _, c := range []struct{ name, yaml, want string }{
		// Key IDs are masked (config.MaskKeyID): osstest.AccessKeyID is "LTAItestosskey".
		{"wrong secret", strings.Replace(baseYAML(s, ""), osstest.AccessKeySecret, "wrong-secret-value", 1), `access key secret does not match access_key_id "LTAI*******key"`},
		{"unknown key", strings.Replace(baseYAML(s, ""), osstest.AccessKeyID, "LTAInobody", 1), `access_key_id "LTAI***ody" is not known`},
		{"missing bucket", strings.Replace(baseYAML(s, ""), "bucket: logs", "bucket: nobucket", 1), "bucket \"nobucket\" does not exist"},
		{"sts without token", fmt.Sprintf("bucket: logs\nendpoint: %s\naccess_key_id: STS.tmp\naccess_key_secret: sts-secret\ntask: t\n", s.Addr), "security token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, res := newTestOutput(t, c.yaml)
			err := o.Connect(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), Name) {
				t.Fatalf("error %v, want containing %q", err, c.want)
			}
			if outcome.From(res).FatalErr() == nil {
				t.Fatal("not fatal")
			}
			for _, secret := range []string{"wrong-secret-value", osstest.AccessKeySecret, osstest.AccessKeyID, "LTAInobody"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks %q: %v", secret, err)
				}
			}
		})
	}
	t.Run("sts token", func(t *testing.T) {
		o, res := newTestOutput(t, fmt.Sprintf("bucket: logs\nendpoint: %s\naccess_key_id: STS.tmp\naccess_key_secret: sts-secret\nsecurity_token: the-token\ntask: t\n", s.Addr))
		if err := o.Connect(ctx); err != nil || outcome.From(res).FatalErr() != nil {
			t.Fatal(err)
		}
		if err := o.WriteBatch(ctx, pipelinetest.Object(pipelinetest.PaddedRecords(3, 3))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("environment credentials", func(t *testing.T) {
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.tmp")
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sts-secret")
		t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "the-token")
		o, _ := newTestOutput(t, fmt.Sprintf("bucket: logs\nendpoint: %s\nprefix: env\ntask: t\n", s.Addr))
		if err := o.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := o.WriteBatch(ctx, pipelinetest.Object(pipelinetest.PaddedRecords(3, 3))); err != nil {
			t.Fatal(err)
		}
		if len(s.Objects("logs", "env/")) != 1 {
			t.Fatal("no object under env/")
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
		o, res := newTestOutput(t, fmt.Sprintf("bucket: logs\nendpoint: %s\ntask: t\n", s.Addr))
		if err := o.Connect(ctx); err == nil || !strings.Contains(err.Error(), "ALIBABA_CLOUD_ACCESS_KEY_ID") || outcome.From(res).FatalErr() == nil {
			t.Fatalf("no credentials: %v", err)
		}
	})
	t.Run("server down is not fatal", func(t *testing.T) {
		o, res := newTestOutput(t, "bucket: logs\nendpoint: 127.0.0.1:1\naccess_key_id: a\naccess_key_secret: b\ntask: t\n")
		if err := o.Connect(ctx); err == nil || outcome.From(res).FatalErr() != nil {
			t.Fatalf("unreachable: %v / %v", err, outcome.From(res).FatalErr())
		}
	})
}

func TestFlushMarkersAreNotRecords(t *testing.T) {
	s := osstest.Start(t)
	s.CreateBucket("logs")
	ctx := context.Background()
	o, _ := newTestOutput(t, baseYAML(s, ""))
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteBatch(ctx, service.MessageBatch{pipeline.NewFlushMarker()}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Objects("logs", "")); n != 0 {
		t.Fatalf("a marker-only batch wrote %d objects", n)
	}
	recs := pipelinetest.PaddedRecords(3, 3)
	b := append(pipelinetest.Batch(recs), pipeline.NewFlushMarker())
	if err := o.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	objs := s.Objects("logs", "")
	if len(objs) != 1 || !bytes.Equal(gunzip(t, objs[0].Body), ndjson(recs)) {
		t.Fatal("the marker was written as a record")
	}
}
