// Package selection is a task's record selection — sampling, then the filter — done where records
// enter, inside the esa_* inputs, instead of by the esa_sample and esa_filter processors.
//
// Why: a Benthos message lives until the destination acknowledged the batch of its input, and an
// input batch is acknowledged only when every record derived from it was delivered. Behind a filter
// that keeps 2 % of the records and in front of an object store that writes an object a minute, the
// records the filter dropped would stay in memory (as messages and as the bytes they point to) for that
// minute: millions of records, gigabytes. Selected at the input, a dropped record never becomes a
// message. Counting, metrics, invalid-record handling and the marks that let esa_fields skip parsing are
// exactly those of the processors, whose code this package calls.
package selection

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/filter"
	"github.com/esa-connect/esa-connect/plugins/sample"
)

// FieldName is the name of the inputs' selection field.
const FieldName = "select"

// Field is the `select` field of the esa_* inputs.
func Field() *service.ConfigField {
	return service.NewObjectField(FieldName,
		service.NewFloatField("rate").Description("Sampling: the percentage of records kept, in (0, 100] (as esa_sample).").Default(100.0),
		service.NewStringField("key").Description("Sampling: a field whose value decides deterministically (as esa_sample). Empty: random per record.").Default(""),
		service.NewStringField("category").Description("The log category of the filter conditions (as esa_filter).").Default(""),
		service.NewAnyListField("conditions").Description("Filter conditions in the native form of a task's `filters` (as esa_filter). Empty: no filter.").Default([]any{}),
		pipeline.TaskField(),
		pipeline.RouteInvalidField(),
	).Description("Sample and filter records as they are read, before they become messages (what the esa_sample and esa_filter processors do, without holding the dropped records until the destination acknowledges the kept ones). The translator sets it; without it every record is passed on.").
		Optional().Advanced()
}

// Stage samples and filters raw records. It is safe for concurrent use.
type Stage struct {
	sample *sample.Processor
	filter *filter.Processor // nil without conditions
}

// FromParsed builds the Stage of an input's `select` field, or nil when the field is absent.
func FromParsed(conf *service.ParsedConfig, res *service.Resources) (*Stage, error) {
	if !conf.Contains(FieldName) {
		return nil, nil
	}
	c := conf.Namespace(FieldName)
	var sc sample.Config
	var fc filter.Config
	var err error
	if sc.Rate, err = c.FieldFloat("rate"); err != nil {
		return nil, err
	}
	if sc.Key, err = c.FieldString("key"); err != nil {
		return nil, err
	}
	if fc.Task, fc.RouteInvalid, err = pipeline.ParseTaskFields(c); err != nil {
		return nil, err
	}
	sc.Task = fc.Task
	if fc.Category, err = c.FieldString("category"); err != nil {
		return nil, err
	}
	raw, err := c.FieldAny("conditions")
	if err != nil {
		return nil, err
	}
	if list, _ := raw.([]any); len(list) > 0 {
		js, err := json.Marshal(list)
		if err != nil {
			return nil, fmt.Errorf("%s.conditions: %w", FieldName, err)
		}
		if fc.Conditions, err = config.ParseESAFilter(js); err != nil {
			return nil, fmt.Errorf("%s.conditions: %w", FieldName, err)
		}
	}
	// The filter shares what it learns of each record with the esa_fields after it.
	fc.ShareParse = true
	return New(sc, fc, res)
}

// New builds a Stage from the sampling and filter configurations (a filter without conditions is
// none). res may be nil.
func New(sc sample.Config, fc filter.Config, res *service.Resources) (*Stage, error) {
	sp, err := sample.New(sc, res, rand.Uint64(), rand.Uint64())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", FieldName, err)
	}
	s := &Stage{sample: sp}
	if len(fc.Conditions) > 0 {
		if s.filter, err = filter.New(fc, res); err != nil {
			return nil, fmt.Errorf("%s: %w", FieldName, err)
		}
	}
	return s, nil
}

// Select returns a message for each record of recs that sampling and the filter keep, and, under
// route_invalid, for each invalid record (flagged for the dead letter); from[j] is the index in recs
// of msgs[j]. trust says what is known of a record (nil: nothing; see filter.Trust). With own, each
// message gets a copy of its record, so that the memory of recs is not kept alive by the records kept.
// A nil Stage keeps every record. The messages are fresh: each may be handed to a pipeline once.
func (s *Stage) Select(recs [][]byte, trust filter.Trust, own bool) (msgs service.MessageBatch, from []int) {
	if s == nil {
		return plainMessages(recs, trust)
	}
	keep := make([]bool, len(recs))
	s.sample.Keep(recs, keep)
	if s.filter != nil {
		return s.filter.Messages(recs, keep, trust, own)
	}
	msgs = make(service.MessageBatch, 0, len(recs))
	from = make([]int, 0, len(recs))
	marker := pipeline.Marker{BlockSize: 64}
	for i, rec := range recs {
		if !keep[i] {
			continue
		}
		if own {
			rec = append([]byte(nil), rec...)
		}
		m := service.NewMessage(rec)
		if trust != nil {
			if ok, unique, ix := trust(i); ok {
				m = marker.MarkIndex(m, rec, unique, ix)
			}
		}
		msgs = append(msgs, m)
		from = append(from, i)
	}
	return msgs, from
}

// plainMessages makes a message of every record (marked when trust says it is valid). Nothing is
// dropped, so nothing is copied: the records keep all of their memory alive anyway.
func plainMessages(recs [][]byte, trust filter.Trust) (service.MessageBatch, []int) {
	msgs := make(service.MessageBatch, len(recs))
	from := make([]int, len(recs))
	var marker pipeline.Marker
	for i, rec := range recs {
		m := service.NewMessage(rec)
		if trust != nil {
			if ok, unique, ix := trust(i); ok {
				m = marker.MarkIndex(m, rec, unique, ix)
			}
		}
		msgs[i], from[i] = m, i
	}
	return msgs, from
}
