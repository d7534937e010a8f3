package source

import (
	"context"
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
// generator): it hands out batches read from a producer channel, redelivers a batch whose nack is
// retryable after an encode.Backoff delay (until shutdown), counts the records of a batch whose nack is
// permanent as undelivered in the stream's outcome, and reports the end of input only after the
// producer finished and every batch it handed out has resolved.
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
	for i, r := range a.c.recs {
		batch[i] = service.NewMessage(r)
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
	t.mu.Lock()
	defer t.mu.Unlock()
	defer t.signal()
	if t.closed {
		// close counted every unresolved record as undelivered; correct that for a late success.
		if err == nil {
			t.out.AddUndelivered(-n)
		}
		return
	}
	switch {
	case err == nil:
	case encode.IsPermanent(err):
		t.out.AddUndelivered(n)
		t.log.Errorf("%s: giving up on a batch of %d records: %v", t.name, n, err)
	default:
		delay := t.backoff.Delay(a.n)
		t.log.Warnf("%s: batch of %d records failed (delivery %d), retrying in %s: %v", t.name, n, a.n, delay.Round(time.Millisecond), err)
		time.AfterFunc(delay, func() {
			t.mu.Lock()
			if !t.closed {
				t.ready = append(t.ready, a)
			}
			t.mu.Unlock()
			t.signal()
		})
		return
	}
	t.pending--
	t.pendingRecs -= n
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
