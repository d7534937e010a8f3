package pipeline

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Received is how an input received the records of a batch when they arrived as one gzip body and
// are exactly its lines: Gzip is the body as it was sent, Lines its decompressed bytes. The input sets
// it on the batch's first message (WithReceived); the disk buffer then stores Gzip as it is instead of
// compressing the records a second time, once Holds has confirmed that the batch's records are
// Lines's. Both slices must not change afterwards.
type Received struct {
	Gzip, Lines []byte
}

type receivedKey struct{}

// receivedCtx is a message context that carries a Received.
type receivedCtx struct {
	context.Context
	r *Received
}

// Value implements context.Context.
func (c *receivedCtx) Value(key any) any {
	if _, ok := key.(receivedKey); ok {
		return c.r
	}
	return c.Context.Value(key)
}

// WithReceived returns a copy of msg, the first message of a batch, that carries r.
func WithReceived(msg *service.Message, r *Received) *service.Message {
	return msg.WithContext(&receivedCtx{Context: msg.Context(), r: r})
}

// ReceivedOf returns the Received that msg carries, or nil.
func ReceivedOf(msg *service.Message) *Received {
	r, _ := msg.Context().Value(receivedKey{}).(*Received)
	return r
}

// Holds reports whether recs are exactly the lines of r.Lines, in order: the same bytes (not a copy),
// each followed by one '\n' except, optionally, the last, with nothing before, between or after them.
// Only then does decompressing r.Gzip give the records back by their lengths.
func (r *Received) Holds(recs [][]byte) bool {
	if r == nil || len(recs) == 0 {
		return false
	}
	pos := 0
	for i, rec := range recs {
		if i > 0 {
			if pos >= len(r.Lines) || r.Lines[pos] != '\n' {
				return false
			}
			pos++
		}
		if len(rec) == 0 || pos+len(rec) > len(r.Lines) || &r.Lines[pos] != &rec[0] {
			return false
		}
		pos += len(rec)
	}
	return pos == len(r.Lines) || pos == len(r.Lines)-1 && r.Lines[pos] == '\n'
}
