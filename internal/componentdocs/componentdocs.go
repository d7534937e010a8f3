// Package componentdocs renders the reference pages of esa-connect's Benthos components
// (docs/components/*.md) from their config specs, so that the pages say what the code accepts.
//
// Render registers every component of plugins.RegisterAll on a fresh, empty Benthos environment and
// writes one Markdown page per component — its summary, description, fields (type, default,
// options, whether advanced or secret), a config skeleton with every field and the spec's examples —
// plus an index. cmd/esa-docs writes the pages to docs/components; the package's test fails when
// the committed pages differ from what Render returns.
package componentdocs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/plugins"
)

// Dir is where the pages live, relative to the repository root.
const Dir = "docs/components"

// IndexFile is the name of the index page in Dir.
const IndexFile = "README.md"

// Regenerate is the command that rewrites the pages, for messages.
const Regenerate = "go run ./cmd/esa-docs (or: go tool task docs)"

// kinds are the component kinds documented, in page order, with the key of each in the schema
// that Benthos marshals (ConfigSchema.MarshalJSONV0).
var kinds = []struct{ kind, key, title string }{
	{"input", "inputs", "Inputs"},
	{"buffer", "buffers", "Buffers"},
	{"processor", "processors", "Processors"},
	{"output", "outputs", "Outputs"},
	{"metrics", "metrics", "Metrics exporters"},
	{"cache", "caches", "Caches"},
	{"rate_limit", "rate-limits", "Rate limits"},
	{"tracer", "tracers", "Tracers"},
	{"scanner", "scanners", "Scanners"},
}

// component is the part of a Benthos component spec that the pages show.
type component struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Status      string    `json:"status"`
	Summary     string    `json:"summary"`
	Description string    `json:"description"`
	Footnotes   string    `json:"footnotes"`
	Examples    []example `json:"examples"`
	Config      field     `json:"config"`
}

type example struct {
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Config  string `json:"config"`
}

type field struct {
	Name             string      `json:"name"`
	Type             string      `json:"type"`
	Kind             string      `json:"kind"`
	Description      string      `json:"description"`
	Advanced         bool        `json:"is_advanced"`
	Deprecated       bool        `json:"is_deprecated"`
	Optional         bool        `json:"is_optional"`
	Secret           bool        `json:"is_secret"`
	Default          *any        `json:"default"`
	Interpolated     bool        `json:"interpolated"`
	Examples         []any       `json:"examples"`
	AnnotatedOptions [][2]string `json:"annotated_options"`
	Options          []string    `json:"options"`
	Children         []field     `json:"children"`
}

// Render returns the pages of every component that plugins.RegisterAll registers, keyed by file
// name (relative to Dir), index included.
func Render() (map[string][]byte, error) {
	env := service.NewEmptyEnvironment()
	if err := plugins.RegisterAll(env); err != nil {
		return nil, fmt.Errorf("registering the components: %w", err)
	}
	comps, err := components(env)
	if err != nil {
		return nil, err
	}
	pages := map[string][]byte{}
	for _, c := range comps {
		pages[fileName(c)] = renderComponent(c)
	}
	pages[IndexFile] = renderIndex(comps)
	return pages, nil
}

// components reads the specs of every component registered on env, in page order. The schema
// that Benthos marshals is read rather than the Walk* functions because, in Benthos v4.60,
// WalkMetrics lists the global environment's exporters instead of env's.
func components(env *service.Environment) ([]component, error) {
	data, err := env.FullConfigSchema("", "").MarshalJSONV0()
	if err != nil {
		return nil, fmt.Errorf("marshalling the component specs: %w", err)
	}
	var schema map[string]json.RawMessage
	if err := decode(data, &schema); err != nil {
		return nil, fmt.Errorf("reading the component specs: %w", err)
	}
	var out []component
	for _, k := range kinds {
		raw, ok := schema[k.key]
		if !ok {
			continue
		}
		var cs []component
		if err := decode(raw, &cs); err != nil {
			return nil, fmt.Errorf("reading the %s specs: %w", k.kind, err)
		}
		for i := range cs {
			cs[i].Type = k.kind
			numbers(cs[i].Config.Children)
		}
		slices.SortFunc(cs, func(a, b component) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, cs...)
	}
	return out, nil
}

// decode reads JSON keeping numbers exact (json.Number), so that 8388608 stays 8388608.
func decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// numbers turns the json.Numbers of the fields' defaults and examples into int64 or float64.
func numbers(fs []field) {
	for i := range fs {
		if fs[i].Default != nil {
			v := number(*fs[i].Default)
			fs[i].Default = &v
		}
		for j, e := range fs[i].Examples {
			fs[i].Examples[j] = number(e)
		}
		numbers(fs[i].Children)
	}
}

