package s3verified

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/tests/servers/s3test"
)

const testSecret = "unit-test-ownership-secret-9d1e"

func TestRegionFromEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"https://oss-cn-hangzhou.aliyuncs.com":             "cn-hangzhou",
		"oss-cn-hangzhou.aliyuncs.com":                     "cn-hangzhou",
		"https://oss-ap-southeast-1-internal.aliyuncs.com": "ap-southeast-1",
		"https://s3.eu-west-1.amazonaws.com":               "eu-west-1",
		"https://s3-us-west-2.amazonaws.com":               "us-west-2",
		"http://127.0.0.1:7070":                            "",
		"https://minio.example.com":                        "",
	} {
		if got := config.RegionFromEndpoint(in); got != want {
			t.Errorf("RegionFromEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
	c := Config{Endpoint: "https://oss-cn-hangzhou.aliyuncs.com"}
	if r := c.EffectiveRegion(); r != "cn-hangzhou" {
		t.Errorf("EffectiveRegion = %q", r)
	}
	c.Region = "cn-shanghai"
	if r := c.EffectiveRegion(); r != "cn-shanghai" {
		t.Errorf("explicit region ignored: %q", r)
	}
	if r := (Config{}).EffectiveRegion(); r != "us-east-1" {
		t.Errorf("default region = %q", r)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{BucketPath: "b/p"}, ""},
		{Config{BucketPath: "/p"}, "empty bucket"},
		{Config{BucketPath: "b", ServerSideEncryption: "aws:kms"}, "server_side_encryption"},
		{Config{BucketPath: "b", Endpoint: "ftp://x"}, "endpoint"},
		{Config{BucketPath: "b", Endpoint: "http://x/b"}, `endpoint: "http://x/b" must not contain a path`},
		{Config{BucketPath: "b", AccessKeyID: "a"}, "together"},
		// Errors never quote user info or a query.
		{Config{BucketPath: "b", Endpoint: "http://ak:pw-secret@x/b?token=t0k"}, `endpoint: "http://x/b?REDACTED" must not contain a path`},
		{Config{BucketPath: "b", Endpoint: "ftp://ak:pw-secret@x"}, `endpoint: "ftp://x" is not an http(s) URL`},
	} {
		err := c.cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("bucket_path %q, endpoint %q: error %v, want %q", c.cfg.BucketPath, c.cfg.Endpoint, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "pw-secret") || strings.Contains(err.Error(), "t0k")) {
			t.Errorf("%q: the error shows a credential: %v", c.cfg.Endpoint, err)
		}
	}
}

