package pipeline

import (
	"context"

	"github.com/esa-connect/esa-connect/plugins/record"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// checkedKey is the message context key of a checkedMark.
type checkedKey struct{}

// checkedMark identifies the exact content that was found valid: the address of its first byte and
// its length. Benthos never changes message content in place (a processor that changes it sets new
// bytes), so a mark whose address or length differs from the current content is stale and ignored:
// a mapping placed between the component that marked a record and an esa_* processor cannot make it
// trust unchecked bytes.
type checkedMark struct {
	first  *byte
	n      int
	unique bool
	ix     record.Index // where the values are, when the marking processor scanned the record along a layout
}

// checkedCtx is a message context that carries a checkedMark; they are allocated a batch at a time.
type checkedCtx struct {
	context.Context
	mark checkedMark
}

// Value implements context.Context.
func (c *checkedCtx) Value(key any) any {
	if _, ok := key.(checkedKey); ok {
		return &c.mark
	}
	return c.Context.Value(key)
}

// Marker marks messages as holding valid records (see Checked), allocating the marks of many
// messages at once. The zero Marker is ready to use; it is not safe for concurrent use.
type Marker struct {
	// BlockSize is how many marks are allocated at once (0: 1024). A mark keeps its whole block alive,
	// so a Marker whose messages may outlive each other by long (a few records kept from each input
	// batch, waiting for an object) uses small blocks.
	BlockSize int
	ctxs      []checkedCtx
	spans     []uint32
}

func (m *Marker) blockSize() int {
	if m.BlockSize > 0 {
		return m.BlockSize
	}
	return 1024
}

// Mark returns a copy of msg whose context records that rec, msg's current content, is a valid record
// (a JSON object as record.Selector.Scan accepts it) and whether its top-level names are distinct. The mark is not
// metadata: mappings and outputs never see it.
func (m *Marker) Mark(msg *service.Message, rec []byte, unique bool) *service.Message {
	return m.MarkIndex(msg, rec, unique, record.Index{})
}

// MarkIndex is Mark for a record whose Index is known: ix, made when the record (these bytes, or
// bytes they were copied from) was validated, goes with the mark, so the esa_fields after this
// component takes its fields without reading the record. A zero ix is Mark.
func (m *Marker) MarkIndex(msg *service.Message, rec []byte, unique bool, ix record.Index) *service.Message {
	if len(rec) == 0 {
		return msg
	}
	if len(m.ctxs) == cap(m.ctxs) {
		m.ctxs = make([]checkedCtx, 0, m.blockSize()) // the marks handed out keep the old block alive
	}
	m.ctxs = append(m.ctxs, checkedCtx{Context: msg.Context(), mark: checkedMark{first: &rec[0], n: len(rec), unique: unique, ix: ix}})
	return msg.WithContext(&m.ctxs[len(m.ctxs)-1])
}

// MarkScanned is Mark for a record that was just validated with sh (record.Selector.ScanShape): it
// takes from sh whether the names are distinct and, when the record was scanned along the layout to
// its end, its Index, so the esa_fields after this processor takes its fields without reading the
// record.
func (m *Marker) MarkScanned(msg *service.Message, rec []byte, sh *record.Shape) *service.Message {
	out := m.Mark(msg, rec, sh.Unique())
	sh.KeepPositions() // from now on the shape records where values are
	if out == msg {
		return out
	}
	// The index takes the positions the shape just recorded; the shape records the next record's
	// in a fresh part of the marker's block (no copy).
	if ix, ok := sh.TakeIndex(&m.spans, min(64, m.blockSize())); ok {
		m.ctxs[len(m.ctxs)-1].mark.ix = ix
	}
	return out
}

// MarkChecked marks every message of batch (replacing it by its marked copy) as Marker.Mark does. A
// source whose records are valid by construction (the generator's) marks them, so the esa_*
// processors look fields up (record.Selector.Find) without validating them again.
func MarkChecked(batch service.MessageBatch, unique bool) {
	m := Marker{ctxs: make([]checkedCtx, 0, len(batch))}
	for i, msg := range batch {
		if rec, err := msg.AsBytes(); err == nil {
			batch[i] = m.Mark(msg, rec, unique)
		}
	}
}

// Release forgets the mark of msg, if any: Checked reports false for it from now on, and the mark no
// longer keeps the marked record's bytes (or its Index) alive. esa_fields calls it once it has read a
// record: the record's bytes are replaced then, and the mark would only hold them in memory while the
// message waits for its destination.
func Release(msg *service.Message) {
	if m, _ := msg.Context().Value(checkedKey{}).(*checkedMark); m != nil {
		*m = checkedMark{}
	}
}

// Checked reports whether rec, the current content of msg, carries a mark set by Marker.Mark or
// MarkChecked for these very bytes, and whether its top-level names are distinct.
func Checked(msg *service.Message, rec []byte) (ok, unique bool) {
	ok, unique, _ = CheckedIndex(msg, rec)
	return ok, unique
}

// CheckedIndex is Checked that also returns the record's Index when the mark has one.
func CheckedIndex(msg *service.Message, rec []byte) (ok, unique bool, ix record.Index) {
	if len(rec) == 0 {
		return false, false, record.Index{}
	}
	m, _ := msg.Context().Value(checkedKey{}).(*checkedMark)
	if m == nil || m.first != &rec[0] || m.n != len(rec) {
		return false, false, record.Index{}
	}
	return true, m.unique, m.ix
}
