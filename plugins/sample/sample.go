// Package sample implements the esa_sample processor (docs/processing.md#sampling): keep each record
// with probability rate/100, either at random or, with a key field, by a stable hash of that field's
// value.
package sample

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// Name is the component name.
const Name = "esa_sample"

// Metric names (labelled task).
const (
	MetricIn         = "esa_records_in_total"
	MetricSampledOut = "esa_records_sampled_out_total"
)

// ConfigSpec returns the esa_sample config spec.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Categories("Utility").
		Summary("Keeps each ESA log record with probability `rate`/100 (ESA's sampling rate), at random or by a stable hash of a key field.").
		Description(`
Sampling is the first step of an ESA delivery task. Each record is kept independently with
probability `+"`rate`"+` / 100; `+"`rate: 100`"+` keeps every record without drawing random numbers.

Without `+"`key`"+` the decision is random per record (a PCG generator per processor, seeded from the
operating system). With `+"`key`"+` it is a pure function of that top-level field's value, so every
replica and every task with the same rate keeps or drops the same request: the value's text (a string
decoded, a number or boolean as its JSON text, a missing field or any other value as the empty string) is hashed with
FNV-1a 64, mixed with the SplitMix64 finalizer, and the record is kept when the top 53 bits, read as a
fraction in [0, 1), are below `+"`rate`"+` / 100.

The processor counts `+"`esa_records_in_total`"+` (every record it receives) and
`+"`esa_records_sampled_out_total`"+`, labelled `+"`task`"+`; flush markers (empty messages with metadata
`+"`esa_flush`"+`) pass through untouched and uncounted. It does not validate records: it only
looks up the key field, and a record it cannot read hashes like an empty key. Malformed records are
detected, counted and routed by the `+"`esa_filter`"+` and `+"`esa_fields`"+` processors that follow it
(sampling is independent of content, so a malformed record that is sampled out is simply not delivered,
like any other). Messages already flagged with an error pass through untouched.`).
		Fields(
			service.NewFloatField("rate").
				Description("Percentage of records to keep, in (0, 100]. 100 keeps everything.").
				Default(100.0),
			service.NewStringField("key").
				Description("Optional top-level field whose value decides deterministically (e.g. `ClientRequestID`). Empty: random per record.").
				Default("").
				Example("ClientRequestID"),
			pipeline.TaskField(),
		).
		LintRule(`root = if this.rate != null && (this.rate <= 0 || this.rate > 100) { [ "rate must be in (0, 100]" ] }`).
		Example("Keep a quarter of the records", "Random sampling at 25 %.", `
pipeline:
  processors:
    - esa_sample:
        rate: 25
        task: access-to-s3
`).
		Example("Deterministic sampling", "Every replica keeps the same 10 % of requests, chosen by request ID.", `
pipeline:
  processors:
    - esa_sample:
        rate: 10
        key: ClientRequestID
        task: access-to-s3
`)
}

// Register registers esa_sample on env.
func Register(env *service.Environment) error {
	return env.RegisterBatchProcessor(Name, ConfigSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.BatchProcessor, error) {
			return FromParsed(conf, res)
		})
}

// Config is the plain configuration of a Processor.
type Config struct {
	Rate float64
	Key  string
	Task string
}

// FromParsed builds a Processor from a parsed esa_sample config.
func FromParsed(conf *service.ParsedConfig, res *service.Resources) (*Processor, error) {
	var c Config
	var err error
	if c.Rate, err = conf.FieldFloat("rate"); err != nil {
		return nil, err
	}
	if c.Key, err = conf.FieldString("key"); err != nil {
		return nil, err
	}
	if c.Task, err = conf.FieldString("task"); err != nil {
		return nil, err
	}
	return New(c, res, rand.Uint64(), rand.Uint64())
}

// Processor is the esa_sample batch processor.
type Processor struct {
	all       bool   // rate 100: keep everything, no draws
	threshold uint64 // keep when a 53-bit uniform value is below it
	task      string
	key       string // "" for random sampling

	mu  sync.Mutex
	rng *rand.PCG // seeds one generator per batch

	in, out *service.MetricCounter
	outcome *outcome.Outcome
}

// New returns a Processor for c whose random source is seeded with seed1, seed2 (fixed seeds make the
// random decisions reproducible; FromParsed seeds from the OS). res may be nil (no metrics, no logs).
func New(c Config, res *service.Resources, seed1, seed2 uint64) (*Processor, error) {
	if math.IsNaN(c.Rate) || c.Rate <= 0 || c.Rate > 100 {
		return nil, fmt.Errorf("%s: rate %v is not in (0, 100]", Name, c.Rate)
	}
	p := &Processor{
		all:       c.Rate >= 100,
		threshold: Threshold(c.Rate),
		task:      c.Task,
		rng:       rand.NewPCG(seed1, seed2),
		outcome:   outcome.From(res),
	}
	p.key = c.Key
	if res != nil {
		p.in = res.Metrics().NewCounter(MetricIn, "task")
		p.out = res.Metrics().NewCounter(MetricSampledOut, "task")
	}
	return p, nil
}

