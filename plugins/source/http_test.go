package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/redpanda-data/benthos/v4/public/service"
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
	if code != 200 {
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
	if got, _, _ := col.snapshot(); len(got) != 7 {
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
	if code != 503 || !strings.Contains(body, "bucket unavailable") || !strings.Contains(body, "4 records were not delivered") {
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
