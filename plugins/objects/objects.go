// Package objects is the write path of the object outputs (esa_local, esa_s3_verified, esa_oss): it
// assembles objects of up to 100,000 records / 64 MiB / 60 s out of the small batches the pipeline
// hands over, encoding and compressing each batch into the object as it arrives, and acknowledges a
// batch only once every object holding its records was stored.
//
// Objects are gzip (one member; on several cores while one object is filled) or zstd (a sequence of
// independent frames of up to 4 MiB of records, 1 MiB with 16 partitions open). With a partition
// (by date, hour and field values), each record goes to the object of its partition: up to
// `max_open` objects are filled at a time, and a record of another partition first closes the one
// written to longest ago. The open objects together hold at most one object's worth of records and
// bytes (the batching count and byte size): when they reach it they all close, so what waits for the
// store is what waits without partitions (objects are smaller when records spread over partitions).
//
// Why not let Benthos batch whole objects? A Benthos batch holds every record of the object, as it
// was delivered, until the object is written: 100,000 records and the message of each, hundreds of
// megabytes. Here a record's bytes go straight into a compressed spool file (in the destination
// directory, or in a temporary directory for a remote store), and what waits for the upload is only
// the acknowledgement of its batch. At most `uploads` objects hold records at a time (filling or being
// stored; with partitions, `max_open` being filled, 2 × `max_open` + `uploads` − 1 in all, and
// `uploads` objects' worth of records);
// a batch that would start another waits. The
// open objects are also closed when every write Benthos may have in flight waits for them (small
// batches, or records spread over many partitions), so that the pipeline never stalls until the
// period.
package objects

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// Object is one assembled object, ready to store: its compressed body waits in a spool file.
type Object struct {
	// Key is the object's name (docs/destinations.md#object-layout, or its partition's directory, under the store's
	// path).
	Key string
	// Body is the spool file holding the compressed body, from offset 0; Size bytes.
	Body *os.File
	Size int64
	// ContentType and ContentEncoding (gzip or zstd) describe the body.
	ContentType, ContentEncoding string
	// Records and RawBytes are the records in the object and their encoded size before compression.
	Records, RawBytes int
}

// Store is where an object output puts its objects.
type Store interface {
	// Spool returns a new, empty file for an object's body: a temporary file beside the destination
	// for a local directory (so that Put can rename it), or in a temporary directory.
	Spool() (*os.File, error)
	// Put stores o (reading o.Body from its start; it may be called again after a failure). It
	// returns an *delivery.Permanent error for a failure no retry can fix.
	Put(ctx context.Context, o *Object) error
	// Describe names a key in messages (for example s3://bucket/key).
	Describe(key string) string
}

// Adopter is implemented by a Store whose Put keeps the spool file (renames it into place) instead of
// copying it; the assembler then does not remove it.
type Adopter interface {
	Adopts() bool
}

// Config configures an Assembler.
type Config struct {
	// Name is the component name that starts error messages.
	Name string
	// Task names the objects; Path is the directory or key prefix they go under; TimeField is the
	// record field of the event time (for the names).
	Task, Path, TimeField string
	// Encoding is the record format of the objects.
	Encoding encode.Options
	// Count, Bytes and Period close an object: at this many records, this many encoded bytes, or this
	// long after its first record, whichever comes first (a flush marker closes it at once).
	Count, Bytes int
	Period       time.Duration
	// Uploads is how many objects may hold records at a time, the one being filled included (at
	// least 1): with 1, an object is filled, then stored, then the next one is filled. With
	// partitions, MaxOpen objects may be filled and MaxOpen + Uploads − 1 more stored, while they
	// hold at most Uploads objects' worth of records and bytes.
	Uploads int
	// Compression is gzip (when empty) or zstd; Level its level (0: the default, 6 for gzip and 3
	// for zstd; see encode.CheckLevel).
	Compression string
	Level       int
	// Body, when set, writes the objects instead of Encoding and Compression: it gets the records as
	// NDJSON (Parquet, see BodyFromParsed).
	Body Body
	// Partition, when set, files each record under the partition of its event time and fields
	// (the key's directory instead of the date of the object's first record).
	Partition *Partitioner
	// MaxOpen is how many partitions may have an object being filled at a time (0: DefaultMaxOpen;
	// always 1 without Partition).
	MaxOpen int
	// Backoff paces the retries of a failed Put.
	Backoff delivery.Backoff
	// Metrics counts deliveries, failures and retries.
	Metrics *delivery.Metrics
	// Log receives a warning per retry.
	Log *service.Logger
	// Outcome gets a fatal error when the store refuses an object permanently (a configuration
	// problem: credentials, permissions, the bucket) and the task has no dead letter.
	Outcome *outcome.Outcome
	// DeadLetter, when it names the task's dead letter, takes the records of an object that the
	// store refused permanently (each record with the store's reason, such as oss_AccessDenied)
	// instead of stopping the run; the records then stay in memory until their object is stored.
	DeadLetter *deadletter.Router
}

