package s3verified

import (
	"os"
	"testing"
)

func TestExpandRefs(t *testing.T) {
	t.Setenv("VERIFY_TEST_KEY", "AKIA123")
	for in, want := range map[string]string{
		"${VERIFY_TEST_KEY}":       "AKIA123",
		"pre-${VERIFY_TEST_KEY}-x": "pre-AKIA123-x",
		"literal$secret":           "literal$secret",
		"$VERIFY_TEST_KEY":         "$VERIFY_TEST_KEY",
		"${VERIFY_TEST_UNSET_1}":   "",
		"no refs":                  "no refs",
	} {
		if got := expandRefs(in, os.Getenv); got != want {
			t.Errorf("expandRefs(%q) = %q, want %q", in, got, want)
		}
	}
}
