package delivery

import "slices"

// ErrorReason is the dead-letter reason (Permanent.Reason) of a refusal that came with the
// destination's error code: "<prefix>_<code>" when code is one of known, else "<prefix>_error". The
// reason is a metric label value, so only the documented codes in known become one of their own: an
// unexpected code (or a server's free text) never adds a label value.
func ErrorReason(prefix, code string, known []string) string {
	if code != "" && slices.Contains(known, code) {
		return prefix + "_" + code
	}
	return prefix + "_error"
}
