package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks yaml.Nodes, collecting every problem with its path instead of stopping at the first.
// aliases maps a path of the Task model ("destination.url") to the path the user wrote
// ("HttpDelivery.DestUrl"), so that validation errors name what the user wrote.
type decoder struct {
	// errs holds the first MaxProblems problems; more counts the others, and errPaths holds the path
	// of every problem (for hasErrorAt and covered).
	errs     Errors
	more     int
	errPaths map[string]bool
	aliases  map[string]string
	// rateGiven records whether the definition set the sampling rate (else the default applies).
	rateGiven bool
	// expanded counts the values of the documents parsed so far (the definition and the JSON strings
	// embedded in it), aliases expanded; subject names the whole in messages ("the task definition").
	expanded int
	subject  string
}

func newDecoder(subject string) *decoder {
	return &decoder{aliases: map[string]string{}, errPaths: map[string]bool{}, subject: subject}
}

func (d *decoder) errorf(path, format string, args ...any) {
	d.errPaths[path] = true
	if d.full() {
		d.more++
		return
	}
	d.errs = append(d.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// full reports whether MaxProblems problems were collected: later ones are only counted, so a caller
// may skip the work of describing them.
func (d *decoder) full() bool { return len(d.errs) >= MaxProblems }

// result returns the problems collected, capped (see capProblems).
func (d *decoder) result() Errors { return capProblems(d.errs, d.more) }

// covered reports whether path is at or under the path of a decoding problem: a value that could not
// be decoded is not validated again.
func (d *decoder) covered(path string) bool {
	if d.errPaths[path] {
		return true
	}
	for i := 0; i < len(path); i++ {
		if (path[i] == '.' || path[i] == '[') && d.errPaths[path[:i]] {
			return true
		}
	}
	return false
}

// alias records that the model path native was written as display.
func (d *decoder) alias(native, display string) {
	if native != display {
		d.aliases[native] = display
	}
}

// rewrite maps a model path to the path the user wrote, using the longest recorded alias prefix (the
// whole path, or the part before a '.' or '[').
func (d *decoder) rewrite(path string) string {
	if display, ok := d.aliases[path]; ok {
		return display
	}
	for i := len(path) - 1; i > 0; i-- {
		if path[i] != '.' && path[i] != '[' {
			continue
		}
		if display, ok := d.aliases[path[:i]]; ok {
			return display + path[i:]
		}
	}
	return path
}

// joinPath appends a key to a path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends an index to a path.
func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// parse decodes YAML (or JSON) text into a node tree and charges its size to the definition (see
// charge). It returns nil, with the problem recorded at path, when the text is not YAML or is refused.
func (d *decoder) parse(text []byte, path, what string) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		d.errorf(path, "not valid %s: %s", what, yamlErr(err))
		return nil
	}
	if !d.charge(&doc, path) {
		return nil
	}
	return &doc
}

// charge adds the number of values of doc, with every alias expanded, to the values of the definition
// and reports (at path) a definition that goes beyond MaxExpandedValues or has an alias that refers to
// a value containing it. Nothing is expanded: each node is measured once.
func (d *decoder) charge(doc *yaml.Node, path string) bool {
	s := sizer{memo: map[*yaml.Node]int{}, limit: MaxExpandedValues - d.expanded}
	n := s.size(doc)
	switch {
	case s.cycle != "":
		d.errorf(path, "the YAML alias *%s refers to a value that contains it", s.cycle)
		return false
	case n > s.limit && s.aliased:
		d.errorf(path, "%s expands to more than %d values through YAML aliases (&anchor/*alias)", d.subject, MaxExpandedValues)
		return false
	case n > s.limit:
		d.errorf(path, "%s has more than %d values", d.subject, MaxExpandedValues)
		return false
	}
	d.expanded += n
	return true
}

// sizer measures node trees with aliases expanded.
type sizer struct {
	// memo holds the expanded size of every node measured, or inProgress while its children are.
	memo  map[*yaml.Node]int
	limit int
	// aliased records that an alias was followed; cycle is the name of an alias to a value containing it.
	aliased bool
	cycle   string
}

// inProgress marks, in sizer.memo, a node whose children are being measured: an alias to it is a cycle.
const inProgress = -1

// size returns the number of values of n (objects, lists, keys and scalars) with aliases expanded,
// or limit+1 once that is exceeded or a cycle is found.
func (s *sizer) size(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		s.aliased = true
		if v, ok := s.memo[n.Alias]; ok && v == inProgress {
			s.cycle = n.Value
			return s.limit + 1
		}
		return s.size(n.Alias)
	}
	if v, ok := s.memo[n]; ok {
		return v
	}
	s.memo[n] = inProgress
	total := 1
	for _, c := range n.Content {
		total += s.size(c)
		if total > s.limit {
			total = s.limit + 1
			break
		}
	}
	s.memo[n] = total
	return total
}

// resolve follows YAML aliases and unwraps documents.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		default:
			return n
		}
	}
	return nil
}

// isNull reports whether n is absent or an explicit null.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName describes a node for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a string"
	}
	return "a value"
}