func number(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case []any:
		for i := range x {
			x[i] = number(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = number(x[k])
		}
	}
	return v
}

// fileName is the page of c: its kind and name, as an input and an output may share a name.
func fileName(c component) string { return c.Type + "-" + c.Name + ".md" }

// header starts every page.
const header = "<!-- Generated from the component specs in plugins/ by " + Regenerate + ". Do not edit. -->\n\n"

func renderIndex(comps []component) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("# Components\n\n")
	b.WriteString("The Benthos components that esa-connect adds. A task definition is translated into a config of\n")
	b.WriteString("these (`esa-connect translate task.yaml` prints it); a Benthos config may use them directly\n")
	b.WriteString("(`esa-connect run -c pipeline.yaml`). Each page is generated from the component's config spec,\n")
	b.WriteString("the spec that `esa-connect lint` checks configs against. The task definition itself is described\n")
	b.WriteString("in [../task.md](../task.md).\n")
	for _, k := range kinds {
		var rows []component
		for _, c := range comps {
			if c.Type == k.kind {
				rows = append(rows, c)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n| component | what it does |\n|---|---|\n", k.title)
		for _, c := range rows {
			fmt.Fprintf(&b, "| [`%s`](%s) | %s |\n", c.Name, fileName(c), cell(c.Summary))
		}
	}
	return b.Bytes()
}

func renderComponent(c component) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	fmt.Fprintf(&b, "# `%s` (%s)\n\n", c.Name, c.Type)
	if s := strings.TrimSpace(c.Summary); s != "" {
		b.WriteString(text(s) + "\n\n")
	}
	status := c.Status
	if status == "" {
		status = "stable"
	}
	fmt.Fprintf(&b, "Type: %s · Status: %s\n", c.Type, status)
	if d := strings.TrimSpace(c.Description); d != "" {
		b.WriteString("\n## Description\n\n")
		b.WriteString(text(d) + "\n")
	}
	fields := flatten(c.Config.Children, "")
	if len(fields) > 0 {
		b.WriteString("\n## Config\n\nEvery field with its default; a required field (one without a default) shows an example value or an\nempty one:\n\n```yaml\n")
		b.WriteString(skeleton(c))
		b.WriteString("```\n\n## Fields\n")
		for _, f := range fields {
			renderField(&b, f)
		}
	}
	if len(c.Examples) > 0 {
		b.WriteString("\n## Examples\n")
		for _, e := range c.Examples {
			fmt.Fprintf(&b, "\n### %s\n\n", strings.TrimSpace(e.Title))
			if s := strings.TrimSpace(e.Summary); s != "" {
				b.WriteString(text(s) + "\n\n")
			}
			fmt.Fprintf(&b, "```yaml\n%s\n```\n", strings.Trim(e.Config, "\n"))
		}
	}
	if f := strings.TrimSpace(c.Footnotes); f != "" {
		b.WriteString("\n## Notes\n\n" + text(f) + "\n")
	}
	return b.Bytes()
}

// pathField is a field with its full dotted path.
type pathField struct {
	path string
	field
}

// flatten lists the fields depth first, each with its path (a list of objects adds "[]", a map
// ".<name>"), leaving out deprecated ones.
func flatten(fs []field, prefix string) []pathField {
	var out []pathField
	for _, f := range fs {
		if f.Deprecated {
			continue
		}
		p := prefix + f.Name
		out = append(out, pathField{p, f})
		if len(f.Children) > 0 {
			switch f.Kind {
			case "array":
				p += "[]"
			case "2darray":
				p += "[][]"
			case "map":
				p += ".<name>"
			}
			out = append(out, flatten(f.Children, p+".")...)
		}
	}
	return out
}

