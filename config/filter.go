package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxConditions is the largest number of filter conditions (leaves, counted across any groups).
const MaxConditions = 20

// CustomFieldsPrefix starts a filter field that tests a custom field:
// CustomFields.request_headers.<name>, CustomFields.response_headers.<name> or CustomFields.cookies.<name>.
const CustomFieldsPrefix = "CustomFields."

// The custom field kinds, in output order.
const (
	KindRequestHeaders  = "request_headers"
	KindResponseHeaders = "response_headers"
	KindCookies         = "cookies"
)

type opClass int

const (
	opEquals  opClass = iota // all types
	opText                   // string, timestamp
	opCompare                // int, float, timestamp; one value
	opRegex                  // string, timestamp
	opExists                 // all types; no value
)

// operators maps each filter operator to its class, in the order of docs/processing.md#operators.
var operators = []struct {
	name  string
	class opClass
}{
	{"equals", opEquals}, {"not_equals", opEquals},
	{"contains", opText}, {"not_contains", opText},
	{"starts_with", opText}, {"not_starts_with", opText},
	{"ends_with", opText}, {"not_ends_with", opText},
	{"gt", opCompare}, {"ge", opCompare}, {"lt", opCompare}, {"le", opCompare},
	{"regex", opRegex}, {"not_regex", opRegex},
	{"exists", opExists}, {"not_exists", opExists},
}

func lookupOp(op string) (opClass, bool) {
	for _, o := range operators {
		if o.name == op {
			return o.class, true
		}
	}
	return 0, false
}

func operatorNames() []string {
	names := make([]string, len(operators))
	for i, o := range operators {
		names[i] = o.name
	}
	return names
}

// IsNegativeOp reports whether op is one of the negative operators (not_*), which are true for a
// missing field and mean "none of" for a value list.
func IsNegativeOp(op string) bool { return strings.HasPrefix(op, "not_") }

// Leaves returns the number of conditions in conds, counting the members of any groups.
func Leaves(conds []Condition) int {
	n := 0
	for _, c := range conds {
		if len(c.Any) > 0 {
			n += Leaves(c.Any)
		} else {
			n++
		}
	}
	return n
}

// SplitCustomField splits a filter field of the form CustomFields.<kind>.<name>; ok is false for any
// other field.
func SplitCustomField(field string) (kind, name string, ok bool) {
	rest, found := strings.CutPrefix(field, CustomFieldsPrefix)
	if !found {
		return "", "", false
	}
	kind, name, found = strings.Cut(rest, ".")
	if !found {
		return kind, "", false
	}
	return kind, name, true
}

// ParseESAFilter decodes ESA's JSON filter form (FilterRules):
// [{"Field": {"op": [values]}}, {"any": [...]}] — elements ANDed, an "any" element an OR group. An
// element may also use the native spelling {"field": ..., "op": ..., "value": ...}, and the operator
// object may carry "ignore_case": true. Empty input means no conditions. The result is not validated
// against a category: call ValidateConditions. The error is an Errors whose paths start at "[i]".
func ParseESAFilter(data []byte) ([]Condition, error) {
	if len(data) > MaxDefinitionBytes {
		return nil, Errors{{Msg: tooLarge("the filter", int64(len(data)))}}
	}
	d := newDecoder("the filter")
	conds := d.esaFilterText(string(data), "", "")
	if len(d.errs) > 0 {
		return nil, d.result()
	}
	return conds, nil
}

// FormatESAFilter writes conditions in ESA's JSON filter form (FilterRules), the inverse of
// ParseESAFilter: ParseESAFilter(FormatESAFilter(c)) gives c back for any c that ParseESAFilter
// returns. A leaf is {"Field": {"op": [values]}} with "ignore_case": true when set, a group
// {"any": [...]}; a condition that the ESA spelling cannot hold (no field or operator, or a field
// named field, op, value, ignore_case or any) is written in the native spelling
// {"field": ..., "op": ..., "value": [...]}. No conditions is "[]". Values are strings, int64,
// float64 (written with a decimal point or an exponent, so that they read back as float64) and bools;
// a value of another type is written as its encoding/json form (Validate refuses such values). The
// text is ASCII-safe for YAML as well as JSON: characters that YAML does not take literally are escaped.
func FormatESAFilter(conds []Condition) string {
	var b strings.Builder
	writeESAConditions(&b, conds)
	return b.String()
}

