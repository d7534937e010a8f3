package record

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// checkedKey is the message context key of a checkedMark.
type checkedKey struct{}

// checkedMark identifies the exact content that was found valid: the address of its first byte and
// its length. Benthos never changes message content in place (a processor that changes it sets new
// bytes), so a mark whose address or length differs from the current content is stale and ignored:
// a mapping placed between the source and an esa_* processor cannot make it trust unchecked bytes.
type checkedMark struct {
	first  *byte
	n      int
	unique bool
}

// MarkChecked records in the context of every message of batch that its current content is a
// valid record (a JSON object as Scan accepts it) and whether its top-level names are distinct; it
// replaces each message by its marked copy. A source whose records are valid by construction (the
// generator's) marks them, so the esa_* processors look fields up (Selector.Find) without
// validating them again. The mark is not metadata: it is invisible to mappings and outputs.
func MarkChecked(batch service.MessageBatch, unique bool) {
	marks := make([]checkedMark, len(batch))
	for i, msg := range batch {
		rec, err := msg.AsBytes()
		if err != nil || len(rec) == 0 {
			continue
		}
		marks[i] = checkedMark{first: &rec[0], n: len(rec), unique: unique}
		batch[i] = msg.WithContext(context.WithValue(msg.Context(), checkedKey{}, &marks[i]))
	}
}

// Checked reports whether rec, the current content of msg, carries a mark set by MarkChecked for
// these very bytes, and whether its top-level names are distinct.
func Checked(msg *service.Message, rec []byte) (ok, unique bool) {
	if len(rec) == 0 {
		return false, false
	}
	m, _ := msg.Context().Value(checkedKey{}).(*checkedMark)
	if m == nil || m.first != &rec[0] || m.n != len(rec) {
		return false, false
	}
	return true, m.unique
}
