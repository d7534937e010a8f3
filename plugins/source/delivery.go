package source

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"
	"github.com/esa-connect/esa-connect/plugins/record"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/filter"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/selection"
)

// chunk is one batch of raw records read from a source.
type chunk struct {
	recs [][]byte
	// checked: the records are known valid with distinct top-level names (the generator's are, by
	// construction); their messages carry pipeline.MarkChecked so the esa_* processors skip validation.
	checked bool
	// file and spans, for records read from a plain file: where each record is, so that a redelivery
	// reads it there again instead of keeping it in memory.
	file  string
	spans []span
}

// batch is a chunk after selection: the records sampling and the filter kept, as the messages of
// their first delivery and as a replay for the next ones.
type batch struct {
	first   service.MessageBatch // nil once handed out
	replay  replay
	checked bool
}

// tracker gives at-least-once delivery to inputs whose source cannot replay (files, stdin, the
// generator): it hands out batches read from a producer channel and, when a batch is nacked, redelivers
// after an delivery.Backoff delay (until shutdown) the records that failed with a retryable error — only
// those, when the nack names records (a *service.BatchError), else the whole batch — and counts the
// records that failed permanently as undelivered in the stream's outcome. It reports the end of input
// only after the producer finished and every batch it handed out has resolved.
type tracker struct {
	name    string
	src     <-chan batch // selected batches (see startSelection)
	backoff delivery.Backoff
	out     *outcome.Outcome
	log     *service.Logger
	markers bool // send flush markers (pipeline.NewFlushMarker) at the end of the input

	mu          sync.Mutex
	srcDone     bool
	pending     int        // batches handed out (or waiting for redelivery) and not resolved
	pendingRecs int        // their records
	ready       []*attempt // redeliveries whose delay has passed
	closed      bool
	changed     chan struct{}
}

type attempt struct {
	b *batch
	n int // deliveries so far
}

// newTracker returns the tracker of an input whose producer sends raw chunks on src: the chunks go
// through the input's selection (its `select` field, see package selection) on as many goroutines as
// there are CPUs, and only the records it keeps are delivered, each a copy so that the chunk's memory
// is released at once.
func newTracker(name string, src <-chan chunk, conf *service.ParsedConfig, res *service.Resources) (*tracker, error) {
	markers, err := conf.FieldBool("flush_markers")
	if err != nil {
		return nil, err
	}
	stage, err := selection.FromParsed(conf, res)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	batchSize, err := conf.FieldInt("batch_size")
	if err != nil {
		return nil, err
	}
	return &tracker{
		markers: markers,
		name:    name,
		src:     startSelection(stage, src, runtime.GOMAXPROCS(0), batchSize),
		backoff: delivery.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, MaxRetries: -1},
		out:     outcome.From(res),
		log:     res.Logger(),
		changed: make(chan struct{}, 1),
	}, nil
}

// markerRepeat is how often an exhausted input repeats its flush marker while records are unresolved.
const markerRepeat = 200 * time.Millisecond