func writeESAConditions(b *strings.Builder, conds []Condition) {
	b.WriteByte('[')
	for i, c := range conds {
		if i > 0 {
			b.WriteString(", ")
		}
		writeESACondition(b, c)
	}
	b.WriteByte(']')
}

func writeESACondition(b *strings.Builder, c Condition) {
	if len(c.Any) > 0 && c.Field == "" && c.Op == "" && len(c.Values) == 0 && !c.IgnoreCase {
		b.WriteString(`{"any": `)
		writeESAConditions(b, c.Any)
		b.WriteByte('}')
		return
	}
	if len(c.Any) == 0 && c.Field != "" && !slices.Contains(nativeCondKeys, c.Field) && c.Op != "" && c.Op != "ignore_case" {
		b.WriteByte('{')
		writeJSONString(b, c.Field)
		b.WriteString(": {")
		writeJSONString(b, c.Op)
		b.WriteString(": ")
		writeESAValues(b, c.Values)
		if c.IgnoreCase {
			b.WriteString(`, "ignore_case": true`)
		}
		b.WriteString("}}")
		return
	}
	// The native spelling.
	b.WriteByte('{')
	sep := ""
	member := func(key string) {
		b.WriteString(sep)
		sep = ", "
		writeJSONString(b, key)
		b.WriteString(": ")
	}
	if c.Field != "" {
		member("field")
		writeJSONString(b, c.Field)
	}
	if c.Op != "" {
		member("op")
		writeJSONString(b, c.Op)
	}
	if len(c.Values) > 0 {
		member("value")
		writeESAValues(b, c.Values)
	}
	if c.IgnoreCase {
		member("ignore_case")
		b.WriteString("true")
	}
	if len(c.Any) > 0 {
		member("any")
		writeESAConditions(b, c.Any)
	}
	b.WriteByte('}')
}

func writeESAValues(b *strings.Builder, values []any) {
	b.WriteByte('[')
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		switch x := v.(type) {
		case string:
			writeJSONString(b, x)
		case bool:
			b.WriteString(strconv.FormatBool(x))
		case int64:
			b.WriteString(strconv.FormatInt(x, 10))
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				writeJSONString(b, strconv.FormatFloat(x, 'g', -1, 64)) // not a JSON number
				break
			}
			f := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(f, ".e") {
				f += ".0" // 2 would read back as the integer 2
			}
			b.WriteString(f)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				j = []byte(strconv.Quote(fmt.Sprint(v)))
			}
			b.Write(yamlSafeJSON(j))
		}
	}
	b.WriteByte(']')
}

// writeJSONString writes s as a JSON string that YAML reads back unchanged: besides JSON's escapes,
// every character outside YAML's printable set (DEL, the C1 controls, U+FEFF, U+FFFE, U+FFFF) and the
// Unicode line and paragraph separators (which YAML folds) are escaped as \uXXXX.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || yamlUnsafe(r):
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// yamlUnsafe reports whether r must be escaped in a JSON string that YAML reads: it is not in YAML's
// printable set, or YAML takes it as a line break, or it is the byte order mark.
func yamlUnsafe(r rune) bool {
	return r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff
}

// yamlSafeJSON escapes, in JSON text, the characters that YAML does not read literally (see
// yamlUnsafe); JSON allows them only inside strings, where \uXXXX means the same.
func yamlSafeJSON(j []byte) []byte {
	if !bytes.ContainsFunc(j, yamlUnsafe) {
		return j
	}
	var out bytes.Buffer
	for _, r := range string(j) {
		if yamlUnsafe(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
		} else {
			out.WriteRune(r)
		}
	}
	return out.Bytes()
}

// esaFilterText parses the text of a filter in ESA JSON form (or YAML) at model path native.
func (d *decoder) esaFilterText(text, native, display string) []Condition {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	doc := d.parse([]byte(text), display, "JSON")
	if doc == nil {
		return nil
	}
	n := resolve(doc)
	if n != nil && n.Kind == yaml.ScalarNode && !isNull(n) {
		d.errorf(display, "must be a JSON list of conditions, not %s", kindName(n))
		return nil
	}
	return d.conditions(n, native, display)
}

