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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// OutputSpec is the esa_kafka output configuration specification.
func OutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Delivers each record as one Kafka message, as ESA's KafkaDelivery does.").
		Description(`Writes every message of a batch as one Kafka record to `+"`topic`"+` with franz-go: acks from all
in-sync replicas, idempotent producer (no duplicates from the client's own retries), the chosen
compression codec, and the partition chosen by `+"`balancer`"+` (ESA's names, with the semantics of
segmentio/kafka-go). A batch is acknowledged only when the brokers confirmed every record in it; if some
records fail, only those are nacked (the rest are not sent again). Records the client cannot deliver
within `+"`delivery_timeout`"+` fail their batch, which the input redelivers.

At connect time the output checks that the brokers answer and the topic exists. Brokers that cannot be
reached are retried (with backoff) until they answer; SASL credentials that the brokers reject stop
the run with an error that names the brokers and the user (the password is never printed).

Keys: with `+"`key_field`"+` set, the record's top-level field of that name is the message key (a string's
text, or a number/bool/object's JSON text); a record without the field, or with null, has no key.
Keyless records under a key-hashing balancer go round robin (Hash) or to a random partition
(CRC32Balancer, Murmur2Balancer), as in kafka-go; CRC32Balancer also treats an empty key as no key.`).
		Fields(
			service.NewStringField("topic").Description("Kafka topic (ESA `Topic`). It must exist."),
			brokersField(),
			service.NewStringEnumField("compression", "no", "none", "gzip", "snappy", "lz4", "zstd").
				Description("Batch compression codec (ESA `Compress`): `gzip`, `snappy`, `lz4`, `zstd` or `no`.").
				Default("no"),
			saslField(),
			tlsField(),
			service.NewStringField("balancer").
				Description("How records are spread over partitions (ESA `Balancer`): `LeastBytes` (default), `Hash` (FNV-1a 32 of the key), `RoundRobin`, `CRC32Balancer` (CRC-32 IEEE of the key, as librdkafka), `Murmur2Balancer` (murmur2 of the key, as the Java client). A `kafka.` prefix is accepted.").
				Default(BalancerLeastBytes),
			service.NewStringField("key_field").
				Description("Top-level record field whose value becomes the message key; empty: no key.").
				Default(""),
			service.NewDurationField("delivery_timeout").
				Description("How long the client keeps retrying a record (broker down, leader moving) before the batch fails and is nacked.").
				Default("30s").
				Advanced(),
			retryField(),
			pipeline.TaskField(),
			service.NewStringField("time_field").Description("The category's time field (unused by Kafka; accepted like every output).").Default("").Advanced(),
			service.NewOutputMaxInFlightField().Default(16),
			deadletter.Field(),
			service.NewBatchPolicyField("batching").
				Description("Batch policy: a batch is sent after `count` records, `byte_size` bytes or `period`, whichever comes first; a zero value takes the default (1,000 records, 5 MiB, 5 s)."),
		).
		Example("Deliver to a SASL/SCRAM cluster", "Keyed by client IP with the Java client's partitioner, zstd-compressed.", `
output:
  esa_kafka:
    topic: esa-access-logs
    brokers: [kafka-1.example.com:9093, kafka-2.example.com:9093]
    compression: zstd
    balancer: kafka.Murmur2Balancer
    key_field: ClientIP
    sasl:
      mechanism: SCRAM-SHA-512
      username: esa
      password: ${KAFKA_PASSWORD}
    tls:
      enabled: true
    task: access-to-kafka
`)
}

type output struct {
	conn            connConfig
	topic           string
	codec           kgo.CompressionCodec
	balancer        string
	keyField        string
	deliveryTimeout time.Duration
	// maxBackoff caps the client's wait between retries of a request (0: franz-go's default).
	maxBackoff time.Duration
	// maxElapsed says retry.max_elapsed set deliveryTimeout: it then bounds records in flight too.
	maxElapsed  bool
	maxBuffered int
	task        string

	res *service.Resources
	log *service.Logger
	dl  *deadletter.Router

	metrics *delivery.Metrics

	mu sync.RWMutex
	cl *kgo.Client
}

