package encode

import (
	"context"
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// Metrics are the delivery metrics every output keeps, each labelled by task (docs/internals.md).
type Metrics struct {
	task                                                  string
	delivered, failed, retries, bytesRaw, bytesCompressed *service.MetricCounter
	latency                                               *service.MetricTimer
	outcome                                               *outcome.Outcome
}

// NewMetrics registers the delivery metrics of task on the stream of res (nil: metrics are not kept)
// and counts delivered records in the stream's outcome.
func NewMetrics(res *service.Resources, task string) *Metrics {
	var m *service.Metrics
	if res != nil {
		m = res.Metrics()
	}
	return &Metrics{
		task:            task,
		outcome:         outcome.From(res),
		delivered:       m.NewCounter("esa_records_delivered_total", "task"),
		failed:          m.NewCounter("esa_records_failed_total", "task"),
		retries:         m.NewCounter("esa_delivery_retries_total", "task"),
		bytesRaw:        m.NewCounter("esa_bytes_raw_total", "task"),
		bytesCompressed: m.NewCounter("esa_bytes_compressed_total", "task"),
		latency:         m.NewTimer("esa_batch_latency_ns", "task"),
	}
}

// Delivered counts records delivered as raw bytes (compressed to compressed bytes) in a batch that
// started at start.
func (m *Metrics) Delivered(records, raw, compressed int, start time.Time) {
	m.delivered.Incr(int64(records), m.task)
	m.outcome.Add(outcome.Delivered, records)
	m.bytesRaw.Incr(int64(raw), m.task)
	m.bytesCompressed.Incr(int64(compressed), m.task)
	m.latency.Timing(time.Since(start).Nanoseconds(), m.task)
}

// Failed counts records of a batch that failed.
func (m *Metrics) Failed(records int) { m.failed.Incr(int64(records), m.task) }

// Retried counts one retry.
func (m *Metrics) Retried() { m.retries.Incr(1, m.task) }

// ObjectWriter is the write path shared by the object outputs (esa_local, esa_s3_verified, esa_oss):
// drop flush markers, encode the batch as one named object, put it with retries, count it.
type ObjectWriter struct {
	// Name is the component name that starts error messages.
	Name string
	// Enc names and encodes objects.
	Enc *ObjectEncoder
	// Backoff paces the retries of a failed put (a *Permanent error is not retried).
	Backoff Backoff
	// Metrics counts deliveries, failures and retries.
	Metrics *Metrics
	// Log receives a warning per retry.
	Log *service.Logger
	// Describe names an object key in messages (e.g. s3://bucket/key); nil uses the key.
	Describe func(key string) string
}

// Write delivers batch as one object through put and returns nil only once put succeeded.
func (w *ObjectWriter) Write(ctx context.Context, batch service.MessageBatch, put func(context.Context, Object) error) error {
	if batch = WithoutMarkers(batch); len(batch) == 0 {
		return nil
	}
	start := time.Now()
	obj, err := w.Enc.Encode(batch)
	if err != nil {
		w.Metrics.Failed(len(batch))
		return &Permanent{Err: fmt.Errorf("%s: encoding a batch of %d records: %w", w.Name, len(batch), err)}
	}
	where := obj.Key
	if w.Describe != nil {
		where = w.Describe(obj.Key)
	}
	err = w.Backoff.Retry(ctx, func(ctx context.Context) error { return put(ctx, obj) }, func(attempt int, err error) {
		w.Metrics.Retried()
		if w.Log != nil {
			w.Log.Warnf("%s: writing %s failed (attempt %d), retrying: %v", w.Name, where, attempt, err)
		}
	})
	if err != nil {
		w.Metrics.Failed(len(batch))
		return fmt.Errorf("%s: writing %s (%d records): %w", w.Name, where, obj.Records, err)
	}
	w.Metrics.Delivered(obj.Records, obj.RawBytes, len(obj.Body), start)
	return nil
}
