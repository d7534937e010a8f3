package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// sink is an HTTP destination that can be down (503) and remembers the ClientRequestID of every
// record it received.
type sink struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	ids  map[string]int
}

func startSink(t *testing.T) *sink {
	s := &sink{ids: map[string]int{}}
	s.down.Store(true)
	rc := &httpout.Receiver{OnBatch: func(_ *http.Request, _ []byte, recs [][]byte) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, r := range recs {
			var v struct{ ClientRequestID string }
			if err := json.Unmarshal(r, &v); err != nil {
				return err
			}
			s.ids[v.ClientRequestID]++
		}
		return nil
	}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rc.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// missing returns the ids not received.
func (s *sink) missing(ids []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range ids {
		if s.ids[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// waitReceived waits until every id arrived (or fails after timeout).
func (s *sink) waitReceived(t *testing.T, p *testutil.Process, ids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		miss := s.missing(ids)
		if len(miss) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged records never arrived (e.g. %s)\n%s%s", len(miss), len(ids), miss[0], p.Stdout(), p.Stderr())
		}
		select {
		case <-p.Done():
			t.Fatalf("the task ended with %d records not arrived\n%s%s", len(miss), p.Stdout(), p.Stderr())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// bufferTask is an HTTP ingest → disk buffer → HTTP destination task.
func bufferTask(t *testing.T, dir, ingest, dest, extra string) string {
	t.Helper()
	task := fmt.Sprintf(`name: buffered
category: access
fields: [EdgeStartTimestamp, ClientRequestID, ClientRequestUserAgent]
source: {type: http, address: %q}
destination: {type: http, url: %q, max_retry: 1}
buffer: {type: disk, path: buf%s}
`, ingest, dest, extra)
	path := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(path, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ingestBody is n access records with ids prefix-0…, gzip-compressed, and their ids; pad is the size
// of incompressible padding per record.
func ingestBody(prefix string, n, pad int) ([]byte, []string) {
	var raw bytes.Buffer
	ids := make([]string, n)
	p := make([]byte, pad*3/4)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		_, _ = rand.Read(p)
		fmt.Fprintf(&raw, `{"EdgeStartTimestamp":"2026-12-06T01:02:03Z","ClientRequestID":%q,"ClientRequestUserAgent":%q}`+"\n",
			ids[i], base64.StdEncoding.EncodeToString(p))
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	return z.Bytes(), ids
}

// postIngest posts a gzip body and returns the status, the Retry-After header and the answer.
func postIngest(t *testing.T, addr string, body []byte) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/logs", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Errorf("POST: %v", err)
		return 0, "", ""
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(answer)
}

// TestDiskBufferSurvivesSIGKILL: with a disk buffer the ingest answers 200 while the destination is
// down (the records are on disk); the task is killed with SIGKILL; started again on the same buffer
// once the destination is back, it delivers every acknowledged record.
func TestDiskBufferSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	dest := startSink(t)
	ingest := testutil.FreeAddr(t)
	task := bufferTask(t, dir, ingest, dest.srv.URL+"/logs", "")
	p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", task)
	p.WaitTCP(t, ingest)

	var acked []string
	for i := range 10 {
		body, ids := ingestBody(fmt.Sprintf("k%d", i), 500, 16)
		code, _, answer := postIngest(t, ingest, body)
		if code != http.StatusOK || !strings.Contains(answer, `"accepted":500`) {
			t.Fatalf("POST %d while the destination is down: %d %s, want 200 (the records are on disk)\n%s", i, code, answer, p.Stderr())
		}
		acked = append(acked, ids...)
	}
	if n := dest.received(); n != 0 {
		t.Fatalf("the destination is down but received %d records", n)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait(t, time.Minute)

	dest.down.Store(false)
	p = testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", task)
	dest.waitReceived(t, p, acked, 3*time.Minute)
	if !strings.Contains(p.Stderr()+p.Stdout(), "holds 5000 records") {
		t.Errorf("the restarted task did not say what it found in the buffer:\n%s", p.Stderr())
	}
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	res := p.Wait(t, time.Minute)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "5000 delivered") || strings.Contains(res.Stdout, "left in the disk buffer") {
		t.Fatalf("exit %d; want 0 with 5000 delivered and nothing left in the buffer:\n%s", res.ExitCode, res.Output())
	}
}

// TestDiskBufferFull: while the destination is down a 16 MiB buffer fills; new requests are then
// answered 503 with Retry-After (none is acknowledged that the buffer could not keep), and once the
// destination is back every acknowledged record arrives.
func TestDiskBufferFull(t *testing.T) {
	dir := t.TempDir()
	dest := startSink(t)
	ingest, admin := testutil.FreeAddr(t), testutil.FreeAddr(t)
	task := bufferTask(t, dir, ingest, dest.srv.URL+"/logs", ", max_bytes: 16MiB")
	p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: []string{"ESA_HTTP_ADDRESS=" + admin}}, "run", task)
	p.WaitTCP(t, ingest)

	// Four clients post 1 MB requests (incompressible) until the buffer turns one away. A request that
	// arrives just as the buffer fills waits for space; the others get 503.
	type result struct {
		ids        []string
		code       int
		retryAfter string
	}
	results := make(chan result, 1000)
	var full atomic.Bool
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !full.Load() && i < 200; i++ {
				body, ids := ingestBody(fmt.Sprintf("c%d-%d", c, i), 1000, 1000)
				code, ra, _ := postIngest(t, ingest, body)
				results <- result{ids, code, ra}
				if code != http.StatusOK {
					full.Store(true)
				}
			}
		}()
	}
	deadline := time.Now().Add(3 * time.Minute)
	for !full.Load() {
		select {
		case <-p.Done():
			t.Fatalf("the task ended\n%s", p.Stderr())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request was turned away\n%s", p.Stderr())
		}
	}
	buffered := metricSum(scrape(t, "http://"+admin+"/metrics"), "esa_buffer_bytes", "buffered")
	if buffered > 16<<20 || buffered < 8<<20 {
		t.Errorf("esa_buffer_bytes = %v when full, want between 8 and 16 MiB", buffered)
	}
	dest.down.Store(false)
	wg.Wait()
	close(results)
	var acked []string
	rejected := 0
	for r := range results {
		switch r.code {
		case http.StatusOK:
			acked = append(acked, r.ids...)
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			rejected++
			if r.retryAfter == "" {
				t.Errorf("a %d without Retry-After", r.code)
			}
		default:
			t.Errorf("unexpected answer %d", r.code)
		}
	}
	if rejected == 0 || len(acked) < 8000 {
		t.Fatalf("%d requests turned away, %d records acknowledged: want the buffer filled (≥ 8,000 records of 1 KB) and requests turned away", rejected, len(acked))
	}
	dest.waitReceived(t, p, acked, 3*time.Minute)
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if res := p.Wait(t, time.Minute); res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
}

// TestDiskBufferDamaged: records left in the buffer by a stopped task; then the file is damaged —
// one stored batch's bytes changed, or the file cut short. The task still starts, says what it cut
// (log and esa_buffer_damaged_records_total), and delivers the rest.
func TestDiskBufferDamaged(t *testing.T) {
	for _, tc := range []struct {
		name string
		// damage damages the buffer file and returns how many requests' records may be lost.
		damage func(t *testing.T, path string) int
		log    string
	}{
		{"changed batch", func(t *testing.T, path string) int {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket([]byte("batches"))
				k, v := bk.Cursor().First()
				if v == nil { // a large batch is a bucket of its own, its value under key 0x00
					bk, k = bk.Bucket(k), []byte{0}
					v = bk.Get(k)
				}
				k, v = bytes.Clone(k), bytes.Clone(v)
				v[len(v)/2] ^= 0x55
				return bk.Put(k, v)
			}); err != nil {
				t.Fatal(err)
			}
			return 1
		}, "cut 1 damaged batches"},
		{"truncated file", func(t *testing.T, path string) int {
			// The 8 stored batches take about 330 KiB: 128 KiB cannot hold them all.
			if err := os.Truncate(path, 128<<10); err != nil {
				t.Fatal(err)
			}
			return 8
		}, "is damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := startSink(t)
			ingest, admin := testutil.FreeAddr(t), testutil.FreeAddr(t)
			task := bufferTask(t, dir, ingest, dest.srv.URL+"/logs", "")
			p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", task)
			p.WaitTCP(t, ingest)
			var all [][]string
			for i := range 8 {
				body, ids := ingestBody(fmt.Sprintf("d%d", i), 200, 200)
				if code, _, answer := postIngest(t, ingest, body); code != http.StatusOK {
					t.Fatalf("POST: %d %s", code, answer)
				}
				all = append(all, ids)
			}
			if err := p.Terminate(); err != nil {
				t.Fatal(err)
			}
			res := p.Wait(t, 2*time.Minute)
			if !strings.Contains(res.Stdout, "1600 left in the disk buffer") {
				t.Fatalf("after SIGTERM with the destination down, the summary does not count the records left in the buffer:\n%s", res.Output())
			}
			mayLose := tc.damage(t, filepath.Join(dir, "buf", "buffered.buffer"))

			dest.down.Store(false)
			p = testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: []string{"ESA_HTTP_ADDRESS=" + admin}}, "run", task)
			p.WaitOutput(t, tc.log, time.Minute)
			p.WaitTCP(t, admin)
			// Wait until the buffer is empty (every batch it holds was delivered and acknowledged).
			deadline := time.Now().Add(2 * time.Minute)
			var metrics string
			for {
				metrics = scrape(t, "http://"+admin+"/metrics")
				if strings.Contains(metrics, "esa_buffer_records{") && metricSum(metrics, "esa_buffer_records", "buffered") == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the buffer was not emptied\n%s", p.Stderr())
				}
				time.Sleep(100 * time.Millisecond)
			}
			// Every request's records arrived whole, or (at most mayLose requests, at least one) not at all.
			lost, partial := 0, 0
			for _, ids := range all {
				switch m := len(dest.missing(ids)); {
				case m == len(ids):
					lost++
				case m > 0:
					partial++
				}
			}
			if partial > 0 || lost < 1 || lost > mayLose {
				t.Errorf("%d requests lost, %d partly delivered; want 1..%d lost whole", lost, partial, mayLose)
			}
			if damaged := metricSum(metrics, "esa_buffer_damaged_records_total", "buffered"); damaged < 1 {
				t.Errorf("esa_buffer_damaged_records_total = %v, want ≥ 1", damaged)
			}
			if err := p.Terminate(); err != nil {
				t.Fatal(err)
			}
			res = p.Wait(t, time.Minute)
			if res.ExitCode != 0 {
				t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
			}
		})
	}
}
