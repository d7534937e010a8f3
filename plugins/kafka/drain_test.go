package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// TestInputDrainFlushes: a drained consumer-group input (SIGINT/SIGTERM under esa-connect run) sends
// one flush marker, so outputs write their partial batches, and then ends by itself.
func TestInputDrainFlushes(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "logs"))
	addr := c.ListenAddrs()[0]
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 300
	for i := 0; i < n; i++ {
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "logs", Value: fmt.Appendf(nil, `{"n":%d}`, i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	env := service.NewEnvironment()
	if err := Register(env); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	markers := 0
	sb := env.NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: warn"); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddInputYAML(fmt.Sprintf("esa_kafka:\n  brokers: [%q]\n  topics: [logs]\n  group: g\n", addr)); err != nil {
		t.Fatal(err)
	}
	if err := sb.AddBatchConsumerFunc(func(_ context.Context, b service.MessageBatch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range b {
			if pipeline.IsFlushMarker(m) {
				markers++
				continue
			}
			v, _ := m.AsBytes()
			got[string(v)]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// Wait until every record was consumed, then drain.
	for {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k == n {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("consumed %d of %d records", k, n)
		case <-time.After(50 * time.Millisecond):
		}
	}
	outcome.From(s.Resources()).Drain()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the drained stream did not end")
	}
	if markers != 1 {
		t.Fatalf("%d flush markers, want 1", markers)
	}
}