// conditions decodes a list of conditions (or a JSON-encoded string of one, or a single condition).
func (d *decoder) conditions(n *yaml.Node, native, display string) []Condition {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	d.alias(native, display)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return d.esaFilterText(n.Value, native, display)
		}
	case yaml.MappingNode:
		c, _ := d.condition(n, indexPath(native, 0), indexPath(display, 0))
		return []Condition{c}
	case yaml.SequenceNode:
		var out []Condition // an empty list is no conditions: nil, as when the filter is absent
		for i, e := range n.Content {
			c, ok := d.condition(e, indexPath(native, i), indexPath(display, i))
			if ok {
				out = append(out, c)
			}
		}
		return out
	}
	d.errorf(display, "must be a list of conditions, not %s", kindName(n))
	return nil
}

var nativeCondKeys = []string{"field", "op", "value", "ignore_case", "any"}

// condition decodes one condition in any spelling: native {field, op, value, ignore_case}, a group
// {any: [...]}, or ESA's {"Field": {"op": [values]}}.
func (d *decoder) condition(n *yaml.Node, native, display string) (Condition, bool) {
	n = resolve(n)
	d.alias(native, display)
	if isNull(n) || n.Kind != yaml.MappingNode {
		if n == nil {
			d.errorf(display, "must be a condition object, not null")
		} else {
			d.errorf(display, "must be a condition object, not %s", kindName(n))
		}
		return Condition{}, false
	}
	ks := keys(n)
	if len(ks) == 1 && !slices.Contains(nativeCondKeys, ks[0]) {
		return d.esaCondition(n, native, display)
	}
	var c Condition
	d.mapping(n, display, nativeCondKeys, func(key string, v *yaml.Node, p string) {
		np := joinPath(native, key)
		d.alias(np, p)
		switch key {
		case "field":
			c.Field = d.str(v, p)
		case "op":
			c.Op = d.str(v, p)
		case "value":
			c.Values = d.values(v, np, p)
		case "ignore_case":
			c.IgnoreCase = d.bool(v, p)
		case "any":
			c.Any = d.group(v, np, p)
		}
	})
	if slices.Contains(ks, "any") && (c.Field != "" || c.Op != "" || len(c.Values) > 0 || c.IgnoreCase) {
		d.errorf(display, "an any group cannot also have field, op, value or ignore_case")
	}
	return c, true
}

// group decodes the members of an any group.
func (d *decoder) group(v *yaml.Node, native, display string) []Condition {
	v = resolve(v)
	if isNull(v) || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		d.errorf(display, "must be a list of at least one condition")
		return nil
	}
	return d.conditions(v, native, display)
}

// esaCondition decodes {"Field": {"op": [values], "ignore_case": bool}} or {"any": [...]}.
func (d *decoder) esaCondition(n *yaml.Node, native, display string) (Condition, bool) {
	field := resolve(n.Content[0]).Value
	body := resolve(n.Content[1])
	fp := joinPath(display, field)
	var c Condition
	c.Field = field
	d.alias(joinPath(native, "field"), fp)
	if isNull(body) || body.Kind != yaml.MappingNode {
		what := "null"
		if body != nil {
			what = kindName(body)
		}
		d.errorf(fp, `must be an object {"operator": [values]}, not %s`, what)
		return c, true
	}
	for i := 0; i+1 < len(body.Content); i += 2 {
		key := resolve(body.Content[i]).Value
		v := body.Content[i+1]
		p := joinPath(fp, key)
		if key == "ignore_case" {
			c.IgnoreCase = d.bool(v, p)
			continue
		}
		if c.Op != "" {
			d.errorf(p, "a condition has exactly one operator (already %q); use separate conditions", c.Op)
			continue
		}
		c.Op = key
		d.alias(joinPath(native, "op"), fp)
		d.alias(joinPath(native, "value"), p)
		c.Values = d.values(v, joinPath(native, "value"), p)
	}
	if c.Op == "" {
		d.errorf(fp, "no operator")
	}
	return c, true
}

