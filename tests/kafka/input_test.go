package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// collector is a stream's output: it keeps every delivered record (duplicates included).
type collector struct {
	mu   sync.Mutex
	vals []string
	meta []string // topic/partition/offset of each
	// fail, if set, decides per delivery attempt whether to reject the batch with an error.
	fail func(batch service.MessageBatch) error
}

func (c *collector) consume(_ context.Context, b service.MessageBatch) error {
	if c.fail != nil {
		if err := c.fail(b); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range b {
		v, _ := m.AsBytes()
		c.vals = append(c.vals, string(v))
		tp, _ := m.MetaGetMut("kafka_topic")
		p, _ := m.MetaGetMut("kafka_partition")
		o, _ := m.MetaGetMut("kafka_offset")
		c.meta = append(c.meta, fmt.Sprintf("%v/%v/%v", tp, p, o))
	}
	return nil
}

func (c *collector) values() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.vals...)
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.vals)
}

// waitFor waits until the collector holds at least n records.
func (c *collector) waitFor(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for c.len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("collected %d records within %s, want %d", c.len(), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inputStream is a running stream esa_kafka input → collector.
type inputStream struct {
	s    *service.Stream
	done chan error
	logs *logBuffer
}

func startInput(t testing.TB, inputYAML string, c *collector) *inputStream {
	t.Helper()
	env := newEnv(t)
	b := env.NewStreamBuilder()
	logs := &logBuffer{}
	b.SetLogger(newLogger(logs))
	if err := b.AddInputYAML(inputYAML); err != nil {
		t.Fatalf("input config: %v\n%s", err, inputYAML)
	}
	if err := b.AddBatchConsumerFunc(c.consume); err != nil {
		t.Fatal(err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	is := &inputStream{s: s, done: make(chan error, 1), logs: logs}
	go func() { is.done <- s.Run(context.Background()) }()
	t.Cleanup(func() { is.stop(t) })
	return is
}

func (is *inputStream) stop(t testing.TB) {
	select {
	case <-is.done:
		return
	default:
	}
	if err := is.s.StopWithin(30 * time.Second); err != nil {
		t.Errorf("stop stream: %v", err)
	}
	<-is.done
	is.done <- nil // later stops return at once
}

func inputYAML(brokers []string, topic, group, extra string) string {
	return fmt.Sprintf(`esa_kafka:
  brokers: [%s]
  topics: [%s]
  group: %s
  batch_size: 250
  session_timeout: 6s
%s
`, strings.Join(brokers, ", "), topic, group, indent(extra, "  "))
}

// TestInputReadsKcat: records written by kcat (librdkafka) with every codec, and over every SASL
// mechanism, are read by the esa_kafka input record by record.
func TestInputReadsKcat(t *testing.T) {
	kcat(t) // the whole test is a kcat cross-check
	recs := accessRecords(2000)
	payload := []byte(strings.Join(recs, "\n") + "\n")
	t.Run("codecs", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(6, "in-no", "in-gzip", "in-snappy", "in-lz4", "in-zstd"))
		addrs := c.ListenAddrs()
		for _, cd := range codecs {
			t.Run(cd.esa, func(t *testing.T) {
				topic := "in-" + cd.esa
				runKcat(t, payload, "-P", "-b", addrs[0], "-t", topic, "-z", cd.rdkafka)
				col := &collector{}
				is := startInput(t, inputYAML(addrs, topic, "g-"+cd.esa, ""), col)
				col.waitFor(t, len(recs), time.Minute)
				is.stop(t)
				compareMultiset(t, "esa_kafka input", col.values(), recs)
			})
		}
	})
	t.Run("sasl", func(t *testing.T) {
		c := saslCluster(t, kfake.SeedTopics(4, "in-sasl-PLAIN", "in-sasl-SCRAM-SHA-256", "in-sasl-SCRAM-SHA-512"))
		addrs := c.ListenAddrs()
		for i, u := range saslUsers {
			t.Run(u.mech, func(t *testing.T) {
				topic := "in-sasl-" + u.mech
				args := append([]string{"-P", "-b", addrs[0], "-t", topic, "-z", codecs[i+2].rdkafka}, kcatSASLArgs(u.mech, u.user, u.pass)...)
				runKcat(t, payload, args...)
				col := &collector{}
				is := startInput(t, inputYAML(addrs, topic, "g-sasl",
					fmt.Sprintf("sasl: {mechanism: %s, username: %s, password: %s}", u.mech, u.user, u.pass)), col)
				col.waitFor(t, len(recs), time.Minute)
				is.stop(t)
				compareMultiset(t, "esa_kafka input over SASL", col.values(), recs)
				if strings.Contains(is.logs.String(), u.pass) {
					t.Fatal("logs contain the SASL password")
				}
			})
		}
	})
}

// TestInputCommitsOnlyAfterDelivery rejects some batches (retryable): they are redelivered, every
// record arrives, and the group's committed offsets reach the end only after delivery; a new member
// of the group afterwards reads only records produced later.
func TestInputCommitsOnlyAfterDelivery(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(12, "alo"))
	addrs := c.ListenAddrs()
	recs := accessRecords(6000)
	produce(t, addrs, "alo", recs)

	var calls, rejected atomic.Int64
	col := &collector{fail: func(service.MessageBatch) error {
		if calls.Add(1)%3 == 0 {
			rejected.Add(1)
			return errors.New("destination temporarily unavailable")
		}
		return nil
	}}
	is := startInput(t, inputYAML(addrs, "alo", "g-alo", "commit_period: 200ms"), col)
	col.waitFor(t, len(recs), 2*time.Minute)
	waitCommitted(t, addrs, "g-alo", "alo", 12, int64(len(recs)), 30*time.Second)
	is.stop(t)
	if rejected.Load() == 0 {
		t.Fatal("no batch was rejected; the test proves nothing")
	}
	got := col.values()
	compareMultiset(t, "delivered (each once: rejected batches are not kept by the collector)", got, recs)

	// A new member of the group starts from the committed offsets: only the new records.
	more := accessRecords(6100)[6000:]
	produce(t, addrs, "alo", more)
	col2 := &collector{}
	is2 := startInput(t, inputYAML(addrs, "alo", "g-alo", ""), col2)
	col2.waitFor(t, len(more), time.Minute)
	waitCommitted(t, addrs, "g-alo", "alo", 12, int64(len(recs)+len(more)), 30*time.Second)
	is2.stop(t)
	compareMultiset(t, "after restart", col2.values(), more)
}

// TestInputPermanentFailureIsCounted: a batch the output rejects permanently is given up on,
// counted as undelivered in the stream's outcome, and its offsets are committed (the group does
// not wedge).
func TestInputPermanentFailureIsCounted(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "perm"))
	addrs := c.ListenAddrs()
	recs := accessRecords(1000)
	produce(t, addrs, "perm", recs)
	var first atomic.Bool
	var rejectedN atomic.Int64
	col := &collector{fail: func(b service.MessageBatch) error {
		if first.CompareAndSwap(false, true) {
			rejectedN.Store(int64(len(b)))
			return &delivery.Permanent{Err: errors.New("destination says 400 bad request")}
		}
		return nil
	}}
	is := startInput(t, inputYAML(addrs, "perm", "g-perm", "commit_period: 200ms"), col)
	deadline := time.Now().Add(time.Minute)
	for rejectedN.Load() == 0 || int64(col.len()) < int64(len(recs))-rejectedN.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d, rejected %d of %d", col.len(), rejectedN.Load(), len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitCommitted(t, addrs, "g-perm", "perm", 1, int64(len(recs)), 30*time.Second)
	if got := outcome.From(is.s.Resources()).Undelivered(); got != rejectedN.Load() {
		t.Fatalf("outcome counts %d undelivered, want %d", got, rejectedN.Load())
	}
	if col.len()+int(rejectedN.Load()) != len(recs) {
		t.Fatalf("delivered %d + given up %d != %d", col.len(), rejectedN.Load(), len(recs))
	}
}

