package httpout

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/authkey"
	"github.com/esa-connect/esa-connect/plugins/encode"
)

// parseOutput builds an esa_http output from YAML through the real spec and constructor.
func parseOutput(t *testing.T, yaml string) (*output, error) {
	t.Helper()
	env := service.NewEmptyEnvironment()
	conf, err := ConfigSpec().ParseYAML(yaml, env)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fromParsed(conf, nil)
}

func mustOutput(t *testing.T, yaml string) *output {
	t.Helper()
	o, err := parseOutput(t, yaml)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

func batchOf(recs ...string) service.MessageBatch {
	b := make(service.MessageBatch, len(recs))
	for i, r := range recs {
		b[i] = service.NewMessage([]byte(r))
	}
	return b
}

func TestEncoderOptionsMapping(t *testing.T) {
	cases := []struct {
		name string
		c    Config
		want string
	}{
		{"defaults", Config{Split: true, SplitWords: "\n", LastSplit: true}, "{\"a\":1}\n{\"a\":2}\n"},
		{"no last split", Config{Split: true, SplitWords: "\n"}, "{\"a\":1}\n{\"a\":2}"},
		{"json array", Config{Split: true, SplitWords: ",", BodyPrefix: "[", BodySuffix: "]"}, "[{\"a\":1},{\"a\":2}]"},
		{"split false ignores words", Config{Split: false, SplitWords: "|", LastSplit: true, BodyPrefix: "<", BodySuffix: ">"}, "<{\"a\":1}{\"a\":2}>"},
		{"multi-char words", Config{Split: true, SplitWords: "\r\n--\r\n", LastSplit: true}, "{\"a\":1}\r\n--\r\n{\"a\":2}\r\n--\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc, err := encode.NewEncoder(c.c.EncoderOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.Encode(nil, [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("body %q, want %q", got, c.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	o := mustOutput(t, `url: http://127.0.0.1:1/x`)
	if o.policy.Count != 1000 || o.policy.ByteSize != 5<<20 || o.policy.Period != "5s" {
		t.Errorf("batch policy %+v, want 1000 / 5 MB / 5s", o.policy)
	}
	if o.cfg.MaxRetry != 3 || o.cfg.Timeout != 10*time.Second || o.maxInFlight != DefaultMaxInFlight {
		t.Errorf("max_retry %d timeout %s max_in_flight %d", o.cfg.MaxRetry, o.cfg.Timeout, o.maxInFlight)
	}
	if o.cfg.Compression != "no" || o.header.Get("Content-Encoding") != "" || o.header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("compression %q headers %v", o.cfg.Compression, o.header)
	}
	if o.signer != nil {
		t.Error("signer without auth")
	}
	if o.cfg.TLS.SkipVerify || o.transport.TLSClientConfig != nil {
		t.Error("TLS verification must be on by default")
	}
	o = mustOutput(t, "url: http://127.0.0.1:1/x\nformat: csv\ncompression: zlib\nheaders: {content-type: application/json}\nbatching: {count: 7}")
	if o.header.Get("Content-Type") != "application/json" || o.header.Get("Content-Encoding") != "deflate" {
		t.Errorf("headers %v", o.header)
	}
	if o.policy.Count != 7 {
		t.Errorf("policy %+v", o.policy)
	}
}

func TestValidation(t *testing.T) {
	many := func(field string, n int) string {
		var b strings.Builder
		b.WriteString(field + ":\n")
		for i := range n {
			b.WriteString("  k" + string(rune('a'+i)) + ": v\n")
		}
		return b.String()
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"scheme", "url: ftp://h/x", "must start with http:// or https://"},
		{"no host", "url: http:///x", "no host"},
		{"21 headers", "url: http://h/x\n" + many("headers", 21), "headers: 21 given, at most 20"},
		{"21 query", "url: http://h/x\n" + many("query", 21), "query: 21 given, at most 20"},
		{"bad header", "url: http://h/x\nheaders: {\"a b\": v}", "not a valid header name"},
		{"short key", "url: http://h/x\nauth: {private_key: abc12}", "6–18 characters"},
		{"key letters only", "url: http://h/x\nauth: {private_key: abcdefgh}", "at least one letter and one digit"},
		{"expired_time", "url: http://h/x\nauth: {private_key: abc123, expired_time: 0}", "expired_time"},
		{"auth_key in query", "url: http://h/x\nauth: {private_key: abc123}\nquery: {auth_key: x}", "auth_key is set by auth"},
		{"cert without key", "url: https://h/x\ntls: {cert_file: a.pem}", "cert_file and key_file"},
		{"missing CA file", "url: https://h/x\ntls: {ca_file: /nonexistent/ca.pem}", "tls.ca_file"},
		{"retries", "url: http://h/x\nmax_retry: -1", "max_retry"},
		{"in flight", "url: http://h/x\nmax_in_flight: 0", "max_in_flight"},
		{"gzip level", "url: http://h/x\ncompression: gzip\ncompression_level: 10", "compression_level: 10 is not a gzip level (1–9)"},
		{"zstd level", "url: http://h/x\ncompression: zstd\ncompression_level: 23", "compression_level: 23 is not a zstd level (1–22)"},
		{"snappy level", "url: http://h/x\ncompression: snappy\ncompression_level: 3", "only gzip, zlib and zstd take a level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseOutput(t, c.yaml)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "esa_http: ") {
				t.Errorf("error does not name the output: %v", err)
			}
		})
	}
	// 20 of each are allowed, and every problem is reported at once.
	if _, err := parseOutput(t, "url: http://h/x\n"+many("headers", 20)+many("query", 20)); err != nil {
		t.Fatalf("20 headers and 20 query parameters rejected: %v", err)
	}
	_, err := parseOutput(t, "url: ftp://h/x\nmax_retry: -1\n"+many("headers", 21))
	if err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Fatalf("want three problems at once, got %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:07 GMT": 7 * time.Second,
		"Wed, 31 Dec 2025 23:59:00 GMT": 0,
		"999999999":                     24 * time.Hour,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

// recorder is a real loopback server that answers with a scripted sequence of statuses.
type recorder struct {
	mu       sync.Mutex
	script   []func(w http.ResponseWriter, r *http.Request)
	requests []*http.Request
	times    []time.Time
	calls    atomic.Int64
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(rec.calls.Add(1)) - 1
	rec.mu.Lock()
	rec.requests = append(rec.requests, r.Clone(context.Background()))
	rec.times = append(rec.times, time.Now())
	var step func(http.ResponseWriter, *http.Request)
	if n < len(rec.script) {
		step = rec.script[n]
	}
	rec.mu.Unlock()
	if step == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	step(w, r)
}

func status(code int, body string, hdr ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestRetryFreshAuthKeyEachAttempt(t *testing.T) {
	rec := &recorder{script: []func(http.ResponseWriter, *http.Request){
		status(500, "boom"), status(502, ""), status(429, "slow down"), status(503, "busy"), status(408, "request timeout"),
	}}
	srv := serve(t, rec)
	o := mustOutput(t, `
url: `+srv.URL+`/accesslog/post?tenant=t1
auth: {private_key: aliyuncdn1234, expired_time: 60}
query: {token: s3cr3tvalue}
max_retry: 5
backoff: {initial_interval: 1ms, max_interval: 5ms}
`)
	if err := o.WriteBatch(context.Background(), batchOf(`{"a":1}`)); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	if rec.calls.Load() != 6 {
		t.Fatalf("%d requests, want 6", rec.calls.Load())
	}
	keys := map[string]bool{}
	for _, r := range rec.requests {
		q := r.URL.Query()
		if q.Get("tenant") != "t1" || q.Get("token") != "s3cr3tvalue" {
			t.Errorf("static query lost: %s", r.URL.RawQuery)
		}
		k := q.Get("auth_key")
		if err := authkey.Verify(k, "/accesslog/post", "aliyuncdn1234", time.Now()); err != nil {
			t.Errorf("attempt carried an invalid auth_key: %v", err)
		}
		if keys[k] {
			t.Errorf("auth_key reused across attempts")
		}
		keys[k] = true
	}
}

func TestGiveUpAfterMaxRetryIsRetryable(t *testing.T) {
	rec := &recorder{}
	for range 10 {
		rec.script = append(rec.script, status(500, "still broken"))
	}
	srv := serve(t, rec)
	withUser := strings.Replace(srv.URL, "http://", "http://esa:pw-secret@", 1)
	o := mustOutput(t, "url: "+withUser+"/x?password=hunter2\nmax_retry: 2\nbackoff: {initial_interval: 1ms, max_interval: 2ms}\n")
	err := o.WriteBatch(context.Background(), batchOf(`{"a":1}`))
	if err == nil {
		t.Fatal("no error after the retries were used up")
	}
	if delivery.IsPermanent(err) {
		t.Errorf("5xx after retries must be retryable (nack → redelivery), got permanent: %v", err)
	}
	if rec.calls.Load() != 3 {
		t.Errorf("%d attempts, want 1 + max_retry 2", rec.calls.Load())
	}
	for _, want := range []string{"esa_http: POST " + srv.URL + "/x?REDACTED: 500", "still broken", "3 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "pw-secret") {
		t.Errorf("error leaks a query value or the URL password: %v", err)
	}
	rec.mu.Lock()
	auth := rec.requests[0].Header.Get("Authorization")
	rec.mu.Unlock()
	if auth != "Basic "+base64.StdEncoding.EncodeToString([]byte("esa:pw-secret")) {
		t.Errorf("the URL's user info was not sent as basic auth: %q", auth)
	}
}

func TestNonRetryable4xx(t *testing.T) {
	long := strings.Repeat("x", 600) + "TAIL"
	rec := &recorder{script: []func(http.ResponseWriter, *http.Request){status(400, long)}}
	srv := serve(t, rec)
	o := mustOutput(t, "url: "+srv.URL+"/x\nauth: {private_key: abc123}\nmax_retry: 5\n")
	err := o.WriteBatch(context.Background(), batchOf(`{"a":1}`))
	if !delivery.IsPermanent(err) {
		t.Fatalf("400 must fail permanently, got %v", err)
	}
	if rec.calls.Load() != 1 {
		t.Errorf("400 retried: %d requests", rec.calls.Load())
	}
	msg := err.Error()
	if !strings.Contains(msg, "400 Bad Request") || !strings.Contains(msg, strings.Repeat("x", 500)) || strings.Contains(msg, "TAIL") {
		t.Errorf("error must name the status and quote exactly the first 512 body bytes: %.200s…", msg)
	}
	if strings.Contains(msg, "auth_key") || strings.Contains(msg, "abc123") {
		t.Errorf("error leaks auth: %s", msg)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	rec := &recorder{script: []func(http.ResponseWriter, *http.Request){status(429, "", "Retry-After", "1")}}
	srv := serve(t, rec)
	o := mustOutput(t, "url: "+srv.URL+"/x\nbackoff: {initial_interval: 1ms, max_interval: 10s}\n")
	if err := o.WriteBatch(context.Background(), batchOf(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if gap := rec.times[1].Sub(rec.times[0]); gap < 900*time.Millisecond {
		t.Errorf("retry came %s after a 429 with Retry-After: 1", gap)
	}
	// The cap: Retry-After beyond the backoff maximum waits only the maximum.
	rec2 := &recorder{script: []func(http.ResponseWriter, *http.Request){status(503, "", "Retry-After", "3600")}}
	srv2 := serve(t, rec2)
	o2 := mustOutput(t, "url: "+srv2.URL+"/x\nbackoff: {initial_interval: 1ms, max_interval: 20ms}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o2.WriteBatch(ctx, batchOf(`{"a":1}`)); err != nil {
		t.Fatalf("Retry-After must be capped at max_interval: %v", err)
	}
}

func TestTimeoutRetried(t *testing.T) {
	release := make(chan struct{})
	rec := &recorder{script: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		},
	}}
	srv := serve(t, rec)
	defer close(release)
	o := mustOutput(t, "url: "+srv.URL+"/x\ntimeout: 100ms\nbackoff: {initial_interval: 1ms, max_interval: 2ms}\n")
	if err := o.WriteBatch(context.Background(), batchOf(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if rec.calls.Load() != 2 {
		t.Errorf("%d requests, want a timed-out one and a retry", rec.calls.Load())
	}
	rec2 := &recorder{}
	for range 3 {
		rec2.script = append(rec2.script, rec.script[0])
	}
	srv2 := serve(t, rec2)
	o2 := mustOutput(t, "url: "+srv2.URL+"/x\ntimeout: 50ms\nmax_retry: 1\nbackoff: {initial_interval: 1ms, max_interval: 2ms}\n")
	err := o2.WriteBatch(context.Background(), batchOf(`{"a":1}`))
	if err == nil || !strings.Contains(err.Error(), "timeout") || delivery.IsPermanent(err) {
		t.Errorf("want a retryable timeout error, got %v", err)
	}
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	o := mustOutput(t, "url: "+addr+"/x\nmax_retry: 1\nbackoff: {initial_interval: 1ms, max_interval: 2ms}\n")
	err := o.WriteBatch(context.Background(), batchOf(`{"a":1}`))
	if err == nil || delivery.IsPermanent(err) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want a retryable connection-refused error, got %v", err)
	}
}

func TestShutdownStopsRetrying(t *testing.T) {
	rec := &recorder{}
	for range 100 {
		rec.script = append(rec.script, status(503, ""))
	}
	srv := serve(t, rec)
	o := mustOutput(t, "url: "+srv.URL+"/x\nmax_retry: 100\nbackoff: {initial_interval: 10s, max_interval: 10s}\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.WriteBatch(ctx, batchOf(`{"a":1}`)) }()
	for rec.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-done
	if err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("want an error when stopped while retrying, got %v", err)
	}
}

func TestLargeBatchSplitByPolicy(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	rc := &Receiver{OnBatch: func(_ *http.Request, _ []byte, recs [][]byte) error {
		mu.Lock()
		sizes = append(sizes, len(recs))
		mu.Unlock()
		return nil
	}}
	srv := serve(t, rc)
	recs := make([]string, 25)
	for i := range recs {
		recs[i] = `{"i":"` + strings.Repeat("x", 20) + `"}` // 29 bytes + "\n"
	}
	o := mustOutput(t, "url: "+srv.URL+"/x\nbatching: {count: 10}\n")
	if err := o.WriteBatch(context.Background(), batchOf(recs...)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("count 10: requests of %v records, want [10 10 5]", sizes)
	}
	sizes = nil
	o = mustOutput(t, "url: "+srv.URL+"/x\nbatching: {count: 100, byte_size: 100}\n")
	if err := o.WriteBatch(context.Background(), batchOf(recs[:7]...)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[3 3 1]" {
		t.Errorf("byte_size 100: requests of %v records, want [3 3 1]", sizes)
	}
	sizes = nil
	o = mustOutput(t, "url: "+srv.URL+"/x\nbatching: {count: 100, byte_size: 10}\n")
	if err := o.WriteBatch(context.Background(), batchOf(recs[:2]...)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[1 1]" {
		t.Errorf("records larger than byte_size go alone: %v", sizes)
	}
}

func TestLintRuleURLScheme(t *testing.T) {
	env := service.NewEmptyEnvironment()
	if err := Register(env); err != nil {
		t.Fatal(err)
	}
	err := env.NewStreamBuilder().AddOutputYAML("esa_http: {url: ftp://h/x}")
	if err == nil || !strings.Contains(err.Error(), "url must start with http:// or https://") {
		t.Errorf("lint of ftp:// URL: %v", err)
	}
	for _, ok := range []string{"esa_http: {url: https://h/x}", "esa_http: {url: '${ESA_TEST_URL:http://h}'}"} {
		if err := env.NewStreamBuilder().AddOutputYAML(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
