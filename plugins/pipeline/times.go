package pipeline

import (
	"encoding/binary"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// MetaEventTimes is the metadata key of a bundle's per-record event times, set by esa_fields when
// the category's time field is not among the delivered fields (so no line of the bundle holds its
// time): a []byte of one packed time per record, in the order of the lines (TimePacker, BundleTimes).
// An output that files records by their own time (partitions by date or hour) reads it; without it
// a bundle's records share the bundle's MetaFirstTime.
const MetaEventTimes = "esa_event_times"

// TimePacker packs event times for MetaEventTimes: per time, the difference of its Unix seconds from
// the previous time's (the first: from 0) as a zig-zag varint, then its nanoseconds as a varint —
// milliseconds × 2 when the time is a whole number of milliseconds, nanoseconds × 2 + 1 otherwise.
// Times of one batch are close: a record takes 2 bytes at second precision, 3 at millisecond
// precision, at most 20 for any time. The zero value is ready to use; it is not safe for
// concurrent use.
type TimePacker struct {
	buf []byte
	sec int64 // the previous time's Unix seconds
}

// Add appends t.
func (p *TimePacker) Add(t time.Time) {
	sec, ns := t.Unix(), int64(t.Nanosecond())
	p.buf = binary.AppendVarint(p.buf, sec-p.sec)
	p.sec = sec
	if ns%int64(time.Millisecond) == 0 {
		p.buf = binary.AppendUvarint(p.buf, uint64(ns/int64(time.Millisecond))<<1)
	} else {
		p.buf = binary.AppendUvarint(p.buf, uint64(ns)<<1|1)
	}
}

// Take returns the times added since the last Take, packed (a new slice of their exact size), and
// starts again.
func (p *TimePacker) Take() []byte {
	out := append([]byte(nil), p.buf...)
	p.buf, p.sec = p.buf[:0], 0
	return out
}

// TimeReader reads packed event times (BundleTimes).
type TimeReader struct {
	b   []byte
	sec int64
}

// ReadTimes returns a reader of the times packed in b (TimePacker).
func ReadTimes(b []byte) TimeReader { return TimeReader{b: b} }

// Next returns the next time (in UTC); false at the end or when the rest of the packed times is
// malformed.
func (r *TimeReader) Next() (time.Time, bool) {
	d, n := binary.Varint(r.b)
	if n <= 0 {
		r.b = nil
		return time.Time{}, false
	}
	sub, m := binary.Uvarint(r.b[n:])
	if m <= 0 {
		r.b = nil
		return time.Time{}, false
	}
	ns := int64(sub >> 1)
	if sub&1 == 0 {
		ns *= int64(time.Millisecond)
	}
	if ns >= int64(time.Second) {
		r.b = nil
		return time.Time{}, false
	}
	r.b = r.b[n+m:]
	r.sec += d
	return time.Unix(r.sec, ns).UTC(), true
}

// BundleTimes returns a reader of the per-record event times of the bundle m (MetaEventTimes), and
// false when m carries none.
func BundleTimes(m *service.Message) (TimeReader, bool) {
	v, ok := m.MetaGetMut(MetaEventTimes)
	if !ok {
		return TimeReader{}, false
	}
	switch b := v.(type) {
	case []byte:
		return ReadTimes(b), true
	case string: // a copy of the metadata made by a mapping
		return ReadTimes([]byte(b)), true
	}
	return TimeReader{}, false
}
