package source

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/authkey"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startHTTPStream runs an esa_http_server stream into col and waits until the endpoint answers.
func startHTTPStream(t *testing.T, col *collector, extra string) string {
	t.Helper()
	addr := freeAddr(t)
	s := buildStream(t, fmt.Sprintf(`
esa_http_server:
  address: %s
  path: /v1/logs
%s`, addr, extra), col)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		_ = s.StopWithin(10 * time.Second)
		cancel()
		<-done
	})
	url := "http://" + addr + "/v1/logs"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusMethodNotAllowed {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("esa_http_server did not come up on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func post(t *testing.T, url string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func gz(t *testing.T, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(p)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHTTPServerInput(t *testing.T) {
	col := &collector{}
	url := startHTTPStream(t, col, "  batch_size: 2\n  max_body_bytes: 4096\n")

	// Plain body, 5 records → 3 batches; 200 only after all were taken.
	code, body := post(t, url, []byte("{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":3}\n{\"a\":4}\n{\"a\":5}"), nil)
	if code != 200 || body != `{"accepted":5,"rejected":0}`+"\n" {
		t.Fatalf("plain: %d %s", code, body)
	}
	got, batches, _ := col.snapshot()
	if strings.Join(got, ",") != `{"a":1},{"a":2},{"a":3},{"a":4},{"a":5}` || len(batches) != 3 {
		t.Fatalf("after plain POST: %v in %v", got, batches)
	}

	// Gzip body.
	code, body = post(t, url, gz(t, []byte("{\"g\":1}\n{\"g\":2}\n")), map[string]string{"Content-Encoding": "gzip"})
	if code != 200 {
		t.Fatalf("gzip: %d %s", code, body)
	}
	got, _, _ = col.snapshot()
	if len(got) != 7 || got[5] != `{"g":1}` || got[6] != `{"g":2}` {
		t.Fatalf("after gzip POST: %v", got)
	}
	// The batch that is a whole gzip body carries the body (a disk buffer stores it as it came); the
	// batches of a plain body, or of a part of a body, do not.
	code, _ = post(t, url, gz(t, []byte("{\"g\":3}\n{\"g\":4}\n{\"g\":5}\n")), map[string]string{"Content-Encoding": "gzip"})
	col.mu.Lock()
	held := slices.Clone(col.held)
	col.mu.Unlock()
	if code != 200 || !slices.Equal(held, []bool{false, false, false, true, false, false}) {
		t.Fatalf("batches carrying the body they came in: %v (%d)", held, code)
	}

	// Errors.
	for _, tc := range []struct {
		name   string
		method string
		body   []byte
		hdr    map[string]string
		code   int
	}{
		{"bad gzip", http.MethodPost, []byte("not gzip at all"), map[string]string{"Content-Encoding": "gzip"}, 400},
		{"truncated gzip", http.MethodPost, gz(t, bytes.Repeat([]byte("{\"x\":1}\n"), 100))[:30], map[string]string{"Content-Encoding": "gzip"}, 400},
		{"too big", http.MethodPost, bytes.Repeat([]byte("{\"x\":1}\n"), 1000), nil, 413},
		{"too big once decompressed", http.MethodPost, gz(t, bytes.Repeat([]byte("{\"x\":1}\n"), 1000)), map[string]string{"Content-Encoding": "gzip"}, 413},
		{"unknown encoding", http.MethodPost, []byte("{}"), map[string]string{"Content-Encoding": "br"}, 415},
		{"GET", http.MethodGet, nil, nil, 405},
		{"PUT", http.MethodPut, []byte("{}"), nil, 405},
	} {
		req, _ := http.NewRequest(tc.method, url, bytes.NewReader(tc.body))
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), "esa_http_server") {
			t.Errorf("%s: %d %q, want %d with a reason", tc.name, resp.StatusCode, b, tc.code)
		}
	}
	if got, _, _ := col.snapshot(); len(got) != 10 {
		t.Fatalf("rejected requests delivered records: %d", len(got))
	}

	// An empty body is fine.
	if code, body := post(t, url, []byte("\n\n"), nil); code != 200 {
		t.Fatalf("empty: %d %s", code, body)
	}
	// Another path.
	resp, err := http.Post(strings.Replace(url, "/v1/logs", "/other", 1), "application/x-ndjson", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("other path: %d", resp.StatusCode)
	}
}