func (t *tracker) signal() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// ReadBatch returns the next batch: a due redelivery first, else a fresh batch from the producer. It
// returns service.ErrEndOfInput once the producer is done and nothing is pending.
func (t *tracker) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, nil, service.ErrEndOfInput
		}
		if len(t.ready) > 0 {
			a := t.ready[0]
			t.ready[0] = nil
			t.ready = t.ready[1:]
			srcDone := t.srcDone
			t.mu.Unlock()
			b, ack, ok := t.deliver(a)
			if !ok {
				continue
			}
			if srcDone && t.markers {
				// Nothing follows a redelivery at the end of the input: flush it at once.
				b = append(b, pipeline.NewFlushMarker())
			}
			return b, ack, nil
		}
		srcDone, pending := t.srcDone, t.pending
		t.mu.Unlock()
		if srcDone && pending == 0 {
			return nil, nil, service.ErrEndOfInput
		}
		src := t.src
		var remark <-chan time.Time
		if srcDone {
			src = nil
			if t.markers {
				// Pipeline threads may reorder batches, so the marker sent at the end can reach the
				// output before the last records: repeat it while batches are still unresolved.
				remark = time.After(markerRepeat)
			}
		}
		select {
		case <-remark:
			return service.MessageBatch{pipeline.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
		case c, ok := <-src:
			t.mu.Lock()
			if !ok {
				t.srcDone = true
				t.mu.Unlock()
				if !t.markers {
					continue
				}
				// Everything was read: flush the outputs' partial batches now rather than after
				// their batch period, so the input can end as soon as they are delivered.
				return service.MessageBatch{pipeline.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
			}
			t.pending++
			t.pendingRecs += c.replay.len()
			t.mu.Unlock()
			// A first delivery always succeeds: selection made its messages.
			b, ack, _ := t.deliver(&attempt{b: &c})
			return b, ack, nil
		case <-t.changed:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// deliver returns the messages of one delivery of a — the ones selection made for the first, fresh
// ones from the replay for the next (processors never see a message twice) — tagged with their
// record, and its ack function, which resolves the batch exactly once. ok is false when the records
// could not be read again (they are then counted as not delivered and the batch resolved).
func (t *tracker) deliver(a *attempt) (service.MessageBatch, service.AckFunc, bool) {
	a.n++
	msgs := a.b.first
	a.b.first = nil
	if msgs == nil {
		recs, err := a.b.replay.records()
		if err != nil {
			n := a.b.replay.len()
			t.log.Errorf("%s: giving up on %d records that could not be read again: %v", t.name, n, err)
			t.mu.Lock()
			t.out.AddUndelivered(n)
			t.pending--
			t.pendingRecs -= n
			t.mu.Unlock()
			t.signal()
			return nil, nil, false
		}
		msgs = make(service.MessageBatch, len(recs))
		for i, r := range recs {
			msgs[i] = service.NewMessage(r)
		}
		if a.b.checked {
			pipeline.MarkChecked(msgs, true)
		}
	}
	delivery.TagRecords(a, msgs)
	var once sync.Once
	return msgs, func(_ context.Context, err error) error {
		once.Do(func() { t.resolve(a, err) })
		return nil
	}, true
}

func (t *tracker) resolve(a *attempt, err error) {
	n := a.b.replay.len()
	var retry, permanent []int
	if err != nil {
		retry, permanent = delivery.Failures(err, a, n)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	defer t.signal()
	if t.closed {
		// close counted every unresolved record as undelivered; correct that for the ones resolved now.
		t.out.AddUndelivered(-(n - len(retry) - len(permanent)))
		return
	}
	if len(permanent) > 0 {
		t.out.AddUndelivered(len(permanent))
		t.log.Errorf("%s: giving up on %d of %d records of a batch: %v", t.name, len(permanent), n, err)
	}
	if len(retry) == 0 {
		t.pending--
		t.pendingRecs -= n
		return
	}
	if len(retry) < n {
		// Only the records that failed are delivered again.
		sub, serr := a.b.replay.subset(retry)
		if serr != nil {
			t.out.AddUndelivered(len(retry))
			t.log.Errorf("%s: giving up on %d records that could not be read again: %v", t.name, len(retry), serr)
			t.pending--
			t.pendingRecs -= n
			return
		}
		t.pendingRecs -= n - len(retry)
		a = &attempt{b: &batch{replay: sub, checked: a.b.checked}, n: a.n}
	}
	delay := t.backoff.Delay(a.n)
	t.log.Warnf("%s: %d of %d records failed (delivery %d), retrying in %s: %v", t.name, len(retry), n, a.n, delay.Round(time.Millisecond), err)
	time.AfterFunc(delay, func() {
		t.mu.Lock()
		if !t.closed {
			t.ready = append(t.ready, a)
		}
		t.mu.Unlock()
		t.signal()
	})
}

// close stops redelivery. Records of batches that have not resolved (in flight when the stream was
// stopped, or waiting for a redelivery) are counted as undelivered.
func (t *tracker) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	t.ready = nil
	if t.pendingRecs > 0 {
		t.out.AddUndelivered(t.pendingRecs)
		t.log.Errorf("%s: closing with %d records in %d batches not delivered", t.name, t.pendingRecs, t.pending)
	}
	t.signal()
}

// startSelection runs the selection of raw chunks from src on workers goroutines and returns the
// channel of the selected batches, in the order of src, closed once src is closed and every chunk was
// selected. A chunk of which nothing is kept gives no batch. A selected record is a copy: the chunk's
// memory (the bytes of every record read, kept or not) is released as soon as the chunk is selected.
func startSelection(stage *selection.Stage, src <-chan chunk, workers, batchSize int) <-chan batch {
	workers = max(workers, 1)
	type job struct {
		c      chunk
		result chan batch // gets the batch, or is closed when nothing was kept
	}
	jobs := make(chan job)
	order := make(chan chan batch, workers)
	out := make(chan batch, workers)
	// Dispatch: each chunk goes to a worker, and its result slot is queued in the order read.
	go func() {
		defer close(jobs)
		defer close(order)
		for c := range src {
			j := job{c: c, result: make(chan batch, 1)}
			order <- j.result
			jobs <- j
		}
	}()
	for range workers {
		go func() {
			for j := range jobs {
				if b, ok := selectChunk(stage, j.c); ok {
					j.result <- b
				}
				close(j.result)
			}
		}()
	}
	// Collect in order, merging small batches (a selective filter keeps a few records of each chunk):
	// every batch in flight costs a Benthos transaction, its goroutine and its messages' overhead,
	// whatever its size, and a batch waits until the destination wrote its records (for an object, up
	// to a minute). A batch is handed over once it holds half of batchSize records (a chunk that lost
	// nothing to selection goes at once), or when the next chunk is not ready yet; merging never makes a
	// batch larger than batchSize.
	go func() {
		defer close(out)
		var acc batch
		send := func() {
			if acc.replay != nil {
				out <- acc
				acc = batch{}
			}
		}
		for r := range order {
			b, ok := <-r
			if !ok {
				continue
			}
			if acc.replay != nil && (acc.checked != b.checked || acc.replay.len()+b.replay.len() > batchSize) {
				send()
			}
			if acc.replay == nil {
				acc = b
			} else {
				acc.first = append(acc.first, b.first...)
				acc.replay = join(acc.replay, b.replay)
			}
			if acc.replay.len() >= (batchSize+1)/2 || len(order) == 0 {
				send()
			}
		}
		send()
	}()
	return out
}

// selectChunk selects the records of c and builds the batch of the kept ones.
func selectChunk(stage *selection.Stage, c chunk) (batch, bool) {
	var trust filter.Trust
	if c.checked {
		trust = func(int) (bool, bool, record.Index) { return true, true, record.Index{} }
	}
	msgs, from := stage.Select(c.recs, trust, true)
	if len(msgs) == 0 {
		return batch{}, false
	}
	var r replay
	if c.spans != nil {
		spans := make([]span, len(from))
		for k, i := range from {
			spans[k] = c.spans[i]
		}
		r = &fileSpans{path: c.file, spans: spans}
	} else {
		kept := make([][]byte, len(msgs))
		for k, m := range msgs {
			kept[k], _ = m.AsBytes()
		}
		r = pack(kept)
	}
	return batch{first: msgs, replay: r, checked: c.checked}, true
}

// stopOnDrain cancels a producer when the stream is drained (SIGINT/SIGTERM under esa-connect run),
// so the input ends like an exhausted one: what was read is delivered, nothing new is read.
func stopOnDrain(ctx context.Context, cancel context.CancelFunc, out *outcome.Outcome) {
	select {
	case <-out.DrainCh():
		cancel()
	case <-ctx.Done():
	}
}
