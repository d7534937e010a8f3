// Package diskbuffer is the esa_disk buffer: a task's records kept on disk between its input and its
// processors and outputs, so that a destination outage, a SIGTERM or a SIGKILL costs no record and no
// memory.
//
// A batch is acknowledged to the input once it is on disk: written to an embedded bbolt database (the
// B+tree store of etcd) and synced, several batches per commit (group commit). The buffer then hands
// the batches to the pipeline in the order written, deletes a batch when the destination acknowledged
// it, delivers again what failed (only the records that failed, when the output says which), and after a
// restart delivers whatever the database still holds. Stored batches are compressed (the gzip body
// they arrived in, or S2) and checked with a CRC; a damaged database is set aside and what can be
// read of it saved.
package diskbuffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/dustin/go-humanize"
	"github.com/redpanda-data/benthos/v4/public/service"
	bolt "go.etcd.io/bbolt"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// Name is the component name.
const Name = "esa_disk"

// Metric names (labelled task).
const (
	MetricBytes       = "esa_buffer_bytes"
	MetricRecords     = "esa_buffer_records"
	MetricOldestAge   = "esa_buffer_oldest_age_seconds"
	MetricRedelivered = "esa_buffer_redelivered_total"
	MetricDamaged     = "esa_buffer_damaged_records_total"
)

var bucket = []byte("batches")

// ConfigSpec is the esa_disk configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Utility").
		Summary("Keeps a task's records on disk between its input and its outputs: acknowledged to the input once synced to disk, kept through outages, restarts and SIGKILL.").
		Description(`Each batch from the input is written to `+"`<path>/<task>.buffer`"+` (an embedded bbolt database,
compressed, with a CRC) and synced — several batches per commit — and only then acknowledged to the
input: an HTTP ingest request is answered 200 at that point, a file or Kafka source moves on. The buffer
hands the batches to the processors in the order written and deletes each once the destination
acknowledged it; a batch that failed is delivered again after a backoff (only its records that failed,
when the output says which), counted in `+"`"+MetricRedelivered+"`"+`. After a restart — a SIGTERM, a crash,
a SIGKILL — whatever the file holds is delivered (at least once: a batch delivered just before a crash may
be delivered again).

**Full.** `+"`max_bytes`"+` bounds what the buffer holds (compressed). When it is reached, `+"`when_full: block`"+`
(the default) makes the input wait — a file or Kafka source pauses, and the HTTP ingest answers new
requests 503 with Retry-After — while `+"`reject`"+` fails the batch at once.

**Damage.** A stored batch whose CRC does not match (bytes changed on disk) is deleted, its records
counted in `+"`"+MetricDamaged+"`"+` and logged. A file that is not a database any more (truncated,
overwritten) is renamed to `+"`<name>.damaged-<time>`"+`, the batches that can still be read from it are
moved to a new file, and the task starts.

**Draining.** On SIGINT/SIGTERM under `+"`esa-connect run`"+` the buffer stops handing out stored batches,
waits for the ones in flight, and ends; the rest stays on disk for the next start.

Metrics: `+"`"+MetricBytes+"`, `"+MetricRecords+"`, `"+MetricOldestAge+"`"+` (gauges), `+"`"+MetricRedelivered+"`, `"+MetricDamaged+"`"+`.`).
		Fields(
			service.NewStringField("path").Description("The directory of the buffer file (created if missing)."),
			pipeline.TaskField(),
			service.NewStringField("max_bytes").Description("The most the buffer holds, compressed (e.g. `10GiB`, `500MB`; at least 16 MiB).").Default(config.DefaultBufferMaxBytes),
			service.NewStringEnumField("when_full", "block", "reject").Description("What a full buffer does with a new batch: make the input wait, or fail the batch.").Default("block"),
			service.NewBoolField("sync").Description("Sync each commit to disk (off only for tests and benchmarks: a crash of the machine may then lose what was acknowledged).").Default(true).Advanced(),
		).
		Example("A disk buffer", "Keep up to 10 GiB of access logs while the destination is away.", `
buffer:
  esa_disk:
    path: /var/lib/esa-connect/buffer
    task: access-to-s3
    max_bytes: 10GiB
`)
}

