// Package filter implements the esa_filter processor (docs/processing.md#filters): keep the records that
// satisfy every filter condition of a task.
package filter

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// Name is the component name.
const Name = "esa_filter"

// MetricFilteredOut counts records dropped by the filter (labelled task).
const MetricFilteredOut = "esa_records_filtered_out_total"

// ConfigSpec returns the esa_filter config spec.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Categories("Utility").
		Summary("Keeps the ESA log records that satisfy every filter condition of a delivery task.").
		Description(`
Top-level conditions are ANDed; an `+"`any`"+` group is an OR of its members. A value list is ORed for
positive operators ("one of") and means "none of" for negative ones (docs/processing.md#filters has
worked examples). Operators: `+"`equals`, `not_equals`"+` (all types), `+"`contains`, `starts_with`, `ends_with`"+` and their
`+"`not_`"+` forms (string, timestamp), `+"`gt`, `ge`, `lt`, `le`"+` (int, float, timestamp; one value),
`+"`regex`, `not_regex`"+` (RE2, unanchored search, compiled once), `+"`exists`, `not_exists`"+` (present,
not null and not a "not applicable" marker: `+"`\"\"` or `\"-\"`"+` on string/timestamp fields, `+"`-1`"+` on
numeric fields).

Field types come from the category's catalog: numbers compare numerically (a numeric string such as
`+"`\"502\"`"+` counts as the number), timestamps as instants, strings case-sensitively unless
`+"`ignore_case: true`"+`. A missing field makes positive operators false and negative ones true; a
non-number makes a numeric comparison false (and `+"`not_equals`"+` true). A condition may test any
catalog field, also one that is not delivered, and `+"`CustomFields.<kind>.<name>`"+` (kinds
`+"`request_headers`, `response_headers`, `cookies`"+`) against the raw `+"`RequestHeaders`"+` /
`+"`ResponseHeaders`"+` maps (header names case-insensitive) and the cookies of the `+"`Cookies`"+` map or
the `+"`cookie`"+` request header (names case-sensitive).

Every record is parsed and validated; one that is not a JSON object of at most 1 MiB counts in
`+"`esa_records_invalid_total{task,reason}`"+`, is logged at most once per second with a sample and is
dropped, or, with `+"`route_invalid: true`"+`, kept unchanged, flagged with an error and metadata
`+"`esa_invalid_reason`"+`. Records dropped by the conditions count in
`+"`esa_records_filtered_out_total{task}`"+`. Messages already flagged with an error and flush markers (empty messages with metadata `+"`esa_flush`"+`)
pass through untouched.`).
		Fields(
			service.NewStringField("category").
				Description("The log category whose catalog types the fields (`access`, `firewall`, `tcp_udp_proxy`, `dns`, `edge_routine`, `edge_container`, or an ESA BusinessType id)."),
			service.NewAnyListField("conditions").
				Description("Conditions in the native form of a task's `filters`: `{field, op, value, ignore_case}` items (value: a scalar or a list) and `{any: [...]}` groups. At most 20 leaves in total together with `esa_rules`.").
				Default([]any{}),
			service.NewStringField("esa_rules").
				Description("Conditions in ESA's JSON form (`FilterRules`), e.g. `[{\"EdgeResponseStatusCode\": {\"ge\": [500]}}]`; ANDed with `conditions`.").
				Default(""),
			pipeline.TaskField(),
			pipeline.RouteInvalidField(),
			service.NewBoolField("share_parse").
				Description("Hand what this processor learnt of each record it validated and kept (that it is valid, and where its fields are) to the `esa_fields` that follows, so that it does not parse the record again. It costs about a tenth of this processor's time, wasted when no `esa_fields` follows; the translator sets it.").
				Default(false).
				Advanced(),
		).
		Example("Server errors on two hosts", "Keep 5xx responses of a.example.com and b.example.com.", `
pipeline:
  processors:
    - esa_filter:
        category: access
        task: errors-to-http
        conditions:
          - {field: EdgeResponseStatusCode, op: ge, value: 500}
          - {field: ClientRequestHost, op: equals, value: [a.example.com, b.example.com]}
          - any:
              - {field: ClientRequestPath, op: starts_with, value: /api/}
              - {field: CustomFields.request_headers.x-debug, op: exists}
`).
		Example("ESA JSON rules", "A filter exported from ESA (FilterRules).", `
pipeline:
  processors:
    - esa_filter:
        category: access
        esa_rules: '[{"ClientSSLProtocol": {"equals": ["TLSv1.3"]}}]'
`)
}

