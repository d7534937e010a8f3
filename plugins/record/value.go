package record

import (
	"bytes"
	"strconv"
	"time"
)

// UnquoteString decodes a raw JSON string (with its quotes). It returns the bytes between the quotes
// as they are when there is no escape, and decodes escapes otherwise. A malformed string yields "".
func UnquoteString(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return ""
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	if end, _, err := validString(raw, 0); err != nil || end != len(raw) {
		return ""
	}
	return string(AppendUnquoted(make([]byte, 0, len(inner)), raw))
}

// EventTime returns the time held by the top-level field name of rec: an RFC 3339 string (with or
// without fractional seconds), or a number of Unix seconds, milliseconds or nanoseconds (told apart by
// magnitude). ok is false when the field is missing or not a time.
func EventTime(rec []byte, name string) (t time.Time, ok bool) {
	raw, kind, found := Lookup(rec, name)
	if !found {
		return time.Time{}, false
	}
	return ParseTime(raw, kind)
}

// ParseTime parses a raw JSON value as EventTime does.
func ParseTime(raw []byte, kind Kind) (time.Time, bool) {
	switch kind {
	case String:
		s := UnquoteString(raw)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, true
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return unixAuto(n), true
		}
	case Number:
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return unixAuto(n), true
		}
		// Fractional numbers are Unix seconds; beyond ±1e11 (about the year 5138) they are not a time
		// (and would overflow the conversion to int64).
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil && f > -1e11 && f < 1e11 {
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)), true
		}
	}
	return time.Time{}, false
}

// unixAuto reads n as Unix seconds, milliseconds, microseconds or nanoseconds by its magnitude.
func unixAuto(n int64) time.Time {
	switch {
	case n > 1e17 || n < -1e17:
		return time.Unix(0, n)
	case n > 1e14 || n < -1e14:
		return time.UnixMicro(n)
	case n > 1e11 || n < -1e11:
		return time.UnixMilli(n)
	default:
		return time.Unix(n, 0)
	}
}
