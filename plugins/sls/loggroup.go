package sls

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/record"
)

// group is one PutLogs call: a serialised protobuf LogGroup (SDK log.proto) and the batch indexes of
// its logs.
type group struct {
	raw     []byte
	indexes []int
}

// badRecord is a message that cannot become an SLS log.
type badRecord struct {
	index int
	err   error
}

// entry is one key/value of the record being converted. The value points into the message bytes, or
// into the builder's scratch space when it had to be decoded or repaired.
type entry struct {
	key *string
	val []byte
}

// builder turns records straight into LogGroup protobuf bytes: no intermediate LogGroup structs, no
// per-value strings. Sizes are computed while a record is scanned, so each log is written once with
// its length prefix and a group is cut before it would exceed the SLS limits.
type builder struct {
	o       *output
	entries []entry
	scratch []byte // decoded or repaired values of the current record
	buf     []byte // the group being written
	indexes []int  // batch indexes of the logs in buf
	header  int    // bytes of topic and source, written when the group is closed
	groups  []*group
	hint    int // capacity for a new group buffer
	// byPos remembers the key seen at each member position: records of one task have the same keys
	// in the same order, so most keys are found with one comparison, without hashing or locking.
	byPos []posKey
}

type posKey struct {
	raw []byte
	key *string
}

// key returns the interned key of the member at position pos.
func (b *builder) key(pos int, raw []byte) *string {
	if pos < len(b.byPos) && bytes.Equal(b.byPos[pos].raw, raw) {
		return b.byPos[pos].key
	}
	k := b.o.internKey(raw)
	if pos < len(b.byPos) {
		b.byPos[pos] = posKey{raw: []byte(*k), key: k}
		if string(raw) != *k { // escaped key: remember the raw form
			b.byPos[pos].raw = append([]byte(nil), raw...)
		}
	} else if pos == len(b.byPos) && pos < maxCachedKeys {
		b.byPos = append(b.byPos, posKey{raw: append([]byte(nil), raw...), key: k})
	}
	return k
}

// Protobuf tags of log.proto (field number << 3 | wire type).
const (
	tagGroupLogs   = 1<<3 | 2 // LogGroup.Logs
	tagGroupTopic  = 3<<3 | 2 // LogGroup.Topic
	tagGroupSource = 4<<3 | 2 // LogGroup.Source
	tagLogTime     = 1<<3 | 0 // Log.Time (uint32 varint)
	tagLogContents = 2<<3 | 2 // Log.Contents
	tagLogTimeNs   = 4<<3 | 5 // Log.TimeNs (fixed32)
	tagKey         = 1<<3 | 2 // LogContent.Key
	tagValue       = 2<<3 | 2 // LogContent.Value
)