// Register registers esa_disk on env.
func Register(env *service.Environment) error {
	return env.RegisterBatchBuffer(Name, ConfigSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchBuffer, error) {
		return fromParsed(conf, res)
	})
}

// Config is the plain configuration of a buffer.
type Config struct {
	Dir      string
	Task     string
	MaxBytes int64
	Reject   bool
	NoSync   bool
}

func fromParsed(conf *service.ParsedConfig, res *service.Resources) (*Buffer, error) {
	var c Config
	var err error
	if c.Dir, err = conf.FieldString("path"); err != nil {
		return nil, err
	}
	if c.Task, err = conf.FieldString("task"); err != nil {
		return nil, err
	}
	mb, err := conf.FieldString("max_bytes")
	if err != nil {
		return nil, err
	}
	if c.MaxBytes, err = config.ParseByteSize(mb); err != nil {
		return nil, fmt.Errorf("%s: max_bytes: %w", Name, err)
	}
	when, err := conf.FieldString("when_full")
	if err != nil {
		return nil, err
	}
	c.Reject = when == "reject"
	sync, err := conf.FieldBool("sync")
	if err != nil {
		return nil, err
	}
	c.NoSync = !sync
	return Open(c, res)
}

// ErrFull is the error of a batch that a full buffer with when_full: reject refuses.
var ErrFull = errors.New("the disk buffer is full")

// Buffer is the esa_disk buffer. It implements service.BatchBuffer.
type Buffer struct {
	c    Config
	file string
	db   *bolt.DB
	log  *service.Logger
	out  *outcome.Outcome

	gBytes, gRecords, gAge *service.MetricGauge
	cRedelivered, cDamaged *service.MetricCounter

	writes  chan *write   // batches to store, to the committer
	kick    chan struct{} // deletions are waiting for the committer
	stop    chan struct{} // closed by Close: the committer commits what is queued and ends
	done    chan struct{} // closed when the committer ended
	senders sync.WaitGroup

	values, scratch, raws buffers // stored values being written, records being encoded, records decoded

	damagedRecords atomic.Int64 // records lost to damage (metric MetricDamaged)

	mu        sync.Mutex
	cond      *sync.Cond
	size      int64             // bytes stored and reserved by writes on their way
	records   int64             // records stored
	lastSeq   uint64            // the last key given to a write
	committed uint64            // every key up to this one was committed (or failed)
	finished  map[uint64]bool   // keys after committed that were committed (or failed)
	next      uint64            // the next key to hand out
	batches   map[uint64]*batch // keys handed out at least once and not deleted yet
	hot       map[uint64]hotBatch
	hotBytes  int64
	lastTake  time.Time     // when the pipeline last took a batch from hot
	pace      time.Duration // paceWait (tests change it)
	pacing    int           // writes waiting in paceLocked
	ready     []uint64      // keys whose redelivery is due
	deletes   []deletion    // delivered batches to delete, for the committer
	handed    int           // deliveries handed out and not resolved
	flushDue  bool          // a flush marker is due once key flushAt was handed out
	flushAt   uint64
	ended     bool // the input ended (EndOfInput)
	draining  bool
	closed    bool
	backoff   delivery.Backoff
}

// hotMax bounds the records kept in memory for their first delivery (see hotBatch).
const hotMax = config.DiskBufferHotBytes

// hotBatch is a stored batch whose first delivery can use the input's messages: while the pipeline
// keeps up, a batch is handed out moments after it was written, and decoding it again from disk would
// cost as much as storing it. What waits longer, or does not fit in hotMax, is read from disk.
type hotBatch struct {
	msgs service.MessageBatch
	raw  int64 // the records' bytes
	size int   // the stored value's bytes
}

// batch is a stored batch being delivered.
type batch struct {
	size, records int      // of the stored value
	attempts      int      // deliveries so far
	idx           []int    // the records still to deliver (nil: all)
	cur           *handout // the delivery in flight, if any
}

// handout is one hand-out of a batch; its pointer tags the records (delivery.TagRecords).
type handout struct {
	n   int     // records delivered
	idx []int   // their indexes in the stored batch (nil: all)
	raw *[]byte // the decoded records, back to Buffer.raws when the delivery resolves
}

