// Package delivery is how the esa_* outputs deliver records and how the components that redeliver
// learn what failed: retries (Backoff, Permanent for what must not be retried, the task's RetryPolicy
// and its `retry` field), the delivery metrics every output keeps (Metrics), which records of a write failed (Partial), the batch policies of
// the stream and object outputs (StreamBatching, ObjectBatching, RegisterObjectOutput), and the
// per-record tags that map a nack back to the records to deliver again (TagRecords, Failures).
//
// The message contract it builds on (flush markers, metadata) is package pipeline; the bytes of a
// delivery (formats, compression, object names) are package encode.
package delivery
