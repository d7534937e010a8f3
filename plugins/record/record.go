// Package record reads and writes one JSON log record, fast: top-level field lookup without
// reflection or maps, strict one-pass validation with field positions (Selector, Shape, Index),
// value classification and conversion, JSON string escaping, custom-field helpers, and the event
// time. It is the shared hot path of the esa_* processors and outputs, and knows nothing of Benthos:
// what travels with a record in a message (checked marks, invalid-record routing, metadata) is
// package pipeline.
package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
)

// Kind is the JSON kind of a raw value.
type Kind uint8

// The JSON kinds of a raw value.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Object
	Array
)

// ErrNotObject is returned when a record is not a JSON object.
var ErrNotObject = errors.New("record is not a JSON object")

// ErrMalformed is returned when a record is not valid JSON.
var ErrMalformed = errors.New("record is not valid JSON")

// Lookup returns the raw bytes of the top-level field name of the JSON object rec (for a string:
// with its quotes, escapes not decoded), its kind, and whether it was found. Lookup does not validate
// the parts of rec it skips beyond what is needed to find their end.
func Lookup(rec []byte, name string) (raw []byte, kind Kind, found bool) {
	i := skipWS(rec, 0)
	if i >= len(rec) || rec[i] != '{' {
		return nil, Invalid, false
	}
	i++
	for {
		i = skipWS(rec, i)
		if i >= len(rec) {
			return nil, Invalid, false
		}
		if rec[i] == '}' {
			return nil, Invalid, false
		}
		if rec[i] == ',' {
			i++
			continue
		}
		if rec[i] != '"' {
			return nil, Invalid, false
		}
		kStart := i + 1
		kEnd, escaped, ok := scanString(rec, i)
		if !ok {
			return nil, Invalid, false
		}
		i = skipWS(rec, kEnd+1)
		if i >= len(rec) || rec[i] != ':' {
			return nil, Invalid, false
		}
		i = skipWS(rec, i+1)
		vEnd, k, ok := SkipValue(rec, i)
		if !ok {
			return nil, Invalid, false
		}
		key := rec[kStart:kEnd]
		if (!escaped && string(key) == name) || (escaped && UnquoteString(rec[kStart-1:kEnd+1]) == name) {
			return rec[i:vEnd], k, true
		}
		i = vEnd
	}
}

// Each calls fn for every top-level member of the JSON object rec, in order, with the raw key bytes
// (between the quotes, escapes not decoded) and the raw value. It returns ErrNotObject or
// ErrMalformed when rec is not a well-formed object, and stops early when fn returns false.
func Each(rec []byte, fn func(key, value []byte, kind Kind) bool) error {
	i := skipWS(rec, 0)
	if i >= len(rec) {
		return ErrMalformed
	}
	if rec[i] != '{' {
		if _, _, ok := SkipValue(rec, i); ok {
			return ErrNotObject
		}
		return ErrMalformed
	}
	i++
	first := true
	for {
		i = skipWS(rec, i)
		if i >= len(rec) {
			return ErrMalformed
		}
		if rec[i] == '}' {
			if j := skipWS(rec, i+1); j != len(rec) {
				return ErrMalformed
			}
			return nil
		}
		if !first {
			if rec[i] != ',' {
				return ErrMalformed
			}
			i = skipWS(rec, i+1)
		}
		first = false
		if i >= len(rec) || rec[i] != '"' {
			return ErrMalformed
		}
		kEnd, _, ok := scanString(rec, i)
		if !ok {
			return ErrMalformed
		}
		key := rec[i+1 : kEnd]
		i = skipWS(rec, kEnd+1)
		if i >= len(rec) || rec[i] != ':' {
			return ErrMalformed
		}
		i = skipWS(rec, i+1)
		vEnd, k, ok := SkipValue(rec, i)
		if !ok {
			return ErrMalformed
		}
		if !fn(key, rec[i:vEnd], k) {
			return nil
		}
		i = vEnd
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' {
		if c := b[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
		i++
	}
	return i
}

// scanString returns the index of the closing quote of the string starting at b[i] == '"', whether
// it contains escapes, and whether it is terminated.
func scanString(b []byte, i int) (end int, escaped bool, ok bool) {
	j := i + 1
	if j+16 <= len(b) {
		// Short strings end within 16 bytes; for a longer one, let the vectorised IndexByte find the
		// next quote and check that no backslash comes before it.
		x, y := binary.LittleEndian.Uint64(b[j:]), binary.LittleEndian.Uint64(b[j+8:])
		qx, bx, qy, by := x^(lsb*'"'), x^(lsb*'\\'), y^(lsb*'"'), y^(lsb*'\\')
		mx := ((qx-lsb)&^qx | (bx-lsb)&^bx) & msb
		my := ((qy-lsb)&^qy | (by-lsb)&^by) & msb
		if mx != 0 {
			j += bits.TrailingZeros64(mx) >> 3
		} else if my != 0 {
			j += 8 + bits.TrailingZeros64(my)>>3
		} else if q := bytes.IndexByte(b[j+16:], '"'); q >= 0 {
			if bytes.IndexByte(b[j+16:j+16+q], '\\') < 0 {
				return j + 16 + q, false, true
			}
			j += 16
		} else {
			return 0, false, false
		}
		if b[j] == '"' {
			return j, false, true
		}
	}
	for {
		// Eight bytes at a time up to the next '"' or '\\'.
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			q, bs := x^(lsb*'"'), x^(lsb*'\\')
			if m := ((q-lsb)&^q | (bs-lsb)&^bs) & msb; m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(b) && b[j] != '"' && b[j] != '\\' {
			j++
		}
		if j >= len(b) {
			return 0, false, false
		}
		if b[j] == '"' {
			return j, escaped, true
		}
		escaped = true
		j += 2
	}
}

// SkipValue returns the end index (exclusive) of the JSON value starting at b[i] and its kind.
// Strings, numbers and literals are checked for termination; containers by bracket matching.
func SkipValue(b []byte, i int) (end int, kind Kind, ok bool) {
	if i >= len(b) {
		return 0, Invalid, false
	}
	switch c := b[i]; {
	case c == '"':
		e, _, ok := scanString(b, i)
		return e + 1, String, ok
	case c == '{' || c == '[':
		kind = Object
		if c == '[' {
			kind = Array
		}
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, _, ok := scanString(b, j)
				if !ok {
					return 0, Invalid, false
				}
				j = e
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, kind, true
				}
			}
		}
		return 0, Invalid, false
	case c == 't':
		return literal(b, i, "true", Bool)
	case c == 'f':
		return literal(b, i, "false", Bool)
	case c == 'n':
		return literal(b, i, "null", Null)
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) {
			d := b[j]
			if (d >= '0' && d <= '9') || d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-' {
				j++
				continue
			}
			break
		}
		return j, Number, true
	}
	return 0, Invalid, false
}

func literal(b []byte, i int, lit string, k Kind) (int, Kind, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), k, true
	}
	return 0, Invalid, false
}