// TestHTTPServerInputNack fails the second batch of a request and checks the request gets 503 with the
// reason, while a later request succeeds.
func TestHTTPServerInputNack(t *testing.T) {
	var failNext atomic.Bool
	col := &collector{fail: func(_ int, b service.MessageBatch) error {
		p, _ := b[0].AsBytes()
		if string(p) == `{"n":3}` && failNext.CompareAndSwap(true, false) {
			return fmt.Errorf("esa_test: bucket unavailable (503 SlowDown)")
		}
		return nil
	}}
	url := startHTTPStream(t, col, "  batch_size: 2\n")
	failNext.Store(true)
	code, body := post(t, url, []byte("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n"), nil)
	if code != 503 || !strings.Contains(body, "bucket unavailable") || !strings.Contains(body, "4 records of this request were not all delivered") {
		t.Fatalf("got %d %q, want 503 with the reason", code, body)
	}
	// The sender retries the request: now everything is delivered.
	code, body = post(t, url, []byte("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n"), nil)
	if code != 200 {
		t.Fatalf("retry: %d %s", code, body)
	}
	got, _, _ := col.snapshot()
	// First request: batch 1 delivered, batch 2 failed; second request: both batches.
	if strings.Join(got, ",") != `{"n":1},{"n":2},{"n":1},{"n":2},{"n":3},{"n":4}` {
		t.Fatalf("delivered %v", got)
	}
}

// TestHTTPServerInputWaitsForDelivery checks the response is not sent before the batch was acked.
func TestHTTPServerInputWaitsForDelivery(t *testing.T) {
	release := make(chan struct{})
	var acked atomic.Bool
	col := &collector{fail: func(_ int, _ service.MessageBatch) error {
		<-release
		acked.Store(true)
		return nil
	}}
	url := startHTTPStream(t, col, "")
	res := make(chan int, 1)
	go func() {
		code, _ := post(t, url, []byte(`{"w":1}`+"\n"), nil)
		res <- code
	}()
	select {
	case code := <-res:
		t.Fatalf("answered %d before the destination took the batch", code)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if code := <-res; code != 200 || !acked.Load() {
		t.Fatalf("answered %d, acked %v", code, acked.Load())
	}
}

// ingestAnswer is the JSON body of a 200.
type ingestAnswer struct {
	Accepted      int `json:"accepted"`
	Rejected      int `json:"rejected"`
	RejectedLines []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
		Error  string `json:"error"`
	} `json:"rejected_lines"`
}