// Assembler builds and stores objects. It is safe for concurrent use.
type Assembler struct {
	cfg   Config
	store Store
	enc   *encode.Encoder
	comp  Body
	namer *encode.Namer
	now   func() time.Time
	// limit is how many objects may hold records at a time (being filled or stored); sealAt how many
	// writes may wait for the open objects before they are all closed.
	limit, sealAt int

	mu       sync.Mutex
	buf      []byte             // encoding scratch (under mu)
	space    *sync.Cond         // an upload finished, or the assembler closed
	open     map[string]*object // being filled, by partition ("" without partitions)
	parallel *object            // the open object compressed on several cores (gzip), or nil
	active   int                // objects sealed and not stored yet
	// The records and encoded bytes of the open objects, and of the sealed ones not stored yet.
	openRecords, openBytes     int
	sealedRecords, sealedBytes int
	used                       uint64 // counts appends: an object's last use
	gen                        uint64 // counts the times every open object was sealed
	waiting                    int    // writes of generation gen waiting for their objects
	closed                     bool
	wg                         sync.WaitGroup
	stop                       chan struct{}
}

// object is one object being filled or stored.
type object struct {
	part        string // the partition directory
	file        *os.File
	zw          io.WriteCloser
	stream      *encode.Stream
	records     int // written whole into the compressor (Assembler.openRecords counts them)
	raw         int
	first, last time.Time
	opened      time.Time
	used        uint64
	done        chan struct{}
	err         error
}

// New returns an assembler storing objects in store. It starts a goroutine that closes an object once
// its period has passed; Close stops it.
func New(cfg Config, store Store) (*Assembler, error) {
	if cfg.Body != nil {
		cfg.Encoding = encode.DefaultOptions() // the body takes NDJSON
	}
	enc, err := encode.NewEncoder(cfg.Encoding)
	if err != nil {
		return nil, err
	}
	if cfg.Count < 1 || cfg.Bytes < 1 || cfg.Period <= 0 {
		return nil, fmt.Errorf("%s: object policy %d records / %d bytes / %s: every limit must be positive", cfg.Name, cfg.Count, cfg.Bytes, cfg.Period)
	}
	cfg.Uploads = max(cfg.Uploads, 1)
	switch {
	case cfg.Partition == nil:
		cfg.MaxOpen = 1
	case cfg.MaxOpen == 0:
		cfg.MaxOpen = DefaultMaxOpen
	case cfg.MaxOpen < 1 || cfg.MaxOpen > MaxMaxOpen:
		return nil, fmt.Errorf("%s: partition.max_open: %d is not in 1..%d", cfg.Name, cfg.MaxOpen, MaxMaxOpen)
	}
	// zstd frames: 16 MiB of records wait uncompressed at most, 1–4 MiB an open object.
	frame := min(max((16<<20)/cfg.MaxOpen, 1<<20), 4<<20)
	comp := cfg.Body
	if comp == nil {
		if comp, err = encode.NewObjectCompressor(cfg.Compression, cfg.Level, frame); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Name, err)
		}
	}
	a := &Assembler{cfg: cfg, store: store, enc: enc, comp: comp,
		namer: encode.NewNamer(cfg.Task, cfg.Path).WithExtension(comp.Extension()),
		now:   time.Now, stop: make(chan struct{}), open: map[string]*object{}}
	a.limit = cfg.Uploads
	if cfg.Partition != nil {
		// Up to MaxOpen objects being filled and as many more being stored: a record of a new
		// partition closes the least recently written object without waiting for its store (records
		// and bytes are bounded by the budget, and a sealed object holds no compressor).
		a.limit = 2*cfg.MaxOpen + cfg.Uploads - 1
	}
	a.sealAt = a.MaxInFlight() - 2
	a.space = sync.NewCond(&a.mu)
	go a.tick()
	return a, nil
}

// smallBatchBytes bounds the content of one Write call's batch (see BatchPolicy).
const smallBatchBytes = 1 << 20

// BatchPolicy is the Benthos batch policy of an object output: small batches (at most 1,000 messages,
// 1 MiB or 200 ms) that Write adds to the object being filled, and the flush-marker check.
func (a *Assembler) BatchPolicy() service.BatchPolicy {
	return pipeline.WithFlushCheck(service.BatchPolicy{Count: min(1000, a.cfg.Count), ByteSize: smallBatchBytes, Period: "200ms"})
}

