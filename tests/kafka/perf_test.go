package kafka

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestKafkaThroughput measures whole-process throughput of the esa-connect binary against a kfake
// broker in this test process: for every codec, N generated access records through esa_sample,
// esa_filter and esa_fields into esa_kafka (the broker acknowledges without storing, so the numbers
// are esa-connect's); then a consumer-group esa_kafka input reading N stored records (into `drop`).
// It reports records/s and the process's peak RSS. It takes minutes, so it runs only when
// ESA_KAFKA_PERF is set (ESA_KAFKA_PERF_RECORDS overrides N = 1,000,000):
//
//	ESA_KAFKA_PERF=1 go test -run TestKafkaThroughput -v -timeout 30m ./tests/kafka/
func TestKafkaThroughput(t *testing.T) {
	if os.Getenv("ESA_KAFKA_PERF") == "" {
		t.Skip("set ESA_KAFKA_PERF=1 to measure Kafka throughput (1,000,000 records per codec; minutes)")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("ESA_KAFKA_PERF_RECORDS")); err == nil && v > 0 {
		n = v
	}
	bin := testutil.Binary(t)
	dir := t.TempDir()

	for _, cd := range codecs {
		t.Run("produce/"+cd.esa, func(t *testing.T) {
			c := newCluster(t, kfake.BlackholeProduce(), kfake.SeedTopics(12, "perf"))
			task := fmt.Sprintf(`name: perf-%s
category: access
fields: [EdgeStartTimestamp, ClientRequestID, ClientIP, ClientCountryCode, ClientRequestHost, ClientRequestMethod, ClientRequestPath, ClientRequestUserAgent, EdgeResponseStatusCode, EdgeResponseBytes, EdgeResponseTime, EdgeCacheStatus]
sampling_rate: 100
filters:
  - {field: ClientRequestMethod, op: not_equals, value: [TRACE]}
source: {type: generate, count: %d, seed: 1}
destination: {type: kafka, topic: perf, brokers: [%s], compression: %s, balancer: Murmur2Balancer, key_field: ClientRequestID}
`, cd.esa, n, c.ListenAddrs()[0], cd.esa)
			p := filepath.Join(dir, "perf-"+cd.esa+".yaml")
			if err := os.WriteFile(p, []byte(task), 0o600); err != nil {
				t.Fatal(err)
			}
			elapsed, rss := runMeasured(t, bin, nil, "run", "--log-level", "warn", p)
			t.Logf("PERF produce codec=%-6s records=%d elapsed=%.2fs records/s=%.0f peakRSS=%.0fMiB",
				cd.esa, n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), float64(rss)/1024)
		})
	}

	t.Run("consume", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(12, "perf-in"))
		addrs := c.ListenAddrs()
		// Fill the topic with n access-like records (lz4, as a producer would).
		cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("perf-in"),
			kgo.ProducerBatchCompression(kgo.Lz4Compression()))
		if err != nil {
			t.Fatal(err)
		}
		recs := accessRecords(10000)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		for i := 0; i < n; i++ {
			cl.Produce(ctx, &kgo.Record{Value: []byte(recs[i%len(recs)])}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("fill: %v", err)
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cl.Close()

		conf := fmt.Sprintf(`
input:
  esa_kafka:
    brokers: [%s]
    topics: [perf-in]
    group: perf
    batch_size: 1000
output:
  drop: {}
logger: {level: warn}
`, addrs[0])
		p := filepath.Join(dir, "consume.yaml")
		if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		// The input never ends: stop the process once the group committed every offset.
		stop := func(pid int) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgoV28())
			if err != nil {
				t.Error(err)
				return
			}
			defer cl.Close()
			deadline := time.Now().Add(20 * time.Minute)
			for committedSum(t, cl, "perf", "perf-in", 12) < int64(n) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		elapsed, rss := runMeasured(t, bin, stop, "run", "-c", p)
		t.Logf("PERF consume records=%d elapsed=%.2fs records/s=%.0f peakRSS=%.0fMiB (until every offset was committed)",
			n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), float64(rss)/1024)
	})
}

// runMeasured runs the binary, optionally calling during(pid) while it runs, and returns the wall
// time and the peak RSS in KiB.
func runMeasured(t testing.TB, bin string, during func(pid int), args ...string) (time.Duration, int64) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out logBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan time.Time, 1)
	if during != nil {
		go func() {
			during(cmd.Process.Pid)
			stopped <- time.Now()
		}()
	}
	err := cmd.Wait()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v\n%s", args, err, out.String())
	}
	if during != nil {
		elapsed = (<-stopped).Sub(start)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var rss int64
	if ru != nil {
		rss = ru.Maxrss
	}
	return elapsed, rss
}