// TestHTTPServerRejectedLines: the answer counts the accepted lines and names the rejected ones (not a
// valid record) with their line number and reason; every line is still passed on (the processors route
// the invalid ones to the dead letter or count them), and only the valid ones are marked checked.
func TestHTTPServerRejectedLines(t *testing.T) {
	col := &collector{}
	url := startHTTPStream(t, col, "")
	body := "{\"a\":1}\nnot json\n\n{\"a\":2}\n[1,2]\n{\"a\":3}\r\n{\"a\":\"\xff\"}\n{\"a\":4}\n"
	code, resp := post(t, url, []byte(body), nil)
	if code != 200 {
		t.Fatalf("%d %s", code, resp)
	}
	var ans ingestAnswer
	if err := json.Unmarshal([]byte(resp), &ans); err != nil {
		t.Fatalf("answer %q: %v", resp, err)
	}
	if ans.Accepted != 4 || ans.Rejected != 3 || len(ans.RejectedLines) != 3 {
		t.Fatalf("answer %+v, want 4 accepted and 3 rejected", ans)
	}
	for i, want := range []struct {
		line   int
		reason string
	}{{2, record.ReasonMalformed}, {5, record.ReasonNotObject}, {7, record.ReasonInvalidUTF8}} {
		if got := ans.RejectedLines[i]; got.Line != want.line || got.Reason != want.reason || got.Error == "" {
			t.Errorf("rejected line %d: %+v, want line %d reason %s", i, got, want.line, want.reason)
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.recs) != 7 {
		t.Fatalf("%d records passed on, want all 7 lines", len(col.recs))
	}
	if len(col.checked) != 7 {
		t.Fatalf("checked flags %v", col.checked)
	}
	for i, want := range []bool{true, false, true, false, true, false, true} {
		if col.checked[i] != want {
			t.Errorf("record %d (%s): checked %v, want %v", i, col.recs[i], col.checked[i], want)
		}
	}
}

// TestHTTPServerBudget: the bodies held by all requests together never exceed max_pending_bytes.
// Request a waits for a destination that does not answer, holding a third of the budget; of b and c,
// sent together, the one read second finds the budget full and gets 429 with Retry-After, and nothing
// of it is delivered; once the destination answers, a and the other one get 200 and are delivered.
func TestHTTPServerBudget(t *testing.T) {
	release := make(chan struct{})
	var entered atomic.Int64
	col := &collector{fail: func(_ int, _ service.MessageBatch) error {
		entered.Add(1)
		<-release
		return nil
	}}
	url := startHTTPStream(t, col, "  max_body_bytes: 1048576\n  max_pending_bytes: 2200000\n  flush_after: 0s\n")
	big := func(tag string) []byte {
		var b bytes.Buffer
		for i := 0; b.Len() < 900_000; i++ {
			fmt.Fprintf(&b, `{"tag":%q,"n":%d,"pad":"%s"}`+"\n", tag, i, strings.Repeat("x", 200))
		}
		return b.Bytes()
	}
	type result struct {
		tag, body string
		code      int
	}
	results := make(chan result, 3)
	send := func(tag string) {
		code, body := post(t, url, big(tag), nil)
		results <- result{tag, body, code}
	}
	go send("a")
	deadline := time.Now().Add(30 * time.Second)
	for entered.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first request never reached the destination")
		}
		time.Sleep(10 * time.Millisecond)
	}
	go send("b")
	go send("c")
	var refused result
	select {
	case refused = <-results:
	case <-time.After(time.Minute):
		t.Fatal("no request was refused although the budget holds two bodies")
	}
	if refused.code != http.StatusTooManyRequests || !strings.Contains(refused.body, "max_pending_bytes") {
		t.Fatalf("request %s got %d %s, want 429 naming max_pending_bytes", refused.tag, refused.code, refused.body)
	}
	close(release)
	for range 2 {
		if r := <-results; r.code != 200 {
			t.Fatalf("request %s got %d %s", r.tag, r.code, r.body)
		}
	}
	got, _, _ := col.snapshot()
	for _, r := range got {
		if strings.Contains(r, `"tag":"`+refused.tag+`"`) {
			t.Fatalf("a record of the refused request %s was delivered", refused.tag)
		}
	}
}

// TestHTTPServerGzipBombs: many concurrent gzip bombs (each 100 MiB once decompressed) are all
// refused with 413 (or 429 when the budget is taken by the others) without the budget ever being
// exceeded; a normal request afterwards is accepted.
func TestHTTPServerGzipBombs(t *testing.T) {
	col := &collector{}
	url := startHTTPStream(t, col, "  max_body_bytes: 1048576\n  max_pending_bytes: 4194304\n")
	var raw bytes.Buffer
	zw := gzip.NewWriter(&raw)
	zero := make([]byte, 1<<20)
	for range 100 {
		_, _ = zw.Write(zero)
	}
	_ = zw.Close()
	bomb := raw.Bytes()
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := post(t, url, bomb, map[string]string{"Content-Encoding": "gzip"})
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusRequestEntityTooLarge && code != http.StatusTooManyRequests {
			t.Fatalf("a gzip bomb got %d, want 413 or 429", code)
		}
	}
	if code, body := post(t, url, []byte(`{"ok":1}`+"\n"), nil); code != 200 {
		t.Fatalf("after the bombs: %d %s", code, body)
	}
}