// MaxInFlight is the Benthos max_in_flight of an object output: enough Write calls for the batches of
// `uploads` objects, and two more. It is also what bounds memory: a Write call holds its batch's
// messages (and, until it reached the object, their records) until its object is stored, so no more
// batches wait than the objects in flight can take.
func (a *Assembler) MaxInFlight() int {
	perObject := max((a.cfg.Count+999)/1000, (a.cfg.Bytes+smallBatchBytes-1)/smallBatchBytes)
	return a.cfg.Uploads*perObject + 2
}

// Write adds the records of batch (flush markers excepted) to the objects being filled — each record
// to the object of its partition — and returns once those objects were stored: nil when they all
// were, the first error otherwise (a retryable one: a permanent refusal stops the run through
// Config.Outcome). A flush marker in batch closes every open object at once. The messages' contents
// are released once encoded.
//
// With a dead letter (Config.DeadLetter), a batch whose objects the store refused permanently goes to
// the dead letter, one message per record; Write returns nil once the dead letter took it.
func (a *Assembler) Write(ctx context.Context, batch service.MessageBatch) error {
	err := a.write(ctx, batch)
	if err == nil || !a.cfg.DeadLetter.Enabled() || !delivery.IsPermanent(err) {
		return err
	}
	refused := func(context.Context, service.MessageBatch) error { return err }
	if derr := a.cfg.DeadLetter.Write(ctx, unbundle(batch), refused); derr != nil {
		// Not the dead letter's BatchError (it indexes the unbundled records): the whole batch fails
		// and is delivered again.
		return fmt.Errorf("%s: %v", a.cfg.Name, derr)
	}
	return nil
}

// unbundle returns the records of batch one message each, without flush markers: a bundle
// (pipeline.MetaRecords) gives a message per line.
func unbundle(batch service.MessageBatch) service.MessageBatch {
	out := make(service.MessageBatch, 0, len(batch))
	for _, m := range pipeline.WithoutMarkers(batch) {
		if _, ok := m.MetaGetMut(pipeline.MetaRecords); !ok {
			out = append(out, m)
			continue
		}
		b, err := m.AsBytes()
		if err != nil {
			out = append(out, m)
			continue
		}
		for len(b) > 0 {
			var line []byte
			line, b, _ = bytes.Cut(b, []byte{'\n'})
			out = append(out, service.NewMessage(line))
		}
	}
	return out
}

