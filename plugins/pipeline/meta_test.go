package pipeline

import (
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestMessageTimeFallbacks(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := service.NewMessage([]byte(`{"A":1}`))
	if got := MessageTime(m, "T", now); !got.Equal(now) {
		t.Errorf("missing field: %v, want receive time", got)
	}
	m.MetaSetMut(MetaEventTime, "2026-11-25T00:00:00.5Z")
	if got := MessageTime(m, "T", now); got.Format(time.RFC3339Nano) != "2026-11-25T00:00:00.5Z" {
		t.Errorf("metadata: %v", got)
	}
	m = service.NewMessage([]byte(`{"T":1764028800123}`))
	if got := MessageTime(m, "T", now); got.UnixMilli() != 1764028800123 {
		t.Errorf("unix ms: %v", got)
	}
	m = service.NewMessage([]byte(`{"T":"garbage"}`))
	if got := MessageTime(m, "T", now); !got.Equal(now) {
		t.Errorf("unparsable: %v, want receive time", got)
	}
}