// values decodes a condition's value: a scalar or a list of scalars.
func (d *decoder) values(n *yaml.Node, native, display string) []any {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	d.alias(native, display)
	if n.Kind == yaml.ScalarNode {
		if v, ok := d.value(n, display); ok {
			return []any{v}
		}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(display, "must be a value or a list of values, not %s", kindName(n))
		return nil
	}
	var out []any // an empty list is no value: nil, as when the value is absent
	for i, e := range n.Content {
		p := indexPath(display, i)
		d.alias(indexPath(native, i), p)
		e = resolve(e)
		if e == nil || e.Kind != yaml.ScalarNode {
			what := "null"
			if e != nil {
				what = kindName(e)
			}
			d.errorf(p, "must be a string, number or boolean, not %s", what)
			continue
		}
		if v, ok := d.value(e, p); ok {
			out = append(out, v)
		}
	}
	return out
}

// value decodes one scalar value as string, int64, float64 or bool.
func (d *decoder) value(n *yaml.Node, path string) (any, bool) {
	switch n.Tag {
	case "!!null":
		d.errorf(path, "null is not a value")
		return nil, false
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f, true
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
		d.errorf(path, "%q is not a usable number", n.Value)
		return nil, false
	}
	return n.Value, true
}

// ValidateConditions checks conditions against a category (docs/processing.md#filters): at most
// MaxConditions leaves; each field a catalog field of cat or CustomFields.<kind>.<name> (access only);
// the operator valid for the field's type; values of the right type (numbers for numeric comparisons,
// RFC 3339 times for timestamp equality and comparisons, compilable RE2 patterns, no value for
// exists/not_exists, at least one otherwise, exactly one for gt/ge/lt/le). Paths start with path
// ("filters" → "filters[2].field"). A nil cat reports only the category-independent problems.
func ValidateConditions(cat *Category, conds []Condition, path string) Errors {
	var errs Errors
	if n := Leaves(conds); n > MaxConditions {
		errs = append(errs, FieldError{path, fmt.Sprintf("%d conditions; at most %d are allowed", n, MaxConditions)})
	}
	for i, c := range conds {
		p := indexPath(path, i)
		if len(c.Any) > 0 {
			if c.Field != "" || c.Op != "" || len(c.Values) > 0 {
				errs = append(errs, FieldError{p, "an any group cannot also have field, op or value"})
			}
			for j, m := range c.Any {
				mp := indexPath(joinPath(p, "any"), j)
				if len(m.Any) > 0 {
					errs = append(errs, FieldError{mp, "any groups cannot be nested"})
					continue
				}
				errs = append(errs, validateCondition(cat, m, mp)...)
			}
			continue
		}
		errs = append(errs, validateCondition(cat, c, p)...)
	}
	return errs
}

// conditionFieldType resolves a filter field to its type.
func conditionFieldType(cat *Category, field, path string) (FieldType, *FieldError) {
	if kind, name, ok := SplitCustomField(field); ok || strings.HasPrefix(field, CustomFieldsPrefix) {
		if cat != nil && !cat.CustomFields {
			return "", &FieldError{path, fmt.Sprintf("custom fields exist only in category access, not %s", cat.Name)}
		}
		kinds := []string{KindRequestHeaders, KindResponseHeaders, KindCookies}
		if !slices.Contains(kinds, kind) {
			return "", &FieldError{path, fmt.Sprintf("%q: custom field kind %q is not one of request_headers, response_headers, cookies%s",
				field, kind, didYouMean(kind, kinds))}
		}
		if msg := customFieldNameProblem(name); msg != "" {
			return "", &FieldError{path, fmt.Sprintf("%q: %s", field, msg)}
		}
		return TypeString, nil
	}
	if cat == nil {
		return "", nil
	}
	f, ok := cat.Field(field)
	if !ok {
		return "", &FieldError{path, fmt.Sprintf("%q is not a field of category %s%s", field, cat.Name,
			didYouMean(field, cat.FieldNames()))}
	}
	return f.Type, nil
}