// deletion is a delivered batch to delete.
type deletion struct {
	seq           uint64
	size, records int
}

// write is a batch on its way to the database.
type write struct {
	seq   uint64
	value []byte
	buf   *[]byte // value's buffer, back to Buffer.values once committed
	n     int
	ack   service.AckFunc
	msgs  service.MessageBatch // the input's messages, kept in hot once committed (nil: not hot)
	raw   int64                // their records' bytes
}

// Open opens (or creates) the buffer of c.Task in c.Dir, recovering a damaged file. res may be nil.
func Open(c Config, res *service.Resources) (*Buffer, error) {
	if c.Dir == "" {
		return nil, fmt.Errorf("%s: path is empty", Name)
	}
	if c.Task == "" {
		c.Task = pipeline.UnnamedTask
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes, _ = config.ParseByteSize(config.DefaultBufferMaxBytes)
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: creating %s: %w", Name, c.Dir, err)
	}
	b := &Buffer{c: c, file: filepath.Join(c.Dir, c.Task+".buffer"), out: outcome.From(res),
		finished: map[uint64]bool{}, batches: map[uint64]*batch{}, hot: map[uint64]hotBatch{}, pace: paceWait,
		writes: make(chan *write, 64), values: newBuffers(8), scratch: newBuffers(2), raws: newBuffers(8), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		backoff: delivery.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, MaxRetries: -1}}
	b.cond = sync.NewCond(&b.mu)
	if res != nil {
		b.log = res.Logger()
		m := res.Metrics()
		b.gBytes, b.gRecords, b.gAge = m.NewGauge(MetricBytes, "task"), m.NewGauge(MetricRecords, "task"), m.NewGauge(MetricOldestAge, "task")
		b.cRedelivered, b.cDamaged = m.NewCounter(MetricRedelivered, "task"), m.NewCounter(MetricDamaged, "task")
	}
	if err := b.open(); err != nil {
		return nil, err
	}
	go b.commit()
	go b.tick()
	return b, nil
}

func (b *Buffer) logf(level string, format string, args ...any) {
	if b.log == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	switch level {
	case "error":
		b.log.Error(msg)
	case "warn":
		b.log.Warn(msg)
	default:
		b.log.Info(msg)
	}
}

func (b *Buffer) damaged(n int) {
	b.damagedRecords.Add(int64(n))
	if b.cDamaged != nil && n > 0 {
		b.cDamaged.Incr(int64(n), b.c.Task)
	}
}

// open opens the database and reads what it holds. The file is read first through a read-only
// handle, on this goroutine, where a fault or a panic inside bbolt (a truncated or overwritten file)
// can be recovered: a file that cannot be read is set aside as <file>.damaged-<unix time>, what can
// still be read of it is copied to a new file, and the buffer starts on that.
func (b *Buffer) open() error {
	sum, err := b.check(b.file)
	if err == nil {
		if b.db, err = b.openRW(b.file); err != nil {
			return err
		}
		return b.start(sum)
	}
	if errors.Is(err, os.ErrPermission) || errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("%s: opening %s: %w", Name, b.file, inUse(err))
	}
	aside := fmt.Sprintf("%s.damaged-%d", b.file, time.Now().Unix())
	if rerr := os.Rename(b.file, aside); rerr != nil {
		return fmt.Errorf("%s: %s is damaged (%v) and cannot be set aside: %w", Name, b.file, err, rerr)
	}
	b.logf("error", "%s: %s is damaged (%v): set aside as %s; saving what can be read of it", Name, b.file, err, aside)
	if b.db, err = b.openRW(b.file); err != nil {
		return err
	}
	b.salvage(aside)
	if sum, err = b.check(""); err != nil {
		_ = b.db.Close()
		return fmt.Errorf("%s: reading the new %s: %w", Name, b.file, err)
	}
	return b.start(sum)
}

func inUse(err error) error {
	if errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("the file is locked: is another esa-connect running this task? (%w)", err)
	}
	return err
}

