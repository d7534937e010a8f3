package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func recsAt(topic string, partition int32, from, to int64) []*kgo.Record {
	var out []*kgo.Record
	for o := from; o < to; o++ {
		out = append(out, &kgo.Record{Topic: topic, Partition: partition, Offset: o, LeaderEpoch: 3})
	}
	return out
}

// TestCommitOnlyDeliveredPrefix: acknowledgements that arrive out of order never move a
// partition's commit offset past a batch that is still in flight.
func TestCommitOnlyDeliveredPrefix(t *testing.T) {
	in := &input{parts: map[topicPartition]*partState{}}
	p1, p2, p3 := &pending{}, &pending{}, &pending{}
	in.track(p1, append(recsAt("t", 0, 0, 10), recsAt("t", 1, 0, 5)...))
	in.track(p2, recsAt("t", 0, 10, 20))
	// A gap (compaction, transaction markers): offsets 20-24 hold no records.
	in.track(p3, append(recsAt("t", 0, 25, 30), recsAt("t", 1, 5, 8)...))

	if m := in.complete(p2); m != nil {
		t.Fatalf("batch 2 delivered before batch 1: marks %v, want none", m)
	}
	m := in.complete(p1)
	if got := m["t"][0]; got.Offset != 20 || got.Epoch != 3 {
		t.Fatalf("after batches 1 and 2, partition 0 commit %+v, want offset 20 epoch 3", got)
	}
	if got := m["t"][1]; got.Offset != 5 {
		t.Fatalf("partition 1 commit %+v, want 5", got)
	}
	if n := in.inFlight(map[string][]int32{"t": {0, 1}}); n != 2 {
		t.Fatalf("in flight %d chunks, want 2 (batch 3 on both partitions)", n)
	}
	m = in.complete(p3)
	if m["t"][0].Offset != 30 || m["t"][1].Offset != 8 {
		t.Fatalf("after batch 3: %v, want 30 and 8", m)
	}

	// A partition revoked and assigned again: acks of the old assignment change nothing.
	old := &pending{}
	in.track(old, recsAt("t", 2, 0, 10))
	in.forget(map[string][]int32{"t": {2}})
	fresh := &pending{}
	in.track(fresh, recsAt("t", 2, 0, 4))
	if m := in.complete(old); m != nil {
		t.Fatalf("ack from a revoked assignment produced marks %v", m)
	}
	if m := in.complete(fresh); m["t"][2].Offset != 4 {
		t.Fatalf("new assignment: %v, want offset 4", m)
	}
}