// validateCondition checks one leaf condition.
func validateCondition(cat *Category, c Condition, p string) Errors {
	var errs Errors
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{path, fmt.Sprintf(format, args...)})
	}
	if c.Field == "" && c.Op == "" && len(c.Values) == 0 {
		add(p, "empty condition: give field and op")
		return errs
	}
	var ft FieldType
	if c.Field == "" {
		add(joinPath(p, "field"), "required")
	} else {
		var fe *FieldError
		ft, fe = conditionFieldType(cat, c.Field, joinPath(p, "field"))
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	opPath := joinPath(p, "op")
	if c.Op == "" {
		add(opPath, "required (one of %s)", strings.Join(operatorNames(), ", "))
		return errs
	}
	class, ok := lookupOp(c.Op)
	if !ok {
		add(opPath, "%q is not an operator%s", c.Op, didYouMean(c.Op, operatorNames()))
		return errs
	}
	vp := joinPath(p, "value")
	valuePath := func(j int) string {
		if len(c.Values) == 1 {
			return vp
		}
		return indexPath(vp, j)
	}
	switch class {
	case opExists:
		if len(c.Values) > 0 {
			add(vp, "%s takes no value", c.Op)
		}
	case opCompare:
		if len(c.Values) != 1 {
			add(vp, "%s compares with exactly one value, not %d", c.Op, len(c.Values))
		}
	default:
		if len(c.Values) == 0 {
			add(vp, "%s needs at least one value", c.Op)
		}
	}
	if ft != "" {
		allowed := true
		switch class {
		case opText, opRegex:
			allowed = ft == TypeString || ft == TypeTimestamp
		case opCompare:
			allowed = ft == TypeInt || ft == TypeFloat || ft == TypeTimestamp
		}
		if !allowed {
			add(opPath, "%s does not apply to %s field %s", c.Op, ft, c.Field)
			return errs
		}
	}
	if c.IgnoreCase && (class == opCompare || class == opExists || ft == TypeInt || ft == TypeFloat || ft == TypeBool) {
		add(joinPath(p, "ignore_case"), "applies only to string comparisons")
	}
	for j, v := range c.Values {
		if msg := valueProblem(class, ft, v); msg != "" {
			add(valuePath(j), "%s", msg)
		}
	}
	return errs
}

// valueProblem checks one value against the operator class and field type; "" when it is fine.
func valueProblem(class opClass, ft FieldType, v any) string {
	switch v.(type) {
	case string, int64, float64, bool:
	default:
		return fmt.Sprintf("%v (%T) is not a string, number or boolean", v, v)
	}
	if class == opRegex {
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("%v: a regular expression must be a string", v)
		}
		if _, err := regexp.Compile(s); err != nil {
			return fmt.Sprintf("invalid regular expression %q: %v", s, err)
		}
		return ""
	}
	switch ft {
	case TypeInt, TypeFloat:
		if !isNumber(v) {
			return fmt.Sprintf("%s field: %s is not a number", ft, describe(v))
		}
	case TypeBool:
		if !isBool(v) {
			return fmt.Sprintf("bool field: %s is not true or false", describe(v))
		}
	case TypeTimestamp:
		if class == opEquals || class == opCompare {
			s, ok := v.(string)
			if !ok {
				return fmt.Sprintf("timestamp field: %s is not an RFC 3339 time", describe(v))
			}
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return fmt.Sprintf("timestamp field: %q is not an RFC 3339 time (e.g. 2026-01-01T00:00:00+08:00)", s)
			}
		}
	}
	return ""
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func isNumber(v any) bool {
	switch x := v.(type) {
	case int64, float64:
		return true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return false
}

func isBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return true
	case string:
		return x == "true" || x == "false"
	}
	return false
}

// customFieldName matches header and cookie names: letters, digits, '_', '-' and space.
var customFieldName = regexp.MustCompile(`^[A-Za-z0-9_\- ]+$`)

// customFieldNameProblem returns why name is not a valid custom field name, or "".
func customFieldNameProblem(name string) string {
	if name == "" {
		return "the name is empty"
	}
	if strings.TrimSpace(name) == "" {
		return "the name is blank"
	}
	if !customFieldName.MatchString(name) {
		return fmt.Sprintf("%q: names may contain only letters, digits, '_', '-' and space", name)
	}
	return ""
}