// Threshold returns the 53-bit threshold for rate: a uniform 53-bit value u is kept when u < Threshold.
func Threshold(rate float64) uint64 {
	if rate >= 100 {
		return 1 << 53
	}
	return uint64(math.Round(rate / 100 * (1 << 53)))
}

// KeyHash returns the 53-bit value a key decides by: FNV-1a 64 of key, mixed with the SplitMix64
// finalizer, top 53 bits. A record is kept when KeyHash(key) < Threshold(rate).
func KeyHash[T string | []byte](key T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h >> 11
}

// keyHash hashes the text of the key field of msg (see KeyHash); a missing key, null, an object, an
// array or a record that cannot be read hashes as "".
func (p *Processor) keyHash(msg *service.Message, scratch []byte) uint64 {
	rec, err := msg.AsBytes()
	if err != nil {
		return KeyHash("")
	}
	return p.recordKeyHash(rec, scratch)
}

// recordKeyHash is keyHash of the raw record rec.
func (p *Processor) recordKeyHash(rec []byte, scratch []byte) uint64 {
	raw, kind, found := record.Lookup(rec, p.key)
	if !found {
		return KeyHash("")
	}
	v := record.Value{Raw: raw, Kind: kind}
	if kind == record.String {
		inner := v.Inner()
		if bytes.IndexByte(inner, '\\') < 0 {
			return KeyHash(inner)
		}
		v.Escaped = true
	}
	return KeyHash(v.AppendText(scratch))
}

// ProcessBatch keeps the sampled records of batch. Flush markers (pipeline.IsFlushMarker) pass through
// untouched and uncounted.
func (p *Processor) ProcessBatch(_ context.Context, batch service.MessageBatch) ([]service.MessageBatch, error) {
	records := 0
	if p.all {
		for _, msg := range batch {
			if !isMarker(msg) {
				records++
			}
		}
		if p.in != nil {
			p.in.Incr(int64(records), p.task)
		}
		p.outcome.Add(outcome.In, records)
		return []service.MessageBatch{batch}, nil
	}
	kept := batch[:0]
	dropped := 0
	var gen *rand.PCG
	if p.key == "" {
		p.mu.Lock()
		s1, s2 := p.rng.Uint64(), p.rng.Uint64()
		p.mu.Unlock()
		gen = rand.NewPCG(s1, s2)
	}
	var scratch [128]byte
	for _, msg := range batch {
		if isMarker(msg) {
			kept = append(kept, msg)
			continue
		}
		records++
		if msg.GetError() != nil {
			kept = append(kept, msg)
			continue
		}
		var u uint64
		if gen != nil {
			u = gen.Uint64() >> 11
		} else {
			u = p.keyHash(msg, scratch[:0])
		}
		if u < p.threshold {
			kept = append(kept, msg)
		} else {
			dropped++
		}
	}
	if p.in != nil {
		p.in.Incr(int64(records), p.task)
	}
	if dropped > 0 && p.out != nil {
		p.out.Incr(int64(dropped), p.task)
	}
	p.outcome.Add(outcome.In, records)
	p.outcome.Add(outcome.SampledOut, dropped)
	if len(kept) == 0 {
		return nil, nil
	}
	return []service.MessageBatch{kept}, nil
}

// Keep decides for each raw record of recs whether sampling keeps it, as ProcessBatch does for
// messages, and counts them (esa_records_in_total, esa_records_sampled_out_total and the stream's
// outcome). keep must have len(recs) elements; it returns how many were dropped. Inputs call it to
// sample records before they become messages (see package selection).
func (p *Processor) Keep(recs [][]byte, keep []bool) (dropped int) {
	if p.all {
		for i := range recs {
			keep[i] = true
		}
	} else {
		var gen *rand.PCG
		if p.key == "" {
			p.mu.Lock()
			s1, s2 := p.rng.Uint64(), p.rng.Uint64()
			p.mu.Unlock()
			gen = rand.NewPCG(s1, s2)
		}
		var scratch [128]byte
		for i, rec := range recs {
			var u uint64
			if gen != nil {
				u = gen.Uint64() >> 11
			} else {
				u = p.recordKeyHash(rec, scratch[:0])
			}
			keep[i] = u < p.threshold
			if !keep[i] {
				dropped++
			}
		}
	}
	if p.in != nil {
		p.in.Incr(int64(len(recs)), p.task)
		if dropped > 0 {
			p.out.Incr(int64(dropped), p.task)
		}
	}
	p.outcome.Add(outcome.In, len(recs))
	p.outcome.Add(outcome.SampledOut, dropped)
	return dropped
}

// isMarker reports whether msg is a flush marker (pipeline.IsFlushMarker).
func isMarker(msg *service.Message) bool { return pipeline.IsFlushMarker(msg) }

// Close releases nothing; it exists to satisfy service.BatchProcessor.
func (p *Processor) Close(context.Context) error { return nil }
