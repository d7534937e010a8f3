package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/selection"
)

// InputSpec is the esa_kafka input configuration specification.
func InputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Reads log records from Kafka topics as a member of a consumer group, so several esa-connect processes share the load.").
		Description(`Joins consumer group `+"`group`"+` and reads `+"`topics`"+`, one record per message, in batches of up to
`+"`batch_size`"+` records. Delivery is at-least-once: a record's offset is committed only after the batch
holding it was delivered downstream (acknowledged by the output), and only as the contiguous prefix of
delivered records per partition, so a crash or a SIGKILL never skips a record (some may be delivered
twice). Committed offsets are flushed every `+"`commit_period`"+`, when partitions are revoked in a
rebalance (after waiting up to `+"`revoke_wait`"+` for batches in flight), and at shutdown. A batch that
the output rejects with a retryable error is delivered again with backoff; one rejected permanently is
counted as not delivered and skipped.

Start more processes with the same `+"`group`"+` to scale out: partitions are spread over the members and
move to the survivors when one leaves or dies (after `+"`session_timeout`"+`).

Each message carries the metadata `+"`kafka_topic`"+`, `+"`kafka_partition`"+`, `+"`kafka_offset`"+` and, when the record has a
key, `+"`kafka_key`"+`.`).
		Fields(
			brokersField(),
			service.NewStringListField("topics").Description("Topics to read.").Example([]string{"esa-access-logs"}),
			service.NewStringField("group").Description("Consumer group id; every process with the same group shares the partitions."),
			saslField(),
			tlsField(),
			service.NewStringEnumField("start_offset", "earliest", "latest").
				Description("Where to start when the group has no committed offset for a partition.").
				Default("earliest"),
			service.NewIntField("batch_size").Description("Most records per batch.").Default(1000),
			service.NewDurationField("session_timeout").
				Description("How long the group waits for a silent member (for example a killed process) before giving its partitions to the others.").
				Default("10s").Advanced(),
			service.NewDurationField("commit_period").
				Description("How often delivered offsets are committed.").
				Default("1s").Advanced(),
			service.NewDurationField("revoke_wait").
				Description("In a rebalance, how long to wait for batches in flight from revoked partitions to be delivered before committing (fewer duplicates for the new owner).").
				Default("5s").Advanced(),
			pipeline.TaskField(),
			selection.Field(),
		).
		Example("Scale out over a consumer group", "Run this pipeline in several processes; each record is delivered at least once.", `
input:
  esa_kafka:
    brokers: [kafka-1.example.com:9092]
    topics: [esa-access-logs]
    group: esa-connect-access
    start_offset: earliest
`)
}

type input struct {
	conn           connConfig
	topics         []string
	group          string
	startOffset    string
	batchSize      int
	sessionTimeout time.Duration
	commitPeriod   time.Duration
	revokeWait     time.Duration

	res     *service.Resources
	log     *service.Logger
	backoff delivery.Backoff
	stage   *selection.Stage // sampling and the filter, applied to records as they are polled

	clMu sync.RWMutex
	cl   *kgo.Client

	// mu guards parts and gen.
	mu    sync.Mutex
	parts map[topicPartition]*partState
	gen   uint64

	retries  chan *pending
	closed   chan struct{}
	closeOne sync.Once
	lastErr  time.Time

	// drain is closed when the stream is drained (SIGINT/SIGTERM under esa-connect run): the input
	// stops polling, sends a flush marker and ends once what it handed out is acknowledged.
	drain   <-chan struct{}
	drained bool // the marker was sent; ReadBatch is not called concurrently
}

type topicPartition struct {
	topic     string
	partition int32
}

// partState tracks one assigned partition: the chunks (one per batch that held records of it) in
// offset order, and whether each was delivered.
type partState struct {
	gen    uint64 // assignment generation: acks from an earlier assignment are ignored
	chunks []*chunk
}

type chunk struct {
	next  int64 // offset after the chunk's last record
	epoch int32
	done  bool
}

// chunkRef points at a chunk of a partition in one generation.
type chunkRef struct {
	tp  topicPartition
	gen uint64
	c   *chunk
}

// pending is one batch in flight: the records selection kept (their messages for the first delivery,
// packed values and metadata to rebuild them for a redelivery) and the chunks of every record polled.
type pending struct {
	first    service.MessageBatch
	values   *encode.Packed
	meta     []recordMeta
	chunks   []chunkRef
	attempts int
}

