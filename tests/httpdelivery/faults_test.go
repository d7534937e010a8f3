package httpdelivery

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// faulty wraps a handler and fails a fraction of requests in the ways real servers and networks do.
// Half of the failures happen before the request reaches the receiver (nothing stored), half after
// (stored, but the sender never learns it: these produce duplicates).
type faulty struct {
	next    http.Handler
	rate    float64
	sleep   time.Duration // longer than the sender's timeout
	mu      sync.Mutex
	rng     *rand.Rand
	counts  map[string]int
	enabled atomic.Bool
}

var faultKinds = []string{"500", "503", "429", "timeout", "reset"}

func newFaulty(next http.Handler, rate float64, sleep time.Duration, seed uint64) *faulty {
	f := &faulty{next: next, rate: rate, sleep: sleep, rng: rand.New(rand.NewPCG(seed, seed^0xfa17)), counts: map[string]int{}}
	f.enabled.Store(true)
	return f
}

func (f *faulty) pick() (kind string, after, retryAfter bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.enabled.Load() || f.rng.Float64() >= f.rate {
		f.counts["pass"]++
		return "pass", false, false
	}
	kind = faultKinds[f.rng.IntN(len(faultKinds))]
	after = f.rng.IntN(2) == 0
	retryAfter = f.rng.IntN(4) == 0
	if after {
		f.counts[kind+"-after"]++
	} else {
		f.counts[kind]++
	}
	return kind, after, retryAfter
}

func (f *faulty) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.counts))
	for k := range f.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, f.counts[k])
	}
	return b.String()
}

func (f *faulty) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.counts {
		if k != "pass" {
			n += v
		}
	}
	return n
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, after, retryAfter := f.pick()
	if kind == "pass" {
		f.next.ServeHTTP(w, r)
		return
	}
	if after {
		// The receiver stores the records; the answer below is what the sender sees.
		rec := httptest.NewRecorder()
		f.next.ServeHTTP(rec, r)
	}
	switch kind {
	case "500":
		http.Error(w, "injected failure", http.StatusInternalServerError)
	case "503":
		w.Header().Set("Retry-After", "0")
		http.Error(w, "injected overload", http.StatusServiceUnavailable)
	case "429":
		if retryAfter {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, "injected throttling", http.StatusTooManyRequests)
	case "timeout":
		select {
		case <-time.After(f.sleep):
		case <-r.Context().Done():
		}
		http.Error(w, "too late", http.StatusOK)
	case "reset":
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("no hijacker")
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST instead of FIN
		}
		_ = conn.Close()
	}
}

