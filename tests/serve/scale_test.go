package serve

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestServeReplicasShareAKafkaTask: two serve replicas (own data directories) run the same task, whose
// source is a Kafka consumer group; once both joined the group, the topic's records are shared: each
// replica delivers some, and together every record.
func TestServeReplicasShareAKafkaTask(t *testing.T) {
	c, err := kfake.NewCluster(kfake.SeedTopics(4, "edge"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	sk := startSink(t)
	var replicas []*server
	for i := range 2 {
		s := startServe(t, t.TempDir())
		req := httpTask("shared", "ClientRequestID", sk.URL(fmt.Sprintf("r%d", i)))
		src := map[string]any{"type": "kafka", "brokers": c.ListenAddrs(), "topics": []string{"edge"}, "group": "esa-shared"}
		if _, err := createWith(s.client(t, keyID, keySecret), req, map[string]any{"source": src}); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		replicas = append(replicas, s)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("edge"),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Wait until both replicas are members of the group (and the group is stable).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{"esa-shared"}
		resp, err := req.RequestWith(context.Background(), cl)
		if err == nil && len(resp.Groups) == 1 && len(resp.Groups[0].Members) == 2 && resp.Groups[0].State == "Stable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas did not both join the consumer group: %v %+v", err, resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, want := records("k", 400)
	recs := make([]*kgo.Record, len(want))
	for i, id := range want {
		recs[i] = &kgo.Record{Value: []byte(fmt.Sprintf(`{"EdgeStartTimestamp":"2026-12-06T01:02:03Z","ClientRequestID":%q}`, id))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Minute)
	for {
		seen := map[string]int{}
		for i := range replicas {
			for _, id := range ids(sk.Records(fmt.Sprintf("r%d", i))) {
				seen[id]++
			}
		}
		if len(seen) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas delivered %d of %d records", len(seen), len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range replicas {
		if n := len(sk.Records(fmt.Sprintf("r%d", i))); n == 0 {
			t.Errorf("replica %d delivered nothing: the group's partitions were not shared", i)
		}
	}
}
