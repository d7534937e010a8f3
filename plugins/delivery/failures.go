package delivery

import (
	"context"
	"errors"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// recordTag is the message context of a record handed out by a component that redelivers (an input's
// tracker, the disk buffer): which delivery (owner) and which of its records (i) it is. A nack that
// names messages (a *service.BatchError) is mapped back to records through it, whatever the processors
// and outputs did to the batch in between: contexts survive copies.
type recordTag struct {
	context.Context
	owner any
	i     int
}

type recordTagKey struct{}

// Value implements context.Context.
func (c *recordTag) Value(key any) any {
	if _, ok := key.(recordTagKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// TagRecords marks msgs (in place) as the records 0…len-1 of the delivery owner, a pointer that
// identifies one delivery. The tags of a batch are allocated together.
func TagRecords(owner any, msgs service.MessageBatch) {
	tags := make([]recordTag, len(msgs))
	for i, m := range msgs {
		tags[i] = recordTag{Context: m.Context(), owner: owner, i: i}
		msgs[i] = m.WithContext(&tags[i])
	}
}

// Failures sorts the n records of the nacked delivery owner (tagged by TagRecords) by err: the indexes
// of the records to deliver again and of those that failed permanently (IsPermanent). When err names
// no record it can link to owner, every record failed with err.
func Failures(err error, owner any, n int) (retry, permanent []int) {
	var berr *service.BatchError
	if errors.As(err, &berr) && berr.IndexedErrors() > 0 {
		failed := make([]error, n)
		linked := true
		//nolint:staticcheck // indexes are not used: records are found by their context tags
		berr.WalkMessages(func(_ int, m *service.Message, merr error) bool {
			tag, _ := m.Context().Value(recordTagKey{}).(*recordTag)
			switch {
			case tag == nil:
				linked = false
				return false
			case tag.owner != owner || merr == nil || tag.i >= n:
			default:
				failed[tag.i] = merr
			}
			return true
		})
		if linked {
			for i, e := range failed {
				switch {
				case e == nil:
				case IsPermanent(e):
					permanent = append(permanent, i)
				default:
					retry = append(retry, i)
				}
			}
			return retry, permanent
		}
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if IsPermanent(err) {
		return nil, all
	}
	return all, nil
}
