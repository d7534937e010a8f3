package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"
	"github.com/esa-connect/esa-connect/plugins/record"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/selection"
)

// FeedName is the esa_feed input's component name: esa-connect serve registers a Feed under it as
// the input of each task's stream.
const FeedName = "esa_feed"

// FeedSpec is the configuration of a Feed: the fields of esa_http_server that are about the task's
// stream rather than the HTTP endpoint (batch size, flush timing, the task's selection).
func FeedSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Categories("Network").
		Summary("The records that esa-connect serve's ingest routes to one task: answered once delivered.").
		Description(`Used by `+"`esa-connect serve`"+` (not in a pipeline you write): the ingest endpoint of serve reads a
request once and offers its records to the feed of every online task of the site and category; each feed
samples and filters them for its task and hands them to its stream in batches; the request is answered once
every task acknowledged them.`).
		Fields(
			pipeline.TaskField(),
			service.NewIntField("batch_size").
				Description("Maximum records per batch; a larger request is split into several batches.").
				Default(1000).Advanced(),
			selection.Field(),
			service.NewDurationField("flush_after").
				Description("Flush the destination's partial batch for a request that has waited this long; 0 waits for the batch policy.").
				Default(DefaultFlushAfter.String()).Advanced(),
			service.NewBoolField("flush_markers").
				Description("Send flush markers when the stream is drained or a request has waited `flush_after`.").
				Default(true).Advanced(),
		)
}

// Feed hands the records of ingest requests to one stream: Offer selects a request's records for the
// stream's task and passes them to ReadBatch in batches; the Delivery it returns settles when the stream
// has acknowledged every batch. It is the stream side of esa_http_server (one endpoint, one stream)
// and of esa-connect serve's ingest (one endpoint, a feed per task).
type Feed struct {
	name       string
	batchSize  int
	flushAfter time.Duration
	markers    bool
	stage      *selection.Stage
	out        *outcome.Outcome

	batches   chan feedBatch
	flush     chan struct{} // a request asks for a flush marker
	closed    chan struct{}
	once      sync.Once
	drain     <-chan struct{} // closed when the stream is drained; nil without flush markers
	drainDone bool            // the flush marker was handed out (ReadBatch is not called concurrently)
}

// feedBatch is one batch of a request on its way to ReadBatch: the messages of the records selection
// kept (marked valid when they were validated at the ingest, so the processors do not validate them
// again).
type feedBatch struct {
	msgs service.MessageBatch
	d    *Delivery
}