// TestHTTPServerSlowClient: a client that sends its body a byte at a time is cut off after
// read_timeout instead of holding the connection (and a shutdown) for as long as it likes.
func TestHTTPServerSlowClient(t *testing.T) {
	col := &collector{}
	url := startHTTPStream(t, col, "  read_timeout: 1s\n")
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/v1/logs")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /v1/logs HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n{", addr); err != nil {
		t.Fatal(err)
	}
	closed := make(chan string, 1)
	go func() {
		resp, _ := io.ReadAll(conn) // returns when the server closes the connection
		closed <- string(resp)
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	// Bounded wait (not a timing assertion): without a read timeout the server never closes.
	limit := time.After(60 * time.Second)
	for {
		select {
		case resp := <-closed:
			if resp != "" && !strings.Contains(resp, "408") {
				t.Errorf("answer to the slow client: %q", resp)
			}
			if got, _, _ := col.snapshot(); len(got) != 0 {
				t.Errorf("records of a cut request were delivered: %v", got)
			}
			return
		case <-tick.C:
			_, _ = conn.Write([]byte("x")) // one byte at a time
		case <-limit:
			t.Fatal("the server never cut off a client sending a byte every 200ms")
		}
	}
}

// TestHTTPServerBearer: with auth.bearer_token a request needs Authorization: Bearer <token>.
func TestHTTPServerBearer(t *testing.T) {
	col := &collector{}
	url := startHTTPStream(t, col, "  auth: {bearer_token: s3cr3t-token}\n")
	for _, tc := range []struct {
		hdr  map[string]string
		code int
		msg  string
	}{
		{nil, 401, "missing bearer token"},
		{map[string]string{"Authorization": "Bearer wrong"}, 401, "wrong bearer token"},
		{map[string]string{"Authorization": "Basic czNjcjN0LXRva2Vu"}, 401, "missing bearer token"},
		{map[string]string{"Authorization": "Bearer s3cr3t-token"}, 200, `"accepted":1`},
	} {
		code, body := post(t, url, []byte(`{"b":1}`+"\n"), tc.hdr)
		if code != tc.code || !strings.Contains(body, tc.msg) || strings.Contains(body, "s3cr3t") {
			t.Errorf("%v: %d %s, want %d %q", tc.hdr, code, body, tc.code, tc.msg)
		}
	}
	if got, _, _ := col.snapshot(); len(got) != 1 {
		t.Fatalf("delivered %v, want only the authenticated record", got)
	}
}

// TestHTTPServerAuthKey: with auth.private_key a request needs ESA's auth_key, as esa_http signs it.
func TestHTTPServerAuthKey(t *testing.T) {
	col := &collector{}
	url := startHTTPStream(t, col, "  auth: {private_key: aliyuncdn1234, expired_time: 300}\n")
	now := time.Now().Unix()
	signer, err := authkey.NewSigner("/v1/logs", "aliyuncdn1234", 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query string
		code        int
		msg         string
	}{
		{"none", "", 403, "auth_key missing"},
		{"expired", "?auth_key=" + authkey.Sign("/v1/logs", now-10, "r", "aliyuncdn1234"), 403, "expired"},
		{"other key", "?auth_key=" + authkey.Sign("/v1/logs", now+60, "r", "aliyuncdn9999"), 403, "signature mismatch"},
		{"other path", "?auth_key=" + authkey.Sign("/other", now+60, "r", "aliyuncdn1234"), 403, "signature mismatch"},
		{"valid too long", "?auth_key=" + authkey.Sign("/v1/logs", now+86400, "r", "aliyuncdn1234"), 403, "longer than expired_time"},
		{"signed", "?auth_key=" + signer.Sign(time.Now()), 200, `"accepted":1`},
	} {
		code, body := post(t, url+tc.query, []byte(`{"k":1}`+"\n"), nil)
		if code != tc.code || !strings.Contains(body, tc.msg) || strings.Contains(body, "aliyuncdn1234") {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, body, tc.code, tc.msg)
		}
	}
}