// env is one S3 server with a bucket, behind a recording proxy.
type env struct {
	srv    *s3test.Server
	proxy  *s3test.Proxy
	client *s3.Client
	bucket string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := s3test.Start(t)
	e := &env{srv: srv, proxy: s3test.NewProxy(t, srv), bucket: "logs"}
	var err error
	e.client, err = NewClient(context.Background(), Config{BucketPath: e.bucket, Endpoint: srv.URL, ForcePathStyle: true,
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(e.bucket)}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) get(t *testing.T, key string) []byte {
	t.Helper()
	out, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) keys(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := e.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, o := range out.Contents {
		ks = append(ks, aws.ToString(o.Key))
	}
	return ks
}

// newTestOutput builds the output from YAML (the endpoint is the proxy) with fresh resources.
func (e *env) newTestOutput(t *testing.T, extra string) (*output, *service.Resources) {
	t.Helper()
	yaml := fmt.Sprintf(`
bucket_path: %s/esa/access
endpoint: %s
force_path_style: true
access_key_id: %s
secret_access_key: %s
ownership_secret: %s
task: access-to-s3
time_field: EdgeStartTimestamp
`, e.bucket, e.proxy.URL, s3test.AccessKey, s3test.SecretKey, testSecret) + extra
	pc, err := ConfigSpec().ParseYAML(yaml, service.NewEmptyEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	res := service.MockResources()
	o, err := fromParsed(pc, res)
	if err != nil {
		t.Fatal(err)
	}
	return o, res
}

func (e *env) token(task string, issued time.Time) string {
	return config.OwnershipToken(testSecret, e.bucket, "esa/access", task, issued.Unix(), "0a1b2c3d")
}

func TestOwnershipFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// No token: the challenge object is written, the error names it, the run is stopped.
	o, res := e.newTestOutput(t, "")
	err := o.Connect(ctx)
	if err == nil || !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "s3://logs/esa/access/esa-ownership-access-to-s3.txt") {
		t.Fatalf("connect without token: %v", err)
	}
	if outcome.From(res).FatalErr() == nil {
		t.Fatal("missing token is not fatal")
	}
	tok := strings.TrimSpace(string(e.get(t, "esa/access/esa-ownership-access-to-s3.txt")))
	if err := config.VerifyOwnershipToken(testSecret, tok, "logs", "esa/access", "access-to-s3", time.Now()); err != nil {
		t.Fatalf("challenge token does not verify: %v", err)
	}
	if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), tok) {
		t.Fatalf("error leaks the secret or token: %v", err)
	}

	// Tokens for another bucket, path or task, or signed with another secret, never verify.
	now := time.Now()
	for name, bad := range map[string]string{
		"other bucket": config.OwnershipToken(testSecret, "other", "esa/access", "access-to-s3", now.Unix(), "00000001"),
		"other path":   config.OwnershipToken(testSecret, "logs", "esa", "access-to-s3", now.Unix(), "00000001"),
		"other task":   config.OwnershipToken(testSecret, "logs", "esa/access", "other-task", now.Unix(), "00000001"),
		"other secret": config.OwnershipToken("another-secret", "logs", "esa/access", "access-to-s3", now.Unix(), "00000001"),
		"expired":      e.token("access-to-s3", now.Add(-8*24*time.Hour)),
	} {
		o, res := e.newTestOutput(t, "ownership_token: "+bad+"\n")
		err := o.Connect(ctx)
		if err == nil || !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "esa-ownership-access-to-s3.txt") {
			t.Fatalf("%s: connect error %v", name, err)
		}
		if outcome.From(res).FatalErr() == nil || strings.Contains(err.Error(), testSecret) {
			t.Fatalf("%s: not fatal or leaks the secret: %v", name, err)
		}
		if err := o.WriteBatch(ctx, service.MessageBatch{service.NewMessage([]byte(`{}`))}); err == nil {
			t.Fatalf("%s: delivered without verified ownership", name)
		}
	}

	// The challenge's token verifies; its first use is recorded, so it keeps working after 7 days.
	o, res = e.newTestOutput(t, "ownership_token: "+tok+"\n")
	if err := o.Connect(ctx); err != nil {
		t.Fatalf("connect with the challenge token: %v", err)
	}
	if outcome.From(res).FatalErr() != nil {
		t.Fatal("fatal with a good token")
	}
	used := string(e.get(t, "esa/access/esa-ownership-access-to-s3.used"))
	if !strings.HasPrefix(used, tok+"\n") {
		t.Fatalf("first use not recorded: %q", used)
	}
	// A token issued 6 days ago verifies at its first use today.
	old := e.token("access-to-s3", now.Add(-6*24*time.Hour))
	o, _ = e.newTestOutput(t, "ownership_token: "+old+"\n")
	if err := o.Connect(ctx); err != nil {
		t.Fatalf("6-day-old token at first use: %v", err)
	}
	// Backdate its first-use record to 6 days ago: 8 days after issue it still works.
	if _, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String("esa/access/esa-ownership-access-to-s3.used"),
		Body: strings.NewReader(fmt.Sprintf("%s\n%d\n", old, now.Add(-6*24*time.Hour+time.Minute).Unix()))}); err != nil {
		t.Fatal(err)
	}
	o, _ = e.newTestOutput(t, "ownership_token: "+old+"\n")
	if err := o.Connect(ctx); err != nil {
		t.Fatalf("recorded first use is not honoured: %v", err)
	}

	// An empty secret is refused.
	o, res = e.newTestOutput(t, "ownership_token: "+tok+"\nownership_secret: \"\"\n")
	if err := o.Connect(ctx); err == nil || !strings.Contains(err.Error(), "ESA_OWNERSHIP_SECRET") || outcome.From(res).FatalErr() == nil {
		t.Fatalf("empty secret: %v", err)
	}
}

