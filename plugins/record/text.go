package record

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendUnquoted appends the decoded content of the raw JSON string raw (with its quotes) to dst.
// Invalid escapes are copied as they are, an unpaired surrogate becomes U+FFFD. A raw value that is
// not a quoted string appends nothing.
func AppendUnquoted(dst, raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return dst
	}
	return AppendUnescaped(dst, raw[1:len(raw)-1])
}

// AppendUnescaped appends the decoded form of s, the bytes between the quotes of a JSON string.
func AppendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			i++
			continue
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n := decodeU(s[i:])
			if n == 0 {
				dst = append(dst, s[i:i+2]...)
				i += 2
				continue
			}
			dst = utf8.AppendRune(dst, r)
			i += n
			continue
		default:
			dst = append(dst, s[i:i+2]...)
		}
		i += 2
	}
	return dst
}

// decodeU decodes \uXXXX (and a following low surrogate) at the start of s; n is the number of bytes
// consumed, 0 when the escape is malformed.
func decodeU(s []byte) (rune, int) {
	if len(s) < 6 || !isHex4(s[2:6]) {
		return 0, 0
	}
	r := rune(hex4(s[2:6]))
	if utf16.IsSurrogate(r) {
		if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' && isHex4(s[8:12]) {
			if d := utf16.DecodeRune(r, rune(hex4(s[8:12]))); d != utf8.RuneError {
				return d, 12
			}
		}
		return utf8.RuneError, 6
	}
	return r, 6
}

func hex4(h []byte) uint32 {
	var v uint32
	for _, c := range h {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint32(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint32(c - 'a' + 10)
		default:
			v |= uint32(c - 'A' + 10)
		}
	}
	return v
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string (with quotes) to dst, escaping '"', '\\' and control
// characters; invalid UTF-8 becomes U+FFFD.
func AppendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ParseInt parses b as a decimal integer ("-"? digits, no sign '+', no spaces) that fits in int64.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// ParseFloat parses b as a number with strconv.ParseFloat's syntax, rejecting NaN, infinities,
// hexadecimal forms and underscores (values JSON cannot carry).
func ParseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 64 {
		return 0, false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9') && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// IsJSONNumber reports whether b is a number in strict JSON syntax.
func IsJSONNumber(b []byte) bool {
	if len(b) == 0 || !(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) {
		return false
	}
	end, err := scanNumber(b, 0)
	return err == nil && end == len(b)
}

// Members iterates over the members of a raw JSON object value (as found by a Selector, so already
// validated) without allocating:
//
//	for it := record.Members(raw); it.Next(); { use(it.Key(), it.Value()) }
type Members struct {
	b   []byte
	i   int
	key []byte
	esc bool
	val Value
}

// MembersOf returns an iterator over the members of the raw object b. A value that is not an object
// yields no members.
func MembersOf(b []byte) Members {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return Members{i: -1}
	}
	return Members{b: b, i: i + 1}
}

// Next advances to the next member; it returns false at the end (or on malformed input).
func (m *Members) Next() bool {
	if m.i < 0 {
		return false
	}
	b := m.b
	i := skipWS(b, m.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		m.i = -1
		return false
	}
	// The object was validated (or came from a record known valid): find ends without validating.
	kEnd, kEsc, ok := scanString(b, i)
	if !ok {
		m.i = -1
		return false
	}
	m.key, m.esc = b[i+1:kEnd], kEsc
	i = skipWS(b, kEnd+1)
	if i >= len(b) || b[i] != ':' {
		m.i = -1
		return false
	}
	i = skipWS(b, i+1)
	vEnd, kind, vEsc, ok := walkValue(b, i)
	if !ok {
		m.i = -1
		return false
	}
	m.val = Value{Raw: b[i:vEnd:vEnd], Kind: kind, Escaped: vEsc}
	m.i = vEnd
	return true
}

// Key returns the current member's name bytes (between the quotes, escapes not decoded).
func (m *Members) Key() []byte { return m.key }

// KeyEscaped reports whether the current member's name holds escapes.
func (m *Members) KeyEscaped() bool { return m.esc }

// Value returns the current member's value.
func (m *Members) Value() Value { return m.val }
