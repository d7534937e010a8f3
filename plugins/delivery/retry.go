package delivery

import (
	"fmt"
	"strconv"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
)

// RetryPolicy is a task's retry rules for its destination (the task's `retry`): which answers are
// retried, for how long at most, and the longest wait between attempts. A request that is still
// failing when the policy gives up fails its batch: the input delivers those records again later, or,
// for an answer the policy does not retry, they are refused (dead-lettered when the task has a dead
// letter).
type RetryPolicy struct {
	// OnStatus lists the retried HTTP statuses: codes ("503") or classes ("5xx"); empty: the output's
	// default (408, 429 and 5xx).
	OnStatus []string
	// MaxElapsed stops retrying a request once this long has passed since its first attempt (0: only
	// the output's retry count bounds it).
	MaxElapsed time.Duration
	// MaxBackoff caps the wait between attempts (0: 30 s).
	MaxBackoff time.Duration
}

// DefaultRetryStatuses are the statuses retried when a policy lists none.
var DefaultRetryStatuses = []string{"408", "429", "5xx"}

// Retries reports whether the policy retries an answer with status.
func (p RetryPolicy) Retries(status int) bool {
	list := p.OnStatus
	if len(list) == 0 {
		list = DefaultRetryStatuses
	}
	code := strconv.Itoa(status)
	for _, s := range list {
		if s == code || len(s) == 3 && s[1:] == "xx" && s[0] == code[0] {
			return true
		}
	}
	return false
}

// GaveUp reports whether a request first tried at first must not be retried any more at now.
func (p RetryPolicy) GaveUp(first, now time.Time) bool {
	return p.MaxElapsed > 0 && now.Sub(first) >= p.MaxElapsed
}

// RetryField is the `retry` field of the esa_* outputs, read by RetryFromParsed.
func RetryField() *service.ConfigField {
	return service.NewObjectField("retry",
		service.NewStringListField("on_status").Description("HTTP statuses retried: codes (`503`) or classes (`5xx`). Empty: 408, 429 and 5xx.").Default([]any{}),
		service.NewStringField("max_elapsed").Description("A duration: stop retrying a request this long after its first attempt (the batch then fails and the input delivers it again later). Empty: only the retry count bounds it.").Default(""),
		service.NewStringField("max_backoff").Description("A duration: the longest wait between attempts. Empty: 30s.").Default(""),
	).Description("The task's retry policy for its destination.").Optional().Advanced()
}

// RetryFromParsed reads the `retry` field (RetryField); absent is the default policy.
func RetryFromParsed(conf *service.ParsedConfig) (RetryPolicy, error) {
	var p RetryPolicy
	if !conf.Contains("retry") {
		return p, nil
	}
	var err error
	if p.OnStatus, err = conf.FieldStringList("retry", "on_status"); err != nil {
		return p, err
	}
	for _, s := range p.OnStatus {
		if !config.ValidRetryStatus(s) {
			return p, fmt.Errorf("retry.on_status: %q is not a status (100–599) or a class (1xx–5xx)", s)
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"max_elapsed", &p.MaxElapsed}, {"max_backoff", &p.MaxBackoff}} {
		v, err := conf.FieldString("retry", d.name)
		if err != nil || v == "" {
			continue
		}
		if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst < 0 {
			return p, fmt.Errorf("retry.%s: %q is not a duration", d.name, v)
		}
	}
	return p, nil
}