func TestConnectRejections(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.token("access-to-s3", time.Now())
	cases := []struct {
		name, extra, want string
	}{
		// Key IDs are masked (config.MaskKeyID): s3test.AccessKey is "esatestroot".
		{"wrong secret", "secret_access_key: not-the-secret\n", `secret_access_key does not match access_key_id "esat****oot"`},
		{"unknown key", "access_key_id: AKIAUNKNOWN\n", `access_key_id "AKIA****OWN" is not known`},
		{"missing bucket", "bucket_path: nobucket/esa/access\n", "bucket \"nobucket\" does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, res := e.newTestOutput(t, "ownership_token: "+tok+"\n"+c.extra)
			err := o.Connect(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), Name) {
				t.Fatalf("error %v, want containing %q", err, c.want)
			}
			if outcome.From(res).FatalErr() == nil {
				t.Fatal("not fatal")
			}
			for _, secret := range []string{"not-the-secret", s3test.SecretKey, s3test.AccessKey, "AKIAUNKNOWN"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks %q: %v", secret, err)
				}
			}
		})
	}

	t.Run("requester pays", func(t *testing.T) {
		var asked bool
		e.proxy.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && r.URL.Query().Has("requestPayment") {
				asked = true
				w.Header().Set("Content-Type", "application/xml")
				_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><RequestPaymentConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Payer>Requester</Payer></RequestPaymentConfiguration>`)
				return true
			}
			return false
		})
		defer e.proxy.SetIntercept(nil)
		o, res := e.newTestOutput(t, "ownership_token: "+tok+"\n")
		err := o.Connect(ctx)
		if !asked || err == nil || !strings.Contains(err.Error(), "Requester Pays") || outcome.From(res).FatalErr() == nil {
			t.Fatalf("requester pays: asked=%v err=%v", asked, err)
		}
	})

	t.Run("not implemented is not requester pays", func(t *testing.T) {
		// versitygw answers GetBucketRequestPayment with 501 NotImplemented.
		o, res := e.newTestOutput(t, "ownership_token: "+tok+"\n")
		if err := o.Connect(ctx); err != nil || outcome.From(res).FatalErr() != nil {
			t.Fatalf("connect: %v", err)
		}
		var saw bool
		for _, r := range e.proxy.Requests() {
			if r.Query.Has("requestPayment") && r.Status == http.StatusNotImplemented {
				saw = true
			}
		}
		if !saw {
			t.Fatal("the Requester Pays query was not sent or not answered 501")
		}
	})

	t.Run("server down is not fatal", func(t *testing.T) {
		pc, err := ConfigSpec().ParseYAML(fmt.Sprintf("bucket_path: logs\nendpoint: http://127.0.0.1:1\nforce_path_style: true\naccess_key_id: a\nsecret_access_key: b\nownership_token: %s\nownership_secret: x\ntask: t\n", tok), service.NewEmptyEnvironment())
		if err != nil {
			t.Fatal(err)
		}
		res := service.MockResources()
		o, err := fromParsed(pc, res)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Connect(ctx); err == nil || outcome.From(res).FatalErr() != nil {
			t.Fatalf("unreachable server: err=%v fatal=%v", err, outcome.From(res).FatalErr())
		}
	})
}

func TestVirtualHostedStyle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := Config{BucketPath: "logs/vh", Endpoint: e.proxy.VirtualHostEndpoint(), AccessKeyID: s3test.AccessKey,
		SecretAccessKey: s3test.SecretKey, ServerSideEncryption: "AES256",
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: s3test.DialContext}}}
	client, err := NewClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	key, err := WriteChallenge(ctx, client, c, testSecret, "vh-task")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRequesterPays(ctx, client, c); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(e.get(t, key)))
	if err := CheckOwnership(ctx, client, c, testSecret, tok, "vh-task"); err != nil {
		t.Fatal(err)
	}
	reqs := e.proxy.Requests()
	if len(reqs) < 3 {
		t.Fatalf("requests: %+v", reqs)
	}
	for _, r := range reqs {
		if !strings.HasPrefix(r.Host, "logs."+s3test.VirtualDomain+":") || strings.HasPrefix(r.Path, "/logs") {
			t.Errorf("not virtual-hosted: %s %s%s", r.Method, r.Host, r.Path)
		}
	}
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

func TestMultipartUploadAndAbort(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.token("access-to-s3", time.Now())
	o, _ := e.newTestOutput(t, "ownership_token: "+tok+"\nserver_side_encryption: AES256\nmax_retries: 1\nmultipart: {part_size: 5242880, concurrency: 2}\n")
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	recs := pipelinetest.PaddedRecords(3000, 3000) // ~12 MB of base64, ~9 MB gzip: two parts
	e.proxy.Reset()
	if err := o.WriteBatch(ctx, pipelinetest.Object(recs)); err != nil {
		t.Fatal(err)
	}
	var creates, parts, completes int
	for _, r := range e.proxy.Requests() {
		switch {
		case r.Method == http.MethodPost && r.Query.Has("uploads"):
			creates++
			if r.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
				t.Error("CreateMultipartUpload without SSE header")
			}
		case r.Method == http.MethodPut && r.Query.Has("partNumber"):
			parts++
		case r.Method == http.MethodPost && r.Query.Has("uploadId"):
			completes++
		}
	}
	if creates != 1 || parts < 2 || completes != 1 {
		t.Fatalf("multipart requests: create %d, parts %d, complete %d", creates, parts, completes)
	}
	keys := e.keys(t, "esa/access/2026")
	if len(keys) != 1 {
		t.Fatalf("objects: %v", keys)
	}
	var want bytes.Buffer
	for _, r := range recs {
		want.Write(r)
		want.WriteByte('\n')
	}
	if got := gunzip(t, e.get(t, keys[0])); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("multipart object differs from the records (%d vs %d bytes)", len(got), want.Len())
	}

	// A part that the store refuses (a 400: not retried) fails the batch and the upload is aborted.
	e.proxy.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidPart</Code><Message>injected by the test</Message></Error>`)
			return true
		}
		return false
	})
	defer e.proxy.SetIntercept(nil)
	e.proxy.Reset()
	err := o.WriteBatch(ctx, pipelinetest.Object(recs))
	if err == nil || !strings.Contains(err.Error(), "InvalidPart") {
		t.Fatalf("failed part: %v", err)
	}
	var aborts int
	for _, r := range e.proxy.Requests() {
		if r.Method == http.MethodDelete && r.Query.Has("uploadId") {
			aborts++
		}
	}
	if aborts != 1 {
		t.Fatalf("aborts = %d, want 1", aborts)
	}
	lm, err := e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("logs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lm.Uploads) != 0 {
		t.Fatalf("multipart uploads left behind: %d", len(lm.Uploads))
	}
	if n := len(e.keys(t, "esa/access/2026")); n != 1 {
		t.Fatalf("a failed upload left an object: %d objects", n)
	}
}

