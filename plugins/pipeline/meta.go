package pipeline

import (
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/record"
)

// MetaEventTime is the metadata key esa_fields sets (RFC 3339 with nanoseconds) when the category's
// time field is not among the delivered fields.
const MetaEventTime = "esa_event_time"

// The metadata of a bundle: one message holding several delivered records, one per line (esa_fields
// with bundle: true makes them for the object outputs).
const (
	// MetaRecords is the number of records in a bundle.
	MetaRecords = "esa_records"
	// MetaFirstTime and MetaLastTime are the earliest and latest event times of its records
	// (RFC 3339 with nanoseconds).
	MetaFirstTime = "esa_first_time"
	MetaLastTime  = "esa_last_time"
)

// MetaInvalidReason is the metadata key an esa_* processor with route_invalid: true sets on an
// invalid record (one of the record.Reason constants) before passing it on flagged with an error.
const MetaInvalidReason = "esa_invalid_reason"

// MessageTime returns the event time of a delivered record: the timeField of its body, else the
// esa_event_time metadata, else now (the receive time).
func MessageTime(msg *service.Message, timeField string, now time.Time) time.Time {
	if timeField != "" {
		if b, err := msg.AsBytes(); err == nil {
			if t, ok := record.EventTime(b, timeField); ok {
				return t
			}
		}
	}
	if v, ok := msg.MetaGet(MetaEventTime); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return now
}
