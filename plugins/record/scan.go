package record

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// MaxRecordSize is the largest record the esa_* processors accept: 1 MiB. Larger records are invalid
// with reason ReasonTooLarge (docs/processing.md#malformed-records).
const MaxRecordSize = 1 << 20

// MaxDepth is the deepest nesting of objects and arrays a record may have; deeper records are
// invalid with reason ReasonTooDeep (it bounds the validator's recursion).
const MaxDepth = 512

// Reasons why a record is invalid: the values of the reason label of esa_records_invalid_total and
// of the metadata esa_invalid_reason.
const (
	ReasonEmpty        = "empty"         // nothing but whitespace
	ReasonTooLarge     = "too_large"     // more than MaxRecordSize bytes
	ReasonNotObject    = "not_object"    // valid JSON, but not an object (string, array, number, ...)
	ReasonMalformed    = "malformed"     // not valid JSON (truncated, trailing data, bad escape, BOM, ...)
	ReasonInvalidUTF8  = "invalid_utf8"  // a string holds bytes that are not UTF-8
	ReasonDuplicateKey = "duplicate_key" // a field the processor reads occurs twice
	ReasonTooDeep      = "too_deep"      // nested deeper than MaxDepth
)

// Reasons lists every reason, in a fixed order (for per-reason counters).
var Reasons = [...]string{ReasonEmpty, ReasonTooLarge, ReasonNotObject, ReasonMalformed,
	ReasonInvalidUTF8, ReasonDuplicateKey, ReasonTooDeep}

// ReasonIndex returns the position of reason in Reasons, or -1.
func ReasonIndex(reason string) int {
	for i, r := range Reasons {
		if r == reason {
			return i
		}
	}
	return -1
}

// InvalidError says why a record is not a valid JSON object: Reason is one of the Reason constants,
// Offset the byte position where the problem was found.
type InvalidError struct {
	Reason string
	Offset int
	Msg    string
}