// varintLen is the length of the protobuf varint encoding of v.
func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// fieldLen is the size of a length-delimited field with a one-byte tag holding n bytes.
func fieldLen(n int) int { return 1 + varintLen(uint64(n)) + n }

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendField(b []byte, tag byte, data []byte) []byte {
	b = append(b, tag)
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

// buildGroups turns a batch into serialised LogGroups within the SLS limits. Messages that are not JSON
// objects (or are too large for one call) are returned as bad records.
func (o *output) buildGroups(batch service.MessageBatch, now time.Time) ([]*group, []badRecord) {
	b, _ := o.builders.Get().(*builder)
	if b == nil {
		b = &builder{o: o}
	}
	defer func() {
		// Only the scratch slices are reused; the groups own their buffers.
		b.groups, b.buf, b.indexes = nil, nil, nil
		b.entries, b.scratch = b.entries[:0], b.scratch[:0]
		o.builders.Put(b)
	}()
	b.header = 0
	if o.c.Topic != "" {
		b.header += fieldLen(len(o.c.Topic))
	}
	if o.c.Source != "" {
		b.header += fieldLen(len(o.c.Source))
	}
	total := 0
	for _, msg := range batch {
		if raw, err := msg.AsBytes(); err == nil {
			total += len(raw) + 16
		}
	}
	b.hint = min(total+b.header, MaxRawBytesPerPut)
	var bad []badRecord
	timeField := []byte(o.c.TimeField)
	for i, msg := range batch {
		raw, err := msg.AsBytes()
		if err != nil {
			bad = append(bad, badRecord{i, &delivery.Permanent{Err: fmt.Errorf("%s: record %d: %w", Name, i, err), Reason: reasonRecord}})
			continue
		}
		if err := b.add(i, msg, raw, timeField, now); err != nil {
			bad = append(bad, badRecord{i, &delivery.Permanent{Err: err, Reason: reasonRecord}})
		}
	}
	b.flush()
	return b.groups, bad
}

// reasonRecord is the dead-letter reason of a record that no log group can carry.
const reasonRecord = "sls_record"

// add converts one record and appends it to the current group, closing the group first when the
// record would take it over a limit.
func (b *builder) add(index int, msg *service.Message, raw, timeField []byte, now time.Time) error {
	b.entries, b.scratch = b.entries[:0], b.scratch[:0]
	var t time.Time
	haveTime := false
	contents := 0 // protobuf size of the Contents fields
	err := record.Each(raw, func(key, value []byte, kind record.Kind) bool {
		if !haveTime && len(timeField) > 0 && bytes.Equal(key, timeField) {
			t, haveTime = record.ParseTime(value, kind)
		}
		k := b.key(len(b.entries), key)
		v := value
		if kind == record.String {
			v = value[1 : len(value)-1]
			if bytes.IndexByte(v, '\\') >= 0 {
				off := len(b.scratch)
				b.scratch = append(b.scratch, record.UnquoteString(value)...)
				v = b.scratch[off:len(b.scratch):len(b.scratch)]
			}
		}
		if !utf8.Valid(v) {
			// SLS rejects a whole call with InvalidEncoding for one bad byte: repair it instead.
			off := len(b.scratch)
			b.scratch = append(b.scratch, bytes.ToValidUTF8(v, []byte("\uFFFD"))...)
			v = b.scratch[off:len(b.scratch):len(b.scratch)]
		}
		b.entries = append(b.entries, entry{key: k, val: v})
		contents += fieldLen(fieldLen(len(*k)) + fieldLen(len(v)))
		return true
	})
	if err != nil {
		return fmt.Errorf("%s: record %d: %w", Name, index, err)
	}
	if !haveTime {
		t = pipeline.MessageTime(msg, "", now)
	}
	sec, nsec := logTime(t)
	logSize := 1 + varintLen(uint64(sec)) + contents
	if nsec != 0 {
		logSize += 5
	}
	need := fieldLen(logSize)
	if b.header+need > MaxRawBytesPerPut {
		return fmt.Errorf("%s: record %d: %d bytes as an SLS log, more than the %d bytes one PutLogs call may carry", Name, index, need, MaxRawBytesPerPut)
	}
	if len(b.indexes) > 0 && (len(b.indexes)+1 > MaxLogsPerPut || len(b.buf)+b.header+need > MaxRawBytesPerPut) {
		b.flush()
	}
	if b.buf == nil {
		b.buf = b.o.getBuf(max(b.hint, need+b.header))
	}
	buf := append(b.buf, tagGroupLogs)
	buf = appendVarint(buf, uint64(logSize))
	buf = append(buf, tagLogTime)
	buf = appendVarint(buf, uint64(sec))
	for _, e := range b.entries {
		buf = append(buf, tagLogContents)
		buf = appendVarint(buf, uint64(fieldLen(len(*e.key))+fieldLen(len(e.val))))
		buf = append(buf, tagKey)
		buf = appendVarint(buf, uint64(len(*e.key)))
		buf = append(buf, *e.key...)
		buf = appendField(buf, tagValue, e.val)
	}
	if nsec != 0 {
		buf = append(buf, tagLogTimeNs, byte(nsec), byte(nsec>>8), byte(nsec>>16), byte(nsec>>24))
	}
	b.buf = buf
	b.indexes = append(b.indexes, index)
	return nil
}

// logTime splits t into the uint32 seconds and nanoseconds of an SLS log (clamped to the range).
func logTime(t time.Time) (sec, nsec uint32) {
	s := t.Unix()
	switch {
	case s < 0:
		return 0, 0
	case s > 0xffffffff:
		return 0xffffffff, 0
	}
	return uint32(s), uint32(t.Nanosecond())
}

// flush closes the current group: topic and source are appended and the group is kept.
func (b *builder) flush() {
	if len(b.indexes) == 0 {
		return
	}
	buf := b.buf
	if b.o.c.Topic != "" {
		buf = appendField(buf, tagGroupTopic, []byte(b.o.c.Topic))
	}
	if b.o.c.Source != "" {
		buf = appendField(buf, tagGroupSource, []byte(b.o.c.Source))
	}
	b.groups = append(b.groups, &group{raw: buf, indexes: b.indexes})
	b.buf, b.indexes = nil, nil
}

// getBuf returns an empty group buffer of at least capacity n, reusing one of an earlier batch.
func (o *output) getBuf(n int) []byte {
	if p, ok := o.bufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

// putBufs returns the buffers of sent groups (the SDK keeps no reference once a call returned).
func (o *output) putBufs(groups []*group) {
	for _, g := range groups {
		buf := g.raw[:0]
		g.raw = nil
		o.bufs.Put(&buf)
	}
}

// internKey returns a shared string for a raw JSON key (escapes decoded). Keys repeat in every record,
// so after the first batch this does not allocate.
func (o *output) internKey(raw []byte) *string {
	o.keyMu.RLock()
	v, ok := o.keys[string(raw)]
	o.keyMu.RUnlock()
	if ok {
		return v
	}
	k := string(raw)
	if bytes.IndexByte(raw, '\\') >= 0 {
		k = record.UnquoteString(append(append([]byte{'"'}, raw...), '"'))
	}
	if !utf8.ValidString(k) {
		k = strings.ToValidUTF8(k, "\uFFFD")
	}
	o.keyMu.Lock()
	defer o.keyMu.Unlock()
	if v, ok := o.keys[string(raw)]; ok {
		return v
	}
	if o.keys == nil {
		o.keys = make(map[string]*string)
	}
	if len(o.keys) < maxCachedKeys {
		o.keys[string(raw)] = &k
	}
	return &k
}