func TestRetryThenNack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.token("access-to-s3", time.Now())
	o, _ := e.newTestOutput(t, "ownership_token: "+tok+"\nmax_retries: 2\n")
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	o.asm.SetRetryDelays(time.Millisecond, 5*time.Millisecond)
	fails := 0
	e.proxy.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/esa/access/2026") {
			fails++
			if fails <= 2 {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
		}
		return false
	})
	recs := pipelinetest.PaddedRecords(10, 10)
	if err := o.WriteBatch(ctx, pipelinetest.Object(recs)); err != nil {
		t.Fatalf("two 503s then success: %v", err)
	}
	if fails != 3 {
		t.Fatalf("attempts = %d, want 3", fails)
	}
	fails = -100 // always fail now
	err := o.WriteBatch(ctx, pipelinetest.Object(recs))
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("want a nack after the retries, got %v", err)
	}
	e.proxy.SetIntercept(nil)
	if n := len(e.keys(t, "esa/access/2026")); n != 1 {
		t.Fatalf("objects = %d, want 1", n)
	}
}

func TestOwnershipSecretDefaultFromEnvironment(t *testing.T) {
	t.Setenv("ESA_OWNERSHIP_SECRET", "from-the-environment")
	pc, err := ConfigSpec().ParseYAML("bucket_path: b/p\ntask: t\n", service.NewEmptyEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	o, err := fromParsed(pc, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	if o.secret != "from-the-environment" {
		t.Fatalf("secret = %q", o.secret)
	}
}

// TestOSSCrossAccountRoute is the route for an OSS bucket of another account
// (docs/destinations.md#aws-s3-and-s3-compatible-stores): the S3-compatible destination with endpoint
// oss-<region>.aliyuncs.com, the region taken from it, and virtual-hosted addressing (OSS's S3 API
// does not take path style). The S3 server is configured as that endpoint (its region and domain), and
// the requests on the wire are checked.
func TestOSSCrossAccountRoute(t *testing.T) {
	srv := s3test.StartWith(t, s3test.Options{Region: "cn-hangzhou", VirtualDomain: "oss-cn-hangzhou.aliyuncs.com"})
	px := s3test.NewProxy(t, srv)
	ctx := context.Background()
	admin, err := NewClient(ctx, Config{BucketPath: "logs", Endpoint: srv.URL, ForcePathStyle: true, Region: "cn-hangzhou",
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	c := Config{BucketPath: "logs/esa", Endpoint: px.VirtualHostEndpoint(), Compatible: true,
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey,
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: s3test.DialContext}}}
	if r := c.EffectiveRegion(); r != "cn-hangzhou" {
		t.Fatalf("region from %s = %q", c.Endpoint, r)
	}
	client, err := NewClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRequesterPays(ctx, client, c); err != nil {
		t.Fatal(err)
	}
	key, err := WriteChallenge(ctx, client, c, testSecret, "oss-task")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(getObject(t, admin, "logs", key)))
	if err := CheckOwnership(ctx, client, c, testSecret, tok, "oss-task"); err != nil {
		t.Fatal(err)
	}
	for _, r := range px.Requests() {
		if !strings.HasPrefix(r.Host, "logs.oss-cn-hangzhou.aliyuncs.com:") {
			t.Errorf("%s %s%s: not virtual-hosted on the OSS endpoint", r.Method, r.Host, r.Path)
		}
		if a := r.Header.Get("Authorization"); !strings.Contains(a, "/cn-hangzhou/s3/aws4_request") {
			t.Errorf("%s %s: not signed for cn-hangzhou: %s", r.Method, r.Path, a)
		}
		if r.Method == http.MethodPut && (r.Header.Get("X-Amz-Trailer") != "" || strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked")) {
			t.Errorf("%s %s: trailing checksums sent to an S3-compatible store", r.Method, r.Path)
		}
	}
}

func getObject(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFlushMarkersAreNotRecords(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o, _ := e.newTestOutput(t, "ownership_token: "+e.token("access-to-s3", time.Now())+"\n")
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteBatch(ctx, service.MessageBatch{pipeline.NewFlushMarker()}); err != nil {
		t.Fatal(err)
	}
	if ks := e.keys(t, "esa/access/2026"); len(ks) != 0 {
		t.Fatalf("a marker-only batch wrote %v", ks)
	}
	recs := pipelinetest.PaddedRecords(3, 3)
	if err := o.WriteBatch(ctx, append(pipelinetest.Batch(recs), pipeline.NewFlushMarker())); err != nil {
		t.Fatal(err)
	}
	ks := e.keys(t, "esa/access/2026")
	var want bytes.Buffer
	for _, r := range recs {
		want.Write(r)
		want.WriteByte('\n')
	}
	if len(ks) != 1 || !bytes.Equal(gunzip(t, e.get(t, ks[0])), want.Bytes()) {
		t.Fatal("the marker was written as a record")
	}
}