// openRW opens the buffer's database for writing.
func (b *Buffer) openRW(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: b.c.NoSync,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err == nil {
		err = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err })
		if err != nil {
			_ = db.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: opening %s: %w", Name, path, inUse(err))
	}
	return db, nil
}

// guard turns a panic or a memory fault (a read past the end of a truncated, memory-mapped file)
// while reading a damaged database into an error.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("unreadable: %v", r)
	}
}

// summary is what a database holds.
type summary struct {
	size, records int64
	first, last   uint64
	bad           [][]byte // keys of batches whose CRC does not match
	badRecords    int
}

// view runs fn on a read-only handle of path (the open database when path is ""), on this goroutine,
// turning faults and panics into errors. Unless salvaging, a file shorter than its pages is refused.
func (b *Buffer) view(path string, salvaging bool, fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	db := b.db
	if path != "" {
		if st, serr := os.Stat(path); serr != nil || st.Size() == 0 {
			return nil // no file yet
		}
		if db, err = bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second}); err != nil {
			return err
		}
		defer db.Close()
	}
	return db.View(func(tx *bolt.Tx) error {
		if path != "" && !salvaging {
			if st, err := os.Stat(path); err == nil && tx.Size() > st.Size() {
				return fmt.Errorf("the file is %d bytes but its pages need %d (truncated)", st.Size(), tx.Size())
			}
		}
		return fn(tx)
	})
}

// check reads every batch of the database at path (the open one when path is "") and checks its CRC.
func (b *Buffer) check(path string) (sum summary, err error) {
	err = b.view(path, false, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			seq := seqOf(k)
			v = batchValue(bk, k, v)
			n, _, herr := header(v)
			if herr != nil || seq == 0 {
				sum.bad = append(sum.bad, bytes.Clone(k))
				sum.badRecords++ // the count of a damaged batch is unknown
				return nil
			}
			sum.size += int64(len(v))
			sum.records += int64(n)
			if sum.first == 0 {
				sum.first = seq
			}
			sum.last = max(sum.last, seq)
			return nil
		})
	})
	return sum, err
}

// salvage copies the batches that can still be read from the damaged file at path into the buffer:
// a batch whose bytes are gone (past the end of a truncated file) or changed is skipped, and reading
// stops where the file's index itself cannot be read.
func (b *Buffer) salvage(path string) {
	saved, lost := 0, 0
	err := b.view(path, true, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return errors.New("no batches")
		}
		c := bk.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			key, val, err := copyKV(bk, k, v)
			if err == nil {
				_, _, err = header(val)
			}
			if err != nil || seqOf(key) == 0 {
				lost++
				continue
			}
			if err := b.db.Update(func(tx *bolt.Tx) error { return putBatch(tx.Bucket(bucket), key, val) }); err != nil {
				return err
			}
			saved++
		}
		return nil
	})
	if err != nil {
		b.logf("error", "%s: reading %s stopped: %v", Name, path, err)
	}
	b.logf("error", "%s: saved %d batches of the damaged buffer; %d more could not be read", Name, saved, lost)
	b.damaged(max(lost, 1)) // at least one record was lost; a batch that cannot be read counts as one
}

// copyKV copies a batch's key and value (v, or in its own bucket) of a damaged file, turning a fault
// (bytes past the end of the file) into an error.
func copyKV(bk *bolt.Bucket, k, v []byte) (key, val []byte, err error) {
	defer guard(&err)
	return bytes.Clone(k), bytes.Clone(batchValue(bk, k, v)), nil
}

