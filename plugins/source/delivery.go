package source

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// chunk is one batch of raw records read from a source.
type chunk struct {
	recs [][]byte
	// checked: the records are known valid with distinct top-level names (the generator's are, by
	// construction); their messages carry record.MarkChecked so the esa_* processors skip validation.
	checked bool
}

// tracker gives at-least-once delivery to inputs whose source cannot replay (files, stdin, the
// generator): it hands out batches read from a producer channel and, when a batch is nacked, redelivers
// after an encode.Backoff delay (until shutdown) the records that failed with a retryable error — only
// those, when the nack names records (a *service.BatchError), else the whole batch — and counts the
// records that failed permanently as undelivered in the stream's outcome. It reports the end of input
// only after the producer finished and every batch it handed out has resolved.
type tracker struct {
	name    string
	src     <-chan chunk
	backoff encode.Backoff
	out     *outcome.Outcome
	log     *service.Logger
	markers bool // send flush markers (encode.NewFlushMarker) at the end of the input

	mu          sync.Mutex
	srcDone     bool
	pending     int        // batches handed out (or waiting for redelivery) and not resolved
	pendingRecs int        // their records
	ready       []*attempt // redeliveries whose delay has passed
	closed      bool
	changed     chan struct{}
}

type attempt struct {
	c *chunk
	n int // deliveries so far
}

// recordTag is the message context of a record handed out by a tracker: which delivery and which of
// its records it is. A nack that names messages (a *service.BatchError) is mapped back to records
// through it, whatever the processors and outputs did to the batch in between (contexts survive
// copies). The tags of a batch are allocated together.
type recordTag struct {
	context.Context
	a *attempt
	i int
}

type recordTagKey struct{}

// Value implements context.Context.
func (c *recordTag) Value(key any) any {
	if _, ok := key.(recordTagKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// failures sorts the records of the nacked delivery a (of n records) by err: the indexes of the
// records to redeliver and of those failed permanently. When err names no record it can link to a,
// every record failed with err.
func failures(err error, a *attempt, n int) (retry, permanent []int) {
	var berr *service.BatchError
	if errors.As(err, &berr) && berr.IndexedErrors() > 0 {
		failed := make([]error, n)
		linked := true
		//nolint:staticcheck // indexes are not used: records are found by their context tags
		berr.WalkMessages(func(_ int, m *service.Message, merr error) bool {
			tag, _ := m.Context().Value(recordTagKey{}).(*recordTag)
			switch {
			case tag == nil:
				linked = false
				return false
			case tag.a != a || merr == nil:
			default:
				failed[tag.i] = merr
			}
			return true
		})
		if linked {
			for i, e := range failed {
				switch {
				case e == nil:
				case encode.IsPermanent(e):
					permanent = append(permanent, i)
				default:
					retry = append(retry, i)
				}
			}
			return retry, permanent
		}
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if encode.IsPermanent(err) {
		return nil, all
	}
	return all, nil
}

func newTracker(name string, src <-chan chunk, conf *service.ParsedConfig, res *service.Resources) (*tracker, error) {
	markers, err := conf.FieldBool("flush_markers")
	if err != nil {
		return nil, err
	}
	return &tracker{
		markers: markers,
		name:    name,
		src:     src,
		backoff: encode.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, MaxRetries: -1},
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
			b, ack := t.deliver(a)
			if srcDone && t.markers {
				// Nothing follows a redelivery at the end of the input: flush it at once.
				b = append(b, encode.NewFlushMarker())
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
			return service.MessageBatch{encode.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
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
				return service.MessageBatch{encode.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
			}
			t.pending++
			t.pendingRecs += len(c.recs)
			t.mu.Unlock()
			b, ack := t.deliver(&attempt{c: &c})
			return b, ack, nil
		case <-t.changed:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// deliver builds fresh messages for one delivery of a (processors never see a message twice) and its
// ack function, which resolves the batch exactly once.
func (t *tracker) deliver(a *attempt) (service.MessageBatch, service.AckFunc) {
	a.n++
	batch := make(service.MessageBatch, len(a.c.recs))
	tags := make([]recordTag, len(a.c.recs))
	for i, r := range a.c.recs {
		m := service.NewMessage(r)
		tags[i] = recordTag{Context: m.Context(), a: a, i: i}
		batch[i] = m.WithContext(&tags[i])
	}
	if a.c.checked {
		record.MarkChecked(batch, true)
	}
	var once sync.Once
	return batch, func(_ context.Context, err error) error {
		once.Do(func() { t.resolve(a, err) })
		return nil
	}
}

func (t *tracker) resolve(a *attempt, err error) {
	n := len(a.c.recs)
	var retry, permanent []int
	if err != nil {
		retry, permanent = failures(err, a, n)
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
		c := &chunk{recs: make([][]byte, len(retry)), checked: a.c.checked}
		for k, i := range retry {
			c.recs[k] = a.c.recs[i]
		}
		t.pendingRecs -= n - len(retry)
		a = &attempt{c: c, n: a.n}
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

// stopOnDrain cancels a producer when the stream is drained (SIGINT/SIGTERM under esa-connect run),
// so the input ends like an exhausted one: what was read is delivered, nothing new is read.
func stopOnDrain(ctx context.Context, cancel context.CancelFunc, out *outcome.Outcome) {
	select {
	case <-out.DrainCh():
		cancel()
	case <-ctx.Done():
	}
}