// TestInputStartOffsetLatest: with start_offset latest and no committed offsets, records written
// before the group joined are skipped, later ones are read.
func TestInputStartOffsetLatest(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "latest"))
	addrs := c.ListenAddrs()
	old := accessRecords(300)
	produce(t, addrs, "latest", old)
	col := &collector{}
	startInput(t, inputYAML(addrs, "latest", "g-latest", "start_offset: latest"), col)
	// Produce a marker to every partition until one from each arrived: then every partition has
	// been assigned and positioned at its end.
	for i := 0; ; i++ {
		if markerPartitions(col) == 3 {
			break
		}
		if i > 600 {
			t.Fatal("the input never received markers from every partition")
		}
		produceMarkers(t, addrs, "latest", 3, i)
		time.Sleep(100 * time.Millisecond)
	}
	fresh := make([]string, 200)
	for i := range fresh {
		fresh[i] = fmt.Sprintf(`{"fresh":%d}`, i)
	}
	produce(t, addrs, "latest", fresh)
	deadline := time.Now().Add(time.Minute)
	for {
		n := 0
		for _, v := range col.values() {
			if strings.HasPrefix(v, `{"fresh"`) {
				n++
			}
		}
		if n == len(fresh) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d fresh records read", n, len(fresh))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, v := range col.values() {
		if strings.HasPrefix(v, `{"seq"`) {
			t.Fatalf("start_offset latest read a record written before the group joined: %s", v)
		}
	}
}

