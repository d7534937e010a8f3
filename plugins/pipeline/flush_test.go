package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestFlushMarkers(t *testing.T) {
	r0, r1, r2 := service.NewMessage([]byte(`{"a":0}`)), service.NewMessage([]byte(`{"a":1}`)), service.NewMessage([]byte(`{"a":2}`))
	m := NewFlushMarker()
	if !IsFlushMarker(m) || IsFlushMarker(r0) {
		t.Fatal("IsFlushMarker")
	}
	plain := service.MessageBatch{r0, r1}
	if got := WithoutMarkers(plain); len(got) != 2 || &got[0] != &plain[0] {
		t.Fatal("a batch without markers must come back as it is")
	}
	if got := WithoutMarkers(service.MessageBatch{r0, m, r1, m}); len(got) != 2 || got[0] != r0 || got[1] != r1 {
		t.Fatalf("WithoutMarkers = %v", got)
	}

	// Only markers: write is not called.
	called := false
	if err := WriteWithoutMarkers(context.Background(), service.MessageBatch{m}, func(context.Context, service.MessageBatch) error {
		called = true
		return nil
	}); err != nil || called {
		t.Fatalf("marker-only batch: err %v, called %v", err, called)
	}

	// A partial failure of the filtered batch is mapped onto the original indexes.
	batch := service.MessageBatch{r0, m, r1, r2, m}
	bidx := batch.Index() // as the Benthos output layer does before writing
	err := WriteWithoutMarkers(context.Background(), batch, func(_ context.Context, b service.MessageBatch) error {
		if len(b) != 3 || b[1] != r1 {
			t.Fatalf("write got %d messages", len(b))
		}
		return service.NewBatchError(b, errors.New("partial")).Failed(1, errors.New("r1 failed"))
	})
	var berr *service.BatchError
	if !errors.As(err, &berr) {
		t.Fatalf("want a batch error, got %v", err)
	}
	var failed []int
	berr.WalkMessagesIndexedBy(bidx, func(i int, _ *service.Message, e error) bool {
		if e != nil {
			failed = append(failed, i)
		}
		return true
	})
	if len(failed) != 1 || failed[0] != 2 {
		t.Fatalf("failed indexes %v, want [2]", failed)
	}

	// Other errors pass through unchanged.
	perm := errors.New("403")
	if err := WriteWithoutMarkers(context.Background(), batch, func(context.Context, service.MessageBatch) error { return perm }); !errors.Is(err, perm) {
		t.Fatalf("error lost: %v", err)
	}

	pol := WithFlushCheck(service.BatchPolicy{Count: 10})
	if pol.Check != FlushCheck || pol.Count != 10 {
		t.Fatalf("WithFlushCheck = %+v", pol)
	}
	if pol := WithFlushCheck(service.BatchPolicy{Check: `this.x == 1`}); pol.Check != `(this.x == 1) || `+FlushCheck {
		t.Fatalf("combined check %q", pol.Check)
	}
}

// A record carrying the marker's metadata is a record: it is neither dropped by the outputs nor does
// it make a batch policy flush.
func TestMarkerNeedsAnEmptyBody(t *testing.T) {
	rec := service.NewMessage([]byte(`{"ClientIP":"192.0.2.1"}`))
	rec.MetaSetMut(MetaFlush, "1")
	if IsFlushMarker(rec) {
		t.Fatal("a record with esa_flush=1 is taken for a marker")
	}
	if got := WithoutMarkers(service.MessageBatch{rec, NewFlushMarker()}); len(got) != 1 || got[0] != rec {
		t.Fatalf("WithoutMarkers kept %d messages, want the record only", len(got))
	}
	if !IsFlushMarker(NewFlushMarker()) {
		t.Fatal("NewFlushMarker is not a marker")
	}
	for _, c := range []struct {
		msg  *service.Message
		want bool
	}{{rec, false}, {NewFlushMarker(), true}, {service.NewMessage([]byte("x")), false}} {
		batcher, err := WithFlushCheck(service.BatchPolicy{Count: 100}).NewBatcher(service.MockResources())
		if err != nil {
			t.Fatal(err)
		}
		if got := batcher.Add(c.msg); got != c.want {
			t.Errorf("the batch policy flushed on %q: %v, want %v", mustBytes(c.msg), got, c.want)
		}
		_ = batcher.Close(context.Background())
	}
}

func mustBytes(m *service.Message) []byte {
	b, _ := m.AsBytes()
	return b
}