func (a *Assembler) write(ctx context.Context, batch service.MessageBatch) error {
	recs := pipeline.WithoutMarkers(batch)
	flush := len(recs) < len(batch)
	// Records, event times and partitions are read outside the lock.
	raws, spans, parts, err := a.records(recs)
	if err != nil {
		return err
	}
	groups := groupByPartition(parts, len(raws))

	a.mu.Lock()
	// The objects that take a part of the batch: all of them must be stored before it is.
	var objs []*object
	for _, g := range groups {
		rs, ss := raws, spans
		if g.idx != nil {
			rs, ss = make([][]byte, len(g.idx)), make([]timeSpan, len(g.idx))
			for j, i := range g.idx {
				rs[j], ss[j] = raws[i], spans[i]
			}
		}
		for len(rs) > 0 {
			o, err := a.objectFor(g.part)
			if err != nil {
				a.mu.Unlock()
				return err
			}
			// As many records as the object's count allows (its byte size is checked after).
			n := min(len(rs), a.cfg.Count-o.stream.Records())
			if err := a.append(o, rs[:n], ss[:n]); err != nil {
				a.mu.Unlock()
				return err
			}
			if len(objs) == 0 || objs[len(objs)-1] != o {
				objs = append(objs, o)
			}
			rs, ss = rs[n:], ss[n:]
			if o.stream.Records() >= a.cfg.Count || o.raw >= a.cfg.Bytes {
				a.seal(o)
			}
			if a.openRecords >= a.cfg.Count || a.openBytes >= a.cfg.Bytes {
				// The open objects (of several partitions) hold an object's worth of records: what
				// waits for them to be stored is bounded as without partitions.
				a.sealAll()
			}
		}
	}
	gen := a.gen
	if len(objs) > 0 {
		a.waiting++
	}
	if flush || a.waiting >= a.sealAt {
		// A flush marker; or every write Benthos may have in flight would soon wait for the open
		// objects, which would then wait for their period: close them all.
		a.sealAll()
	}
	a.mu.Unlock()
	if len(objs) > 0 {
		defer func() {
			a.mu.Lock()
			if a.gen == gen {
				a.waiting--
			}
			a.mu.Unlock()
		}()
	}
	// The records are in the spool files; their messages need not keep them (unless a refused object
	// hands them to the dead letter).
	if !a.cfg.DeadLetter.Enabled() {
		for _, m := range recs {
			m.SetBytes(nil)
		}
	}
	// Every object is waited for: a batch goes to the dead letter only when each of its failed
	// objects was refused for good, and is delivered again when one failed for a reason that may pass.
	var first error
	for _, o := range objs {
		select {
		case <-o.done:
			if o.err != nil && (first == nil || delivery.IsPermanent(first) && !delivery.IsPermanent(o.err)) {
				first = o.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}

// timeSpan is the earliest and latest event time of a record (a bundle's for each of its records).
type timeSpan struct{ first, last time.Time }

// partGroup is the records of one partition in a batch: idx are their indexes (nil: every record).
type partGroup struct {
	part string
	idx  []int
}

// groupByPartition groups the records by partition, in the order each partition first appears and
// each record's order kept; parts nil (no partitions) or a single partition give one group of all.
func groupByPartition(parts []string, n int) []partGroup {
	if len(parts) == 0 {
		return []partGroup{{}}
	}
	single := true
	for _, p := range parts[1:] {
		if p != parts[0] {
			single = false
			break
		}
	}
	if single {
		return []partGroup{{part: parts[0]}}
	}
	index := map[string]int{}
	var groups []partGroup
	for i, p := range parts[:n] {
		k, ok := index[p]
		if !ok {
			k = len(groups)
			index[p] = k
			groups = append(groups, partGroup{part: p})
		}
		groups[k].idx = append(groups[k].idx, i)
	}
	return groups
}

// objectFor returns the open object of partition part (under mu), opening one when there is none.
// It waits while the objects being stored and filled hold `uploads` objects' worth of records or
// bytes; to open an object it first closes the one written to longest ago when MaxOpen are open, and
// waits while limit objects hold records.
func (a *Assembler) objectFor(part string) (*object, error) {
	for {
		if a.closed {
			return nil, fmt.Errorf("%s: closed", a.cfg.Name)
		}
		if a.active > 0 && (a.sealedRecords+a.openRecords >= a.cfg.Uploads*a.cfg.Count ||
			a.sealedBytes+a.openBytes >= a.cfg.Uploads*a.cfg.Bytes) {
			a.space.Wait()
			continue
		}
		if o := a.open[part]; o != nil {
			return o, nil
		}
		if len(a.open) >= a.cfg.MaxOpen {
			a.seal(a.leastRecent())
			continue
		}
		if len(a.open)+a.active >= a.limit {
			a.space.Wait()
			continue
		}
		return a.openObject(part)
	}
}

// leastRecent is the open object written to longest ago (under mu; at least one is open).
func (a *Assembler) leastRecent() *object {
	var lru *object
	for _, o := range a.open {
		if lru == nil || o.used < lru.used {
			lru = o
		}
	}
	return lru
}

// append encodes raws into o (under mu). On a write error the object is failed (every batch in it).
func (a *Assembler) append(o *object, raws [][]byte, spans []timeSpan) error {
	fresh := o.stream.Records() == 0
	// Encoded a chunk at a time into one reused buffer: a batch of bundles is megabytes.
	for rest := raws; len(rest) > 0; {
		k, size := 0, 0
		for k < len(rest) && (k == 0 || size+len(rest[k]) <= encodeChunk) {
			size += len(rest[k])
			k++
		}
		var err error
		if a.buf, err = o.stream.Append(a.buf[:0], rest[:k]); err == nil {
			_, err = o.zw.Write(a.buf)
		}
		if err != nil {
			a.forget(o)
			o.fail(fmt.Errorf("%s: writing to the spool file %s: %w", a.cfg.Name, o.file.Name(), err))
			return o.err
		}
		o.raw += len(a.buf)
		o.records += k
		a.openBytes += len(a.buf)
		a.openRecords += k
		rest = rest[k:]
	}
	a.used++
	o.used = a.used
	for i, sp := range spans {
		if fresh && i == 0 || sp.first.Before(o.first) {
			o.first = sp.first
		}
		if fresh && i == 0 || sp.last.After(o.last) {
			o.last = sp.last
		}
	}
	if cap(a.buf) > 4*encodeChunk {
		a.buf = nil // an exceptionally large record
	}
	return nil
}

// encodeChunk is about how many bytes of records are encoded at a time.
const encodeChunk = 256 << 10

// records returns the records of msgs — a bundle (metadata pipeline.MetaRecords: its records one per
// line, its event times in metadata) gives all of its records — with the event time span of each
// (time_field, else metadata, else now; a bundle's records each get the bundle's span) and, with
// partitions, the partition directory of each (nil without). With partitions, each record of a
// bundle gets its own time: from the bundle's packed times (pipeline.MetaEventTimes, when the
// records do not hold their time), else from time_field; a record without either gets the bundle's
// span, and the partition of the bundle's earliest time.
func (a *Assembler) records(msgs service.MessageBatch) (raws [][]byte, spans []timeSpan, parts []string, err error) {
	now := a.now()
	p := a.cfg.Partition
	raws = make([][]byte, 0, len(msgs))
	spans = make([]timeSpan, 0, len(msgs))
	var dir []byte
	seen := map[string]string{}
	// part appends the partition of rec: the records of one partition share its string.
	part := func(rec []byte, t time.Time) {
		dir = p.AppendDir(dir[:0], rec, t)
		s, ok := seen[string(dir)]
		if !ok {
			s = string(dir)
			seen[s] = s
		}
		parts = append(parts, s)
	}
	for i, m := range msgs {
		b, err := m.AsBytes()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: record %d: %w", a.cfg.Name, i, err)
		}
		if _, ok := m.MetaGetMut(pipeline.MetaRecords); ok {
			sp := timeSpan{metaTime(m, pipeline.MetaFirstTime, now), metaTime(m, pipeline.MetaLastTime, now)}
			var times pipeline.TimeReader
			packed := false
			if p != nil {
				times, packed = pipeline.BundleTimes(m)
			}
			for len(b) > 0 {
				var line []byte
				line, b, _ = bytes.Cut(b, []byte{'\n'})
				raws = append(raws, line)
				if p == nil {
					spans = append(spans, sp)
					continue
				}
				lsp := sp
				if packed {
					if t, ok := times.Next(); ok {
						lsp = timeSpan{t, t}
					} else {
						packed = false // fewer times than lines: the rest as without them
					}
				} else if a.cfg.TimeField != "" {
					if t, ok := record.EventTime(line, a.cfg.TimeField); ok {
						lsp = timeSpan{t, t}
					}
				}
				spans = append(spans, lsp)
				part(line, lsp.first)
			}
			continue
		}
		t := pipeline.MessageTime(m, a.cfg.TimeField, now)
		raws = append(raws, b)
		spans = append(spans, timeSpan{t, t})
		if p != nil {
			part(b, t)
		}
	}
	return raws, spans, parts, nil
}

// metaTime reads an RFC 3339 time from metadata key of m, else now.
func metaTime(m *service.Message, key string, now time.Time) time.Time {
	if v, ok := m.MetaGet(key); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return now
}

// openObject starts a new object of partition part (under mu).
func (a *Assembler) openObject(part string) (*object, error) {
	f, err := a.store.Spool()
	if err != nil {
		err = fmt.Errorf("%s: creating a spool file: %w", a.cfg.Name, err)
		if errors.Is(err, os.ErrPermission) {
			a.cfg.Outcome.Fatal(err)
		}
		return nil, err
	}
	// One open object at a time compresses gzip on several cores (a few MiB); the others on one
	// (about 1 MiB each).
	parallel := a.parallel == nil
	zw, err := a.comp.NewWriter(f, parallel)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	o := &object{part: part, file: f, zw: zw, stream: a.enc.NewStream(), opened: a.now(), done: make(chan struct{})}
	if parallel {
		a.parallel = o
	}
	a.open[part] = o
	return o, nil
}

// forget removes o from the open objects (under mu).
func (a *Assembler) forget(o *object) {
	if a.open[o.part] == o {
		delete(a.open, o.part)
		a.openRecords -= o.records
		a.openBytes -= o.raw
	}
	if a.parallel == o {
		a.parallel = nil
	}
}

// seal closes the open object o (under mu) and stores it in the background. A gzip body is finished
// here (its last block: quick), so that its compressor goes back to the pool before another object
// takes one; a zstd body (its last frame, up to 4 MiB to compress) in the background.
func (a *Assembler) seal(o *object) {
	a.forget(o)
	a.active++
	records, size := o.records, o.raw
	a.sealedRecords += records
	a.sealedBytes += size
	start := a.now()
	var err error
	finished := a.cfg.Body == nil && a.comp.Codec() == encode.CodecGzip
	if finished {
		err = o.finish()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if !finished {
			err = o.finish()
		}
		a.store1(o, start, err)
		a.mu.Lock()
		a.active--
		a.sealedRecords -= records
		a.sealedBytes -= size
		a.space.Broadcast()
		a.mu.Unlock()
	}()
}

// sealAll closes every open object (under mu) and starts a new generation of waiting writes.
func (a *Assembler) sealAll() {
	for _, o := range a.open {
		a.seal(o)
	}
	a.gen++
	a.waiting = 0
}

// finish writes the end of o's records and closes its compressor.
func (o *object) finish() error {
	tail := o.stream.Finish(nil)
	o.raw += len(tail)
	_, err := o.zw.Write(tail)
	if cerr := o.zw.Close(); err == nil {
		err = cerr
	}
	o.zw = nil
	return err
}

// fail ends an object with err without storing it.
func (o *object) fail(err error) {
	if o.zw != nil {
		_ = o.zw.Close()
	}
	_ = o.file.Close()
	_ = os.Remove(o.file.Name())
	o.err = err
	close(o.done)
}

// store1 stores and releases o, whose body was finished at start with err, and wakes the batches
// waiting for it.
func (a *Assembler) store1(o *object, start time.Time, err error) {
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = o.file.Stat(); err == nil {
			size = st.Size()
		}
	}
	if err != nil {
		ferr := fmt.Errorf("%s: finishing the spool file %s: %w", a.cfg.Name, o.file.Name(), err)
		a.cfg.Metrics.Failed(o.stream.Records(), ferr)
		o.fail(ferr)
		return
	}
	key := a.namer.Key(o.first, o.last)
	if a.cfg.Partition != nil {
		key = a.namer.KeyIn(o.part, o.first, o.last)
	}
	obj := &Object{Key: key, Body: o.file, Size: size,
		ContentType: contentType(a.comp, a.enc), ContentEncoding: a.comp.ContentEncoding(),
		Records: o.stream.Records(), RawBytes: o.raw}
	where := a.store.Describe(obj.Key)
	ctx := context.Background()
	err = a.cfg.Backoff.Retry(ctx, func(ctx context.Context) error {
		return a.store.Put(ctx, obj)
	}, func(attempt int, err error) {
		a.cfg.Metrics.Retried(err)
		if a.cfg.Log != nil {
			a.cfg.Log.Warnf("%s: writing %s failed (attempt %d), retrying: %v", a.cfg.Name, where, attempt, err)
		}
	})
	adopted := false
	if ad, ok := a.store.(Adopter); ok && err == nil {
		adopted = ad.Adopts()
	}
	_ = o.file.Close()
	if !adopted {
		_ = os.Remove(o.file.Name())
	}
	if err != nil {
		err = fmt.Errorf("%s: writing %s (%d records): %w", a.cfg.Name, where, obj.Records, err)
		a.cfg.Metrics.Failed(obj.Records, err)
		if delivery.IsPermanent(err) && !a.cfg.DeadLetter.Enabled() {
			// A store that refuses a whole object does so for its configuration (credentials,
			// permissions, the bucket), not for the records in it: without a dead letter, stop the
			// run, and leave the records unacknowledged rather than give them up.
			a.cfg.Outcome.Fatal(err)
			err = errors.New(err.Error())
		}
		o.err = err
		close(o.done)
		return
	}
	a.cfg.Metrics.Delivered(obj.Records, obj.RawBytes, int(obj.Size), start)
	close(o.done)
}

// tick closes each object being filled once its period has passed.
func (a *Assembler) tick() {
	every := min(a.cfg.Period/4, time.Second)
	t := time.NewTicker(max(every, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.mu.Lock()
			now := a.now()
			for _, o := range a.open {
				if now.Sub(o.opened) >= a.cfg.Period {
					a.seal(o)
				}
			}
			a.mu.Unlock()
		}
	}
}

// Close stores the objects being filled, waits for the objects being stored (until ctx ends) and
// stops the period goroutine.
func (a *Assembler) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.sealAll()
	a.space.Broadcast()
	a.mu.Unlock()
	close(a.stop)
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Policy is an object policy read from an output's `batching` field: a zero count, byte size or
// period takes the object-storage default (100,000 records, 64 MiB, 60 s).
func Policy(conf *service.ParsedConfig) (count, bytes int, period time.Duration, err error) {
	pol, err := conf.FieldBatchPolicy("batching")
	if err != nil {
		return 0, 0, 0, err
	}
	count, bytes = pol.Count, pol.ByteSize
	if count <= 0 {
		count = delivery.ObjectBatchCount
	}
	if bytes <= 0 {
		bytes = delivery.ObjectBatchBytes
	}
	p := pol.Period
	if p == "" {
		p = delivery.ObjectBatchPeriod
	}
	if period, err = time.ParseDuration(p); err != nil {
		return 0, 0, 0, fmt.Errorf("batching.period: %w", err)
	}
	if period < delivery.MinBatchPeriod {
		return 0, 0, 0, fmt.Errorf("batching.period: %s is below the minimum of %s", p, delivery.MinBatchPeriod)
	}
	return count, bytes, period, nil
}

// FromParsed builds the assembler of an object output from its config: `task` (pipeline.UnnamedTask
// when empty), `time_field`, `encoding`, `batching` (the object policy), `max_in_flight` (objects
// stored at a time), `compression`, `compression_level`, `partition` (ObjectFields), and
// `max_retries`, `retry` and `dead_letter` when the output has them. name starts error messages; path
// is the directory or key
// prefix of the objects.
func FromParsed(conf *service.ParsedConfig, res *service.Resources, name, path string, store Store) (*Assembler, error) {
	cfg := Config{Name: name, Path: path, Log: res.Logger(), Outcome: outcome.From(res)}
	var err error
	if cfg.Task, err = conf.FieldString("task"); err != nil {
		return nil, err
	}
	cfg.Task = cmp.Or(cfg.Task, pipeline.UnnamedTask)
	if cfg.TimeField, err = conf.FieldString("time_field"); err != nil {
		return nil, err
	}
	if !IsParquet(conf) {
		if cfg.Encoding, err = encode.OptionsFromParsed(conf); err != nil {
			return nil, fmt.Errorf("encoding: %w", err)
		}
	}
	if cfg.Count, cfg.Bytes, cfg.Period, err = Policy(conf); err != nil {
		return nil, err
	}
	if cfg.Uploads, err = conf.FieldMaxInFlight(); err != nil {
		return nil, err
	}
	if err := compressionFromParsed(conf, &cfg); err != nil {
		return nil, err
	}
	if conf.Contains("max_retries") {
		mr, err := conf.FieldInt("max_retries")
		if err != nil {
			return nil, err
		}
		cfg.Backoff = delivery.Backoff{MaxRetries: mr}
	}
	// The task's retry policy: its timing paces the retries of an object (the store reads which
	// statuses are retried).
	retry, err := delivery.RetryFromParsed(conf)
	if err != nil {
		return nil, err
	}
	cfg.Backoff.Max, cfg.Backoff.MaxElapsed = retry.MaxBackoff, retry.MaxElapsed
	if conf.Contains("dead_letter") {
		if cfg.DeadLetter, err = deadletter.NewRouter(conf, res); err != nil {
			return nil, err
		}
	}
	cfg.Metrics = delivery.NewMetrics(res, cfg.Task)
	if cfg.Body, err = BodyFromParsed(conf, res, cfg); err != nil {
		return nil, err
	}
	return New(cfg, store)
}

// ObjectFields are the fields of every object output that shape the objects: compression,
// compression_level and partition (by, style, max_open).
func ObjectFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringEnumField("compression", encode.CodecGzip, encode.CodecZstd, encode.CodecSnappy, encode.CodecNone).
			Description("How objects are compressed: `gzip` (`.log.gz`, `Content-Encoding: gzip`) or `zstd` (`.log.zst`, `Content-Encoding: zstd`: a sequence of Zstandard frames of up to 4 MiB of records each, 1 MiB with 16 partitions open, which any zstd reader reads as one stream). With `encoding.format: parquet`, the codec of the file's pages: `snappy`, `zstd`, `gzip` or `no` (`.parquet`, no Content-Encoding). Empty: gzip, snappy for Parquet.").
			Default(""),
		service.NewIntField("compression_level").
			Description("The level: gzip 1 (fastest) … 9 (smallest), default 6; zstd 1 … 22 as the zstd command numbers them, default 3, mapped to the encoder's four levels (1–2 fastest, 3–5 default, 6–9 better, 10–22 best; best holds about 35 MiB of memory). 0: the default.").
			Default(0),
		service.NewObjectField("partition",
			service.NewStringListField("by").
				Description("The levels of the partition directory, in order: `date` (the UTC date of the record's event time), `hour` (its UTC hour; after `date`) or the name of a delivered top-level field (its value, escaped for keys: bytes other than letters, digits, `-`, `_` and `.` as `%XX`; missing, null or empty as `__HIVE_DEFAULT_PARTITION__` in the hive style, `-` in the plain one). Empty: no partitions, objects go under the date of their first record.").
				Default([]any{}),
			service.NewStringEnumField("style", StyleHive, StylePlain).
				Description("`hive`: `dt=2026-12-06/hour=07/SecAction=deny`; `plain`: `2026-12-06/07/deny`.").
				Default(StyleHive),
			service.NewIntField("max_open").
				Description("How many partitions may have an object being filled at a time (each holds a spool file and about 1 MiB of memory); a record of another partition first closes the object written to longest ago.").
				Default(DefaultMaxOpen),
		).Description("Partitioned keys: each record goes to an object of its partition, `<path>/<partition>/<task>_<first>_<last>_<seq>_<rand>.log.gz`, taken from its own event time (`time_field`; else the receive time) and field values, so a batch spanning partitions becomes one object per partition."),
		parquetField(),
	}
}

