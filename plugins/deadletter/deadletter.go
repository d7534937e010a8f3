// Package deadletter holds a task's dead letter: the esa_dead_letter output, which keeps the records a
// task can never deliver — malformed records and records its destination rejected permanently — and
// Router, through which the esa_* outputs hand it the records their destination rejected.
//
// Only what is permanently undeliverable goes there. A transient failure (network, timeout, 429, 5xx,
// a full disk) is never dead-lettered: the output fails the batch, the input redelivers it, and nothing
// is acknowledged before the destination confirmed it.
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
)

const (
	// Name is the component name of the dead-letter output.
	Name = "esa_dead_letter"
	// Resource is the label of the output resource that holds a translated task's dead letter.
	Resource = "dead_letter"
	// MetaError is the metadata key that carries, on a record the destination rejected, the error it
	// was rejected with.
	MetaError = "esa_error"
	// MetaReason is the metadata key of the reason code of a rejected record (see Reason).
	MetaReason = "esa_reason"
	// MetricDeadLettered counts the records written to a dead letter, labelled task and reason.
	MetricDeadLettered = "esa_records_dead_lettered_total"
	// ReasonRejected is the reason of a record the destination rejected permanently without a more
	// precise code.
	ReasonRejected = "rejected"
)

// Reason is the reason code of a record on its way to the dead letter: the destination's code
// (MetaReason, e.g. "http_413", or "rejected"), else the processors' reason for an invalid record
// ("malformed", "too_large", …), else "unknown".
func Reason(m *service.Message) string {
	if v, ok := m.MetaGetMut(MetaReason); ok {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	if v, ok := m.MetaGet(pipeline.MetaInvalidReason); ok && v != "" {
		return v
	}
	return "unknown"
}

// ConfigSpec is the esa_dead_letter configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Local", "Utility").
		Summary("Keeps the records a task can never deliver: appended, unchanged, one per line to a file, or handed to any output.").
		Description(`A task's dead letter receives its malformed records (not a JSON object, over 1 MiB, …; the
processors flag them when `+"`route_invalid`"+` is on) and the records its destination rejected permanently
(an HTTP 4xx other than 429, a record Kafka refuses as too large, the records of an object a bucket
refuses, …), which the esa_* outputs hand it
through their `+"`dead_letter`"+` field. Records that failed for a reason that may pass (network errors,
timeouts, 429, 5xx, a full disk) never come here: they are retried and redelivered.

With `+"`path`"+` each record is appended to the file unchanged followed by a newline: a batch is written with
one write call per 4 MiB of whole lines and synced to disk before it is acknowledged. If a write stops part
way (a full disk, a crash), the next write starts with a newline, so a cut line never runs into the next
record. The file and its directory are created with owner-only permissions (records can hold personal
data). With `+"`output`"+` the records go to that output instead.

A record rejected by the destination carries the metadata `+"`esa_error`"+` (the error it was rejected with) and
`+"`esa_reason`"+` (a short code: `+"`http_413`"+`, `+"`sls_Unauthorized`"+`, `+"`oss_AccessDenied`"+`, `+"`s3_NoSuchBucket`"+`,
`+"`kafka_MESSAGE_TOO_LARGE`"+`, `+"`<destination>_error`"+` for a code without one of its own, `+"`rejected`"+`, …); an invalid record `+"`esa_invalid_reason`"+`
(`+"`malformed`"+`, `+"`too_large`"+`, …). Every record written is counted in
`+"`esa_records_dead_lettered_total{task,reason}`"+`.

With `+"`envelope: true`"+` each record is written inside an object that says why it is there:
`+"`{\"reason\": \"http_413\", \"error\": \"…\", \"destination\": \"http https://logs.example.com/in\", \"attempts\": 1, \"first_failure\": \"2026-12-06T07:15:02Z\", \"record\": \"…\"}`"+`:
`+"`record`"+` is the record exactly as it was received, as a JSON string (`+"`record_base64`"+` instead when it is not
valid UTF-8); `+"`attempts`"+` is the number of deliveries that failed (0 for an invalid record, which is never
sent); `+"`first_failure`"+` is when the first of them failed.`).
		Fields(
			pipeline.TaskField(),
			service.NewStringField("path").Description("The file that records are appended to. Exactly one of `path` and `output`.").Default(""),
			service.NewOutputField("output").Description("Any output to hand the records to instead of a file.").Optional(),
			service.NewBoolField("envelope").Description("Write each record inside an object with its reason, error, destination, attempts and first failure time (see above).").Default(false),
			service.NewStringField("destination").Description("The destination named in the envelope (the translator sets it, without credentials).").Default(""),
		).
		Example("A dead-letter file", "Malformed and rejected records of task access-logs.", `
output_resources:
  - label: dead_letter
    esa_dead_letter:
      task: access-logs
      path: ./dead/access-logs.dead-letter.ndjson
`)
}