// TestHTTPServerTLS: with tls the endpoint serves HTTPS; with tls.client_ca_file it requires a client
// certificate of that CA.
func TestHTTPServerTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ingest CA")
	serverCert, serverKey := ca.issue(t, dir, "server", true)
	clientCert, clientKey := ca.issue(t, dir, "client", false)
	other := newTestCA(t, "other CA")
	otherCert, otherKey := other.issue(t, dir, "other", false)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	client := func(cert, key string) *http.Client {
		cfg := &tls.Config{RootCAs: ca.pool}
		if cert != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
	}
	postTLS := func(c *http.Client, url string) (int, error) {
		resp, err := c.Post(url, "application/x-ndjson", strings.NewReader(`{"t":1}`+"\n"))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return resp.StatusCode, nil
	}

	col := &collector{}
	addr := startTLSStream(t, col, fmt.Sprintf("  tls: {cert_file: %s, key_file: %s}\n", serverCert, serverKey))
	if code, err := postTLS(client("", ""), "https://"+addr+"/v1/logs"); err != nil || code != 200 {
		t.Fatalf("HTTPS: %d %v", code, err)
	}
	if _, err := http.Post("http://"+addr+"/v1/logs", "application/x-ndjson", strings.NewReader("{}")); err == nil {
		// A plain HTTP request to a TLS listener gets a 400 from Go's server, not records in.
		if got, _, _ := col.snapshot(); len(got) != 1 {
			t.Fatalf("plain HTTP delivered records: %v", got)
		}
	}

	col = &collector{}
	addr = startTLSStream(t, col, fmt.Sprintf("  tls: {cert_file: %s, key_file: %s, client_ca_file: %s}\n", serverCert, serverKey, caFile))
	if _, err := postTLS(client("", ""), "https://"+addr+"/v1/logs"); err == nil {
		t.Fatal("mutual TLS accepted a client without a certificate")
	}
	if _, err := postTLS(client(otherCert, otherKey), "https://"+addr+"/v1/logs"); err == nil {
		t.Fatal("mutual TLS accepted a certificate of another CA")
	}
	if code, err := postTLS(client(clientCert, clientKey), "https://"+addr+"/v1/logs"); err != nil || code != 200 {
		t.Fatalf("mutual TLS with the right certificate: %d %v", code, err)
	}
	if got, _, _ := col.snapshot(); len(got) != 1 {
		t.Fatalf("delivered %v, want the one record of the authenticated client", got)
	}
}

// TestHTTPServerNonLoopback: an address that is not loopback needs authentication or insecure: true.
func TestHTTPServerNonLoopback(t *testing.T) {
	build := func(extra string) error {
		conf, err := HTTPServerSpec().ParseYAML("address: 0.0.0.0:0\n"+extra, nil)
		if err != nil {
			return err
		}
		_, err = httpServerFromParsed(conf, service.MockResources())
		return err
	}
	if err := build(""); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("unauthenticated 0.0.0.0: %v, want a refusal", err)
	}
	for _, ok := range []string{"insecure: true\n", "auth: {bearer_token: t0k3n}\n", "auth: {private_key: abc123}\n"} {
		if err := build(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// TestHTTPServerAddressInUse: an address that cannot be bound stops the run with the reason.
func TestHTTPServerAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := buildStream(t, "esa_http_server:\n  address: "+ln.Addr().String()+"\n", &collector{})
	go func() { _ = s.Run(context.Background()) }()
	out := outcome.From(s.Resources())
	select {
	case <-out.FatalCh():
	case <-time.After(time.Minute):
		t.Fatal("a busy address did not stop the run")
	}
	if err := out.FatalErr(); !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("fatal error %v", err)
	}
}

