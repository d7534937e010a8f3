// Package outcome carries a stream's delivery outcome from its components to the command that runs it:
// the record counts of the run summary, records that could not be delivered, and fatal configuration
// errors (such as credentials that a destination rejects at connect time, or an address that cannot be
// bound) that must stop the run with a non-zero exit.
//
// One Outcome lives per stream, stored in the stream's Resources, so components and the runner find
// the same one without global state.
package outcome

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

type key struct{}

// Outcome collects a stream's delivery outcome. It is safe for concurrent use.
type Outcome struct {
	counts      [numCounts]atomic.Int64
	undelivered atomic.Int64
	once        sync.Once
	fatal       chan struct{}
	mu          sync.Mutex
	fatalErr    error
	drainOnce   sync.Once
	drain       chan struct{}
	full        atomic.Bool
	connectOnce sync.Once
	connected   chan struct{}

	health Health // under mu
}

// Health is what a stream's destination answered last: when a delivery last completed, when one last
// failed and why. The message is cleared by the next success; messages hold what the destination
// answered (a status, the first bytes of a body), never a credential.
type Health struct {
	// LastComplete is when the destination last confirmed records (zero: never).
	LastComplete time.Time
	// LastError is when a delivery last failed or was retried (zero: never).
	LastError time.Time
	// ErrorMessage is the error of the last failure since the last success ("" after a success).
	ErrorMessage string
}

// maxErrorMessage bounds the message kept in Health.
const maxErrorMessage = 512

// Succeeded records that the destination confirmed records now.
func (o *Outcome) Succeeded() {
	now := time.Now()
	o.mu.Lock()
	o.health.LastComplete = now
	o.health.ErrorMessage = ""
	o.mu.Unlock()
}

// Failed records that a delivery failed (or is being retried) now with err.
func (o *Outcome) Failed(err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	if len(msg) > maxErrorMessage {
		msg = strings.ToValidUTF8(msg[:maxErrorMessage], "") + "…"
	}
	now := time.Now()
	o.mu.Lock()
	o.health.LastError = now
	o.health.ErrorMessage = msg
	o.mu.Unlock()
}

// Health returns the stream's delivery health.
func (o *Outcome) Health() Health {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.health
}

// New returns an empty Outcome.
func New() *Outcome {
	return &Outcome{fatal: make(chan struct{}), drain: make(chan struct{}), connected: make(chan struct{})}
}

// Connected records that the stream's destination output connected: it checked what it can check
// at connect time (credentials, the bucket, the logstore, the topic's metadata, a writable
// directory) and found nothing wrong. esa-connect serve waits for it (or Fatal) before it answers
// the creation of a task.
func (o *Outcome) Connected() { o.connectOnce.Do(func() { close(o.connected) }) }

// ConnectedCh is closed when Connected is first called.
func (o *Outcome) ConnectedCh() <-chan struct{} { return o.connected }

// From returns the Outcome of the stream that owns res, creating it on first use. A nil res (as in
// some unit tests) yields a fresh Outcome.
func From(res *service.Resources) *Outcome {
	if res == nil {
		return New()
	}
	v, _ := res.GetOrSetGeneric(key{}, New())
	return v.(*Outcome)
}

// Count names one of the record counts of a stream (its run summary). Each is counted where the
// matching esa_* metric is: a record redelivered after a retryable failure is counted again.
type Count int

const (
	// In counts the records that entered the processors (esa_records_in_total).
	In Count = iota
	// SampledOut counts the records that sampling dropped.
	SampledOut
	// FilteredOut counts the records that the filter dropped.
	FilteredOut
	// Invalid counts malformed records (not a JSON object, over 1 MiB, …); each is also counted as
	// dead-lettered or, without a dead letter, as not delivered.
	Invalid
	// Delivered counts the records the destination confirmed.
	Delivered
	// DeadLettered counts the records written to the dead letter.
	DeadLettered
	// Buffered counts the records left in a disk buffer when the stream stopped: safe on disk, they
	// are delivered at the next start.
	Buffered
	// Restored counts the records a disk buffer held when the stream started (left by an earlier run).
	Restored
	numCounts
)

// Add adds n to the count c.
func (o *Outcome) Add(c Count, n int) { o.counts[c].Add(int64(n)) }

// Counts are a snapshot of a stream's record counts.
type Counts struct {
	In, SampledOut, FilteredOut, Invalid, Delivered, DeadLettered int64
	// Buffered are the records a disk buffer still holds (see Buffered); Restored those it held at
	// the start.
	Buffered, Restored int64
	// NotDelivered are the records given up on: failed permanently without a dead letter, invalid
	// without a dead letter, or still unacknowledged when the stream stopped.
	NotDelivered int64
}

// Counts returns the current counts.
func (o *Outcome) Counts() Counts {
	return Counts{
		In: o.counts[In].Load(), SampledOut: o.counts[SampledOut].Load(), FilteredOut: o.counts[FilteredOut].Load(),
		Invalid: o.counts[Invalid].Load(), Delivered: o.counts[Delivered].Load(),
		DeadLettered: o.counts[DeadLettered].Load(), Buffered: o.counts[Buffered].Load(), Restored: o.counts[Restored].Load(), NotDelivered: o.undelivered.Load(),
	}
}

// String is the summary line: "1000 in, 500 sampled out, 400 filtered out, 2 invalid, 98 delivered,
// 2 dead-lettered, 0 not delivered", with ", 1400 from the disk buffer" when a disk buffer held
// records from an earlier run and ", 300 left in the disk buffer" when it still holds records.
func (c Counts) String() string {
	s := fmt.Sprintf("%d in, %d sampled out, %d filtered out, %d invalid, %d delivered, %d dead-lettered, %d not delivered",
		c.In, c.SampledOut, c.FilteredOut, c.Invalid, c.Delivered, c.DeadLettered, c.NotDelivered)
	if c.Restored > 0 {
		s += fmt.Sprintf(", %d from the disk buffer", c.Restored)
	}
	if c.Buffered > 0 {
		s += fmt.Sprintf(", %d left in the disk buffer", c.Buffered)
	}
	return s
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
// pipeline.NewFlushMarker) and end as if their input was exhausted: the graceful stop that SIGINT and
// SIGTERM trigger, in which every partial batch is delivered before the process exits.
func (o *Outcome) Drain() { o.drainOnce.Do(func() { close(o.drain) }) }

// DrainCh is closed when Drain is first called.
func (o *Outcome) DrainCh() <-chan struct{} { return o.drain }

// SetFull says whether the stream's disk buffer is full: while it is, the HTTP ingest answers new
// requests 503 with Retry-After instead of accepting records it could not store.
func (o *Outcome) SetFull(full bool) { o.full.Store(full) }

// Full reports whether the stream's disk buffer is full.
func (o *Outcome) Full() bool { return o.full.Load() }