// TestFaultInjection delivers 200,000 records through the real pipeline (esa_file → esa_sample →
// esa_http) to a server that fails 30 % of requests with 500, 503, 429, timeouts and connection resets:
// every record must arrive at least once. Retries the output gives up on are nacked and redelivered
// by esa_file.
func TestFaultInjection(t *testing.T) {
	const n = 200_000
	recs := idRecords(n)
	path := filepath.Join(t.TempDir(), "records.ndjson")
	var file strings.Builder
	for _, r := range recs {
		file.Write(r)
		file.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ta := newTally("id")
	rc := &httpout.Receiver{PrivateKey: "aliyuncdn1234", OnBatch: ta.onBatch}
	f := newFaulty(rc, 0.30, 400*time.Millisecond, 42)
	srv := serve(t, f)
	runStream(t, `
input:
  esa_file:
    paths: [`+path+`]
    batch_size: 500
pipeline:
  processors:
    - esa_sample: {rate: 100, task: faults}
output:
  esa_http:
    url: `+srv.URL+`/accesslog/post
    compression: gzip
    auth: {private_key: aliyuncdn1234, expired_time: 60}
    timeout: 250ms
    max_retry: 3
    max_in_flight: 8
    backoff: {initial_interval: 5ms, max_interval: 50ms}
    batching: {count: 500, period: 50ms}
    task: faults
`)
	want := make([]string, n)
	for i := range want {
		want[i] = "r" + itoa(i)
	}
	dups := ta.check(t, want)
	if f.failures() == 0 {
		t.Fatal("no faults were injected")
	}
	t.Logf("200,000 records: %d arrivals, %d duplicates (%.1f%%); requests: %s",
		ta.total, dups, 100*float64(dups)/n, f.summary())
}

// TestServerDownAtStart: the receiver starts only after delivery began; nothing is lost.
func TestServerDownAtStart(t *testing.T) {
	const n = 20_000
	addr := testutil.FreeAddr(t)
	ta := newTally("id")
	p := startPipeline(t, `
esa_http:
  url: http://`+addr+`/in
  max_retry: 2
  backoff: {initial_interval: 10ms, max_interval: 100ms}
  batching: {count: 1000, period: 50ms}
`)
	done := make(chan feedResult, 1)
	go func() { done <- feed(t, p, idRecords(n), 1000, 4) }()
	time.Sleep(500 * time.Millisecond) // delivery is failing (connection refused) meanwhile
	serveOn(t, addr, &httpout.Receiver{OnBatch: ta.onBatch})
	res := <-done
	want := make([]string, n)
	for i := range want {
		want[i] = "r" + itoa(i)
	}
	dups := ta.check(t, want)
	if res.permanent != 0 {
		t.Errorf("%d batches given up: %v", res.permanent, res.lastErr)
	}
	t.Logf("server down at start: %d redeliveries, %d duplicates", res.nacks, dups)
}

// TestServerRestartMidRun: the receiver is stopped (dropping open connections) and started again on
// the same address while records flow; nothing is lost.
func TestServerRestartMidRun(t *testing.T) {
	const n = 50_000
	addr := testutil.FreeAddr(t)
	ta := newTally("id")
	rc := &httpout.Receiver{OnBatch: ta.onBatch}
	srv := serveOn(t, addr, rc)
	p := startPipeline(t, `
esa_http:
  url: http://`+addr+`/in
  compression: snappy
  max_retry: 2
  max_in_flight: 4
  backoff: {initial_interval: 10ms, max_interval: 100ms}
  batching: {count: 500, period: 50ms}
`)
	done := make(chan feedResult, 1)
	go func() { done <- feed(t, p, idRecords(n), 500, 4) }()
	deadline := time.Now().Add(2 * time.Minute)
	for rc.Stats().Records < n/4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = srv.Close()
	stoppedAt := rc.Stats().Records
	time.Sleep(300 * time.Millisecond)
	serveOn(t, addr, rc)
	res := <-done
	want := make([]string, n)
	for i := range want {
		want[i] = "r" + itoa(i)
	}
	dups := ta.check(t, want)
	if res.permanent != 0 {
		t.Errorf("%d batches given up: %v", res.permanent, res.lastErr)
	}
	if stoppedAt >= n {
		t.Fatalf("the server was restarted only after all records arrived (%d)", stoppedAt)
	}
	t.Logf("restart after %d records: %d redeliveries, %d duplicates", stoppedAt, res.nacks, dups)
}

// TestNonRetryable4xx: a 400 fails the batch at once with the status and the body; with a dead
// letter (a fallback output, as the translator builds it) the records go there instead.
func TestNonRetryable4xx(t *testing.T) {
	var calls atomic.Int64
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"error":"field ClientIP not allowed"}`, http.StatusBadRequest)
	}))
	t.Run("no dead letter", func(t *testing.T) {
		calls.Store(0)
		p := startPipeline(t, `
esa_http:
  url: `+srv.URL+`/in?token=secretvalue
  max_retry: 5
  batching: {count: 10}
`)
		res := feed(t, p, idRecords(30), 10, 1)
		if res.permanent != 3 {
			t.Fatalf("%d batches failed permanently, want 3", res.permanent)
		}
		if calls.Load() != 3 {
			t.Errorf("%d requests for 3 batches: a 400 must not be retried", calls.Load())
		}
		msg := res.lastErr.Error()
		for _, want := range []string{"esa_http: POST", "400 Bad Request", "field ClientIP not allowed"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		if strings.Contains(msg, "secretvalue") {
			t.Errorf("error leaks a query value: %s", msg)
		}
	})
	t.Run("dead letter", func(t *testing.T) {
		dead := filepath.Join(t.TempDir(), "dead.ndjson")
		p := startPipeline(t, `
fallback:
  - esa_http:
      url: `+srv.URL+`/in
      batching: {count: 10}
  - file:
      path: `+dead+`
      codec: lines
`)
		res := feed(t, p, idRecords(30), 10, 1)
		if res.permanent != 0 || res.nacks != 0 {
			t.Fatalf("with a dead letter every batch must be acknowledged: %+v", res)
		}
		fh, err := os.Open(dead)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		seen := map[string]bool{}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			seen[sc.Text()] = true
		}
		for _, r := range idRecords(30) {
			if !seen[string(r)] {
				t.Errorf("record %s not in the dead letter", r)
			}
		}
	})
}