// produceMarkers writes marker record i to each of the topic's partitions.
func produceMarkers(t testing.TB, addrs []string, topic string, partitions int, i int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := 0; p < partitions; p++ {
		recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf(`{"marker":%d}`, i)), Partition: int32(p)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("markers: %v", err)
	}
}

// markerPartitions counts the partitions from which the collector received a marker record.
func markerPartitions(c *collector) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := map[string]bool{}
	for i, v := range c.vals {
		if strings.HasPrefix(v, `{"marker"`) {
			parts[strings.Split(c.meta[i], "/")[1]] = true
		}
	}
	return len(parts)
}

// TestInputRebalanceWithoutLoss: while records keep arriving, a second member joins the group and
// later the first one leaves; every record is delivered at least once and both members read.
func TestInputRebalanceWithoutLoss(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(12, "rebal"))
	addrs := c.ListenAddrs()
	recs := accessRecords(20000)
	colA, colB := &collector{}, &collector{}
	a := startInput(t, inputYAML(addrs, "rebal", "g-rebal", "commit_period: 200ms"), colA)

	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < len(recs); i += 1000 {
			produce(t, addrs, "rebal", recs[i:i+1000])
			time.Sleep(50 * time.Millisecond)
		}
	}()
	colA.waitFor(t, 3000, time.Minute)
	startInput(t, inputYAML(addrs, "rebal", "g-rebal", "commit_period: 200ms"), colB)
	colB.waitFor(t, 1000, time.Minute)
	a.stop(t) // graceful leave: its partitions move to B
	<-produced

	deadline := time.Now().Add(2 * time.Minute)
	for {
		seen := map[string]int{}
		for _, v := range append(colA.values(), colB.values()...) {
			seen[v]++
		}
		missing := 0
		for _, r := range recs {
			if seen[r] == 0 {
				missing++
			}
		}
		if missing == 0 {
			dups := colA.len() + colB.len() - len(recs)
			t.Logf("all %d records delivered; A read %d, B read %d, %d duplicates", len(recs), colA.len(), colB.len(), dups)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records never delivered (A %d, B %d)", missing, len(recs), colA.len(), colB.len())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if colA.len() == 0 || colB.len() == 0 {
		t.Fatalf("both members must have read: A %d, B %d", colA.len(), colB.len())
	}
}

// waitCommitted waits until the group's committed offsets over the topic's partitions add up to
// total (the topic's record count).
func waitCommitted(t testing.TB, addrs []string, group, topic string, partitions int, total int64, timeout time.Duration) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgoV28())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	var sum int64
	for {
		sum = committedSum(t, cl, group, topic, partitions)
		if sum == total {
			return
		}
		if sum > total {
			t.Fatalf("group %s committed %d offsets, more than the %d records", group, sum, total)
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s committed offsets sum to %d within %s, want %d", group, sum, timeout, total)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kgoV28 caps a client at Kafka 2.8's request versions, whose OffsetFetch (v7) still names the
// group and topics at the top level.
func kgoV28() kgo.Opt { return kgo.MaxVersions(kversion.V2_8_0()) }

func committedSum(t testing.TB, cl *kgo.Client, group, topic string, partitions int) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := 0; p < partitions; p++ {
		rt.Partitions = append(rt.Partitions, int32(p))
	}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return -1
	}
	var sum int64
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if p.Offset > 0 {
				sum += p.Offset
			}
		}
	}
	return sum
}