// OutputConfig is the parsed configuration of one esa_kafka output.
type OutputConfig struct {
	// Conn is what reaches the cluster (brokers, SASL, TLS); it holds the SASL password, so neither
	// it nor the OutputConfig is ever formatted.
	Conn     connConfig
	Topic    string
	Codec    kgo.CompressionCodec
	Balancer string // a Balancer* name
	KeyField string
	// DeliveryTimeout is delivery_timeout; Retry.MaxElapsed replaces it when set.
	DeliveryTimeout time.Duration
	// Retry is the task's retry policy: max_elapsed and max_backoff (on_status is refused).
	Retry       delivery.RetryPolicy
	Task        string
	MaxInFlight int
	// MaxBuffered is max_in_flight × batching.count: the records the client may buffer (at least 10,000).
	MaxBuffered int
}

// outputFromParsed builds an esa_kafka output from its parsed config (OutputSpec).
func outputFromParsed(conf *service.ParsedConfig, res *service.Resources) (*output, service.BatchPolicy, int, error) {
	c, policy, err := parseOutputConfig(conf)
	if err != nil {
		return nil, policy, 0, err
	}
	o := newOutput(c, res)
	if o.dl, err = deadletter.NewRouter(conf, res); err != nil {
		return nil, policy, 0, err
	}
	return o, policy, c.MaxInFlight, nil
}

// parseOutputConfig reads and checks an esa_kafka output config and returns its batch policy.
func parseOutputConfig(conf *service.ParsedConfig) (OutputConfig, service.BatchPolicy, error) {
	var c OutputConfig
	var policy service.BatchPolicy
	var err error
	if c.Conn, err = parseConnConfig(conf); err != nil {
		return c, policy, err
	}
	if c.Topic, err = conf.FieldString("topic"); err != nil {
		return c, policy, err
	}
	if c.Topic = strings.TrimSpace(c.Topic); c.Topic == "" {
		return c, policy, errors.New("topic: required")
	}
	comp, err := conf.FieldString("compression")
	if err != nil {
		return c, policy, err
	}
	if c.Codec, err = codecFor(comp); err != nil {
		return c, policy, err
	}
	bal, err := conf.FieldString("balancer")
	if err != nil {
		return c, policy, err
	}
	if c.Balancer, err = ParseBalancer(bal); err != nil {
		return c, policy, fmt.Errorf("balancer: %w", err)
	}
	if c.KeyField, err = conf.FieldString("key_field"); err != nil {
		return c, policy, err
	}
	if c.DeliveryTimeout, err = conf.FieldDuration("delivery_timeout"); err != nil {
		return c, policy, err
	}
	if c.Retry, err = retryFromParsed(conf); err != nil {
		return c, policy, err
	}
	if c.Task, err = conf.FieldString("task"); err != nil {
		return c, policy, err
	}
	if c.MaxInFlight, err = conf.FieldMaxInFlight(); err != nil {
		return c, policy, err
	}
	if policy, err = delivery.StreamBatching(conf); err != nil {
		return c, policy, err
	}
	c.MaxBuffered = c.MaxInFlight * policy.Count
	return c, policy, nil
}

// newOutput builds an esa_kafka output from c, without its dead letter (outputFromParsed adds it).
// retry.max_elapsed replaces delivery_timeout and max_backoff caps the client's backoff.
func newOutput(c OutputConfig, res *service.Resources) *output {
	o := &output{conn: c.Conn, topic: c.Topic, codec: c.Codec, balancer: c.Balancer, keyField: c.KeyField,
		deliveryTimeout: c.DeliveryTimeout, maxBackoff: c.Retry.MaxBackoff, maxBuffered: max(10000, c.MaxBuffered),
		task: c.Task, res: res, log: res.Logger(), metrics: delivery.NewMetrics(res, c.Task)}
	if c.Retry.MaxElapsed > 0 {
		o.deliveryTimeout, o.maxElapsed = c.Retry.MaxElapsed, true
	}
	return o
}