// recordMeta is what a message of a Kafka record carries besides its value.
type recordMeta struct {
	topic     string
	partition int32
	offset    int64
	key       []byte
}

// inputFromParsed builds an esa_kafka input from its parsed config (InputSpec).
func inputFromParsed(conf *service.ParsedConfig, res *service.Resources) (*input, error) {
	conn, err := parseConnConfig(conf)
	if err != nil {
		return nil, err
	}
	in := &input{
		conn:    conn,
		res:     res,
		log:     res.Logger(),
		parts:   map[topicPartition]*partState{},
		retries: make(chan *pending, 64),
		closed:  make(chan struct{}),
		drain:   outcome.From(res).DrainCh(),
		backoff: delivery.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, MaxRetries: -1},
	}
	rawTopics, err := conf.FieldStringList("topics")
	if err != nil {
		return nil, err
	}
	for _, t := range rawTopics {
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				in.topics = append(in.topics, s)
			}
		}
	}
	if len(in.topics) == 0 {
		return nil, errors.New("topics: at least one topic is required")
	}
	if in.group, err = conf.FieldString("group"); err != nil {
		return nil, err
	}
	if in.group = strings.TrimSpace(in.group); in.group == "" {
		return nil, errors.New("group: required")
	}
	if in.startOffset, err = conf.FieldString("start_offset"); err != nil {
		return nil, err
	}
	if in.batchSize, err = conf.FieldInt("batch_size"); err != nil {
		return nil, err
	}
	if in.batchSize < 1 {
		return nil, fmt.Errorf("batch_size: %d, want at least 1", in.batchSize)
	}
	if in.sessionTimeout, err = conf.FieldDuration("session_timeout"); err != nil {
		return nil, err
	}
	if in.commitPeriod, err = conf.FieldDuration("commit_period"); err != nil {
		return nil, err
	}
	if in.revokeWait, err = conf.FieldDuration("revoke_wait"); err != nil {
		return nil, err
	}
	if in.stage, err = selection.FromParsed(conf, res); err != nil {
		return nil, err
	}
	return in, nil
}

// Connect joins the group. Unreachable brokers are an ordinary error (Benthos retries); rejected
// SASL credentials are a fatal configuration error.
func (in *input) Connect(ctx context.Context) error {
	in.clMu.Lock()
	defer in.clMu.Unlock()
	if in.cl != nil {
		return nil
	}
	watch := &authWatch{}
	opts, err := in.conn.clientOpts(watch)
	if err != nil {
		return fmt.Errorf("esa_kafka input: %w", err)
	}
	reset := kgo.NewOffset().AtStart()
	if in.startOffset == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	heartbeat := in.sessionTimeout / 5
	if heartbeat < 100*time.Millisecond {
		heartbeat = 100 * time.Millisecond
	}
	opts = append(opts,
		kgo.ConsumerGroup(in.group),
		kgo.ConsumeTopics(in.topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(in.commitPeriod),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(in.onRevoked),
		kgo.OnPartitionsLost(in.onLost),
		kgo.SessionTimeout(in.sessionTimeout),
		kgo.HeartbeatInterval(heartbeat),
		// Bound what one fetch brings in (compressed; franz-go's default is 50 MiB): decompressed
		// batches are held until polled, and small fetches keep memory low and the pipeline steady
		// (1M records: 2 MiB fetches were faster and used half the memory of 16 MiB ones).
		kgo.FetchMaxBytes(2<<20),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("esa_kafka input: %w", redactErr(err, in.conn.password))
	}
	cctx, cancel := watch.watchContext(ctx, 15*time.Second)
	defer cancel()
	if err := checkTopics(cctx, cl, in.topics); err != nil {
		cl.Close()
		if isAuthError(err, watch) {
			aerr := authError("esa_kafka input", in.conn, err, watch)
			outcome.From(in.res).Fatal(aerr)
			return aerr
		}
		return fmt.Errorf("esa_kafka input: connect to brokers %s: %w", in.conn.describe(), redactErr(err, in.conn.password))
	}
	in.cl = cl
	return nil
}

func (in *input) client() *kgo.Client {
	in.clMu.RLock()
	defer in.clMu.RUnlock()
	return in.cl
}

// ReadBatch returns the next batch: a nacked batch due for redelivery, or up to batch_size newly
// polled records.
func (in *input) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	cl := in.client()
	if cl == nil {
		return nil, nil, service.ErrNotConnected
	}
	for {
		select {
		case p := <-in.retries:
			return in.deliver(p)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-in.closed:
			return nil, nil, service.ErrEndOfInput
		case <-in.drain:
			if in.drained {
				return nil, nil, service.ErrEndOfInput
			}
			in.drained = true
			return service.MessageBatch{pipeline.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
		default:
		}
		// Poll in short slices so that redeliveries are not held up by an idle topic.
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollRecords(pctx, in.batchSize)
		cancel()
		if fetches.IsClientClosed() {
			cl.AllowRebalance()
			return nil, nil, service.ErrEndOfInput
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			in.logFetchError(topic, partition, err)
		})
		if fetches.NumRecords() == 0 {
			cl.AllowRebalance()
			continue
		}
		recs := fetches.Records()
		p := &pending{}
		in.track(p, recs)
		// Offsets of this batch are tracked: a rebalance may now run (it waits for, or drops, them).
		cl.AllowRebalance()
		if !in.selectRecords(p, recs) {
			in.complete(p) // nothing kept: every record is done
			continue
		}
		return in.deliver(p)
	}
}