// mapping walks the keys of an object node. Unknown keys and duplicate keys are errors; fn is called
// for each known key with its value node. It returns false when n is null/absent or not an object.
func (d *decoder) mapping(n *yaml.Node, path string, known []string, fn func(key string, v *yaml.Node, p string)) bool {
	n = resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(path, "must be an object, not %s", kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		key := k.Value
		if k.Tag == "!!merge" {
			d.errorf(path, "YAML merge keys (<<) are not supported")
			continue
		}
		p := joinPath(path, key)
		if seen[key] {
			d.errorf(p, "duplicate key")
			continue
		}
		seen[key] = true
		if !slices.Contains(known, key) {
			if d.full() {
				d.errorf(p, "unknown key") // only counted: skip the suggestion
				continue
			}
			d.errorf(p, "unknown key%s", didYouMean(key, known))
			continue
		}
		fn(key, n.Content[i+1], p)
	}
	return true
}

// keys returns the keys of an object node, in order.
func keys(n *yaml.Node) []string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, resolve(n.Content[i]).Value)
	}
	return out
}

// scalar returns the scalar node or reports that the value must be a scalar.
func (d *decoder) scalar(n *yaml.Node, path, want string) (*yaml.Node, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(path, "must be %s, not %s", want, kindName(n))
		return nil, false
	}
	return n, true
}

// str decodes a string; any scalar is taken as its text, null as "".
func (d *decoder) str(n *yaml.Node, path string) string {
	s, ok := d.scalar(n, path, "a string")
	if !ok {
		return ""
	}
	return s.Value
}

// int decodes an integer; a numeric string or an integral float is accepted.
func (d *decoder) int(n *yaml.Node, path string) int64 {
	s, ok := d.scalar(n, path, "an integer")
	if !ok {
		return 0
	}
	v := strings.TrimSpace(s.Value)
	if s.Tag == "!!int" {
		var i int64
		if err := s.Decode(&i); err == nil {
			return i
		}
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil && s.Tag != "!!bool" {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && s.Tag != "!!bool" && f == math.Trunc(f) &&
		math.Abs(f) < 1<<53 {
		return int64(f)
	}
	d.errorf(path, "must be an integer, not %q", s.Value)
	return 0
}

// float decodes a number; a numeric string is accepted.
func (d *decoder) float(n *yaml.Node, path string) float64 {
	s, ok := d.scalar(n, path, "a number")
	if !ok {
		return 0
	}
	if s.Tag != "!!bool" {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s.Value), 64); err == nil &&
			!math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
	d.errorf(path, "must be a number, not %q", s.Value)
	return 0
}

// bool decodes a boolean; the strings "true" and "false" are accepted.
func (d *decoder) bool(n *yaml.Node, path string) bool {
	s, ok := d.scalar(n, path, "a boolean")
	if !ok {
		return false
	}
	switch strings.ToLower(s.Value) {
	case "true":
		return true
	case "false":
		return false
	}
	d.errorf(path, "must be true or false, not %q", s.Value)
	return false
}

// boolPtr decodes an optional boolean (nil when absent).
func (d *decoder) boolPtr(n *yaml.Node, path string) *bool {
	if isNull(n) {
		return nil
	}
	b := d.bool(n, path)
	return &b
}

// strList decodes a list of strings; a single string is split at commas.
func (d *decoder) strList(n *yaml.Node, path string) []string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return splitList(n.Value)
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for i, e := range n.Content {
			out = append(out, d.str(e, indexPath(path, i)))
		}
		return out
	}
	d.errorf(path, "must be a list of strings, not %s", kindName(n))
	return nil
}

// splitList splits a comma-separated list, trimming spaces and dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// anyMap decodes a free-form object (a verbatim Benthos config).
func (d *decoder) anyMap(n *yaml.Node, path string) map[string]any {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(path, "must be an object, not %s", kindName(n))
		return nil
	}
	if d.duplicateKeys(n, path) {
		d.errPaths[path] = true // not decoded: validation has nothing to add about it
		return nil
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		d.errorf(path, "%s", strings.ReplaceAll(strings.TrimPrefix(yamlErr(err), "unmarshal errors:\n  "), "\n  ", "; "))
		return nil
	}
	return m
}

// duplicateKeys reports every key given twice in the same object under n (aliases followed: Load
// bounded their expansion), with its path, and returns whether there was one.
func (d *decoder) duplicateKeys(n *yaml.Node, path string) bool {
	n = resolve(n)
	if n == nil {
		return false
	}
	found := false
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i]).Value
			p := joinPath(path, k)
			if seen[k] {
				d.errorf(p, "duplicate key")
				found = true
			} else {
				seen[k] = true
			}
			found = d.duplicateKeys(n.Content[i+1], p) || found
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			found = d.duplicateKeys(e, indexPath(path, i)) || found
		}
	}
	return found
}

// stringMap decodes an object of string values.
func (d *decoder) stringMap(n *yaml.Node, path string) map[string]string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(path, "must be an object, not %s", kindName(n))
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i]).Value
		p := joinPath(path, k)
		if _, dup := m[k]; dup {
			d.errorf(p, "duplicate key")
			continue
		}
		m[k] = d.str(n.Content[i+1], p)
	}
	return m
}

// embedded returns the object node of n, which may be an object or a JSON/YAML-encoded string (as
// ESA's API sends its *Delivery parameters and FilterRules).
func (d *decoder) embedded(n *yaml.Node, path string) *yaml.Node {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		if strings.TrimSpace(n.Value) == "" {
			return nil
		}
		return resolve(d.parse([]byte(n.Value), path, "JSON"))
	}
	return n
}

// yamlErr shortens yaml.v3 error texts.
func yamlErr(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
