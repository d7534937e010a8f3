package filter

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/record"
)

type opcode uint8

const (
	opEquals opcode = iota
	opContains
	opStartsWith
	opEndsWith
	opCompare // gt ge lt le
	opRegex
	opExists
)

// number is a condition value on a numeric field.
type number struct {
	i     int64
	isInt bool
	f     float64
}

// custom kinds.
const (
	customNone uint8 = iota
	customRequestHeader
	customResponseHeader
	customCookie
)

// cond is one compiled condition, or an OR group (any).
type cond struct {
	any []cond

	slot   int // selector position of the field (or of RequestHeaders/ResponseHeaders/Cookies)
	custom uint8
	name   string // custom field name (lower-case for headers)
	ftype  config.FieldType
	op     opcode
	cmp    string // gt ge lt le
	neg    bool
	fold   bool

	strs  []string // lower-cased when fold
	nums  []number
	times []time.Time
	bools []bool
	res   []*regexp.Regexp
}

// program is a compiled filter: all top-level conditions must hold.
type program struct {
	conds      []cond
	sel        *record.Selector
	reqSlot    int // -1 when unused
	respSlot   int
	cookieSlot int
}

func compile(cat *config.Category, conds []config.Condition) (*program, error) {
	p := &program{sel: record.NewSelector(), reqSlot: -1, respSlot: -1, cookieSlot: -1}
	for _, c := range conds {
		cc, err := p.compileOne(cat, c)
		if err != nil {
			return nil, err
		}
		p.conds = append(p.conds, cc)
	}
	return p, nil
}

func (p *program) compileOne(cat *config.Category, c config.Condition) (cond, error) {
	if len(c.Any) > 0 {
		var g cond
		for _, m := range c.Any {
			mc, err := p.compileOne(cat, m)
			if err != nil {
				return cond{}, err
			}
			g.any = append(g.any, mc)
		}
		return g, nil
	}
	cc := cond{neg: config.IsNegativeOp(c.Op), fold: c.IgnoreCase}
	if kind, name, ok := config.SplitCustomField(c.Field); ok {
		cc.ftype = config.TypeString
		switch kind {
		case config.KindRequestHeaders:
			cc.custom, cc.name = customRequestHeader, strings.ToLower(name)
			p.reqSlot = p.sel.Add(record.FieldRequestHeaders)
			cc.slot = p.reqSlot
		case config.KindResponseHeaders:
			cc.custom, cc.name = customResponseHeader, strings.ToLower(name)
			p.respSlot = p.sel.Add(record.FieldResponseHeaders)
			cc.slot = p.respSlot
		default:
			cc.custom, cc.name = customCookie, name
			p.cookieSlot = p.sel.Add(record.FieldCookies)
			p.reqSlot = p.sel.Add(record.FieldRequestHeaders)
			cc.slot = p.cookieSlot
		}
	} else {
		f, ok := cat.Field(c.Field)
		if !ok {
			return cond{}, fmt.Errorf("%q is not a field of category %s", c.Field, cat.Name)
		}
		cc.ftype = f.Type
		cc.slot = p.sel.Add(c.Field)
	}
	switch strings.TrimPrefix(c.Op, "not_") {
	case "equals":
		cc.op = opEquals
	case "contains":
		cc.op = opContains
	case "starts_with":
		cc.op = opStartsWith
	case "ends_with":
		cc.op = opEndsWith
	case "gt", "ge", "lt", "le":
		cc.op, cc.cmp = opCompare, c.Op
	case "regex":
		cc.op = opRegex
	case "exists":
		cc.op = opExists
	default:
		return cond{}, fmt.Errorf("unknown operator %q", c.Op)
	}
	numeric := cc.ftype == config.TypeInt || cc.ftype == config.TypeFloat
	timeValued := cc.ftype == config.TypeTimestamp && (cc.op == opEquals || cc.op == opCompare)
	for _, v := range c.Values {
		s := valueText(v)
		switch {
		case cc.op == opRegex:
			expr := s
			if cc.fold {
				expr = "(?i)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return cond{}, fmt.Errorf("regex %q: %w", s, err)
			}
			cc.res = append(cc.res, re)
		case numeric:
			if n, ok := parseNumber([]byte(strings.TrimSpace(s))); ok {
				cc.nums = append(cc.nums, n)
			}
		case timeValued:
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return cond{}, fmt.Errorf("%q is not an RFC 3339 time", s)
			}
			cc.times = append(cc.times, t)
		case cc.ftype == config.TypeBool:
			cc.bools = append(cc.bools, s == "true")
		default:
			if cc.fold {
				s = strings.ToLower(s)
			}
			cc.strs = append(cc.strs, s)
		}
	}
	return cc, nil
}

// valueText renders a condition value (string, int64, float64, bool) as text.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func parseNumber(b []byte) (number, bool) {
	if i, ok := record.ParseInt(b); ok {
		return number{i: i, isInt: true, f: float64(i)}, true
	}
	if f, ok := record.ParseFloat(b); ok {
		return number{f: f}, true
	}
	return number{}, false
}

func compareNumbers(a, b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	return 0
}

func cmpHolds(op string, c int) bool {
	switch op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	}
	return c <= 0
}

// state is per-batch scratch space.
type state struct {
	vals   []record.Value
	buf    []byte
	shape  record.Shape
	marker pipeline.Marker
}

// match evaluates the program on a scanned record.
func (p *program) match(st *state) bool {
	for i := range p.conds {
		if !p.eval(&p.conds[i], st) {
			return false
		}
	}
	return true
}

