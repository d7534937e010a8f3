package sls

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// group is one PutLogs call: a LogGroup and the batch indexes of its logs.
type group struct {
	lg      *slssdk.LogGroup
	indexes []int
	rawSize int // protobuf size of lg
}

// badRecord is a message that cannot become an SLS log.
type badRecord struct {
	index int
	err   error
}

// entry is one key/value of a log while a group is being built: the key and the value's offsets in
// the group's value arena.
type entry struct {
	key      *string
	off, end int32
}

// pending is one log while a group is being built.
type pending struct {
	first, last int // entries[first:last]
	sec, nsec   uint32
	index       int
}

// builder accumulates logs for one group at a time. Values are appended to one byte arena and turned
// into strings with a single allocation per group, so the per-record cost is a scan of the record and
// no allocation.
type builder struct {
	o       *output
	arena   []byte
	entries []entry
	logs    []pending
	size    int // protobuf size of the logs so far, plus the group header
	header  int
	groups  []*group
}

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

// buildGroups turns a batch into LogGroups within the SLS limits. Messages that are not JSON objects
// (or are too large for one call) are returned as bad records.
func (o *output) buildGroups(batch service.MessageBatch, now time.Time) ([]*group, []badRecord) {
	b, _ := o.builders.Get().(*builder)
	if b == nil {
		b = &builder{o: o}
	}
	defer func() {
		// Only the scratch slices are reused; the groups own their own slabs.
		b.groups, b.size, b.header = nil, 0, 0
		b.arena, b.entries, b.logs = b.arena[:0], b.entries[:0], b.logs[:0]
		o.builders.Put(b)
	}()
	if o.c.Topic != "" {
		b.header += fieldLen(len(o.c.Topic))
	}
	if o.c.Source != "" {
		b.header += fieldLen(len(o.c.Source))
	}
	b.size = b.header
	var bad []badRecord
	timeField := []byte(o.c.TimeField)
	for i, msg := range batch {
		raw, err := msg.AsBytes()
		if err != nil {
			bad = append(bad, badRecord{i, &encode.Permanent{Err: fmt.Errorf("%s: record %d: %w", componentName, i, err)}})
			continue
		}
		if err := b.add(i, msg, raw, timeField, now); err != nil {
			bad = append(bad, badRecord{i, &encode.Permanent{Err: err}})
		}
	}
	b.flush()
	return b.groups, bad
}

// add appends one record, starting a new group first when it would exceed a limit.
func (b *builder) add(index int, msg *service.Message, raw, timeField []byte, now time.Time) error {
	arenaMark, entryMark := len(b.arena), len(b.entries)
	var t time.Time
	haveTime := false
	contents := 0 // protobuf size of the contents
	err := record.Each(raw, func(key, value []byte, kind record.Kind) bool {
		if !haveTime && len(timeField) > 0 && bytes.Equal(key, timeField) {
			t, haveTime = record.ParseTime(value, kind)
		}
		k := b.o.internKey(key)
		off := len(b.arena)
		if kind == record.String {
			inner := value[1 : len(value)-1]
			if bytes.IndexByte(inner, '\\') < 0 {
				b.arena = append(b.arena, inner...)
			} else {
				b.arena = append(b.arena, record.UnquoteString(value)...)
			}
		} else {
			b.arena = append(b.arena, value...)
		}
		if !utf8.Valid(b.arena[off:]) {
			// SLS rejects a whole call with InvalidEncoding for one bad byte: repair it instead.
			fixed := bytes.ToValidUTF8(b.arena[off:], []byte("\uFFFD"))
			b.arena = append(b.arena[:off], fixed...)
		}
		b.entries = append(b.entries, entry{key: k, off: int32(off), end: int32(len(b.arena))})
		kv := fieldLen(len(*k)) + fieldLen(len(b.arena)-off)
		contents += fieldLen(kv)
		return true
	})
	if err != nil {
		b.arena, b.entries = b.arena[:arenaMark], b.entries[:entryMark]
		return fmt.Errorf("%s: record %d: %w", componentName, index, err)
	}
	if !haveTime {
		t = encode.MessageTime(msg, "", now)
	}
	sec, nsec := logTime(t)
	logSize := 1 + varintLen(uint64(sec)) + contents
	if nsec != 0 {
		logSize += 5
	}
	need := fieldLen(logSize)
	if b.header+need > MaxRawBytesPerPut {
		b.arena, b.entries = b.arena[:arenaMark], b.entries[:entryMark]
		return fmt.Errorf("%s: record %d: %d bytes as an SLS log, more than the %d bytes one PutLogs call may carry", componentName, index, need, MaxRawBytesPerPut)
	}
	if len(b.logs) > 0 && (len(b.logs)+1 > MaxLogsPerPut || b.size+need > MaxRawBytesPerPut) {
		// Move this record's entries to the next group: flush the others first.
		movedArena := append([]byte(nil), b.arena[arenaMark:]...)
		movedEntries := append([]entry(nil), b.entries[entryMark:]...)
		b.arena, b.entries = b.arena[:arenaMark], b.entries[:entryMark]
		b.flush()
		for i := range movedEntries {
			movedEntries[i].off -= int32(arenaMark)
			movedEntries[i].end -= int32(arenaMark)
		}
		b.arena = append(b.arena, movedArena...)
		b.entries = append(b.entries, movedEntries...)
		entryMark = 0
	}
	b.logs = append(b.logs, pending{first: entryMark, last: len(b.entries), sec: sec, nsec: nsec, index: index})
	b.size += need
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

// flush turns the pending logs into a group, allocating all its strings and structs in a few slabs.
func (b *builder) flush() {
	if len(b.logs) == 0 {
		return
	}
	values := string(b.arena)
	n := len(b.entries)
	valStrs := make([]string, n)
	contents := make([]slssdk.LogContent, n)
	contentPtrs := make([]*slssdk.LogContent, n)
	for i, e := range b.entries {
		valStrs[i] = values[e.off:e.end]
		contents[i].Key = e.key
		contents[i].Value = &valStrs[i]
		contentPtrs[i] = &contents[i]
	}
	logs := make([]slssdk.Log, len(b.logs))
	logPtrs := make([]*slssdk.Log, len(b.logs))
	times := make([]uint32, 2*len(b.logs))
	indexes := make([]int, len(b.logs))
	for i, p := range b.logs {
		times[2*i], times[2*i+1] = p.sec, p.nsec
		logs[i].Time = &times[2*i]
		if p.nsec != 0 {
			logs[i].TimeNs = &times[2*i+1]
		}
		logs[i].Contents = contentPtrs[p.first:p.last:p.last]
		logPtrs[i] = &logs[i]
		indexes[i] = p.index
	}
	lg := &slssdk.LogGroup{Logs: logPtrs}
	if b.o.c.Topic != "" {
		topic := b.o.c.Topic
		lg.Topic = &topic
	}
	if b.o.c.Source != "" {
		source := b.o.c.Source
		lg.Source = &source
	}
	b.groups = append(b.groups, &group{lg: lg, indexes: indexes, rawSize: b.size})
	b.arena = b.arena[:0]
	b.entries = b.entries[:0]
	b.logs = b.logs[:0]
	b.size = b.header
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
