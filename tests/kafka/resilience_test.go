package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// startStream runs s in the background; the returned channel yields Run's result.
func startStream(t testing.TB, s *service.Stream) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	go func() {
		done <- s.Run(ctx)
		cancel()
	}()
	t.Cleanup(func() {
		_ = s.StopWithin(10 * time.Second)
		cancel()
	})
	return done
}

func waitLog(t testing.TB, logs *logBuffer, substr string, timeout time.Duration) {
	t.Helper()
	waitLogCount(t, logs, substr, 1, timeout)
}

// waitLogCount waits until substr was logged at least n times.
func waitLogCount(t testing.TB, logs *logBuffer, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(logs.String(), substr) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged %d times within %s:\n%s", substr, n, timeout, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutputBrokerDownAtStart: the output keeps trying to connect while nothing listens, then
// delivers every record once the broker is up.
func TestOutputBrokerDownAtStart(t *testing.T) {
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	recs := accessRecords(3000)
	file := writeNDJSON(t, t.TempDir(), recs)
	logs := &logBuffer{}
	s := buildStream(t, newEnv(t), outputYAML(file, []string{addr}, "late", ""), logs)
	done := startStream(t, s)

	// The broker appears only after the output failed to connect twice (it keeps trying).
	waitLogCount(t, logs, "connect to brokers "+addr, 2, time.Minute)
	c := newCluster(t, kfake.Ports(port), kfake.SeedTopics(4, "late"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the stream did not finish after the broker came up")
	}
	got := consume(t, c.ListenAddrs(), "late", len(recs), 30*time.Second)
	compareMultiset(t, "delivered after the broker came up", values(got), recs)
}

// TestOutputBrokerRestartMidRun closes the broker while records flow and starts a new one on the
// same port and data directory: every record arrives (duplicates are counted, none may be missing),
// and the new broker received writes.
func TestOutputBrokerRestartMidRun(t *testing.T) {
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	const total = 12000
	opts := []kfake.Opt{kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(6, "restart")}
	a, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	// A plain consumer reads the topic throughout; it reconnects to the new broker by itself.
	seen := &seenSet{m: map[string]int{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("restart"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			for _, r := range fs.Records() {
				seen.add(string(r.Value))
			}
		}
	}()
	defer func() { cancel(); <-consumerDone; cl.Close() }()

	yaml := fmt.Sprintf(`
input:
  generate:
    count: %d
    interval: 5ms
    batch_size: 20
    mapping: 'root = {"seq": count("kafka-restart-test"), "ClientIP": "198.51.100.7"}'
output:
  esa_kafka:
    topic: restart
    brokers: [%s]
    compression: lz4
    batching: {count: 200, period: 100ms}
`, total, addr)
	s := buildStream(t, newEnv(t), yaml, nil)
	done := startStream(t, s)

	waitUntil(t, func() bool { return seen.distinct() >= total/5 }, time.Minute, "records before the restart")
	before := seen.distinct()
	a.Close()
	time.Sleep(time.Second) // broker down while the generator keeps going
	b, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("restart broker on port %d: %v", port, err)
	}
	defer b.Close()
	var produceReqs atomic.Int64
	b.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		produceReqs.Add(1)
		return nil, nil, false
	})

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the stream did not finish after the restart")
	}
	waitUntil(t, func() bool { return seen.distinct() >= total }, time.Minute, "every record after the restart")
	for i := 1; i <= total; i++ {
		if !seen.has(fmt.Sprintf(`{"ClientIP":"198.51.100.7","seq":%d}`, i)) {
			t.Fatalf("record seq %d was lost", i)
		}
	}
	if produceReqs.Load() == 0 {
		t.Fatal("the restarted broker received no writes: the restart happened after the run")
	}
	t.Logf("restart: %d distinct records before, %d after; %d records read in all (%d duplicates); %d produce requests to the new broker",
		before, seen.distinct(), seen.total(), seen.total()-seen.distinct(), produceReqs.Load())
}

// TestInputBrokerRestartMidRun restarts the broker (same port and data directory) while the
// consumer-group input is reading: every record is delivered at least once.
func TestInputBrokerRestartMidRun(t *testing.T) {
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	opts := []kfake.Opt{kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(6, "in-restart")}
	a, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	recs := accessRecords(10000)
	produce(t, []string{addr}, "in-restart", recs)

	col := &collector{fail: func(service.MessageBatch) error {
		time.Sleep(10 * time.Millisecond) // a slow destination, so the restart hits mid-run
		return nil
	}}
	startInput(t, inputYAML([]string{addr}, "in-restart", "g-restart", "commit_period: 200ms"), col)
	col.waitFor(t, len(recs)/4, time.Minute)
	a.Close()
	if n := col.len(); n >= len(recs) {
		t.Fatalf("%d records were delivered before the broker went down: the restart was not mid-run", n)
	}
	time.Sleep(time.Second)
	b, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	defer b.Close()

	waitUntil(t, func() bool {
		got := map[string]bool{}
		for _, v := range col.values() {
			got[v] = true
		}
		for _, r := range recs {
			if !got[r] {
				return false
			}
		}
		return true
	}, 2*time.Minute, "every record delivered after the broker restart")
	t.Logf("input restart: %d records delivered for %d produced (%d duplicates)", col.len(), len(recs), col.len()-len(recs))
}

type seenSet struct {
	mu sync.Mutex
	m  map[string]int
	n  int
}

func (s *seenSet) add(v string) {
	s.mu.Lock()
	s.m[v]++
	s.n++
	s.mu.Unlock()
}

func (s *seenSet) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *seenSet) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *seenSet) has(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[v] > 0
}

func waitUntil(t testing.TB, cond func() bool, timeout time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