// TestHTTPServerFlushAfter: a request answers once its records are delivered even when the
// destination's batch policy would wait an hour: after flush_after the ingest flushes it.
func TestHTTPServerFlushAfter(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	s := localStream(t, "esa_http_server:\n  address: "+addr+"\n  flush_after: 200ms\n", dir)
	go func() { _ = s.Run(context.Background()) }()
	t.Cleanup(func() { _ = s.StopWithin(10 * time.Second) })
	url := "http://" + addr + "/v1/logs"
	waitListening(t, addr)
	// The client gives up after 60 s; without the flush the answer would take the hour of the policy.
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Post(url, "application/x-ndjson", strings.NewReader("{\"f\":1}\n{\"f\":2}\n"))
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := readRecords(t, dir); len(got) != 2 {
		t.Fatalf("objects hold %v", got)
	}
}

// startTLSStream runs an esa_http_server stream with a TLS config into col and returns its address
// once it accepts TLS connections.
func startTLSStream(t *testing.T, col *collector, extra string) string {
	t.Helper()
	addr := freeAddr(t)
	s := buildStream(t, fmt.Sprintf("esa_http_server:\n  address: %s\n%s", addr, extra), col)
	go func() { _ = s.Run(context.Background()) }()
	t.Cleanup(func() { _ = s.StopWithin(10 * time.Second) })
	waitListening(t, addr)
	return addr
}

// waitListening waits until addr accepts TCP connections (30 s at most).
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("esa_http_server did not come up on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// issue writes a certificate (for 127.0.0.1 when server) and its key under dir.
func (ca *testCA) issue(t *testing.T, dir, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestHTTPServerIndexes checks that the records of an ingest request reach the pipeline with the
// positions of their values (pipeline.CheckedIndex), with and without a filter in select, and that
// the positions give what reading the record gives: esa_fields takes its fields from them.
func TestHTTPServerIndexes(t *testing.T) {
	var body bytes.Buffer
	for i := range 6 {
		fmt.Fprintf(&body, `{"ClientIP":"10.0.0.%d","EdgeResponseStatusCode":%d,"ClientRequestHost":"h\u00e9%d.example","Nested":{"a":[1,2]}}`+"\n", i, 200+i, i)
	}
	for _, extra := range []string{"", `  select:
    category: access
    conditions:
      - {field: EdgeResponseStatusCode, op: ge, value: 201}
`} {
		col := &collector{}
		url := startHTTPStream(t, col, extra)
		if code, answer := post(t, url, gz(t, body.Bytes()), map[string]string{"Content-Encoding": "gzip"}); code != 200 {
			t.Fatalf("%d %s", code, answer)
		}
		col.mu.Lock()
		recs, index := col.recs, col.index
		col.mu.Unlock()
		if len(recs) < 5 {
			t.Fatalf("select %q: %d records delivered", extra, len(recs))
		}
		sel := record.NewSelector("EdgeResponseStatusCode", "ClientRequestHost", "Nested", "Missing")
		var m record.IndexMap
		indexed := 0
		for i, rec := range recs {
			if !index[i].Valid() {
				continue
			}
			indexed++
			want, got := make([]record.Value, sel.Len()), make([]record.Value, sel.Len())
			if err := sel.Scan([]byte(rec), want); err != nil {
				t.Fatal(err)
			}
			if err := sel.FromIndex([]byte(rec), got, index[i], &m); err != nil {
				t.Fatal(err)
			}
			for k := range want {
				if string(got[k].Raw) != string(want[k].Raw) || got[k].Kind != want[k].Kind || got[k].Escaped != want[k].Escaped {
					t.Errorf("select %q, record %d, field %s: %q from the index, %q read", extra, i, sel.Names()[k], got[k].Raw, want[k].Raw)
				}
			}
		}
		// The first record teaches the layout; every later one is scanned along it.
		if indexed < len(recs)-1 {
			t.Errorf("select %q: %d of %d records carry their positions", extra, indexed, len(recs))
		}
	}
}
