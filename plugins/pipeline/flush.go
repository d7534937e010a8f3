package pipeline

import (
	"context"
	"errors"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// MetaFlush is the metadata key of a flush marker.
const MetaFlush = "esa_flush"

// FlushCheck is the Bloblang batching check that makes a Benthos batch policy flush when a flush marker
// arrives (the same definition as IsFlushMarker: the metadata and an empty body; the body is only
// looked at when the metadata matches). Every esa_* output adds it to its batch policy.
const FlushCheck = `@esa_flush == "1" && content().length() == 0`

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

// IsFlushMarker reports whether m is a flush marker: metadata esa_flush "1" and an empty body. A record
// (a non-empty body) that carries the metadata — from a Benthos input that copies headers into
// metadata, say — is a record, never a marker: it is processed and delivered like any other.
func IsFlushMarker(m *service.Message) bool {
	if v, ok := m.MetaGetMut(MetaFlush); !ok || v != "1" {
		return false
	}
	b, err := m.AsBytes()
	return err == nil && len(b) == 0
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

// WriteWithoutMarkers calls write with batch minus its flush markers (not at all when only markers
// are left). A *service.BatchError that write returns for the filtered batch is mapped back onto batch,
// so that only the failed records are nacked.
func WriteWithoutMarkers(ctx context.Context, batch service.MessageBatch, write func(context.Context, service.MessageBatch) error) error {
	filtered := WithoutMarkers(batch)
	if len(filtered) == len(batch) {
		return write(ctx, batch)
	}
	if len(filtered) == 0 {
		return nil
	}
	fidx := filtered.Index()
	err := write(ctx, filtered)
	var berr *service.BatchError
	if err == nil || !errors.As(err, &berr) {
		return err
	}
	// Map indexes of filtered onto batch.
	orig := make([]int, 0, len(filtered))
	for i, m := range batch {
		if !IsFlushMarker(m) {
			orig = append(orig, i)
		}
	}
	mapped := service.NewBatchError(batch, err)
	any := false
	berr.WalkMessagesIndexedBy(fidx, func(i int, _ *service.Message, merr error) bool {
		if merr != nil && i >= 0 && i < len(orig) {
			mapped.Failed(orig[i], merr)
			any = true
		}
		return true
	})
	if !any {
		return err
	}
	return mapped
}