func renderField(b *bytes.Buffer, f pathField) {
	fmt.Fprintf(b, "\n### `%s`\n\n", f.path)
	facts := []string{"Type: " + typeName(f.field)}
	if f.Default != nil {
		facts = append(facts, "Default: "+inlineJSON(*f.Default))
	} else if !f.Optional && len(f.Children) == 0 {
		facts = append(facts, "Required")
	}
	if f.Advanced {
		facts = append(facts, "Advanced")
	}
	if f.Secret {
		facts = append(facts, "Secret")
	}
	if f.Interpolated {
		facts = append(facts, "Interpolated")
	}
	b.WriteString(strings.Join(facts, " · ") + "\n")
	if d := strings.TrimSpace(f.Description); d != "" {
		b.WriteString("\n" + text(d) + "\n")
	}
	switch {
	case len(f.AnnotatedOptions) > 0:
		b.WriteString("\nOptions:\n\n")
		for _, o := range f.AnnotatedOptions {
			fmt.Fprintf(b, "- `%s`: %s\n", o[0], text(strings.TrimSpace(o[1])))
		}
	case len(f.Options) > 0:
		opts := make([]string, len(f.Options))
		for i, o := range f.Options {
			opts[i] = "`" + o + "`"
		}
		b.WriteString("\nOptions: " + strings.Join(opts, ", ") + ".\n")
	}
	if len(f.Examples) > 0 {
		b.WriteString("\nExamples:\n\n```yaml\n")
		for i, e := range f.Examples {
			if i > 0 {
				b.WriteString("\n")
			}
			b.Write(marshalYAML(map[string]any{f.Name: e}))
		}
		b.WriteString("```\n")
	}
}

// typeName is a field's type as the pages show it: "string", "list of string", "map of string",
// "object".
func typeName(f field) string {
	t := f.Type
	if t == "unknown" {
		t = "any"
	}
	if len(f.Children) > 0 && t != "processor" {
		t = "object"
	}
	switch f.Kind {
	case "array":
		return "list of " + t
	case "2darray":
		return "list of lists of " + t
	case "map":
		return "map of " + t
	}
	return t
}

// skeleton is the component's config with every field at its default, as YAML under the
// component's name (and its kind, for the kinds that Benthos nests).
func skeleton(c component) string {
	conf := fieldsNode(c.Config.Children)
	root := mapping(c.Name, conf)
	switch c.Type {
	case "input", "output", "buffer", "metrics":
		root = mapping(c.Type, root)
	case "processor":
		root = mapping("pipeline", mapping("processors", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{root}}))
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return "# " + err.Error() + "\n"
	}
	return b.String()
}

func mapping(key string, value *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: key}, value}}
}

// fieldsNode is an object holding each field at its default; a field without one gets an empty
// value of its type.
func fieldsNode(fs []field) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range fs {
		if f.Deprecated {
			continue
		}
		var v *yaml.Node
		switch {
		case f.Default != nil:
			if str, ok := (*f.Default).(string); ok {
				v = stringNode(str)
				break
			}
			v = &yaml.Node{}
			if err := v.Encode(*f.Default); err != nil {
				v = &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(*f.Default)}
			}
		case len(f.Examples) > 0:
			// A required field: its first example says more than an empty value.
			v = &yaml.Node{}
			if str, ok := f.Examples[0].(string); ok {
				v = stringNode(str)
			} else if err := v.Encode(f.Examples[0]); err != nil {
				v = &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(f.Examples[0])}
			}
		case f.Kind == "array" || f.Kind == "2darray":
			v = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		case f.Kind == "map":
			v = &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		case len(f.Children) > 0:
			v = fieldsNode(f.Children)
		default:
			v = emptyScalar(f.Type)
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name}, v)
	}
	if len(n.Content) == 0 {
		n.Style = yaml.FlowStyle
	}
	return n
}

func emptyScalar(typ string) *yaml.Node {
	switch typ {
	case "int", "float":
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "0"}
	case "bool":
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"}
	case "object", "input", "output", "processor", "buffer", "unknown":
		return &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	}
	return stringNode("")
}

// stringNode is a string scalar, double-quoted when it is empty, holds control characters (which
// the encoder would otherwise put in a block scalar) or is a word that YAML 1.1 reads as a boolean.
func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' }) ||
		slices.Contains([]string{"y", "n", "yes", "no", "on", "off"}, strings.ToLower(s)) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func marshalYAML(v any) []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return []byte("# " + err.Error() + "\n")
	}
	return b.Bytes()
}

// inlineJSON writes a default value as inline code.
func inlineJSON(v any) string {
	j, err := json.Marshal(v)
	if err != nil {
		return "`" + fmt.Sprint(v) + "`"
	}
	return "`" + string(j) + "`"
}

// xref is an AsciiDoc cross reference of Benthos's own docs (in the batching fields it supplies):
// only its label is kept.
var xref = regexp.MustCompile(`xref:[^\[\s]+\[([^\]]*)\]`)

// text prepares spec text for Markdown.
func text(s string) string { return xref.ReplaceAllString(s, "$1") }

// cell makes text fit a table cell: one line, pipes escaped.
func cell(s string) string {
	s = strings.Join(strings.Fields(text(s)), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