// selectRecords runs the input's selection on recs and keeps in p the records it kept: their first
// messages, their values packed for a redelivery and their metadata. The polled records (and the fetch
// buffers they point into) are not kept. It reports whether anything was kept.
func (in *input) selectRecords(p *pending, recs []*kgo.Record) bool {
	vals := make([][]byte, len(recs))
	for i, r := range recs {
		vals[i] = r.Value
	}
	msgs, from := in.stage.Select(vals, nil, true)
	if len(msgs) == 0 {
		return false
	}
	kept := make([][]byte, len(msgs))
	p.meta = make([]recordMeta, len(msgs))
	for k, i := range from {
		r := recs[i]
		p.meta[k] = recordMeta{topic: r.Topic, partition: r.Partition, offset: r.Offset}
		if r.Key != nil {
			p.meta[k].key = append([]byte{}, r.Key...)
		}
		kept[k], _ = msgs[k].AsBytes()
	}
	p.first = msgs
	p.values = encode.Pack(kept)
	return true
}

// track registers in p one chunk per partition present in recs (records of a partition are in offset
// order within a poll).
func (in *input) track(p *pending, recs []*kgo.Record) {
	in.mu.Lock()
	defer in.mu.Unlock()
	last := map[topicPartition]*kgo.Record{}
	order := make([]topicPartition, 0, 4)
	for _, r := range recs {
		tp := topicPartition{r.Topic, r.Partition}
		if _, ok := last[tp]; !ok {
			order = append(order, tp)
		}
		last[tp] = r
	}
	for _, tp := range order {
		st := in.parts[tp]
		if st == nil {
			in.gen++
			st = &partState{gen: in.gen}
			in.parts[tp] = st
		}
		r := last[tp]
		c := &chunk{next: r.Offset + 1, epoch: r.LeaderEpoch}
		st.chunks = append(st.chunks, c)
		p.chunks = append(p.chunks, chunkRef{tp: tp, gen: st.gen, c: c})
	}
}

// deliver hands out p: the messages selection made the first time, fresh ones from the packed values
// on a redelivery (processors never see a message twice).
func (in *input) deliver(p *pending) (service.MessageBatch, service.AckFunc, error) {
	batch := p.first
	p.first = nil
	if batch == nil {
		vals, err := p.values.Records()
		if err != nil {
			// Not expected (the data was packed here); the records cannot be delivered again.
			outcome.From(in.res).AddUndelivered(p.values.Len())
			in.log.Errorf("esa_kafka input: giving up on a batch of %d records: %v", p.values.Len(), err)
			in.complete(p)
			return service.MessageBatch{}, func(context.Context, error) error { return nil }, nil
		}
		batch = make(service.MessageBatch, len(vals))
		for i, v := range vals {
			batch[i] = service.NewMessage(v)
		}
	}
	for i, m := range batch {
		md := p.meta[i]
		m.MetaSetMut("kafka_topic", md.topic)
		m.MetaSetMut("kafka_partition", int64(md.partition))
		m.MetaSetMut("kafka_offset", md.offset)
		if md.key != nil {
			m.MetaSetMut("kafka_key", string(md.key))
		}
	}
	return batch, func(_ context.Context, err error) error {
		in.ack(p, err)
		return nil
	}, nil
}