// Register registers the esa_dead_letter output on env.
func Register(env *service.Environment) error {
	return env.RegisterBatchOutput(Name, ConfigSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		o, mif, err := fromParsed(conf, res)
		return o, service.BatchPolicy{}, mif, err
	})
}

type output struct {
	task        string
	file        *lineFile // or
	owned       *service.OwnedOutput
	counter     *service.MetricCounter
	outcome     *outcome.Outcome
	envelope    bool
	destination string
}

// Config is the configuration of an esa_dead_letter output (ConfigSpec): a line file at Path, or
// Output.
type Config struct {
	Task        string
	Path        string
	Output      *service.OwnedOutput
	Envelope    bool
	Destination string
}

// fromParsed builds an esa_dead_letter output from its parsed config (ConfigSpec).
func fromParsed(conf *service.ParsedConfig, res *service.Resources) (*output, int, error) {
	c, err := parseConfig(conf)
	if err != nil {
		return nil, 0, err
	}
	return newOutput(c, res)
}

// parseConfig reads an esa_dead_letter config; the output is built only when path is empty.
func parseConfig(conf *service.ParsedConfig) (Config, error) {
	var c Config
	var err error
	if c.Task, err = conf.FieldString("task"); err != nil {
		return c, err
	}
	if c.Path, err = conf.FieldString("path"); err != nil {
		return c, err
	}
	if c.Envelope, err = conf.FieldBool("envelope"); err != nil {
		return c, err
	}
	if c.Destination, err = conf.FieldString("destination"); err != nil {
		return c, err
	}
	if conf.Contains("output") {
		if c.Path != "" {
			return c, fmt.Errorf("%s: set path or output, not both", Name)
		}
		if c.Output, err = conf.FieldOutput("output"); err != nil {
			return c, fmt.Errorf("%s: output: %w", Name, err)
		}
	}
	return c, nil
}

// newOutput builds an esa_dead_letter output from c and returns its max_in_flight (1 for a file).
func newOutput(c Config, res *service.Resources) (*output, int, error) {
	o := &output{task: c.Task, outcome: outcome.From(res), counter: res.Metrics().NewCounter(MetricDeadLettered, "task", "reason"),
		envelope: c.Envelope, destination: c.Destination}
	switch {
	case c.Path != "" && c.Output != nil:
		return nil, 0, fmt.Errorf("%s: set path or output, not both", Name)
	case c.Path != "":
		o.file = &lineFile{path: c.Path}
		return o, 1, nil
	case c.Output != nil:
		o.owned = c.Output
		return o, 8, nil
	}
	return nil, 0, fmt.Errorf("%s: set path or output", Name)
}

// Connect opens the file (creating its directory); a file that cannot be opened is a configuration
// error that stops the run.
func (o *output) Connect(context.Context) error {
	if o.file == nil {
		return nil
	}
	if err := o.file.open(); err != nil {
		err = fmt.Errorf("%s: %w", Name, err)
		o.outcome.Fatal(err)
		return err
	}
	return nil
}

