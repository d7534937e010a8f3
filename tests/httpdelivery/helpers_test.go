// Package httpdelivery tests the esa_http output against real loopback HTTP servers: the Receiver of
// `esa-connect receive`, fault-injecting servers, TLS servers and the esa-connect binary itself.
package httpdelivery

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/plugins/record"
	"github.com/esa-connect/esa-connect/plugins/sample"
	"github.com/esa-connect/esa-connect/plugins/source"
)

// newEnv is the Benthos environment of these tests: the core components compiled in (fallback,
// file, …) plus esa_http.
func newEnv(t testing.TB) *service.Environment {
	t.Helper()
	env := service.NewEnvironment()
	for _, register := range []func(*service.Environment) error{httpout.Register, source.Register, sample.Register} {
		if err := register(env); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// runStream runs a complete Benthos config (input, pipeline, output) until its input is exhausted
// and every batch resolved.
func runStream(t testing.TB, yaml string) {
	t.Helper()
	sb := newEnv(t).NewStreamBuilder()
	if err := sb.SetYAML(yaml); err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	if err := sb.SetLoggerYAML("level: ${TEST_LOG_LEVEL:none}"); err != nil {
		t.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := stream.Run(ctx); err != nil {
		t.Fatalf("stream: %v", err)
	}
}

// pipeline is a running stream whose input is a batch producer func and whose output is given YAML.
type pipeline struct {
	send   service.MessageBatchHandlerFunc
	stream *service.Stream
	done   chan error
}

// startPipeline starts a stream with the producer input and outputYAML; it is stopped at cleanup.
func startPipeline(t testing.TB, outputYAML string) *pipeline {
	t.Helper()
	sb := newEnv(t).NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: ${TEST_LOG_LEVEL:none}"); err != nil {
		t.Fatal(err)
	}
	send, err := sb.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AddOutputYAML(outputYAML); err != nil {
		t.Fatalf("output config: %v\n%s", err, outputYAML)
	}
	stream, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{send: send, stream: stream, done: make(chan error, 1)}
	go func() { p.done <- stream.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = stream.Stop(ctx)
		<-p.done
	})
	return p
}

// feedResult is what feed observed.
type feedResult struct {
	nacks     int64 // batches nacked with a retryable error and sent again
	permanent int64 // batches given up on (permanent error)
	lastErr   error
}

// feed sends records in batches of batchSize from `workers` goroutines, sending a nacked batch again
// after a short pause — what a redelivering input (esa_file, esa_generate, kafka) does — until it is
// acknowledged or fails permanently. It returns when every batch was acknowledged or given up on.
func feed(t testing.TB, p *pipeline, records [][]byte, batchSize, workers int) feedResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res feedResult
	var mu sync.Mutex
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(int64(batchSize))) - batchSize
				if start >= len(records) {
					return
				}
				end := min(start+batchSize, len(records))
				for {
					err := p.send(ctx, pipelinetest.Batch(records[start:end]))
					if err == nil {
						break
					}
					if ctx.Err() != nil {
						t.Errorf("feed: gave up: %v", err)
						return
					}
					mu.Lock()
					res.lastErr = err
					mu.Unlock()
					if delivery.IsPermanent(err) {
						atomic.AddInt64(&res.permanent, 1)
						break
					}
					atomic.AddInt64(&res.nacks, 1)
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return res
}

// idRecords makes n small JSON records with unique ids "r<i>".
func idRecords(n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = []byte(`{"id":"r` + itoa(i) + `","EdgeResponseStatusCode":200,"ClientRequestHost":"a.example.com"}`)
	}
	return recs
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// tally counts records by their id field as a receiver accepts them.
type tally struct {
	field string
	mu    sync.Mutex
	seen  map[string]int
	total int
}

func newTally(field string) *tally { return &tally{field: field, seen: map[string]int{}} }

// onBatch is a Receiver.OnBatch that counts every record's id.
func (ta *tally) onBatch(_ *http.Request, _ []byte, recs [][]byte) error {
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		raw, kind, ok := record.Lookup(r, ta.field)
		if !ok || kind != record.String {
			return errors.New("record without a string " + ta.field)
		}
		ids = append(ids, record.UnquoteString(raw))
	}
	ta.mu.Lock()
	for _, id := range ids {
		ta.seen[id]++
	}
	ta.total += len(ids)
	ta.mu.Unlock()
	return nil
}

// check reports missing ids among want and returns the number of duplicate deliveries.
func (ta *tally) check(t testing.TB, want []string) (duplicates int) {
	t.Helper()
	ta.mu.Lock()
	defer ta.mu.Unlock()
	missing := 0
	for _, id := range want {
		if ta.seen[id] == 0 {
			if missing < 5 {
				t.Errorf("record %s never arrived", id)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d records lost", missing, len(want))
	}
	return ta.total - len(ta.seen)
}

// serveOn starts an HTTP server with h on addr (a fixed address, so it can be restarted).
func serveOn(t testing.TB, addr string, h http.Handler) *http.Server {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the previous server's socket may still be closing
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
