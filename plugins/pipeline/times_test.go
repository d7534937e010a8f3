package pipeline

import (
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestTimePackerRoundTrip(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 24, 23, 59, 59, 999_000_000, time.FixedZone("", 8*3600)),
		time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 23, 0, 0, 1, time.UTC), // earlier than the one before, nanoseconds
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Unix(-1, 500_000_000),
		time.Date(2026, 11, 25, 0, 0, 0, 123_000_000, time.UTC),
	}
	var p TimePacker
	for round := range 2 { // Take starts again: a second bundle packs the same way
		for _, tm := range times {
			p.Add(tm)
		}
		b := p.Take()
		r := ReadTimes(b)
		for i, want := range times {
			got, ok := r.Next()
			if !ok || !got.Equal(want) || got.Location() != time.UTC {
				t.Fatalf("round %d time %d: %v %v, want %v in UTC", round, i, got, ok, want)
			}
		}
		if got, ok := r.Next(); ok {
			t.Errorf("round %d: a time after the last: %v", round, got)
		}
	}
	// Compact: a batch of times a few ms apart takes about 3 bytes a record.
	base := time.Date(2026, 11, 25, 7, 59, 0, 0, time.UTC)
	for i := range 1000 {
		p.Add(base.Add(time.Duration(i*7) * time.Millisecond))
	}
	if n := len(p.Take()); n > 3500 {
		t.Errorf("1000 times at ms precision: %d bytes", n)
	}
}

func TestReadTimesMalformed(t *testing.T) {
	var p TimePacker
	p.Add(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	good := p.Take()
	for name, b := range map[string][]byte{
		"empty":             nil,
		"truncated":         good[:len(good)-1],
		"unterminated":      {0x80},
		"nanoseconds ≥ 1 s": {0x02, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		r := ReadTimes(b)
		if got, ok := r.Next(); ok {
			t.Errorf("%s: read %v", name, got)
		}
		if _, ok := r.Next(); ok {
			t.Errorf("%s: read on after a failure", name)
		}
	}
}

func TestBundleTimes(t *testing.T) {
	want := time.Date(2026, 11, 25, 0, 0, 1, 0, time.UTC)
	var p TimePacker
	p.Add(want)
	packed := p.Take()
	for name, v := range map[string]any{"bytes": packed, "string": string(packed)} {
		m := service.NewMessage([]byte("{}"))
		m.MetaSetMut(MetaEventTimes, v)
		r, ok := BundleTimes(m)
		if got, ok2 := r.Next(); !ok || !ok2 || !got.Equal(want) {
			t.Errorf("%s: %v %v %v", name, got, ok, ok2)
		}
	}
	m := service.NewMessage([]byte("{}"))
	if _, ok := BundleTimes(m); ok {
		t.Error("times without the metadata")
	}
	m.MetaSetMut(MetaEventTimes, int64(3))
	if _, ok := BundleTimes(m); ok {
		t.Error("times from an int")
	}
}
