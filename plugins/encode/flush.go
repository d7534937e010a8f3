package encode

import (
	"github.com/redpanda-data/benthos/v4/public/service"
)

// MetaFlush is the metadata key of a flush marker.
const MetaFlush = "esa_flush"

// FlushCheck is the Bloblang batching check that makes a Benthos batch policy flush when a flush marker
// arrives. The translator adds it to every output's batching.
const FlushCheck = `@esa_flush == "1"`

// NewFlushMarker returns a flush marker: an empty message that inputs emit after their last record
// (at the end of a file, or when the stream is drained by SIGINT/SIGTERM). Benthos only flushes a
// partial output batch when its period runs out, and an input only ends once every record it read is
// acknowledged, so without the marker the last records of a run would wait for the batch period. The
// esa_* processors pass markers through untouched, the batch policy's FlushCheck flushes on them, and
// every output drops them (WithoutMarkers) before writing.
func NewFlushMarker() *service.Message {
	m := service.NewMessage(nil)
	m.MetaSetMut(MetaFlush, "1")
	return m
}

// IsFlushMarker reports whether m is a flush marker.
func IsFlushMarker(m *service.Message) bool {
	v, ok := m.MetaGetMut(MetaFlush)
	return ok && v == "1"
}

// WithoutMarkers returns batch without its flush markers. It returns batch itself, without copying,
// when there is none.
func WithoutMarkers(batch service.MessageBatch) service.MessageBatch {
	first := -1
	for i, m := range batch {
		if IsFlushMarker(m) {
			first = i
			break
		}
	}
	if first < 0 {
		return batch
	}
	out := make(service.MessageBatch, 0, len(batch)-1)
	out = append(out, batch[:first]...)
	for _, m := range batch[first+1:] {
		if !IsFlushMarker(m) {
			out = append(out, m)
		}
	}
	return out
}

// WithFlushCheck returns pol with FlushCheck added to its check, so that a batch policy flushes when a
// flush marker arrives. Every esa_* output applies it to its batch policy.
func WithFlushCheck(pol service.BatchPolicy) service.BatchPolicy {
	switch pol.Check {
	case "", FlushCheck:
		pol.Check = FlushCheck
	default:
		pol.Check = "(" + pol.Check + ") || " + FlushCheck
	}
	return pol
}
