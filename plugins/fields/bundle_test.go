package fields

import (
	"context"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/pipeline"
)

// A bundle whose records do not hold the time field carries each record's event time
// (pipeline.MetaEventTimes), in the order of its lines: invalid records take no place, a record
// without a time gets the receive time. A bundle that delivers the time field carries none.
func TestBundleEventTimes(t *testing.T) {
	recs := []string{
		`{"ClientRequestID":"a","EdgeStartTimestamp":"2026-11-25T07:59:59.250+08:00"}`,
		`not json`,
		`{"ClientRequestID":"b","EdgeStartTimestamp":"2026-11-24T16:00:00Z"}`,
		`{"ClientRequestID":"c"}`,
		`{"ClientRequestID":"d","EdgeStartTimestamp":1795564800123}`,
	}
	batch := func() service.MessageBatch {
		var b service.MessageBatch
		for _, r := range recs {
			b = append(b, service.NewMessage([]byte(r)))
		}
		return b
	}
	p := mustNew(t, Config{Category: "access", Fields: []string{"ClientRequestID"}, Bundle: true})
	before := time.Now()
	out, err := p.ProcessBatch(context.Background(), batch())
	after := time.Now()
	if err != nil || len(out) != 1 || len(out[0]) != 1 {
		t.Fatalf("%v %v", out, err)
	}
	r, ok := pipeline.BundleTimes(out[0][0])
	if !ok {
		t.Fatal("no esa_event_times")
	}
	want := []time.Time{
		time.Date(2026, 11, 24, 23, 59, 59, 250_000_000, time.UTC),
		time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC),
		{}, // the receive time
		time.UnixMilli(1795564800123),
	}
	for i, w := range want {
		got, ok := r.Next()
		switch {
		case !ok:
			t.Fatalf("time %d missing", i)
		case w.IsZero() && (got.Before(before.Truncate(time.Second)) || got.After(after)):
			t.Errorf("time %d: %v, want the receive time", i, got)
		case !w.IsZero() && !got.Equal(w):
			t.Errorf("time %d: %v, want %v", i, got, w)
		}
	}
	if got, ok := r.Next(); ok {
		t.Errorf("a time more than the records: %v", got)
	}
	if first, _ := out[0][0].MetaGet(pipeline.MetaFirstTime); first != "2026-11-24T16:00:00Z" {
		t.Errorf("first time %s", first)
	}
	// The records hold their time: nothing beside them.
	p = mustNew(t, Config{Category: "access", Fields: []string{"ClientRequestID", "EdgeStartTimestamp"}, Bundle: true})
	if out, err = p.ProcessBatch(context.Background(), batch()); err != nil || len(out) != 1 {
		t.Fatalf("%v %v", out, err)
	}
	if _, ok := pipeline.BundleTimes(out[0][0]); ok {
		t.Error("esa_event_times with the time field delivered")
	}
}