// start deletes the damaged batches that check found and sets the buffer's counts.
func (b *Buffer) start(sum summary) error {
	if len(sum.bad) > 0 {
		if err := b.db.Update(func(tx *bolt.Tx) error {
			for _, k := range sum.bad {
				if err := deleteBatch(tx.Bucket(bucket), k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			_ = b.db.Close()
			return fmt.Errorf("%s: deleting the damaged batches of %s: %w", Name, b.file, err)
		}
		b.logf("error", "%s: %s: cut %d damaged batches", Name, b.file, len(sum.bad))
		b.damaged(sum.badRecords)
	}
	b.size, b.records, b.lastSeq, b.committed = sum.size, sum.records, sum.last, sum.last
	b.next = sum.last + 1
	if sum.first != 0 {
		b.next = sum.first
	}
	if sum.records > 0 {
		b.out.Add(outcome.Restored, int(sum.records))
		b.logf("info", "%s: %s holds %d records (%s) from before: delivering them first", Name, b.file, sum.records, humanize.IBytes(uint64(sum.size)))
	}
	b.gauges()
	return nil
}

// gauges updates the size gauges (under mu, or before the goroutines start).
func (b *Buffer) gauges() {
	if b.gBytes != nil {
		b.gBytes.Set(b.size, b.c.Task)
		b.gRecords.Set(b.records, b.c.Task)
	}
}

// WriteBatch stores batch and acknowledges it to the input once it is on disk. Flush markers are not
// stored: one is handed to the pipeline once the batches written before it were.
func (b *Buffer) WriteBatch(ctx context.Context, msgs service.MessageBatch, ack service.AckFunc) error {
	recs := pipeline.WithoutMarkers(msgs)
	marker := len(recs) < len(msgs)
	if len(recs) == 0 {
		if marker {
			b.mu.Lock()
			b.flushDue, b.flushAt = true, b.lastSeq
			b.cond.Broadcast()
			b.mu.Unlock()
		}
		return ack(ctx, nil)
	}
	raw := make([][]byte, len(recs))
	flags := byte(flagChecked | flagUnique)
	rawSize := int64(0)
	for i, m := range recs {
		var err error
		if raw[i], err = m.AsBytes(); err != nil {
			return err
		}
		rawSize += int64(len(raw[i]))
		if ok, unique := pipeline.Checked(m, raw[i]); !ok {
			flags &^= flagChecked | flagUnique
		} else if !unique {
			flags &^= flagUnique
		}
	}
	// A batch that will be handed out from memory (hot) is stored in the form that costs least to
	// write: the gzip body it arrived in, when the input kept it (pipeline.Received). One that will be
	// read back from disk is S2-compressed: S2 decodes several times faster than gzip, and a pipeline
	// that fell behind must not fall further behind by decoding.
	b.mu.Lock()
	b.paceLocked(ctx, rawSize)
	hot := b.hotBytes+rawSize <= hotMax && !b.closed
	if hot {
		b.hotBytes += rawSize // reserved until the commit keeps the batch in hot, or fails
	}
	b.mu.Unlock()
	var rcv *pipeline.Received
	if hot {
		rcv = pipeline.ReceivedOf(recs[0])
	}
	scratch, vbuf := b.scratch.get(), b.values.get()
	value := encodeBatch(*vbuf, raw, flags, time.Now(), scratch, rcv)
	*vbuf = value
	b.scratch.put(scratch)
	need := int64(len(value))
	unreserve := func() {
		if hot {
			b.hotBytes -= rawSize
		}
	}
	b.mu.Lock()
	for b.size+need > b.c.MaxBytes && !b.closed {
		b.out.SetFull(true)
		if b.c.Reject || need > b.c.MaxBytes {
			size := b.size
			unreserve()
			b.mu.Unlock()
			return fmt.Errorf("%s: %w (%s of %s)", Name, ErrFull, humanize.IBytes(uint64(size)), humanize.IBytes(uint64(b.c.MaxBytes)))
		}
		b.waitCtx(ctx)
		if ctx.Err() != nil {
			unreserve()
			b.mu.Unlock()
			return ctx.Err()
		}
	}
	if b.closed {
		unreserve()
		b.mu.Unlock()
		return service.ErrNotConnected
	}
	b.size += need
	b.lastSeq++
	w := &write{seq: b.lastSeq, value: value, buf: vbuf, n: len(raw), ack: ack, raw: rawSize}
	if hot {
		w.msgs = recs
	}
	if marker {
		b.flushDue, b.flushAt = true, w.seq
	}
	b.senders.Add(1)
	b.mu.Unlock()
	defer b.senders.Done()
	select {
	case b.writes <- w:
		return nil
	case <-ctx.Done():
		// Never written: give the reservations back and let the readers step over the key.
		b.values.put(vbuf)
		b.mu.Lock()
		unreserve()
		b.size -= need
		b.finishLocked(w.seq)
		b.mu.Unlock()
		return ctx.Err()
	}
}

// paceWait is how long a write waits for room among the batches kept in memory while the pipeline
// takes them (see paceLocked).
const paceWait = 50 * time.Millisecond

// paceLocked (under mu) makes a write of raw bytes of records wait while the batches kept in memory
// for their first delivery (hot) fill hotMax and the pipeline is taking them — it took one within
// paceWait — until one is taken, for at most paceWait. An input that runs ahead of a pipeline that
// keeps up would otherwise push batches out to disk, and reading them back costs the CPU the pipeline
// is short of. A pipeline that stopped taking batches (the destination is down or slow) makes no
// write wait: the buffer takes everything at disk speed, as it must.
func (b *Buffer) paceLocked(ctx context.Context, raw int64) {
	deadline := time.Now().Add(b.pace)
	for b.hotBytes+raw > hotMax && !b.closed && !b.draining && ctx.Err() == nil {
		now := time.Now()
		if now.Sub(b.lastTake) > b.pace || !now.Before(deadline) {
			return
		}
		b.pacing++
		b.waitFor(ctx, deadline.Sub(now))
		b.pacing--
	}
}

// waitCtx waits on cond (under mu) until a broadcast or the end of ctx.
func (b *Buffer) waitCtx(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	b.cond.Wait()
	stop()
}

// finishLocked records that key seq was committed (or will never be) and moves committed on over
// the keys that are (under mu).
func (b *Buffer) finishLocked(seq uint64) {
	b.finished[seq] = true
	for b.finished[b.committed+1] {
		delete(b.finished, b.committed+1)
		b.committed++
	}
	b.cond.Broadcast()
}

// commit is the committer: it stores the queued batches and deletes the delivered ones, as many as
// are waiting in one transaction (one sync), and acknowledges the stored batches to the input.
func (b *Buffer) commit() {
	defer close(b.done)
	const most = config.DiskBufferCommitBytes // bytes of batches in one transaction
	for {
		var group []*write
		stopping := false
		select {
		case w := <-b.writes:
			group = append(group, w)
		case <-b.kick:
		case <-b.stop:
			stopping = true
		}
		size := 0
	gather:
		for stopping || size < most {
			select {
			case w := <-b.writes:
				group = append(group, w)
				size += len(w.value)
			default:
				break gather
			}
		}
		b.mu.Lock()
		dels := b.deletes
		b.deletes = nil
		b.mu.Unlock()
		if len(group) > 0 || len(dels) > 0 {
			b.apply(group, dels)
		}
		if stopping {
			return
		}
	}
}

// apply commits group and dels in one transaction.
func (b *Buffer) apply(group []*write, dels []deletion) {
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, w := range group {
			if err := putBatch(bk, keyOf(w.seq), w.value); err != nil {
				return err
			}
		}
		for _, d := range dels {
			if err := deleteBatch(bk, keyOf(d.seq)); err != nil {
				return err
			}
		}
		return nil
	})
	b.mu.Lock()
	for _, w := range group {
		if err != nil {
			b.size -= int64(len(w.value))
		} else {
			b.records += int64(w.n)
		}
		if w.msgs != nil { // its room in hot was reserved by WriteBatch
			if err == nil && !b.closed {
				b.hot[w.seq] = hotBatch{msgs: w.msgs, raw: w.raw, size: len(w.value)}
			} else {
				b.hotBytes -= w.raw
			}
		}
		w.msgs = nil
		b.finishLocked(w.seq)
	}
	if err != nil {
		b.deletes = append(dels, b.deletes...) // deleted at the next commit
	} else {
		for _, d := range dels {
			b.size -= int64(d.size)
			b.records -= int64(d.records)
		}
	}
	if b.size < b.c.MaxBytes/10*9 {
		b.out.SetFull(false)
	}
	b.gauges()
	b.cond.Broadcast() // space for blocked writers
	b.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("%s: writing to %s: %w", Name, b.file, err)
		b.logf("error", "%v", err)
	}
	for _, w := range group {
		_ = w.ack(context.Background(), err)
		b.values.put(w.buf)
	}
}