// Register registers esa_filter on env.
func Register(env *service.Environment) error {
	return env.RegisterBatchProcessor(Name, ConfigSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.BatchProcessor, error) {
			return FromParsed(conf, res)
		})
}

// Config is the plain configuration of a Processor.
type Config struct {
	Category     string
	Conditions   []config.Condition
	Task         string
	RouteInvalid bool
	// ShareParse marks the records validated and kept for the esa_fields that follows (share_parse).
	ShareParse bool
}

// FromParsed builds a Processor from a parsed esa_filter config.
func FromParsed(conf *service.ParsedConfig, res *service.Resources) (*Processor, error) {
	var c Config
	var err error
	if c.Category, err = conf.FieldString("category"); err != nil {
		return nil, err
	}
	if c.Task, c.RouteInvalid, err = pipeline.ParseTaskFields(conf); err != nil {
		return nil, err
	}
	if c.ShareParse, err = conf.FieldBool("share_parse"); err != nil {
		return nil, err
	}
	raw, err := conf.FieldAny("conditions")
	if err != nil {
		return nil, err
	}
	if list, _ := raw.([]any); len(list) > 0 {
		js, err := json.Marshal(list)
		if err != nil {
			return nil, fmt.Errorf("%s: conditions: %w", Name, err)
		}
		conds, err := config.ParseESAFilter(js)
		if err != nil {
			return nil, fmt.Errorf("%s: conditions: %w", Name, err)
		}
		c.Conditions = append(c.Conditions, conds...)
	}
	rules, err := conf.FieldString("esa_rules")
	if err != nil {
		return nil, err
	}
	if rules != "" {
		conds, err := config.ParseESAFilter([]byte(rules))
		if err != nil {
			return nil, fmt.Errorf("%s: esa_rules: %w", Name, err)
		}
		c.Conditions = append(c.Conditions, conds...)
	}
	return New(c, res)
}

// Processor is the esa_filter batch processor.
type Processor struct {
	task     string
	prog     *program
	invalid  *pipeline.InvalidHandler
	filtered *service.MetricCounter
	share    bool      // share_parse
	pool     sync.Pool // *state
	outcome  *outcome.Outcome
}

// New validates and compiles c. res may be nil (no metrics, no logs).
func New(c Config, res *service.Resources) (*Processor, error) {
	cat, ok := config.LookupCategory(c.Category)
	if !ok {
		return nil, fmt.Errorf("%s: unknown log category %q", Name, c.Category)
	}
	if errs := config.ValidateConditions(cat, c.Conditions, "conditions"); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", Name, errs)
	}
	prog, err := compile(cat, c.Conditions)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	p := &Processor{
		task:    c.Task,
		prog:    prog,
		invalid: pipeline.NewInvalidHandler(res, Name, c.Task, c.RouteInvalid),
		share:   c.ShareParse,
		outcome: outcome.From(res),
	}
	n := prog.sel.Len()
	p.pool.New = func() any { return &state{vals: make([]record.Value, n), buf: make([]byte, 0, 256)} }
	if res != nil {
		p.filtered = res.Metrics().NewCounter(MetricFilteredOut, "task")
	}
	return p, nil
}

// Match reports whether rec passes the filter; the error (an *record.InvalidError) is set when rec is
// not a valid record.
func (p *Processor) Match(rec []byte) (bool, error) {
	st := p.pool.Get().(*state)
	defer p.pool.Put(st)
	if err := p.prog.sel.ScanShape(rec, st.vals, &st.shape); err != nil {
		return false, err
	}
	return p.prog.match(st), nil
}

// judge validates rec (or, when it is known valid, only looks its fields up) and reports whether it
// passes the filter, and whether its Index is to be shared (share_parse) when it is kept.
func (p *Processor) judge(st *state, rec []byte, checked, unique bool, ix record.Index) (pass, share bool, err error) {
	// A record marked valid is only looked up: up to the last field needed when its names are
	// distinct, unless share_parse wants its index (then to its end). Any other is validated whole,
	// and with share_parse marked when it is kept.
	switch {
	case !checked:
		err = p.prog.sel.ScanShape(rec, st.vals, &st.shape)
		share = p.share
	case p.share && !ix.Valid():
		err = p.prog.sel.Find(rec, st.vals, &st.shape, false)
		share = true
	default:
		err = p.prog.sel.Find(rec, st.vals, &st.shape, unique)
	}
	if err != nil {
		return false, false, err
	}
	return p.prog.match(st), share, nil
}