// WriteBatch writes the records of batch (flush markers are dropped) and counts them.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	recs := pipeline.WithoutMarkers(batch)
	if len(recs) == 0 {
		return nil
	}
	if o.envelope {
		wrapped, err := o.wrap(recs)
		if err != nil {
			return fmt.Errorf("%s: %w", Name, err)
		}
		recs = wrapped
	}
	var err error
	if o.file != nil {
		err = o.file.write(recs)
	} else {
		err = o.owned.WriteBatch(ctx, recs)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	reasons := map[string]int64{}
	for _, m := range batch {
		if !pipeline.IsFlushMarker(m) {
			reasons[Reason(m)]++
		}
	}
	for r, n := range reasons {
		o.counter.Incr(n, o.task, r)
	}
	o.outcome.Add(outcome.DeadLettered, len(recs))
	return nil
}

// envelopeRecord is a dead-lettered record with why it is there.
type envelopeRecord struct {
	Reason       string `json:"reason"`
	Error        string `json:"error,omitempty"`
	Destination  string `json:"destination,omitempty"`
	Attempts     int    `json:"attempts"`
	FirstFailure string `json:"first_failure,omitempty"`
	Record       string `json:"record,omitempty"`
	RecordBase64 []byte `json:"record_base64,omitempty"`
}

// wrap returns new messages holding each record of recs in its envelope.
func (o *output) wrap(recs service.MessageBatch) (service.MessageBatch, error) {
	out := make(service.MessageBatch, len(recs))
	now := time.Now().UTC().Format(time.RFC3339)
	for i, m := range recs {
		b, err := m.AsBytes()
		if err != nil {
			return nil, err
		}
		e := envelopeRecord{Reason: Reason(m), Destination: o.destination, FirstFailure: now}
		if v, ok := m.MetaGet(MetaError); ok {
			e.Error = v
			e.Attempts = 1 // a permanent rejection is not retried
		} else {
			e.FirstFailure = "" // an invalid record was never sent
		}
		if utf8.Valid(b) {
			e.Record = string(b)
		} else {
			e.RecordBase64 = b
		}
		j, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		out[i] = m.Copy()
		out[i].SetBytes(j)
	}
	return out, nil
}

// Close closes the file or the output.
func (o *output) Close(ctx context.Context) error {
	if o.owned != nil {
		return o.owned.Close(ctx)
	}
	return o.file.close()
}

// writeChunk is the most bytes one write call carries; a batch is written in chunks of whole lines.
const writeChunk = 4 << 20

// lineFile appends records as lines to a file, torn-write safe (see ConfigSpec).
type lineFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
	// torn is set when the file may end without a newline: the next write starts with one.
	torn bool
	buf  []byte
}

func (l *lineFile) open() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", l.path, err)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", l.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("opening %s: %w", l.path, err)
	}
	if st.Size() > 0 {
		var last [1]byte
		if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
			_ = f.Close()
			return fmt.Errorf("reading the end of %s: %w", l.path, err)
		}
		l.torn = last[0] != '\n'
	}
	l.f = f
	return nil
}

func (l *lineFile) write(recs service.MessageBatch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("%s is not open", l.path)
	}
	buf := l.buf[:0]
	if l.torn {
		buf = append(buf, '\n')
	}
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		n, err := l.f.Write(buf)
		if err != nil {
			if n > 0 {
				l.torn = true
			}
			return fmt.Errorf("appending to %s: %w", l.path, err)
		}
		l.torn = false
		buf = buf[:0]
		return nil
	}
	for _, m := range recs {
		b, err := m.AsBytes()
		if err != nil {
			return fmt.Errorf("reading a record: %w", err)
		}
		if len(buf) > 0 && len(buf)+len(b)+1 > writeChunk {
			if err := flush(); err != nil {
				return err
			}
		}
		buf = append(buf, b...)
		buf = append(buf, '\n')
	}
	if err := flush(); err != nil {
		return err
	}
	if cap(buf) <= writeChunk+1 {
		l.buf = buf
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", l.path, err)
	}
	return nil
}

func (l *lineFile) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Field is the `dead_letter` field of the esa_* outputs, read by NewRouter.
func Field() *service.ConfigField {
	return service.NewStringField("dead_letter").
		Description("The label of an output resource (normally an `" + Name + "`) that receives the records the destination rejects permanently, each with metadata `" + MetaError + "`. Empty: such records fail their batch and the input counts them as not delivered. Records that fail for a reason that may pass (network, timeout, 429, 5xx) are never sent there: the batch fails and the input redelivers it.").
		Default("").
		Advanced()
}

