package outcome

import (
	"errors"
	"strings"
	"testing"
)

// Health keeps the last success and the last failure; a success clears the message; a long message
// is cut.
func TestHealth(t *testing.T) {
	o := New()
	if h := o.Health(); !h.LastComplete.IsZero() || !h.LastError.IsZero() || h.ErrorMessage != "" {
		t.Fatalf("new outcome: %+v", h)
	}
	o.Failed(errors.New("esa_http: status 503: down"))
	h := o.Health()
	if h.LastError.IsZero() || h.ErrorMessage != "esa_http: status 503: down" || !h.LastComplete.IsZero() {
		t.Fatalf("after a failure: %+v", h)
	}
	o.Succeeded()
	h = o.Health()
	if h.LastComplete.IsZero() || h.ErrorMessage != "" || h.LastError.IsZero() {
		t.Fatalf("after a success: %+v", h)
	}
	o.Failed(errors.New(strings.Repeat("é", 1000)))
	if m := o.Health().ErrorMessage; len(m) > maxErrorMessage+len("…") || !strings.HasSuffix(m, "…") {
		t.Fatalf("a long message was kept as %d bytes", len(m))
	}
	o.Failed(nil)
	if o.Health().ErrorMessage == "" {
		t.Fatal("a nil error cleared the message")
	}
}
