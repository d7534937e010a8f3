package delivery

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond}
	for attempt := 1; attempt < 10; attempt++ {
		ceil := 10 * time.Millisecond << (attempt - 1)
		if ceil > 40*time.Millisecond {
			ceil = 40 * time.Millisecond
		}
		for i := 0; i < 50; i++ {
			if d := b.Delay(attempt); d < 0 || d > ceil {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", attempt, d, ceil)
			}
		}
	}

	calls := 0
	err := Backoff{Initial: time.Microsecond, MaxRetries: 3}.Retry(context.Background(), func(context.Context) error {
		calls++
		return errors.New("503")
	}, nil)
	if err == nil || calls != 4 {
		t.Errorf("retryable: err %v after %d calls, want an error after 4", err, calls)
	}

	calls = 0
	perm := &Permanent{Err: errors.New("400 bad request")}
	err = Backoff{Initial: time.Microsecond, MaxRetries: 3}.Retry(context.Background(), func(context.Context) error {
		calls++
		return perm
	}, nil)
	if !IsPermanent(err) || calls != 1 {
		t.Errorf("permanent: err %v after %d calls, want permanent after 1", err, calls)
	}
	if !IsPermanent(errors.Join(errors.New("wrapped"), perm)) {
		t.Error("IsPermanent misses a wrapped Permanent")
	}

	calls = 0
	retries := 0
	err = Backoff{Initial: time.Microsecond, MaxRetries: 5}.Retry(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("timeout")
		}
		return nil
	}, func(int, error) { retries++ })
	if err != nil || calls != 3 || retries != 2 {
		t.Errorf("eventual success: err %v calls %d retries %d", err, calls, retries)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Backoff{Initial: time.Hour, MaxRetries: -1}.Retry(ctx, func(context.Context) error { return errors.New("down") }, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestBackoffMaxElapsed: with unlimited retries, MaxElapsed ends them with a retryable error that
// says so.
func TestBackoffMaxElapsed(t *testing.T) {
	calls := 0
	err := Backoff{Initial: time.Millisecond, Max: time.Millisecond, MaxRetries: -1, MaxElapsed: 20 * time.Millisecond}.Retry(
		context.Background(), func(context.Context) error { calls++; return errors.New("503") }, nil)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "retry.max_elapsed") || calls < 2 {
		t.Errorf("err %v after %d calls, want a retryable error naming retry.max_elapsed after several", err, calls)
	}
}