// compressionFromParsed reads ObjectFields into cfg.
func compressionFromParsed(conf *service.ParsedConfig, cfg *Config) error {
	var err error
	if conf.Contains("compression") {
		if cfg.Compression, err = conf.FieldString("compression"); err != nil {
			return err
		}
	}
	if conf.Contains("compression_level") {
		if cfg.Level, err = conf.FieldInt("compression_level"); err != nil {
			return err
		}
		codec := cfg.Compression
		if codec == "" {
			codec = encode.CodecGzip
		}
		if err := encode.CheckLevel(codec, cfg.Level); err != nil && !IsParquet(conf) {
			return fmt.Errorf("compression_level: %w", err)
		}
	}
	if !conf.Contains("partition") {
		return nil
	}
	by, err := conf.FieldStringList("partition", "by")
	if err != nil || len(by) == 0 {
		return err
	}
	style, err := conf.FieldString("partition", "style")
	if err != nil {
		return err
	}
	if cfg.Partition, err = NewPartitioner(by, style); err != nil {
		return err
	}
	if cfg.MaxOpen, err = conf.FieldInt("partition", "max_open"); err != nil {
		return err
	}
	if cfg.MaxOpen < 1 || cfg.MaxOpen > MaxMaxOpen {
		return fmt.Errorf("partition.max_open: %d is not in 1..%d", cfg.MaxOpen, MaxMaxOpen)
	}
	return nil
}

