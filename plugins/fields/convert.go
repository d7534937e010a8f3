package fields

import (
	"math"
	"strconv"
	"time"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// layoutRFC3339ms is RFC 3339 with exactly three fractional digits.
const layoutRFC3339ms = "2006-01-02T15:04:05.000Z07:00"

// appendValue appends v converted to type ft. ok is false when v had a wrong type that could not be
// converted losslessly (the sentinel was written instead).
func (p *Processor) appendValue(dst []byte, ft config.FieldType, v record.Value, st *state) ([]byte, bool) {
	switch ft {
	case config.TypeInt:
		return appendInt(dst, v)
	case config.TypeFloat:
		return appendFloat(dst, v)
	case config.TypeBool:
		return appendBool(dst, v)
	case config.TypeTimestamp:
		return p.appendTime(dst, v, st)
	default:
		return appendStr(dst, v)
	}
}

// absent reports a missing field or null: the sentinel, not counted.
func absent(v record.Value) bool { return v.Kind == record.Invalid || v.Kind == record.Null }

// noValue reports a value that is written as the placeholder without being counted: absent, or
// a marker in a field of any type but string.
func noValue(ft config.FieldType, v record.Value) bool {
	return absent(v) || ft != config.TypeString && marker(v)
}

// marker reports the edge's "not applicable" strings "-" and "" (in a numeric or time field).
func marker(v record.Value) bool {
	if v.Kind != record.String {
		return false
	}
	in := v.Inner()
	return len(in) == 0 || (len(in) == 1 && in[0] == '-')
}

func appendStr(dst []byte, v record.Value) ([]byte, bool) {
	switch v.Kind {
	case record.String:
		return append(dst, v.Raw...), true // validated JSON string: copied as it is
	case record.Number, record.Bool:
		dst = append(dst, '"')
		dst = append(dst, v.Raw...)
		return append(dst, '"'), true
	case record.Invalid, record.Null:
		return append(dst, `"-"`...), true
	}
	return append(dst, `"-"`...), false
}

func appendInt(dst []byte, v record.Value) ([]byte, bool) {
	if absent(v) || marker(v) {
		return append(dst, "-1"...), true
	}
	var text []byte
	switch v.Kind {
	case record.Number:
		text = v.Raw
	case record.String:
		if !v.Escaped {
			text = v.Inner()
		}
	}
	if text != nil {
		if n, ok := record.ParseInt(text); ok {
			if v.Kind == record.Number && !(len(text) == 2 && text[0] == '-' && text[1] == '0') {
				return append(dst, text...), true
			}
			return strconv.AppendInt(dst, n, 10), true
		}
		if f, ok := record.ParseFloat(text); ok && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return strconv.AppendInt(dst, int64(f), 10), true
		}
	}
	return append(dst, "-1"...), false
}

func appendFloat(dst []byte, v record.Value) ([]byte, bool) {
	if absent(v) || marker(v) {
		return append(dst, "-1"...), true
	}
	switch v.Kind {
	case record.Number:
		return append(dst, v.Raw...), true
	case record.String:
		if v.Escaped {
			break
		}
		in := v.Inner()
		if record.IsJSONNumber(in) {
			return append(dst, in...), true
		}
		if f, ok := record.ParseFloat(in); ok && !math.IsInf(f, 0) {
			return strconv.AppendFloat(dst, f, 'g', -1, 64), true
		}
	}
	return append(dst, "-1"...), false
}

func appendBool(dst []byte, v record.Value) ([]byte, bool) {
	switch v.Kind {
	case record.Invalid, record.Null:
		return append(dst, "false"...), true
	case record.Bool:
		return append(dst, v.Raw...), true
	case record.String:
		switch string(v.Inner()) {
		case "true":
			return append(dst, "true"...), true
		case "false":
			return append(dst, "false"...), true
		case "-", "":
			return append(dst, "false"...), true
		}
	}
	return append(dst, "false"...), false
}

func (p *Processor) appendTime(dst []byte, v record.Value, st *state) ([]byte, bool) {
	unixForm := p.tsFormat == TimeUnix || p.tsFormat == TimeUnixMs || p.tsFormat == TimeUnixNano
	sentinel := `"-"`
	if unixForm {
		sentinel = "-1"
	}
	if absent(v) || marker(v) {
		return append(dst, sentinel...), true
	}
	if p.tsFormat == TimeRFC3339 {
		return appendStr(dst, v)
	}
	if v.Kind != record.String && v.Kind != record.Number {
		return append(dst, sentinel...), false
	}
	t, ok := parseTime(v, st)
	if !ok {
		return append(dst, sentinel...), false
	}
	switch p.tsFormat {
	case TimeRFC3339ms:
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, layoutRFC3339ms)
		return append(dst, '"'), true
	case TimeUnix:
		return strconv.AppendInt(dst, t.Unix(), 10), true
	case TimeUnixMs:
		return strconv.AppendInt(dst, t.UnixMilli(), 10), true
	default:
		// Unix nanoseconds fit an int64 only from 1677-09-21 to 2262-04-11: a time outside that range
		// is delivered as the sentinel and counted, never as an overflowed number.
		if t.Before(minUnixNano) || t.After(maxUnixNano) {
			return append(dst, sentinel...), false
		}
		return strconv.AppendInt(dst, t.UnixNano(), 10), true
	}
}

// minUnixNano and maxUnixNano bound the times whose Unix nanoseconds fit an int64.
var (
	minUnixNano = time.Unix(0, math.MinInt64)
	maxUnixNano = time.Unix(0, math.MaxInt64)
)

// parseTime reads an RFC 3339 string (or a Unix number, as record.ParseTime does) without allocating
// for unescaped strings.
func parseTime(v record.Value, st *state) (time.Time, bool) {
	if v.Kind == record.String && !v.Escaped {
		if t, err := time.Parse(time.RFC3339Nano, string(v.Inner())); err == nil {
			return t, true
		}
	}
	return record.ParseTime(v.Raw, v.Kind)
}
