// Package outcome carries a stream's delivery outcome from its components to the command that runs it:
// records that could not be delivered, and fatal configuration errors (such as credentials that a
// destination rejects at connect time) that must stop the run with a non-zero exit.
//
// One Outcome lives per stream, stored in the stream's Resources, so components and the runner find
// the same one without global state.
package outcome

import (
	"sync"
	"sync/atomic"

	"github.com/redpanda-data/benthos/v4/public/service"
)

type key struct{}

// Outcome collects a stream's delivery outcome. It is safe for concurrent use.
type Outcome struct {
	undelivered atomic.Int64
	once        sync.Once
	fatal       chan struct{}
	mu          sync.Mutex
	fatalErr    error
	drainOnce   sync.Once
	drain       chan struct{}
}

// New returns an empty Outcome.
func New() *Outcome { return &Outcome{fatal: make(chan struct{}), drain: make(chan struct{})} }

// From returns the Outcome of the stream that owns res, creating it on first use. A nil res (as in
// some unit tests) yields a fresh Outcome.
func From(res *service.Resources) *Outcome {
	if res == nil {
		return New()
	}
	v, _ := res.GetOrSetGeneric(key{}, New())
	return v.(*Outcome)
}

// AddUndelivered records n records that were given up on (not delivered, not dead-lettered).
func (o *Outcome) AddUndelivered(n int) { o.undelivered.Add(int64(n)) }

// Undelivered is the number of records given up on so far.
func (o *Outcome) Undelivered() int64 { return o.undelivered.Load() }

// Fatal records a configuration error that must stop the run (the first one wins) and closes Done.
func (o *Outcome) Fatal(err error) {
	o.once.Do(func() {
		o.mu.Lock()
		o.fatalErr = err
		o.mu.Unlock()
		close(o.fatal)
	})
}

// FatalErr returns the fatal error, or nil.
func (o *Outcome) FatalErr() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fatalErr
}

// FatalCh is closed when Fatal is first called.
func (o *Outcome) FatalCh() <-chan struct{} { return o.fatal }

// Drain asks the stream's inputs to stop reading new records, flush what they have (see
// encode.NewFlushMarker) and end as if their input was exhausted: the graceful stop that SIGINT and
// SIGTERM trigger, in which every partial batch is delivered before the process exits.
func (o *Outcome) Drain() { o.drainOnce.Do(func() { close(o.drain) }) }

// DrainCh is closed when Drain is first called.
func (o *Outcome) DrainCh() <-chan struct{} { return o.drain }