// Register registers an object output on env: newOutput builds it and its assembler, whose batch
// policy and max_in_flight Benthos uses (see BatchPolicy and MaxInFlight).
func Register(env *service.Environment, name string, spec *service.ConfigSpec,
	newOutput func(*service.ParsedConfig, *service.Resources) (service.BatchOutput, *Assembler, error)) error {
	return env.RegisterBatchOutput(name, spec, func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		o, asm, err := newOutput(conf, res)
		if err != nil {
			return nil, service.BatchPolicy{}, 0, fmt.Errorf("%s: %w", name, err)
		}
		return o, asm.BatchPolicy(), asm.MaxInFlight(), nil
	})
}

// TempSpool returns a spool file in dir (the system's temporary directory when empty), for a store
// that uploads objects elsewhere.
func TempSpool(dir, task string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	return os.CreateTemp(dir, "esa-connect-"+task+"-*.spool")
}

// StoreFields are the fields esa_s3_verified and esa_oss share after their connection fields: task,
// time_field, encoding, the ObjectFields, multipart (partMin describes the store's minimum part size),
// max_retries, retry (the task's retry policy), dead_letter, timeout, spool_dir, max_in_flight and
// batching.
func StoreFields(partMin string, timeout *service.ConfigField) []*service.ConfigField {
	return append(append([]*service.ConfigField{
		pipeline.TaskField(),
		service.NewStringField("time_field").Description("The record field holding the event time (for object names and partitions); missing or unparsable: the receive time.").Default(""),
		encode.EncodingField()}, ObjectFields()...),
		service.NewObjectField("multipart",
			service.NewIntField("part_size").Description("Objects larger than this many bytes are uploaded in parts of this size (minimum "+partMin+").").Default(8*1024*1024),
			service.NewIntField("concurrency").Description("Parts of one object uploaded in parallel.").Default(3),
		).Description("Multipart upload of large objects.").Advanced(),
		service.NewIntField("max_retries").Description("Retries of a failed upload before the object's records are nacked.").Default(3).Advanced(),
		delivery.RetryField(),
		deadletter.Field(),
		timeout,
		service.NewStringField("spool_dir").Description("Where objects are compressed while they fill, until uploaded (a few MiB each). Empty: the system's temporary directory. Avoid a RAM-backed one (tmpfs) on small machines.").Default("").Advanced(),
		service.NewOutputMaxInFlightField().Default(1).Description("How many objects may hold records at a time, the one being filled included: with 1 an object is filled, then uploaded, then the next one is filled; more overlap uploads with filling. Each object in flight keeps its records' acknowledgements in memory until it is uploaded (about 250 bytes a record: 25 MB for 100,000 records)."),
		service.NewBatchPolicyField("batching").Description("When an object is complete: after `count` records, `byte_size` encoded bytes or `period` after its first record, whichever comes first; zero values take the object-storage defaults: 100,000 records, 64 MiB, 60 s. Records are compressed into the object as they come, so memory does not grow with these."),
	)
}

// SetRetryDelays sets the first and the longest delay between retries of a failed Put (tests make
// them short). Call it before the first Write.
func (a *Assembler) SetRetryDelays(initial, most time.Duration) {
	a.cfg.Backoff.Initial, a.cfg.Backoff.Max = initial, most
}
