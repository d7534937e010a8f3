package kafka

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/esa-connect/esa-connect/plugins"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// failProduce makes the broker answer produce requests with code for every partition while fail
// returns true (the request is not written); it counts the requests it failed.
func failProduce(c *kfake.Cluster, code int16, fail func() bool) *atomic.Int32 {
	var n atomic.Int32
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !fail() {
			return nil, nil, false
		}
		n.Add(1)
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = pr.Version
		for _, t := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	return &n
}

// deadLetterStream is a stream from file to esa_kafka (topic on c) with the output fields of extra
// (indented by four spaces) and an enveloped dead-letter file dead; its counters go to the Metrics.
func deadLetterStream(t *testing.T, c *kfake.Cluster, topic, file, dead, extra string) (*service.Stream, *testutil.Metrics) {
	t.Helper()
	return testutil.MeteredStream(t, fmt.Sprintf(`
logger: {level: none}
metrics: {%s: {}}
input:
  esa_file: {paths: [%q]}
output:
  esa_kafka:
    topic: %s
    brokers: [%s]
    task: retry
    dead_letter: dead_letter
    batching: {count: 100, period: 100ms}
%s
output_resources:
  - label: dead_letter
    esa_dead_letter: {task: retry, path: %q, envelope: true}
`, testutil.MetricsName, file, topic, strings.Join(c.ListenAddrs(), ","), extra, dead))
}

// TestRefusedRecordsGoToTheDeadLetter: the broker refuses every produce with
// TOPIC_AUTHORIZATION_FAILED; each record is in the dead letter once with the reason
// kafka_TOPIC_AUTHORIZATION_FAILED, and the metric counts them under it.
func TestRefusedRecordsGoToTheDeadLetter(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "refused"))
	refused := failProduce(c, kerr.TopicAuthorizationFailed.Code, func() bool { return true })
	const n = 300
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.ndjson")
	st, m := deadLetterStream(t, c, "refused", writeNDJSON(t, dir, accessRecords(n)), dead, "")
	runStream(t, st, 2*time.Minute)

	if refused.Load() == 0 {
		t.Fatal("no produce request was refused")
	}
	const want = "kafka_TOPIC_AUTHORIZATION_FAILED"
	env := testutil.ReadEnvelopes(t, dead)
	seen := map[string]bool{}
	for _, e := range env {
		if e.Reason != want || !strings.Contains(e.Error, "TOPIC_AUTHORIZATION_FAILED") || seen[e.Record] {
			t.Fatalf("envelope %+v: want reason %s, the broker's error, each record once", e, want)
		}
		seen[e.Record] = true
	}
	if len(env) != n {
		t.Fatalf("%d records in the dead letter, want %d", len(env), n)
	}
	if got := m.Counter("esa_records_dead_lettered_total", "task=retry", "reason="+want); got != n {
		t.Fatalf("esa_records_dead_lettered_total{reason=%s} = %d, want %d (%v)", want, got, n, m.Counters("esa_records_dead"))
	}
}

// TestNotLeaderWithinMaxElapsed: the broker answers NOT_LEADER_FOR_PARTITION to the first two
// produce requests; the client retries and every record arrives; none is dead-lettered.
func TestNotLeaderWithinMaxElapsed(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "transient"))
	var calls atomic.Int32
	failed := failProduce(c, kerr.NotLeaderForPartition.Code, func() bool { return calls.Add(1) <= 2 })
	const n = 300
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.ndjson")
	recs := accessRecords(n)
	st, _ := deadLetterStream(t, c, "transient", writeNDJSON(t, dir, recs), dead, "    retry: {max_elapsed: 1m, max_backoff: 100ms}")
	runStream(t, st, 2*time.Minute)

	if failed.Load() != 2 {
		t.Fatalf("%d produce requests failed, want 2", failed.Load())
	}
	if env := testutil.ReadEnvelopes(t, dead); len(env) != 0 {
		t.Fatalf("%d records dead-lettered, first %+v", len(env), env[0])
	}
	got := consume(t, c.ListenAddrs(), "transient", n, 30*time.Second)
	compareMultiset(t, "delivered after NOT_LEADER_FOR_PARTITION", values(got), recs)
}

// TestMaxElapsedEndsTheRetries: the broker always answers NOT_LEADER_FOR_PARTITION; the output's
// delivery_timeout (10m) would keep the client retrying, but retry.max_elapsed (1s) replaces it and
// bounds records in flight too: the records fail (the input sends them again), none is
// dead-lettered. (The client waits for a metadata refresh between such retries, so it may try only
// once before the bound.)
func TestMaxElapsedEndsTheRetries(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "down"))
	failed := failProduce(c, kerr.NotLeaderForPartition.Code, func() bool { return true })
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.ndjson")
	st, m := deadLetterStream(t, c, "down", writeNDJSON(t, dir, accessRecords(50)), dead,
		"    delivery_timeout: 10m\n    retry: {max_elapsed: 1s, max_backoff: 100ms}")
	testutil.RunStream(t, st)
	testutil.WaitFor(t, "records failed after retry.max_elapsed", 30*time.Second, func() bool {
		return m.Counter("esa_records_failed_total", "task=retry") > 0
	})
	if failed.Load() == 0 {
		t.Fatal("no produce request failed")
	}
	if env := testutil.ReadEnvelopes(t, dead); len(env) != 0 {
		t.Fatalf("a transient failure was dead-lettered: %+v", env[0])
	}
}

// TestRetryOnStatusRefused: Kafka's answers are error codes, not HTTP statuses: esa_kafka refuses
// retry.on_status.
func TestRetryOnStatusRefused(t *testing.T) {
	env := service.NewEnvironment()
	if err := plugins.RegisterAll(env); err != nil {
		t.Fatal(err)
	}
	b := env.NewStreamBuilder()
	if err := b.SetYAML(`
input: {generate: {count: 1, mapping: 'root = {}'}}
output:
  esa_kafka: {topic: t, brokers: ['127.0.0.1:1'], retry: {on_status: ['503']}}
`); err != nil {
		t.Fatal(err)
	}
	st, err := b.Build()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = st.Run(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), "retry.on_status: does not apply to Kafka") {
		t.Fatalf("stream: %v, want retry.on_status refused", err)
	}
}