// ReadBatch hands out the next stored batch: a due redelivery first, else the next one written. It
// returns service.ErrEndOfBuffer once the input ended and everything was delivered, or — when the
// stream drains (SIGINT/SIGTERM) — once the deliveries in flight resolved.
func (b *Buffer) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	for {
		seq, marker, err := b.pick(ctx)
		if err != nil {
			return nil, nil, err
		}
		if marker {
			return service.MessageBatch{pipeline.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
		}
		if msgs, d := b.load(seq); d != nil {
			var once sync.Once
			return msgs, func(_ context.Context, err error) error {
				once.Do(func() { b.resolve(seq, d, err) })
				return nil
			}, nil
		}
	}
}

// pick chooses what ReadBatch hands out next: a key, or a flush marker.
func (b *Buffer) pick(ctx context.Context) (seq uint64, marker bool, err error) {
	drain := b.out.DrainCh()
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.closed {
			return 0, false, service.ErrEndOfBuffer
		}
		if !b.draining {
			select {
			case <-drain:
				b.draining = true
				b.flushDue, b.flushAt = true, b.next-1 // the destinations write what they hold
			default:
			}
		}
		switch {
		case len(b.ready) > 0 && !b.draining:
			seq = b.ready[0]
			b.ready = b.ready[1:]
			return seq, false, nil
		case b.flushDue && b.next > b.flushAt:
			b.flushDue = false
			return 0, true, nil
		case b.next <= b.committed && !b.draining:
			seq = b.next
			b.next++
			b.batches[seq] = &batch{}
			return seq, false, nil
		case b.draining && b.handed == 0,
			b.ended && len(b.batches) == 0 && b.next > b.lastSeq:
			return 0, false, service.ErrEndOfBuffer
		}
		if (b.ended || b.draining) && b.handed > 0 {
			// Pipeline threads may reorder batches, so a flush marker can reach the output before the
			// last records: repeat it while deliveries are in flight at the end.
			if b.waitFor(ctx, markerRepeat) {
				return 0, true, nil
			}
		} else {
			b.waitCtx(ctx)
		}
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
	}
}

