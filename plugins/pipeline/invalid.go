package pipeline

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/esa-connect/esa-connect/plugins/record"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// MetricInvalid is the counter of invalid records, labelled task and reason.
const MetricInvalid = "esa_records_invalid_total"

// logSampleLen is how many bytes of an invalid record are logged.
const logSampleLen = 256

// InvalidHandler implements the invalid-record convention of docs/internals.md for one processor:
// count esa_records_invalid_total{task,reason}, log at most once per second with a truncated sample,
// and drop the record, or, with route_invalid, keep it unchanged, flagged with an error and the
// metadata esa_invalid_reason. It is safe for concurrent use.
type InvalidHandler struct {
	component, task string
	route           bool
	counter         *service.MetricCounter
	log             *service.Logger
	outcome         *outcome.Outcome
	lastLog         atomic.Int64 // unix nanos of the last log line
	suppressed      atomic.Int64 // invalid records not logged since then
}

// NewInvalidHandler returns the handler of processor component (e.g. "esa_filter") for task.
func NewInvalidHandler(res *service.Resources, component, task string, route bool) *InvalidHandler {
	h := &InvalidHandler{component: component, task: task, route: route, outcome: outcome.From(res)}
	if res != nil {
		h.counter = res.Metrics().NewCounter(MetricInvalid, "task", "reason")
		h.log = res.Logger()
	}
	return h
}

// Handle deals with msg, whose content rec failed validation with err. It reports whether the
// message stays in the batch (route_invalid) or must be dropped.
func (h *InvalidHandler) Handle(msg *service.Message, rec []byte, err error) (keep bool) {
	reason := record.ReasonMalformed
	var ie *record.InvalidError
	if errors.As(err, &ie) {
		reason = ie.Reason
	}
	if h.counter != nil {
		h.counter.Incr(1, h.task, reason)
	}
	h.logSample(rec, reason, err)
	h.outcome.Add(outcome.Invalid, 1)
	if !h.route {
		// Dropped without a dead letter: the record is lost to the destination, and the run says so.
		h.outcome.AddUndelivered(1)
		return false
	}
	msg.MetaSet(MetaInvalidReason, reason)
	msg.SetError(fmt.Errorf("%s: invalid record (%s): %w", h.component, reason, err))
	return true
}

func (h *InvalidHandler) logSample(rec []byte, reason string, err error) {
	if h.log == nil {
		return
	}
	now := time.Now().UnixNano()
	last := h.lastLog.Load()
	if now-last < int64(time.Second) || !h.lastLog.CompareAndSwap(last, now) {
		h.suppressed.Add(1)
		return
	}
	sample := rec
	if len(sample) > logSampleLen {
		sample = sample[:logSampleLen]
	}
	action := "dropped"
	if h.route {
		action = "routed to the dead letter"
	}
	more := ""
	if n := h.suppressed.Swap(0); n > 0 {
		more = fmt.Sprintf(" (%d more invalid records since the last report)", n)
	}
	h.log.Warnf("%s: task %q: invalid record %s (%s): %v; first %d of %d bytes: %q%s",
		h.component, h.task, action, reason, err, len(sample), len(rec), sample, more)
}

// TaskField is the `task` config field of every esa_* component (processors, inputs, outputs, the
// disk buffer): the task name, the `task` label of its metrics; a component that writes files or
// objects names them after it, UnnamedTask when it is empty (esa_oss and esa_s3_verified refuse an
// empty task).
func TaskField() *service.ConfigField {
	return service.NewStringField("task").
		Description("The task name: the `task` label of the metrics and the start of the names of the files and objects a component writes (`" + UnnamedTask + "` when empty; esa_oss and esa_s3_verified require a task).").
		Default("")
}

// UnnamedTask is what the files and objects of a component whose `task` is empty are named after.
const UnnamedTask = "esa"

// RouteInvalidField is the `route_invalid` config field of the processors that validate records.
func RouteInvalidField() *service.ConfigField {
	return service.NewBoolField("route_invalid").
		Description("Keep invalid records (flagged with an error and metadata `esa_invalid_reason`) so that a `switch` output can send them to a dead letter, instead of dropping them.").
		Default(false).
		Advanced()
}

// ParseTaskFields reads the `task` and `route_invalid` fields of an esa_* processor's config.
func ParseTaskFields(conf *service.ParsedConfig) (task string, routeInvalid bool, err error) {
	if task, err = conf.FieldString("task"); err != nil {
		return "", false, err
	}
	routeInvalid, err = conf.FieldBool("route_invalid")
	return task, routeInvalid, err
}
