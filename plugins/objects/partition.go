package objects

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/esa-connect/esa-connect/plugins/record"
)

// Partition levels that are not fields, and the layouts of a partition directory.
const (
	// PartitionDate is the UTC date of a record's event time (2026-12-06); PartitionHour its UTC
	// hour (07).
	PartitionDate = "date"
	PartitionHour = "hour"
	// StyleHive names each level (dt=2026-12-06/hour=07/SecAction=deny), as Hive, Spark, Athena and
	// other engines discover partitions; StylePlain gives the values only (2026-12-06/07/deny).
	StyleHive  = "hive"
	StylePlain = "plain"
	// HiveDateKey is the name of the date level in the hive style.
	HiveDateKey = "dt"
	// MissingHive and MissingPlain stand for a field that is missing, null or empty: Hive's name
	// for its default (null) partition, and "-" (as ESA writes a missing value).
	MissingHive  = "__HIVE_DEFAULT_PARTITION__"
	MissingPlain = "-"
	// DefaultMaxOpen is how many partitions may have an object being filled by default; MaxMaxOpen
	// is the most a configuration may ask for.
	DefaultMaxOpen = 16
	MaxMaxOpen     = 256
	// MaxPartitionLevels is the most levels of a partition.
	MaxPartitionLevels = 4
	// maxValueBytes bounds the escaped value of a field in a key: longer values are cut and end
	// with "~" and 16 hex digits of their SHA-256, so distinct values stay distinct.
	maxValueBytes = 96
)

// Partitioner files records into partitions: the directory, under the store's path, of the objects
// that hold them. It is safe for concurrent use.
type Partitioner struct {
	levels []level
	hive   bool
	time   bool
}

// level is one directory level of a partition.
type level struct {
	kind   string // PartitionDate, PartitionHour or "" for a field
	field  string
	prefix string // "dt=", "hour=", "<field>=" in the hive style, else ""
}

// NewPartitioner returns the partitioner of by (levels in order: "date", "hour" or the name of a
// delivered top-level field) in style (hive, the default when empty, or plain).
func NewPartitioner(by []string, style string) (*Partitioner, error) {
	if style == "" {
		style = StyleHive
	}
	if style != StyleHive && style != StylePlain {
		return nil, fmt.Errorf("partition.style: %q is not hive or plain", style)
	}
	if len(by) == 0 {
		return nil, fmt.Errorf("partition.by: no level given")
	}
	if len(by) > MaxPartitionLevels {
		return nil, fmt.Errorf("partition.by: %d levels; at most %d", len(by), MaxPartitionLevels)
	}
	p := &Partitioner{hive: style == StyleHive}
	for i, b := range by {
		switch {
		case b == "":
			return nil, fmt.Errorf("partition.by[%d]: empty", i)
		case slices.Contains(by[:i], b):
			return nil, fmt.Errorf("partition.by[%d]: %q is given twice", i, b)
		case b == PartitionHour && !slices.Contains(by[:i], PartitionDate):
			return nil, fmt.Errorf("partition.by[%d]: hour needs date before it", i)
		case strings.ContainsAny(b, "/=%"):
			return nil, fmt.Errorf("partition.by[%d]: %q is not a field name", i, b)
		}
		l := level{field: b}
		switch b {
		case PartitionDate:
			l = level{kind: b, prefix: HiveDateKey + "="}
			p.time = true
		case PartitionHour:
			l = level{kind: b, prefix: "hour="}
		default:
			l.prefix = b + "="
		}
		if !p.hive {
			l.prefix = ""
		}
		p.levels = append(p.levels, l)
	}
	return p, nil
}

// Time reports whether the partitions depend on event times (date, hour).
func (p *Partitioner) Time() bool { return p.time }

// AppendDir appends the partition directory of the delivered record rec (a JSON object) with event
// time t to dst: its levels joined by '/', without a leading or trailing slash.
func (p *Partitioner) AppendDir(dst, rec []byte, t time.Time) []byte {
	t = t.UTC()
	for i, l := range p.levels {
		if i > 0 {
			dst = append(dst, '/')
		}
		dst = append(dst, l.prefix...)
		switch l.kind {
		case PartitionDate:
			dst = t.AppendFormat(dst, "2006-01-02")
		case PartitionHour:
			dst = t.AppendFormat(dst, "15")
		default:
			raw, kind, _ := record.Lookup(rec, l.field)
			dst = p.appendValue(dst, raw, kind)
		}
	}
	return dst
}

// appendValue appends the key form of a field's raw JSON value: a string's text, any other value's
// JSON text, escaped (AppendEscaped); missing, null and "" give MissingHive or MissingPlain.
func (p *Partitioner) appendValue(dst, raw []byte, kind record.Kind) []byte {
	var v []byte
	switch kind {
	case record.String:
		var buf [128]byte
		v = record.AppendUnquoted(buf[:0], raw)
	case record.Invalid, record.Null:
	default:
		v = raw
	}
	if len(v) == 0 {
		if p.hive {
			return append(dst, MissingHive...)
		}
		return append(dst, MissingPlain...)
	}
	return AppendEscaped(dst, v)
}

// AppendEscaped appends v as one safe level of an object key (and of a local path): letters, digits,
// '-', '_' and '.' are kept, every other byte is written %XX (upper-case hex, as Hive escapes
// partition values), and a value made of dots only has them escaped too (never "." or ".."). A value
// that would take more than 96 bytes is cut and ends with "~" and the first 16 hex digits of the
// SHA-256 of the whole value.
func AppendEscaped(dst, v []byte) []byte {
	dots := strings.Trim(string(v), ".") == ""
	safe := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && !dots
	}
	n := 0
	for _, c := range v {
		if safe(c) {
			n++
		} else {
			n += 3
		}
	}
	limit := len(dst) + n
	if n > maxValueBytes {
		limit = len(dst) + maxValueBytes - 17 // "~" and 16 hex digits follow
	}
	for _, c := range v {
		if safe(c) {
			if len(dst)+1 > limit {
				break
			}
			dst = append(dst, c)
		} else {
			if len(dst)+3 > limit {
				break
			}
			dst = append(dst, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		}
	}
	if n > maxValueBytes {
		sum := sha256.Sum256(v)
		dst = append(dst, '~')
		dst = hex.AppendEncode(dst, sum[:8])
	}
	return dst
}
