package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Backoff is exponential backoff with full jitter.
type Backoff struct {
	// Initial is the ceiling of the first delay (default 500 ms).
	Initial time.Duration
	// Max caps every delay (default 30 s).
	Max time.Duration
	// MaxRetries is the number of retries after the first attempt; < 0 means retry until ctx ends.
	MaxRetries int
	// MaxElapsed, when > 0, stops the retries once this long has passed since the first attempt.
	MaxElapsed time.Duration
}

// Delay returns the delay before retry number attempt (1-based): uniform in [0, min(Max, Initial·2^(attempt-1))].
func (b Backoff) Delay(attempt int) time.Duration {
	initial, maxD := b.Initial, b.Max
	if initial <= 0 {
		initial = 500 * time.Millisecond
	}
	if maxD <= 0 {
		maxD = 30 * time.Second
	}
	ceil := initial
	for i := 1; i < attempt && ceil < maxD; i++ {
		ceil *= 2
	}
	if ceil > maxD {
		ceil = maxD
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// Permanent marks an error that must not be retried (for example a 4xx other than 429).
type Permanent struct {
	Err error
	// Reason is a short code for dead letters and their metric (such as "http_413"); "" is
	// "rejected".
	Reason string
}

// Error returns the wrapped error's text.
func (p *Permanent) Error() string { return p.Err.Error() }

// Unwrap returns the wrapped error.
func (p *Permanent) Unwrap() error { return p.Err }

// IsPermanent reports whether err is or wraps a *Permanent.
func IsPermanent(err error) bool {
	var p *Permanent
	return errors.As(err, &p)
}

// Retry calls fn until it succeeds, returns a *Permanent error, the retries are used up or ctx ends.
// onRetry, if not nil, is called before each retry with the attempt number and the error.
func (b Backoff) Retry(ctx context.Context, fn func(ctx context.Context) error, onRetry func(attempt int, err error)) error {
	first := time.Now()
	for attempt := 0; ; attempt++ {
		err := fn(ctx)
		if err == nil || IsPermanent(err) {
			return err
		}
		if b.MaxRetries >= 0 && attempt >= b.MaxRetries {
			return err
		}
		if b.MaxElapsed > 0 && time.Since(first) >= b.MaxElapsed {
			return fmt.Errorf("%w (gave up after %d attempts in %s: retry.max_elapsed)", err, attempt+1, b.MaxElapsed)
		}
		if onRetry != nil {
			onRetry(attempt+1, err)
		}
		t := time.NewTimer(b.Delay(attempt + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}