// ProcessBatch keeps the records of batch that pass the filter.
func (p *Processor) ProcessBatch(_ context.Context, batch service.MessageBatch) ([]service.MessageBatch, error) {
	st := p.pool.Get().(*state)
	defer p.pool.Put(st)
	kept := batch[:0]
	filtered := 0
	for _, msg := range batch {
		if msg.GetError() != nil {
			kept = append(kept, msg)
			continue
		}
		rec, err := msg.AsBytes()
		if err == nil && len(rec) == 0 && pipeline.IsFlushMarker(msg) {
			kept = append(kept, msg) // flush marker: untouched, uncounted
			continue
		}
		pass, share := false, false
		if err == nil {
			checked, unique, ix := pipeline.CheckedIndex(msg, rec)
			pass, share, err = p.judge(st, rec, checked, unique, ix)
		}
		if err != nil {
			if p.invalid.Handle(msg, rec, err) {
				kept = append(kept, msg)
			}
			continue
		}
		if !pass {
			filtered++
			continue
		}
		if share {
			msg = st.marker.MarkScanned(msg, rec, &st.shape)
		}
		kept = append(kept, msg)
	}
	p.count(filtered)
	if len(kept) == 0 {
		return nil, nil
	}
	return []service.MessageBatch{kept}, nil
}

// Trust says what is known of a raw record before the filter reads it: whether it is valid (as
// pipeline.Checked), and then whether its top-level names are distinct and, when the component that
// validated it kept them, where its values are (an Index made on these bytes, or a copy of them).
type Trust func(i int) (checked, unique bool, ix record.Index)

// Messages filters raw records, as ProcessBatch does messages, and makes messages of the ones it
// keeps: for each i with want[i] set, recs[i] is judged; a record that passes becomes a message
// (marked valid, with its Index under share_parse), an invalid one becomes a message flagged for the
// dead letter when route_invalid is on and is dropped otherwise, and one that fails the conditions is
// counted and dropped. trust may be nil (nothing known). It returns the messages and, for each, the
// index in recs of its record. With own, a message gets a copy of its record (so that recs's memory
// is not kept alive by the few records kept). Inputs call it to filter records before they become
// messages (see package selection); it is safe for concurrent use.
func (p *Processor) Messages(recs [][]byte, want []bool, trust Trust, own bool) (service.MessageBatch, []int) {
	st := p.pool.Get().(*state)
	defer p.pool.Put(st)
	var msgs service.MessageBatch
	var from []int
	filtered := 0
	// The kept messages may wait long (for an object) while the next batches' are gone: small blocks
	// of marks, and the shape's positions recorded into this call's marker only.
	marker := pipeline.Marker{BlockSize: 64}
	for i, rec := range recs {
		if !want[i] {
			continue
		}
		checked, unique, ix := false, false, record.Index{}
		if trust != nil {
			checked, unique, ix = trust(i)
		}
		pass, share, err := p.judge(st, rec, checked, unique, ix)
		if own && (err != nil || pass) {
			rec = append([]byte(nil), rec...)
		}
		if err != nil {
			msg := service.NewMessage(rec)
			if p.invalid.Handle(msg, rec, err) {
				msgs = append(msgs, msg)
				from = append(from, i)
			}
			continue
		}
		if !pass {
			filtered++
			continue
		}
		msg := service.NewMessage(rec)
		switch {
		case share:
			msg = marker.MarkScanned(msg, rec, &st.shape)
		case checked:
			msg = marker.MarkIndex(msg, rec, unique, ix)
		}
		msgs = append(msgs, msg)
		from = append(from, i)
	}
	p.count(filtered)
	return msgs, from
}

// count counts records dropped by the conditions.
func (p *Processor) count(filtered int) {
	if filtered > 0 && p.filtered != nil {
		p.filtered.Incr(int64(filtered), p.task)
	}
	p.outcome.Add(outcome.FilteredOut, filtered)
}

// Close releases nothing; it exists to satisfy service.BatchProcessor.
func (p *Processor) Close(context.Context) error { return nil }