// markerRepeat is how often the buffer repeats a flush marker at the end while deliveries are in flight.
const markerRepeat = 200 * time.Millisecond

// waitFor is waitCtx for at most d; it reports whether d passed.
func (b *Buffer) waitFor(ctx context.Context, d time.Duration) (timedOut bool) {
	expired := false
	t := time.AfterFunc(d, func() {
		b.mu.Lock()
		expired = true
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	b.waitCtx(ctx)
	t.Stop()
	return expired
}

// load reads batch seq and makes the messages of its next delivery; d is nil when the batch is gone
// (its commit failed) or damaged (it is then deleted and counted).
func (b *Buffer) load(seq uint64) (msgs service.MessageBatch, d *handout) {
	if msgs, d = b.loadHot(seq); d != nil {
		return msgs, d
	}
	var recs [][]byte
	var flags byte
	var derr error
	size, n := 0, 0
	rawBuf := b.raws.get()
	_ = b.db.View(func(tx *bolt.Tx) error {
		v := getBatch(tx.Bucket(bucket), keyOf(seq))
		if v == nil {
			return nil
		}
		size = len(v)
		if recs, *rawBuf, flags, derr = decodeBatch(v, *rawBuf); derr != nil {
			n, _, _ = header(v)
		}
		return nil
	})
	if recs == nil {
		b.raws.put(rawBuf)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.batches[seq]
	switch {
	case st == nil || size == 0:
		delete(b.batches, seq)
		return nil, nil
	case derr != nil:
		b.logf("error", "%s: batch %d of %s is damaged (%v): %d records cut", Name, seq, b.file, derr, max(n, 1))
		b.damaged(max(n, 1))
		delete(b.batches, seq)
		b.deleteLocked(deletion{seq: seq, size: size, records: n})
		return nil, nil
	}
	st.size, st.records = size, len(recs)
	st.attempts++
	if st.idx != nil {
		sub := make([][]byte, len(st.idx))
		for k, i := range st.idx {
			sub[k] = recs[i]
		}
		recs = sub
	}
	d = &handout{n: len(recs), idx: st.idx, raw: rawBuf}
	st.cur = d
	b.handed++
	msgs = make(service.MessageBatch, len(recs))
	for i, r := range recs {
		msgs[i] = service.NewMessage(r)
	}
	if flags&flagChecked != 0 {
		// The records were valid when stored, and the CRC says they have not changed since.
		pipeline.MarkChecked(msgs, flags&flagUnique != 0)
	}
	delivery.TagRecords(d, msgs)
	return msgs, d
}

// loadHot makes the first delivery of batch seq from the input's messages when they are kept (hot).
func (b *Buffer) loadHot(seq uint64) (service.MessageBatch, *handout) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.hot[seq]
	if !ok {
		return nil, nil
	}
	delete(b.hot, seq)
	b.hotBytes -= h.raw
	b.lastTake = time.Now()
	b.cond.Broadcast() // room for a paced write
	st := b.batches[seq]
	if st == nil || st.idx != nil || st.attempts > 0 {
		return nil, nil
	}
	st.attempts++
	st.size, st.records = h.size, len(h.msgs)
	d := &handout{n: len(h.msgs)}
	st.cur = d
	b.handed++
	msgs := make(service.MessageBatch, len(h.msgs))
	copy(msgs, h.msgs)
	delivery.TagRecords(d, msgs)
	return msgs, d
}

// resolve handles the acknowledgement of delivery d of batch seq.
func (b *Buffer) resolve(seq uint64, d *handout, err error) {
	var retry, permanent []int
	if err != nil {
		retry, permanent = delivery.Failures(err, d, d.n)
	}
	if d.raw != nil {
		b.raws.put(d.raw)
		d.raw = nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.cond.Broadcast()
	b.handed--
	st := b.batches[seq]
	if st == nil || st.cur != d || b.closed {
		return
	}
	st.cur = nil
	if len(permanent) > 0 {
		b.out.AddUndelivered(len(permanent))
		b.logf("error", "%s: giving up on %d records of batch %d: %v", Name, len(permanent), seq, err)
	}
	if len(retry) == 0 {
		delete(b.batches, seq)
		b.deleteLocked(deletion{seq: seq, size: st.size, records: st.records})
		return
	}
	// Only the records that failed are delivered again, after a delay.
	abs := retry
	if d.idx != nil {
		abs = make([]int, len(retry))
		for k, i := range retry {
			abs[k] = d.idx[i]
		}
	}
	st.idx = abs
	if b.cRedelivered != nil {
		b.cRedelivered.Incr(int64(len(abs)), b.c.Task)
	}
	delay := b.backoff.Delay(st.attempts)
	b.logf("warn", "%s: %d records of batch %d failed (delivery %d), delivering them again in %s: %v", Name, len(abs), seq, st.attempts, delay.Round(time.Millisecond), err)
	time.AfterFunc(delay, func() {
		b.mu.Lock()
		if !b.closed {
			b.ready = append(b.ready, seq)
			b.cond.Broadcast()
		}
		b.mu.Unlock()
	})
}

// deleteLocked queues the deletion of a batch for the committer (under mu).
func (b *Buffer) deleteLocked(d deletion) {
	b.deletes = append(b.deletes, d)
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// tick updates the age of the oldest batch every second.
func (b *Buffer) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		var age float64
		_ = b.db.View(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bucket)
			if k, v := bk.Cursor().First(); k != nil {
				v = batchValue(bk, k, v)
				if _, created, err := header(v); err == nil {
					age = time.Since(created).Seconds()
				}
			}
			return nil
		})
		if b.gAge != nil {
			b.gAge.SetFloat64(age, b.c.Task)
		}
	}
}

// EndOfInput says no more batches will be written: ReadBatch ends once everything was delivered.
func (b *Buffer) EndOfInput() {
	b.mu.Lock()
	b.ended = true
	b.flushDue, b.flushAt = true, b.lastSeq
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Close stops the buffer: queued writes and deletions are committed and the database is closed. What
// was not delivered stays in the file for the next start.
func (b *Buffer) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
	b.senders.Wait()
	close(b.stop)
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	left := b.records
	b.mu.Unlock()
	b.out.Add(outcome.Buffered, int(left))
	return b.db.Close()
}