func codecFor(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "no", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression: %q is not gzip, snappy, lz4, zstd or no", name)
}

// Connect builds the producer and checks that the brokers answer, accept the credentials and
// know the topic.
func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cl != nil {
		return nil
	}
	watch := &authWatch{}
	opts, err := o.conn.clientOpts(watch)
	if err != nil {
		return fmt.Errorf("esa_kafka: %w", err)
	}
	part, err := NewPartitioner(o.balancer)
	if err != nil {
		return fmt.Errorf("esa_kafka: %w", err)
	}
	opts = append(opts,
		kgo.DefaultProduceTopic(o.topic),
		kgo.RecordPartitioner(part),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence stays on (franz-go's default)
		kgo.ProducerBatchCompression(o.codec),
		kgo.RecordDeliveryTimeout(o.deliveryTimeout), // retry.max_elapsed when the task sets it
		kgo.MaxBufferedRecords(o.maxBuffered),
		// A batch is produced at once and waited for: lingering would only add latency. Records of
		// concurrent batches still share requests while one is in flight.
		kgo.ProducerLinger(0),
		kgo.UnknownTopicRetries(4),
	)
	if o.maxElapsed {
		// Without this, the idempotent producer never fails a record once it was sent (its fate is
		// unknown), so no timeout bounds its retries. A record failed this way and delivered again
		// may be written twice: at least once, as everywhere.
		opts = append(opts, kgo.AllowIdempotentProduceCancellation())
	}
	if o.maxBackoff > 0 {
		b := delivery.Backoff{Initial: 100 * time.Millisecond, Max: o.maxBackoff}
		opts = append(opts, kgo.RetryBackoffFn(b.Delay))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("esa_kafka: %w", redactErr(err, o.conn.password))
	}
	cctx, cancel := watch.watchContext(ctx, 15*time.Second)
	defer cancel()
	if err := checkTopics(cctx, cl, []string{o.topic}); err != nil {
		cl.Close()
		if isAuthError(err, watch) {
			aerr := authError("esa_kafka", o.conn, err, watch)
			outcome.From(o.res).Fatal(aerr)
			return aerr
		}
		return fmt.Errorf("esa_kafka: connect to brokers %s: %w", o.conn.describe(), redactErr(err, o.conn.password))
	}
	o.cl = cl
	outcome.From(o.res).Connected()
	return nil
}

// checkTopics asks the cluster for the topics' metadata: this authenticates, and reports missing
// topics by name.
func checkTopics(ctx context.Context, cl *kgo.Client, topics []string) error {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("topic %q does not exist: %w", name, err)
			}
			return fmt.Errorf("topic %q: %w", name, err)
		}
	}
	return nil
}

func (o *output) client() *kgo.Client {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.cl
}

// produceWait collects the outcome of one batch's records.
type produceWait struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	failed []failedRecord
}

type failedRecord struct {
	rec *kgo.Record
	err error
}

func (w *produceWait) done(r *kgo.Record, err error) {
	if err != nil {
		w.mu.Lock()
		w.failed = append(w.failed, failedRecord{r, err})
		w.mu.Unlock()
	}
	w.wg.Done()
}

// WriteBatch produces one record per message and waits until the brokers confirmed or failed each.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	return o.dl.Write(ctx, batch, o.writeBatch)
}