// Router hands the records that a destination rejected permanently to the task's dead letter. A nil
// or empty Router sends nothing anywhere: the rejection stays an error of the batch.
type Router struct {
	res   *service.Resources
	label string
}

// Enabled reports whether r hands records to a dead letter.
func (r *Router) Enabled() bool { return r != nil && r.label != "" }

// NewRouter reads the `dead_letter` field (Field) of an output's config.
func NewRouter(conf *service.ParsedConfig, res *service.Resources) (*Router, error) {
	label, err := conf.FieldString("dead_letter")
	if err != nil {
		return nil, err
	}
	if label != "" && res != nil && !res.HasOutput(label) {
		return nil, fmt.Errorf("dead_letter: no output resource labelled %q", label)
	}
	return &Router{res: res, label: label}, nil
}

// Write calls write with batch minus its flush markers (not at all when only markers are left) and
// resolves what write reports: a *delivery.Partial names the records that failed by their position
// in the batch write was given, any other error is every record's. Records that failed with an
// *delivery.Permanent error go to the dead letter, and count as done once it took them; every other
// failure (or a dead letter that failed too) is returned as a *service.BatchError on batch that names
// exactly those records, so that only they are nacked and redelivered.
func (r *Router) Write(ctx context.Context, batch service.MessageBatch, write func(context.Context, service.MessageBatch) error) error {
	recs := pipeline.WithoutMarkers(batch)
	if len(recs) == 0 {
		return nil
	}
	err := write(ctx, recs)
	if err == nil {
		return nil
	}
	var part *delivery.Partial
	isPart := errors.As(err, &part) && len(part.Errs) == len(recs)
	if !isPart && (r == nil || r.label == "") && len(recs) == len(batch) {
		return err
	}
	// The error of every record of recs.
	errs := make([]error, len(recs))
	if isPart {
		copy(errs, part.Errs)
	} else {
		for i := range errs {
			errs[i] = err
		}
	}
	if r != nil && r.label != "" {
		var dead service.MessageBatch
		var deadIdx []int
		for i, e := range errs {
			if e != nil && delivery.IsPermanent(e) {
				m := recs[i]
				m.MetaSetMut(MetaError, e.Error())
				reason := ReasonRejected
				var pe *delivery.Permanent
				if errors.As(e, &pe) && pe.Reason != "" {
					reason = pe.Reason
				}
				m.MetaSetMut(MetaReason, reason)
				dead = append(dead, m)
				deadIdx = append(deadIdx, i)
			}
		}
		if len(dead) > 0 {
			derr := r.res.AccessOutput(ctx, r.label, func(o *service.ResourceOutput) {
				err = o.WriteBatch(ctx, dead)
			})
			if derr == nil {
				derr = err
			}
			for _, i := range deadIdx {
				if derr == nil {
					errs[i] = nil
				} else {
					// The record stays undelivered; redelivering it may find the dead letter working.
					errs[i] = retryable{fmt.Errorf("%w; the dead letter did not take it: %v", errs[i], derr)}
				}
			}
		}
	}
	// Map what is still failed onto batch (which may hold flush markers between records).
	pos := make([]int, 0, len(recs))
	if len(recs) == len(batch) {
		for i := range recs {
			pos = append(pos, i)
		}
	} else {
		for i, m := range batch {
			if !pipeline.IsFlushMarker(m) {
				pos = append(pos, i)
			}
		}
	}
	// The headline (what an input that does not read per-record errors sees) is a retryable failure
	// when there is one, so that such an input redelivers rather than gives up.
	headline := -1
	for i, e := range errs {
		if e != nil && (headline < 0 || delivery.IsPermanent(errs[headline]) && !delivery.IsPermanent(e)) {
			headline = i
		}
	}
	if headline < 0 {
		return nil
	}
	out := service.NewBatchError(batch, errs[headline])
	for i, e := range errs {
		if e != nil {
			out.Failed(pos[i], e)
		}
	}
	return out
}

// retryable hides the *delivery.Permanent inside an error: a record the dead letter did not take is
// retried, not given up on.
type retryable struct{ err error }

func (e retryable) Error() string { return e.err.Error() }