// Error implements error.
func (e *InvalidError) Error() string {
	return e.Reason + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

func invalid(reason string, off int, msg string) *InvalidError {
	return &InvalidError{Reason: reason, Offset: off, Msg: msg}
}

// Value is the raw JSON value of one field found by a Selector. Raw is nil when the field is absent.
type Value struct {
	// Raw is the value's JSON text (a string with its quotes and escapes as they are).
	Raw []byte
	// Kind is the JSON kind; Invalid when the field is absent.
	Kind Kind
	// Escaped reports whether a string value contains backslash escapes (when false, the bytes
	// between the quotes are the string itself).
	Escaped bool
}

// Found reports whether the field is present (null counts as present; see IsNull).
func (v Value) Found() bool { return v.Kind != Invalid }

// Inner returns the bytes between the quotes of a string value (escapes not decoded), or the raw
// text of any other kind.
func (v Value) Inner() []byte {
	if v.Kind == String && len(v.Raw) >= 2 {
		return v.Raw[1 : len(v.Raw)-1]
	}
	return v.Raw
}

// Text returns a string value decoded, or the JSON text of a number or bool; "" otherwise.
func (v Value) Text() string {
	switch v.Kind {
	case String:
		if !v.Escaped {
			return string(v.Raw[1 : len(v.Raw)-1])
		}
		return string(AppendUnquoted(nil, v.Raw))
	case Number, Bool:
		return string(v.Raw)
	}
	return ""
}

// AppendText appends what Text returns to dst without an intermediate string.
func (v Value) AppendText(dst []byte) []byte {
	switch v.Kind {
	case String:
		if !v.Escaped {
			return append(dst, v.Raw[1:len(v.Raw)-1]...)
		}
		return AppendUnquoted(dst, v.Raw)
	case Number, Bool:
		return append(dst, v.Raw...)
	}
	return dst
}

// Selector finds a fixed set of top-level fields of a record in one pass, validating the whole
// record on the way. Build it once (NewSelector) and reuse it; it is safe for concurrent use.
type Selector struct {
	names []string
	head  [256]int16 // bucket → first index+1 (0 = empty)
	next  []int16    // index → next index+1 in the same bucket
}

// NewSelector returns a Selector for names. Repeated names share one position.
func NewSelector(names ...string) *Selector {
	s := &Selector{}
	for _, n := range names {
		s.Add(n)
	}
	return s
}

// Add adds name (if not present yet) and returns its position in the output of Scan.
func (s *Selector) Add(name string) int {
	if i := s.Index(name); i >= 0 {
		return i
	}
	i := len(s.names)
	s.names = append(s.names, name)
	s.next = append(s.next, 0)
	if name != "" {
		h := bucket(name)
		s.next[i] = s.head[h]
		s.head[h] = int16(i + 1)
	}
	return i
}

// Len returns the number of distinct names.
func (s *Selector) Len() int { return len(s.names) }

// Names returns the selected names by position.
func (s *Selector) Names() []string { return s.names }

// Index returns the position of name, or -1.
func (s *Selector) Index(name string) int {
	if name == "" {
		for i, n := range s.names {
			if n == "" {
				return i
			}
		}
		return -1
	}
	for j := s.head[bucket(name)]; j != 0; j = s.next[j-1] {
		if s.names[j-1] == name {
			return int(j - 1)
		}
	}
	return -1
}

func bucket[T string | []byte](k T) uint8 {
	n := len(k)
	return uint8(uint(n)*0x9d ^ uint(k[0])*0x1f ^ uint(k[n-1])*0x65 ^ uint(k[n>>1])*0x0b)
}

func (s *Selector) find(key []byte) int {
	if len(key) == 0 {
		return s.Index("")
	}
	for j := s.head[bucket(key)]; j != 0; j = s.next[j-1] {
		if s.names[j-1] == string(key) {
			return int(j - 1)
		}
	}
	return -1
}

// Scan checks that rec is one well-formed JSON object of at most MaxRecordSize bytes (strict RFC
// 8259: grammar, escapes, UTF-8, nesting up to MaxDepth, nothing after the object) and stores in
// out[i] the value of the field at position i (the zero Value when absent). out must have at least
// Len() elements. A record in which a selected field occurs twice is invalid (ReasonDuplicateKey).
// The error, if any, is an *InvalidError.
func (s *Selector) Scan(rec []byte, out []Value) error {
	out = out[:len(s.names)]
	clear(out)
	return scanObject(rec, s, out, nil, 0)
}

// ScanShape is Scan with a Shape: when a record's layout repeats the previous one's (ESA records of
// one source share their layout), the bytes from the end of one top-level value to the start of the
// next (separator, field name, colon) are recognised by one comparison with the bytes learnt from the
// previous record, instead of being parsed byte by byte. The result is the same as Scan's. After a
// successful ScanShape, sh.Unique reports whether the record's top-level names were distinct.
func (s *Selector) ScanShape(rec []byte, out []Value, sh *Shape) error {
	out = out[:len(s.names)]
	clear(out)
	sh.use(s)
	if len(rec) <= MaxRecordSize && scanLayout(rec, out, sh, false, true) {
		return nil
	}
	clear(out)
	return scanObject(rec, s, out, sh, 0)
}

// Find is ScanShape for a record already known to be valid (see pipeline.Checked): values are skipped
// without being validated, and when unique is true (the record's top-level names are known to be
// distinct) it stops as soon as every selected field was found. On a record that is not valid its
// results are unspecified (but it does not panic or read out of bounds). The only error it returns
// is a duplicate selected field (ReasonDuplicateKey) when unique is false.
func (s *Selector) Find(rec []byte, out []Value, sh *Shape, unique bool) error {
	out = out[:len(s.names)]
	clear(out)
	sh.use(s)
	if len(rec) <= MaxRecordSize && scanLayout(rec, out, sh, unique, false) {
		return nil
	}
	clear(out)
	mode := modeTrusted
	if unique {
		mode |= modeEarly
	}
	return scanObject(rec, s, out, sh, mode)
}

// scanLayout is the fast path of ScanShape (validate) and Find: it reports whether rec follows sh's
// layout member by member (to its end, or with early up to the last selected field) with valid
// values (only when validate), and then has stored the selected values. On anything else (a literal
// that does not match, an invalid value, a repeated field, whitespace the layout does not have) it
// returns false and the caller walks the record with scanObject, which also explains what is wrong.
func scanLayout(b []byte, out []Value, sh *Shape, early, validate bool) bool {
	lits, arena := sh.lits, sh.arena
	if len(lits) == 0 {
		return false
	}
	i, found := 0, 0
	keep := sh.keep
	var spans []uint32
	if keep {
		spans = sh.spans[:len(lits)+1]
	}
	for k := range lits {
		l := lits[k]
		e := i + int(l.n)
		// (The runtime's memequal, vectorised, beats comparing 8 bytes at a time inline here.)
		if l.n == 0 || e >= len(b) || string(b[i:e]) != string(arena[l.off:l.off+l.n]) {
			return false
		}
		var end int
		var kind Kind
		var esc bool
		// The hot loop: values are scanned inline (validValue and walkValue are calls).
		var bad bool
		switch {
		case b[e] != '"' && validate:
			var err *InvalidError
			end, kind, esc, err = scanValue(b, e, 1)
			bad = err != nil
		case b[e] != '"':
			end, kind, bad = SkipValue(b, e)
			bad = !bad
		case validate:
			var err *InvalidError
			kind = String
			end, esc, err = validString(b, e)
			bad = err != nil
		default:
			kind = String
			end, esc, bad = scanString(b, e)
			end, bad = end+1, !bad
		}
		if bad {
			return false
		}
		if keep {
			spans[k] = uint32(e)
			if esc {
				spans[k] |= escBit
			}
		}
		if l.idx >= 0 {
			if out[l.idx].Kind != Invalid {
				return false
			}
			out[l.idx] = Value{Raw: b[e:end:end], Kind: kind, Escaped: esc}
			if found++; early && found == len(out) {
				return true
			}
		}
		i = end
	}
	j := skipWS(b, i)
	if j >= len(b) || b[j] != '}' || skipWS(b, j+1) != len(b) {
		return false
	}
	if keep {
		spans[len(lits)] = uint32(i)
	}
	sh.unique, sh.indexed = !lits[len(lits)-1].dup, keep
	return true
}

// scan modes of scanObject.
const (
	modeTrusted = 1 << iota // the record is known valid: skip values without validating them
	modeEarly               // stop once every selected field was found
)

// Shape remembers the layout of the last record scanned with it: for each top-level member k, the
// exact bytes between the end of the previous value (or the start of the record) and the start of
// member k's value, and the Selector position of its name. The zero Shape is ready to use. It is
// not safe for concurrent use: keep one per goroutine.
type Shape struct {
	sel    *Selector
	arena  []byte     // the literals, back to back
	names  []byte     // the decoded names of the first maxUniqueCheck members, back to back
	lits   []shapeLit // member k's literal and name position
	unique bool       // the last record scanned to its end had distinct top-level names
	// spans[k] is where member k's value started in the last record scanned along the layout (with
	// escBit for a string with escapes), spans[len(lits)] where the last value ended; indexed says
	// that record was scanned to its end that way (see TakeIndex).
	spans   []uint32
	indexed bool
	keep    bool    // record spans (set by KeepPositions)
	layout  *Layout // immutable copy of the layout for Index consumers; nil after a change
}

// escBit marks, in a value's start, a string with escapes (it is above MaxRecordSize).
const escBit = 1 << 30

// shapeLit is where one member's literal is in Shape.arena (n == 0: never matches), the Selector
// position of the member's name (-1: not selected), where its decoded name is in Shape.names, and
// whether that name may repeat an earlier member's.
type shapeLit struct {
	off, n, idx   int32
	nameOff, nLen int32
	dup           bool
}

const (
	// maxLiteral bounds the literal learnt for one member (a longer one is parsed every time).
	maxLiteral = 512
	// maxUniqueCheck bounds how many members are checked for repeated names (each new name is
	// compared with the earlier ones); records with more members are not known to be unique.
	maxUniqueCheck = 128
)

// Unique reports whether the last record scanned successfully with sh (by ScanShape, or by Find
// without stopping early) had distinct top-level names. False means repeated or not known.
func (sh *Shape) Unique() bool { return sh.unique }

func (sh *Shape) use(s *Selector) {
	if sh.sel != s {
		sh.arena, sh.names, sh.lits, sh.layout = sh.arena[:0], sh.names[:0], sh.lits[:0], nil
		sh.sel = s
	}
	sh.unique, sh.indexed = false, false
}

// learn records lit (the bytes before member k's value, all of them valid) as literal k, with the
// member's decoded name, and forgets everything learnt after it. A literal that is too long is
// learnt empty: it never matches.
func (sh *Shape) learn(k int, lit, name []byte, idx int) {
	if k < len(sh.lits) {
		sh.arena, sh.names, sh.lits = sh.arena[:sh.lits[k].off], sh.names[:sh.lits[k].nameOff], sh.lits[:k]
	}
	l := shapeLit{off: int32(len(sh.arena)), idx: int32(idx), nameOff: int32(len(sh.names)), dup: true}
	if len(lit) <= maxLiteral {
		sh.arena = append(sh.arena, lit...)
		l.n = int32(len(lit))
	}
	if k < maxUniqueCheck && (k == 0 || !sh.lits[k-1].dup) {
		l.dup = false
		for _, e := range sh.lits {
			if string(sh.names[e.nameOff:e.nameOff+e.nLen]) == string(name) {
				l.dup = true
				break
			}
		}
	}
	sh.names = append(sh.names, name...)
	l.nLen = int32(len(name))
	sh.lits = append(sh.lits, l)
	sh.layout = nil
	if len(sh.spans) < len(sh.lits)+1 {
		sh.spans = append(sh.spans, make([]uint32, len(sh.lits)+1-len(sh.spans))...)
	}
}

// Validate checks rec as Selector.Scan does, without selecting fields.
func Validate(rec []byte) error {
	return scanObject(rec, nil, nil, nil, 0)
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// scanObject validates (or, with modeTrusted, only walks) the record b, storing the selected values
// in out. With a Shape it matches and learns the layout; a shapeLit's dup is true when the name of
// that member or of any earlier one may repeat, so "unique" is the last member's !dup.
func scanObject(b []byte, s *Selector, out []Value, sh *Shape, mode int) error {
	if len(b) > MaxRecordSize {
		return invalid(ReasonTooLarge, MaxRecordSize, "record of "+strconv.Itoa(len(b))+" bytes exceeds 1 MiB")
	}
	var keyBuf [64]byte
	trusted, early := mode&modeTrusted != 0, mode&modeEarly != 0
	found, dup := 0, false
	// i is the end of the previous member's value (or 0); member k comes next.
	for i, k := 0, 0; ; k++ {
		idx := -1
		vStart, matched := 0, false
		if sh != nil && k < len(sh.lits) {
			// Fast path: the bytes up to this member's value are those of the previous record.
			l := &sh.lits[k]
			if e := i + int(l.n); l.n > 0 && e < len(b) && string(b[i:e]) == string(sh.arena[l.off:l.off+l.n]) {
				vStart, idx, matched, dup = skipWS(b, e), int(l.idx), true, l.dup
			}
		}
		if !matched {
			from := i
			if k == 0 {
				i = skipWS(b, 0)
				if i >= len(b) {
					return invalid(ReasonEmpty, i, "empty record")
				}
				if b[i] != '{' {
					return notObject(b, i)
				}
				i = skipWS(b, i+1)
				if i < len(b) && b[i] == '}' {
					return sh.end(b, i+1, false)
				}
			} else {
				i = skipWS(b, i)
				if i >= len(b) {
					return invalid(ReasonMalformed, i, "unexpected end of record (truncated object)")
				}
				switch b[i] {
				case ',':
					i = skipWS(b, i+1)
				case '}':
					return sh.end(b, i+1, dup)
				default:
					return invalid(ReasonMalformed, i, "expected ',' or '}' after a field value")
				}
			}
			if i >= len(b) {
				return invalid(ReasonMalformed, i, "unexpected end of record (truncated object)")
			}
			if b[i] != '"' {
				return invalid(ReasonMalformed, i, "expected a quoted field name")
			}
			kEnd, kEsc, err := validString(b, i)
			if err != nil {
				return err
			}
			key := b[i+1 : kEnd-1]
			if kEsc && (s != nil || sh != nil) {
				key = AppendUnescaped(keyBuf[:0], key)
			}
			if s != nil {
				idx = s.find(key)
			}
			i = skipWS(b, kEnd)
			if i >= len(b) || b[i] != ':' {
				return invalid(ReasonMalformed, i, "expected ':' after a field name")
			}
			vStart = skipWS(b, i+1)
			if sh != nil {
				sh.learn(k, b[from:vStart], key, idx)
				dup = sh.lits[k].dup
			}
		}
		var vEnd int
		var kind Kind
		var vEsc bool
		if trusted {
			var ok bool
			if vEnd, kind, vEsc, ok = walkValue(b, vStart); !ok {
				return invalid(ReasonMalformed, vStart, "invalid value")
			}
		} else {
			var err *InvalidError
			if vEnd, kind, vEsc, err = validValue(b, vStart); err != nil {
				return err
			}
		}
		if idx >= 0 {
			if out[idx].Kind != Invalid {
				return invalid(ReasonDuplicateKey, vStart, "field "+strconv.Quote(s.names[idx])+" occurs more than once")
			}
			out[idx] = Value{Raw: b[vStart:vEnd:vEnd], Kind: kind, Escaped: vEsc}
			if found++; early && found == len(out) {
				return nil
			}
		}
		i = vEnd
	}
}

// end checks that only whitespace follows the object's closing brace (b[i-1]) and records whether
// its names were distinct.
func (sh *Shape) end(b []byte, i int, dup bool) error {
	if err := trailing(b, i); err != nil {
		return err
	}
	if sh != nil {
		sh.unique = !dup
	}
	return nil
}

// validValue validates the value at b[i] (scanValue, with strings first: they are most values).
func validValue(b []byte, i int) (end int, kind Kind, escaped bool, err *InvalidError) {
	if i < len(b) && b[i] == '"' {
		end, escaped, err = validString(b, i)
		return end, String, escaped, err
	}
	return scanValue(b, i, 1)
}

// walkValue finds the end of the value at b[i] of a record known valid, without validating it.
func walkValue(b []byte, i int) (end int, kind Kind, escaped bool, ok bool) {
	if i < len(b) && b[i] == '"' {
		end, escaped, ok = scanString(b, i)
		return end + 1, String, escaped, ok
	}
	end, kind, ok = SkipValue(b, i)
	return end, kind, false, ok
}

// notObject explains why the record starting (after whitespace) at b[i] != '{' is invalid.
func notObject(b []byte, i int) error {
	if len(b)-i >= 3 && b[i] == bom[0] && b[i+1] == bom[1] && b[i+2] == bom[2] {
		return invalid(ReasonMalformed, i, "byte order mark before the JSON object")
	}
	end, _, _, err := scanValue(b, i, 1)
	if err != nil {
		if err.Reason == ReasonInvalidUTF8 || err.Reason == ReasonTooDeep {
			return err
		}
		return invalid(ReasonMalformed, err.Offset, "not a JSON object: "+err.Msg)
	}
	if skipWS(b, end) == len(b) {
		return invalid(ReasonNotObject, i, "record is a JSON "+kindName(b[i])+", not an object")
	}
	return invalid(ReasonMalformed, skipWS(b, end), "data after the JSON value")
}

func trailing(b []byte, i int) error {
	if j := skipWS(b, i); j != len(b) {
		return invalid(ReasonMalformed, j, "data after the JSON object")
	}
	return nil
}

func kindName(c byte) string {
	switch c {
	case '"':
		return "string"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// scanValue validates the JSON value starting at b[i] and returns its end (exclusive), its kind and,
// for a string, whether it has escapes.
func scanValue(b []byte, i, depth int) (end int, kind Kind, escaped bool, err *InvalidError) {
	if i >= len(b) {
		return 0, Invalid, false, invalid(ReasonMalformed, i, "unexpected end of record (missing value)")
	}
	switch c := b[i]; {
	case c == '"':
		end, escaped, err = validString(b, i)
		return end, String, escaped, err
	case c == '{':
		end, err = scanNested(b, i, depth)
		return end, Object, false, err
	case c == '[':
		end, err = scanArray(b, i, depth)
		return end, Array, false, err
	case c == 't':
		end, err = scanLiteral(b, i, "true")
		return end, Bool, false, err
	case c == 'f':
		end, err = scanLiteral(b, i, "false")
		return end, Bool, false, err
	case c == 'n':
		end, err = scanLiteral(b, i, "null")
		return end, Null, false, err
	case c == '-' || (c >= '0' && c <= '9'):
		end, err = scanNumber(b, i)
		return end, Number, false, err
	}
	return 0, Invalid, false, invalid(ReasonMalformed, i, "unexpected character "+strconv.QuoteRune(rune(b[i]))+" (expected a value)")
}

func scanNested(b []byte, i, depth int) (int, *InvalidError) {
	if depth >= MaxDepth {
		return 0, invalid(ReasonTooDeep, i, "nesting deeper than "+strconv.Itoa(MaxDepth))
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, invalid(ReasonMalformed, i, "expected a quoted member name in a nested object")
		}
		kEnd, _, err := validString(b, i)
		if err != nil {
			return 0, err
		}
		i = skipWS(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return 0, invalid(ReasonMalformed, i, "expected ':' in a nested object")
		}
		vEnd, _, _, err := scanValue(b, skipWS(b, i+1), depth+1)
		if err != nil {
			return 0, err
		}
		i = skipWS(b, vEnd)
		if i >= len(b) {
			return 0, invalid(ReasonMalformed, i, "unexpected end of record in a nested object")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, invalid(ReasonMalformed, i, "expected ',' or '}' in a nested object")
		}
	}
}

func scanArray(b []byte, i, depth int) (int, *InvalidError) {
	if depth >= MaxDepth {
		return 0, invalid(ReasonTooDeep, i, "nesting deeper than "+strconv.Itoa(MaxDepth))
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		vEnd, _, _, err := scanValue(b, i, depth+1)
		if err != nil {
			return 0, err
		}
		i = skipWS(b, vEnd)
		if i >= len(b) {
			return 0, invalid(ReasonMalformed, i, "unexpected end of record in an array")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, invalid(ReasonMalformed, i, "expected ',' or ']' in an array")
		}
	}
}

func scanLiteral(b []byte, i int, lit string) (int, *InvalidError) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return 0, invalid(ReasonMalformed, i, "invalid literal (expected "+lit+")")
}

func scanNumber(b []byte, i int) (int, *InvalidError) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, invalid(ReasonMalformed, start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, invalid(ReasonMalformed, start, "invalid number (no digits after '.')")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, invalid(ReasonMalformed, start, "invalid number (no exponent digits)")
		}
	}
	return i, nil
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain[c] is 1 for the bytes that need no attention inside a string: ASCII from 0x20, except '"'
// and '\\'.
var plain = func() (t [256]uint8) {
	for c := 0x20; c < 0x80; c++ {
		if c != '"' && c != '\\' {
			t[c] = 1
		}
	}
	return t
}()

// validString validates the JSON string starting at b[i] == '"' and returns the index after its
// closing quote and whether it holds escapes.
func validString(b []byte, i int) (end int, escaped bool, err *InvalidError) {
	j := i + 1
	for {
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			q := x ^ (lsb * '"')
			bs := x ^ (lsb * '\\')
			m := ((q-lsb)&^q | (bs-lsb)&^bs | (x-lsb*0x20)&^x | x) & msb
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) {
			return 0, false, invalid(ReasonMalformed, i, "unterminated string")
		}
		c := b[j]
		switch {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return 0, false, invalid(ReasonMalformed, i, "unterminated string")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHex4(b[j+2:j+6]) {
					return 0, false, invalid(ReasonMalformed, j, "invalid \\u escape")
				}
				j += 6
			default:
				return 0, false, invalid(ReasonMalformed, j, "invalid escape "+strconv.Quote(string(b[j:j+2])))
			}
		case c < 0x20:
			return 0, false, invalid(ReasonMalformed, j, "control character in a string")
		case c >= 0x80:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size <= 1 {
				return 0, false, invalid(ReasonInvalidUTF8, j, "invalid UTF-8 in a string")
			}
			j += size
		default:
			j++
		}
	}
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