func (in *input) ack(p *pending, err error) {
	if err != nil {
		if !delivery.IsPermanent(err) {
			p.attempts++
			delay := in.backoff.Delay(p.attempts)
			in.log.Warnf("esa_kafka input: batch of %d records was not delivered (%v); redelivering in %s", p.values.Len(), err, delay.Round(time.Millisecond))
			go func() {
				t := time.NewTimer(delay)
				defer t.Stop()
				select {
				case <-t.C:
				case <-in.closed:
					return // not committed: the group redelivers it
				}
				select {
				case in.retries <- p:
				case <-in.closed:
				}
			}()
			return
		}
		outcome.From(in.res).AddUndelivered(p.values.Len())
		in.log.Errorf("esa_kafka input: giving up on a batch of %d records: %v", p.values.Len(), err)
	}
	in.complete(p)
}

// complete marks p's chunks delivered and marks for commit, per partition, the end of the delivered
// prefix of chunks. The marks are made under in.mu, so a rebalance that sees no chunk in flight
// also sees their marks. It returns the marks.
func (in *input) complete(p *pending) map[string]map[int32]kgo.EpochOffset {
	in.mu.Lock()
	defer in.mu.Unlock()
	var marks map[string]map[int32]kgo.EpochOffset
	for _, ref := range p.chunks {
		ref.c.done = true
		st := in.parts[ref.tp]
		if st == nil || st.gen != ref.gen {
			continue // revoked since: the new owner reads it again
		}
		n := 0
		var head *chunk
		for n < len(st.chunks) && st.chunks[n].done {
			head = st.chunks[n]
			n++
		}
		if n == 0 {
			continue
		}
		st.chunks = st.chunks[n:]
		if marks == nil {
			marks = map[string]map[int32]kgo.EpochOffset{}
		}
		if marks[ref.tp.topic] == nil {
			marks[ref.tp.topic] = map[int32]kgo.EpochOffset{}
		}
		marks[ref.tp.topic][ref.tp.partition] = kgo.EpochOffset{Epoch: head.epoch, Offset: head.next}
	}
	if marks != nil {
		if cl := in.client(); cl != nil {
			cl.MarkCommitOffsets(marks)
		}
	}
	return marks
}

// onRevoked runs in a rebalance before partitions move to another member: wait (bounded) for the
// batches in flight from those partitions, commit what was delivered, forget the partitions.
func (in *input) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	deadline := time.Now().Add(in.revokeWait)
wait:
	for in.inFlight(revoked) > 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			break wait
		case <-time.After(20 * time.Millisecond):
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		in.log.Warnf("esa_kafka input: commit before rebalance: %v (records after the last commit will be read again)", err)
	}
	in.forget(revoked)
}

// onLost runs when the group membership was lost (commits would fail): forget the partitions.
func (in *input) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	in.forget(lost)
}

func (in *input) inFlight(parts map[string][]int32) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for topic, ps := range parts {
		for _, p := range ps {
			if st := in.parts[topicPartition{topic, p}]; st != nil {
				n += len(st.chunks)
			}
		}
	}
	return n
}

func (in *input) forget(parts map[string][]int32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for topic, ps := range parts {
		for _, p := range ps {
			delete(in.parts, topicPartition{topic, p})
		}
	}
}

func (in *input) logFetchError(topic string, partition int32, err error) {
	in.mu.Lock()
	now := time.Now()
	quiet := now.Sub(in.lastErr) < time.Second
	if !quiet {
		in.lastErr = now
	}
	in.mu.Unlock()
	if !quiet {
		in.log.Errorf("esa_kafka input: fetch %s[%d] from %s: %v", topic, partition, in.conn.describe(), redactErr(err, in.conn.password))
	}
}

// Close commits what was delivered and leaves the group.
func (in *input) Close(ctx context.Context) error {
	in.closeOne.Do(func() { close(in.closed) })
	in.clMu.Lock()
	cl := in.cl
	in.cl = nil
	in.clMu.Unlock()
	if cl == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		in.log.Warnf("esa_kafka input: final commit: %v", err)
	}
	cl.CloseAllowingRebalance()
	return nil
}