// NewFeed reads a Feed's configuration (FeedSpec, or the same fields of esa_http_server); name
// prefixes its messages.
func NewFeed(name string, conf *service.ParsedConfig, res *service.Resources) (*Feed, error) {
	f := &Feed{name: name, out: outcome.From(res), batches: make(chan feedBatch),
		flush: make(chan struct{}, 1), closed: make(chan struct{})}
	var err error
	if f.batchSize, err = conf.FieldInt("batch_size"); err != nil {
		return nil, err
	}
	if f.batchSize < 1 {
		return nil, fmt.Errorf("%s: batch_size %d must be at least 1", name, f.batchSize)
	}
	if f.flushAfter, err = conf.FieldDuration("flush_after"); err != nil {
		return nil, err
	}
	if f.flushAfter != 0 && f.flushAfter < 100*time.Millisecond {
		return nil, fmt.Errorf("%s: flush_after %s must be 0 or at least 100ms", name, f.flushAfter)
	}
	if f.markers, err = conf.FieldBool("flush_markers"); err != nil {
		return nil, err
	}
	if f.markers {
		f.drain = f.out.DrainCh()
	}
	if f.stage, err = selection.FromParsed(conf, res); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// Full reports whether the stream's disk buffer is full: a request should then be turned away
// (503 with Retry-After) rather than offered.
func (f *Feed) Full() bool { return f.out.Full() }

// Outcome is the outcome of the feed's stream.
func (f *Feed) Outcome() *outcome.Outcome { return f.out }

// ErrClosed is returned by Offer and Delivery.Wait when the feed closed (its stream is stopping)
// before the records were taken or acknowledged.
var ErrClosed = errors.New("the task is stopping")

// Delivery is the fate of one request's records in one stream.
type Delivery struct {
	f       *Feed
	mu      sync.Mutex
	left    int
	err     error
	settled chan struct{}
}

func (d *Delivery) ack(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil && d.err == nil {
		d.err = err
	}
	d.left--
	if d.left == 0 {
		close(d.settled)
	}
}

// Offer selects the records of b for this feed's task and hands the kept ones to the stream. When ctx
// ends or the feed closes before the stream took every batch, it waits for the batches already taken
// (they may reference b) and returns ctx's error or ErrClosed.
func (f *Feed) Offer(ctx context.Context, b *Body) (*Delivery, error) {
	recs := b.lines.recs
	n := (len(recs) + f.batchSize - 1) / f.batchSize
	d := &Delivery{f: f, left: n, settled: make(chan struct{})}
	if n == 0 {
		close(d.settled)
		return d, nil
	}
	sent := 0
	for i := 0; i < len(recs); i += f.batchSize {
		j := min(i+f.batchSize, len(recs))
		trust := func(k int) (bool, bool, record.Index) { return b.valid[i+k], b.unique[i+k], b.index(i + k) }
		msgs, _ := f.stage.Select(recs[i:j], trust, false)
		if b.received != nil && i == 0 && len(msgs) == len(recs) {
			// The batch is the whole body: a disk buffer may store the body as it came.
			msgs[0] = pipeline.WithReceived(msgs[0], b.received)
		}
		if len(msgs) == 0 {
			d.ack(nil) // sampled or filtered out: nothing to deliver
			sent++
			continue
		}
		select {
		case f.batches <- feedBatch{msgs: msgs, d: d}:
			sent++
		case <-ctx.Done():
			d.abandon(sent, n)
			return nil, ctx.Err()
		case <-f.closed:
			d.abandon(sent, n)
			return nil, fmt.Errorf("%w: %d of %d batches were not taken", ErrClosed, n-sent, n)
		}
	}
	return d, nil
}

// abandon resolves the batches that were never sent and waits for the sent ones, so that the body
// they reference stays in use (and counted in the budget) until nothing references it.
func (d *Delivery) abandon(sent, n int) {
	for range n - sent {
		d.ack(nil)
	}
	if sent > 0 {
		<-d.settled
	}
}

// shutdownWait is how long Wait still waits for records in flight once the feed closed.
const shutdownWait = 10 * time.Second

// Wait waits until the stream acknowledged every batch of the delivery and returns the first nack's
// error. Meanwhile, once the request has waited flush_after, it asks the stream for a flush marker
// (and again every flush_after), so the answer does not wait for the destination's batch period.
// When ctx ends it still waits for the batches (the body stays referenced) and returns ctx's error;
// when the feed closes it waits up to 10 s more and then returns ErrClosed; settled then reports
// whether the batches resolved (the body may be released).
func (d *Delivery) Wait(ctx context.Context) (settled bool, err error) {
	f := d.f
	if f.flushAfter > 0 && f.markers {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(f.flushAfter)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					select {
					case f.flush <- struct{}{}:
					default:
					}
				case <-d.settled:
					return
				case <-stop:
					return
				}
			}
		}()
	}
	select {
	case <-d.settled:
	case <-ctx.Done():
		<-d.settled
		return true, ctx.Err()
	case <-f.closed:
		select {
		case <-d.settled:
		case <-time.After(shutdownWait):
			return false, fmt.Errorf("%w before the records were delivered", ErrClosed)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return true, d.err
}

// ReadBatch returns the next batch of any request (its ack settles that request's part), or a flush
// marker when a request has waited flush_after or the stream is drained.
func (f *Feed) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if f.drainDone {
		return nil, nil, service.ErrEndOfInput
	}
	select {
	case b := <-f.batches:
		var once sync.Once
		return b.msgs, func(_ context.Context, err error) error {
			once.Do(func() { b.d.ack(err) })
			return nil
		}, nil
	case <-f.flush:
		return service.MessageBatch{pipeline.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
	case <-f.closed:
		return nil, nil, service.ErrEndOfInput
	case <-f.drain:
		// Drained: requests still waiting get 503 when the input closes; the batches already handed
		// out are flushed by the marker and answered once delivered.
		f.drainDone = true
		return service.MessageBatch{pipeline.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// Connect does nothing: the feed is fed by its owner.
func (f *Feed) Connect(context.Context) error {
	select {
	case <-f.closed:
		return service.ErrEndOfInput
	default:
		return nil
	}
}

// Close stops taking records: offers in progress end with ErrClosed.
func (f *Feed) Close(context.Context) error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// Closed is closed once the feed closed.
func (f *Feed) Closed() <-chan struct{} { return f.closed }