func (p *program) eval(c *cond, st *state) bool {
	if c.any != nil {
		for i := range c.any {
			if p.eval(&c.any[i], st) {
				return true
			}
		}
		return false
	}
	if c.custom != customNone {
		text, ok := p.customText(c, st)
		if !ok {
			return c.neg
		}
		return c.neg != p.evalText(c, text, st)
	}
	v := st.vals[c.slot]
	if v.Kind == record.Invalid || v.Kind == record.Null {
		return c.neg // missing: positive false, negative true
	}
	if c.op == opExists {
		return c.neg != present(c.ftype, v)
	}
	switch c.ftype {
	case config.TypeInt, config.TypeFloat:
		n, ok := numberOf(v)
		if !ok {
			return c.neg // not a number: comparisons false, not_equals true
		}
		hit := false
		for _, w := range c.nums {
			r := compareNumbers(n, w)
			if (c.op == opEquals && r == 0) || (c.op == opCompare && cmpHolds(c.cmp, r)) {
				hit = true
				break
			}
		}
		return c.neg != hit
	case config.TypeBool:
		var b bool
		switch {
		case v.Kind == record.Bool:
			b = v.Raw[0] == 't'
		case v.Kind == record.String && (string(v.Inner()) == "true" || string(v.Inner()) == "false"):
			b = string(v.Inner()) == "true"
		default:
			return c.neg
		}
		hit := false
		for _, w := range c.bools {
			hit = hit || w == b
		}
		return c.neg != hit
	case config.TypeTimestamp:
		if c.op == opEquals || c.op == opCompare {
			t, ok := record.ParseTime(v.Raw, v.Kind)
			if !ok {
				return c.neg
			}
			hit := false
			for _, w := range c.times {
				r := t.Compare(w)
				if (c.op == opEquals && r == 0) || (c.op == opCompare && cmpHolds(c.cmp, r)) {
					hit = true
					break
				}
			}
			return c.neg != hit
		}
	}
	// String operations on the value's text.
	var text []byte
	switch v.Kind {
	case record.String:
		if v.Escaped {
			st.buf = v.AppendText(st.buf[:0])
			text = st.buf
		} else {
			text = v.Inner()
		}
	case record.Number, record.Bool:
		text = v.Raw
	default:
		return c.neg
	}
	return c.neg != p.evalText(c, text, st)
}

// evalText applies a string operator (positive form) to text.
func (p *program) evalText(c *cond, text []byte, st *state) bool {
	if c.op == opExists {
		return len(text) > 0 && string(text) != "-"
	}
	if c.op == opRegex {
		for _, re := range c.res {
			if re.Match(text) {
				return true
			}
		}
		return false
	}
	if c.fold {
		if c.op == opEquals {
			for _, s := range c.strs {
				if equalFold(text, s) {
					return true
				}
			}
			return false
		}
		n := len(st.buf)
		st.buf = appendLower(st.buf, text)
		text = st.buf[n:]
	}
	for _, s := range c.strs {
		var hit bool
		switch c.op {
		case opEquals:
			hit = string(text) == s
		case opContains:
			hit = bytes.Contains(text, []byte(s))
		case opStartsWith:
			hit = len(text) >= len(s) && string(text[:len(s)]) == s
		case opEndsWith:
			hit = len(text) >= len(s) && string(text[len(text)-len(s):]) == s
		}
		if hit {
			return true
		}
	}
	return false
}

// customText finds a custom field's value text; ok false when absent.
func (p *program) customText(c *cond, st *state) ([]byte, bool) {
	st.buf = st.buf[:0]
	var ok bool
	switch c.custom {
	case customRequestHeader:
		st.buf, ok = record.AppendHeader(st.buf, st.vals[p.reqSlot].Raw, c.name)
	case customResponseHeader:
		st.buf, ok = record.AppendHeader(st.buf, st.vals[p.respSlot].Raw, c.name)
	default:
		st.buf, ok = record.AppendCookie(st.buf, objectRaw(st.vals[p.cookieSlot]), objectRaw(st.vals[p.reqSlot]), c.name)
	}
	return st.buf, ok
}

func objectRaw(v record.Value) []byte {
	if v.Kind == record.Object {
		return v.Raw
	}
	return nil
}

// present implements exists: present, not null, and not a "not applicable" marker ("" or "-" on
// string/timestamp fields, -1 on numeric fields; the string "-1" in a string field is a value).
func present(ft config.FieldType, v record.Value) bool {
	switch ft {
	case config.TypeInt, config.TypeFloat:
		if v.Kind == record.String && (len(v.Inner()) == 0 || string(v.Inner()) == "-") {
			return false
		}
		if n, ok := numberOf(v); ok && n.f == -1 {
			return false
		}
		return true
	case config.TypeString, config.TypeTimestamp:
		if v.Kind == record.String {
			in := v.Inner()
			return len(in) > 0 && string(in) != "-"
		}
	}
	return true
}

// numberOf reads a number or a numeric string.
func numberOf(v record.Value) (number, bool) {
	switch v.Kind {
	case record.Number:
		return parseNumber(v.Raw)
	case record.String:
		if v.Escaped {
			return number{}, false
		}
		return parseNumber(v.Inner())
	}
	return number{}, false
}

func equalFold(b []byte, s string) bool {
	// s is lower-cased; compare ASCII fast, fall back to Unicode folding.
	for i := 0; i < len(b); i++ {
		if b[i] >= 0x80 {
			return strings.EqualFold(string(b), s)
		}
	}
	return record.EqualFoldASCII(b, s)
}

func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		if c >= 0x80 {
			return append(dst, bytes.ToLower(b)...)
		}
	}
	return record.AppendLowerASCII(dst, b)
}