func (o *output) writeBatch(ctx context.Context, batch service.MessageBatch) error {
	cl := o.client()
	if cl == nil {
		return service.ErrNotConnected
	}
	start := time.Now()
	recs := make([]kgo.Record, len(batch))
	var raw int64
	for i, msg := range batch {
		b, err := msg.AsBytes()
		if err != nil {
			return fmt.Errorf("esa_kafka: message %d: %w", i, err)
		}
		recs[i].Value = b
		raw += int64(len(b))
		if o.keyField != "" {
			recs[i].Key = keyOf(b, o.keyField)
		}
	}
	w := &produceWait{}
	w.wg.Add(len(recs))
	for i := range recs {
		cl.Produce(ctx, &recs[i], w.done)
	}
	w.wg.Wait()

	if len(w.failed) == 0 {
		// Compression happens inside franz-go's batches: compressed bytes are not known here.
		o.metrics.Delivered(len(batch), int(raw), 0, start)
		return nil
	}
	first := o.wrapErr(w.failed[0].err)
	o.metrics.Failed(len(w.failed), first)
	if ok := len(batch) - len(w.failed); ok > 0 {
		o.metrics.Delivered(ok, 0, 0, start)
	}
	if len(w.failed) == len(batch) {
		return first
	}
	part := delivery.NewPartial(len(batch))
	for _, f := range w.failed {
		// Records were allocated in one slice: find the index by pointer (failures are rare).
		for i := range recs {
			if &recs[i] == f.rec {
				part.Fail(i, o.wrapErr(f.err))
				break
			}
		}
	}
	return part
}

func (o *output) wrapErr(err error) error {
	err = fmt.Errorf("esa_kafka: produce to topic %q on %s: %w", o.topic, o.conn.describe(), redactErr(err, o.conn.password))
	if permanentProduceErr(err) {
		return &delivery.Permanent{Err: err, Reason: produceReason(err)}
	}
	return err
}

// produceReason is the dead-letter reason of a refused record: kafka_<error name> of the brokers'
// error (kafka_MESSAGE_TOO_LARGE, kafka_TOPIC_AUTHORIZATION_FAILED, …; the names are franz-go's kerr
// table, a bounded set), else kafka_error.
func produceReason(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) && ke.Message != "" {
		return "kafka_" + ke.Message
	}
	return "kafka_error"
}

// retryField is the task's retry policy (delivery.RetryField) as esa_kafka takes it: its timing.
func retryField() *service.ConfigField {
	return service.NewObjectField("retry",
		service.NewStringListField("on_status").Description("Not for Kafka: the client retries by Kafka's error codes. Must be empty.").Default([]any{}),
		service.NewStringField("max_elapsed").Description("A duration: how long the client keeps retrying a record before its batch fails and the input delivers it again; replaces `delivery_timeout`. Empty: `delivery_timeout`.").Default(""),
		service.NewStringField("max_backoff").Description("A duration: the longest wait between two retries of a request to the brokers. Empty: the client's default (up to 2.5s).").Default(""),
	).Description("The task's retry policy for its destination.").Optional().Advanced()
}

// retryFromParsed reads the `retry` field: max_elapsed replaces delivery_timeout, max_backoff caps
// the client's backoff (newOutput); on_status is refused (Kafka's answers are error codes, not HTTP
// statuses).
func retryFromParsed(conf *service.ParsedConfig) (delivery.RetryPolicy, error) {
	p, err := delivery.RetryFromParsed(conf)
	if err != nil {
		return p, err
	}
	if len(p.OnStatus) > 0 {
		return p, errors.New("retry.on_status: does not apply to Kafka, whose client retries by Kafka's error codes (max_elapsed and max_backoff apply)")
	}
	return p, nil
}

// permanentProduceErr reports errors that retrying the same record cannot fix.
func permanentProduceErr(err error) bool {
	for _, e := range []error{
		kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord, kerr.CorruptMessage,
		kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.InvalidTopicException,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// keyOf returns the message key taken from field of the JSON record rec: a string's text (without
// allocation when it has no escapes), or the raw JSON of a number, bool, object or array; nil when
// the field is missing or null.
func keyOf(rec []byte, field string) []byte {
	raw, kind, ok := record.Lookup(rec, field)
	if !ok {
		return nil
	}
	switch kind {
	case record.Null, record.Invalid:
		return nil
	case record.String:
		inner := raw[1 : len(raw)-1]
		for _, c := range inner {
			if c == '\\' {
				return []byte(record.UnquoteString(raw))
			}
		}
		return inner
	default:
		return raw
	}
}

// Close closes the producer. WriteBatch waits for its records, so nothing is left buffered.
func (o *output) Close(ctx context.Context) error {
	o.mu.Lock()
	cl := o.cl
	o.cl = nil
	o.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
	return nil
}
