package delivery

import "testing"

func TestErrorReason(t *testing.T) {
	known := []string{"AccessDenied", "NoSuchBucket"}
	for _, c := range []struct{ code, want string }{
		{"AccessDenied", "oss_AccessDenied"},
		{"NoSuchBucket", "oss_NoSuchBucket"},
		{"accessdenied", "oss_error"},
		{"SomethingNew", "oss_error"},
		{"", "oss_error"},
		{"AccessDenied: you may not", "oss_error"},
	} {
		if got := ErrorReason("oss", c.code, known); got != c.want {
			t.Errorf("ErrorReason(%q) = %q, want %q", c.code, got, c.want)
		}
	}
}
