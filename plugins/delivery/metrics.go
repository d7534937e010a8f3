package delivery

import (
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
	if records > 0 {
		m.outcome.Succeeded()
	}
}

// Failed counts records of a batch that failed with err, which becomes the task's last error (its
// health, see outcome.Health).
func (m *Metrics) Failed(records int, err error) {
	m.failed.Incr(int64(records), m.task)
	m.outcome.Failed(err)
}

// Retried counts one retry after err, which becomes the task's last error.
func (m *Metrics) Retried(err error) {
	m.retries.Incr(1, m.task)
	m.outcome.Failed(err)
}
