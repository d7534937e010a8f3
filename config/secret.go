package config

import "strings"

// MaskKeyID returns an access key ID (AccessKey ID, AWS access key id) as messages show it: its first
// four and last three characters with '*' for every one between, so that it can be recognised without
// being printed ("LTAI5tAbCdEfGhIjKlMn" → "LTAI*************lMn"). An ID of at most 8 characters is
// all '*'. Every error and log line that names a key ID uses it; quote the result with %q.
func MaskKeyID(id string) string {
	r := []rune(id)
	if len(r) <= 8 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:4]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-3:])
}
