package docscheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/config"
)

const schemaFile = "docs/task.schema.json"

// loadSchema compiles docs/task.schema.json and returns it with its JSON as a generic value.
func loadSchema(t *testing.T) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	data, ok := readRepoFile(schemaFile)
	if !ok {
		t.Fatalf("cannot read %s", schemaFile)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("task.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("task.schema.json")
	if err != nil {
		t.Fatalf("%s does not compile: %v", schemaFile, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	return sch, raw
}

// instance turns a YAML or JSON document into a value the validator takes.
func instance(t *testing.T, doc []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("not representable as JSON: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestSchemaAcceptsExamples validates every task of examples/ and every marked valid example of
// docs/ written in the native shape against the schema.
func TestSchemaAcceptsExamples(t *testing.T) {
	sch, _ := loadSchema(t)
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(instance(t, data)); err != nil {
			t.Errorf("examples/%s does not validate against %s:\n%v", filepath.Base(f), schemaFile, err)
		}
	}
	for _, ex := range docExamples(t) {
		if !ex.valid || isESAShape(t, ex.body) {
			continue
		}
		if err := sch.Validate(instance(t, []byte(ex.body))); err != nil {
			t.Errorf("%s:%d: the example does not validate against %s:\n%v", ex.file, ex.line, schemaFile, err)
		}
	}
}

// isESAShape reports whether a definition is in ESA's shape (its top-level keys start upper-case).
func isESAShape(t *testing.T, doc string) bool {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	for k := range m {
		if k != "" && k[0] >= 'A' && k[0] <= 'Z' {
			return true
		}
	}
	return false
}

// TestSchemaRejects checks definitions that esa-connect refuses are flagged by the schema too.
func TestSchemaRejects(t *testing.T) {
	sch, _ := loadSchema(t)
	const base = "name: t\ncategory: access\nfields: [ClientIP]\n"
	for _, doc := range []string{
		base + "destination: {type: local, path: out}\nsampling: 50\n",
		base + "destination: {type: local, path: out, bucket: b}\n",
		base + "destination: {type: ftp, path: out}\n",
		base + "destination: {type: http, url: 'https://h/', compression: brotli}\n",
		base + "destination: {type: kafka, topic: t, brokers: ['k:9092'], tls: {enable: true}}\n",
		base + "destination: {type: local, path: out}\nsampling_rate: 0\n",
		base + "destination: {type: local, path: out}\nfilters: [{field: ClientIP, op: is, value: x}]\n",
		base + "destination: {type: local, path: out}\nfilters: [{field: ClientIP, op: exists, value: x}]\n",
		base + "destination: {type: local, path: out}\nsource: {type: file}\n",
		base + "destination: {type: local, path: out}\nsource: {type: http, paths: [a]}\n",
		base + "destination: {type: local, path: out}\nbuffer: {type: memory, path: x}\n",
		base + "destination: {type: local, path: out}\ndead_letter: {type: local}\n",
		base + "destination: {type: s3_compatible, bucket_path: b, region: r}\n",
		base + "destination: {type: local, path: out}\ntransforms: [{field: ClientIP, redact: {}, truncate_ip: {}}]\n",
		base + "destination: {type: local, path: out}\ntransforms: [{field: ClientIP, hash: {}}]\n",
		base + "destination: {type: local, path: out}\nretry: {max_elapsed: 10m}\n",
		base + "destination: {type: kafka, topic: t, brokers: ['k:1']}\nretry: {on_status: [503]}\n",
		base + "destination: {type: sls, project: p, logstore: l, region: r}\nretry: {on_status: [503]}\n",
		base + "destination: {type: http, url: 'http://h/'}\nretry: {on_status: [600]}\n",
		base + "destination: {type: local, path: out}\ndead_letter: {type: local, path: d, envelope: yes please}\n",
		"category: access\nfields: [ClientIP]\ndestination: {type: local, path: out}\n",
		"name: -bad\ncategory: access\nfields: [ClientIP]\ndestination: {type: local, path: out}\n",
	} {
		if _, err := config.Load([]byte(doc)); err == nil {
			t.Errorf("esa-connect accepts the definition the test means to be wrong:\n%s", doc)
		}
		if err := sch.Validate(instance(t, []byte(doc))); err == nil {
			t.Errorf("%s accepts a definition that esa-connect refuses:\n%s", schemaFile, doc)
		}
	}
}

// TestSchemaNamesEveryKey walks the task model (config.Task and the structs it holds) and checks
// that each struct's definition in the schema has exactly the struct's YAML keys (plus type in the
// flat source and destination blocks): a key added to the model must be added to the schema, and
// the schema names no key the model lacks.
func TestSchemaNamesEveryKey(t *testing.T) {
	_, raw := loadSchema(t)
	defs, _ := raw["definitions"].(map[string]any)
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, def map[string]any, where string, flat bool)
	walk = func(typ reflect.Type, def map[string]any, where string, flat bool) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		props, _ := def["properties"].(map[string]any)
		want := map[string]bool{}
		if flat {
			want["type"] = true
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if name == "-" || name == "" {
				// The blocks of a source or destination type sit flat beside its type.
				if (typ == reflect.TypeFor[config.Source]() || typ == reflect.TypeFor[config.Destination]()) && ft.Kind() == reflect.Struct {
					walk(ft, definition(t, defs, ft.Name()), ft.Name(), true)
				}
				continue
			}
			want[name] = true
			if _, ok := props[name]; !ok {
				t.Errorf("%s: the key %s of %s (config.%s.%s) is not in the schema", schemaFile, name, where, typ.Name(), f.Name)
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, definition(t, defs, ft.Name()), ft.Name(), false)
			}
		}
		if typ == reflect.TypeFor[config.Source]() || typ == reflect.TypeFor[config.Destination]() {
			return // their definitions name only type; the blocks are checked above
		}
		for name := range props {
			if !want[name] {
				t.Errorf("%s: %s has a key %s that config.%s does not have", schemaFile, where, name, typ.Name())
			}
		}
	}
	walk(reflect.TypeFor[config.Task](), raw, "the task", false)
	for _, typ := range []reflect.Type{reflect.TypeFor[config.HTTPSource](), reflect.TypeFor[config.KafkaSource](),
		reflect.TypeFor[config.S3Destination](), reflect.TypeFor[config.TLS](), reflect.TypeFor[config.Condition](),
		reflect.TypeFor[config.HashTransform]()} {
		if !seen[typ] {
			t.Errorf("the walk did not reach config.%s", typ.Name())
		}
	}
}

// definition returns the schema definition called name.
func definition(t *testing.T, defs map[string]any, name string) map[string]any {
	t.Helper()
	d, ok := defs[name].(map[string]any)
	if !ok {
		t.Fatalf("%s has no definition %s (named after config.%s)", schemaFile, name, name)
	}
	return d
}

// notOneOf reads the choices out of a validation message `... is not one of a, b, c` (or
// `(one of a, b, c)`).
var notOneOf = regexp.MustCompile(`one of ([^()\n]+?)(\)|\s\(did you mean|$)`)

// TestSchemaEnumsMatchValidation checks that each enumerated key of the schema offers exactly the
// values esa-connect accepts: a definition with an unknown value is loaded, and the choices its
// error lists are compared with the schema's enum.
func TestSchemaEnumsMatchValidation(t *testing.T) {
	_, raw := loadSchema(t)
	defs, _ := raw["definitions"].(map[string]any)
	enum := func(def map[string]any, key string) []string {
		props, _ := def["properties"].(map[string]any)
		p, _ := props[key].(map[string]any)
		var out []string
		for _, v := range p["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	const base = "name: t\ncategory: access\nfields: [ClientIP]\n"
	cases := []struct {
		what   string
		schema []string
		doc    string
		// drop removes the schema's spellings that are aliases of another choice.
		drop func(string) bool
	}{
		{"destination.type", enum(definition(t, defs, "Destination"), "type"), base + "destination: {type: X}\n", nil},
		{"source.type", enum(definition(t, defs, "Source"), "type"), base + "destination: {type: local, path: o}\nsource: {type: X}\n", nil},
		{"output.format", enum(definition(t, defs, "Output"), "format"), base + "destination: {type: local, path: o}\noutput: {format: X}\n", nil},
		{"output.timestamp_format", enum(definition(t, defs, "Output"), "timestamp_format"), base + "destination: {type: local, path: o}\noutput: {timestamp_format: X}\n", nil},
		{"http compression", enum(definition(t, defs, "HTTPDestination"), "compression"), base + "destination: {type: http, url: 'http://h/', compression: X}\n", nil},
		{"kafka compression", enum(definition(t, defs, "KafkaDestination"), "compression"), base + "destination: {type: kafka, topic: t, brokers: ['k:1'], compression: X}\n", nil},
		{"kafka balancer", enum(definition(t, defs, "KafkaDestination"), "balancer"), base + "destination: {type: kafka, topic: t, brokers: ['k:1'], balancer: X}\n",
			func(s string) bool { return strings.HasPrefix(s, "kafka.") }},
		{"sasl mechanism", enum(definition(t, defs, "SASL"), "mechanism"), base + "destination: {type: kafka, topic: t, brokers: ['k:1'], sasl: {mechanism: X, username: u, password: p}}\n",
			func(s string) bool { return s != strings.ToUpper(s) }},
		{"source.start_offset", enum(definition(t, defs, "KafkaSource"), "start_offset"), base + "destination: {type: local, path: o}\nsource: {type: kafka, brokers: ['k:1'], topics: [t], group: g, start_offset: X}\n", nil},
		{"dead_letter.type", enum(definition(t, defs, "DeadLetter"), "type"), base + "destination: {type: local, path: o}\ndead_letter: {type: X}\n", nil},
		{"buffer.type", enum(definition(t, defs, "Buffer"), "type"), base + "destination: {type: local, path: o}\nbuffer: {type: X}\n", nil},
		{"buffer.when_full", enum(definition(t, defs, "Buffer"), "when_full"), base + "destination: {type: local, path: o}\nbuffer: {type: disk, path: d, when_full: X}\n", nil},
		{"s3 server_side_encryption", enum(definition(t, defs, "S3Destination"), "server_side_encryption"), base + "destination: {type: s3, bucket_path: b, region: r, server_side_encryption: X}\n",
			func(s string) bool { return s == "" }},
		{"hash encoding", enum(definition(t, defs, "HashTransform"), "encoding"), base + "destination: {type: local, path: o}\ntransforms: [{field: ClientIP, hash: {key: 0123456789abcdef0, encoding: X}}]\n", nil},
		{"filter op", enum(definition(t, defs, "Condition"), "op"), base + "destination: {type: local, path: o}\nfilters: [{field: ClientIP, op: X, value: v}]\n", nil},
		{"category", enum(raw, "category"), "name: t\ncategory: X\nfields: [ClientIP]\ndestination: {type: local, path: o}\n",
			func(s string) bool { c, _ := config.LookupCategory(s); return c == nil || c.Name != s }},
	}
	for _, c := range cases {
		_, err := config.Load([]byte(strings.Replace(c.doc, "X", "zzz", 1)))
		if err == nil {
			t.Errorf("%s: an unknown value loads", c.what)
			continue
		}
		choices := choicesIn(err.Error())
		if choices == nil && c.what == "filter op" {
			choices = opsOf(t, defs)
		}
		var schema []string
		for _, s := range c.schema {
			if c.drop == nil || !c.drop(s) {
				schema = append(schema, s)
			}
		}
		if !slices.Equal(sorted(choices), sorted(schema)) {
			t.Errorf("%s: esa-connect accepts %v, %s offers %v", c.what, choices, schemaFile, schema)
		}
		// Every value the schema offers, aliases included, loads.
		for _, s := range c.schema {
			if s == "" {
				continue
			}
			if _, err := config.Load([]byte(strings.Replace(c.doc, "X", fmt.Sprintf("%q", s), 1))); err != nil && strings.Contains(err.Error(), "zzz") {
				t.Errorf("%s: %q: %v", c.what, s, err)
			}
		}
	}
}

// choicesIn returns the list of a "one of a, b, c" message.
func choicesIn(msg string) []string {
	m := notOneOf.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	var out []string
	for _, s := range strings.Split(m[1], ",") {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// opsOf is the operator list that a filter error names: "… is not an operator" does not list them,
// so they come from a condition without op ("required (one of …)").
func opsOf(t *testing.T, _ map[string]any) []string {
	_, err := config.Load([]byte("name: t\ncategory: access\nfields: [ClientIP]\ndestination: {type: local, path: o}\nfilters: [{field: ClientIP, value: v}]\n"))
	if err == nil {
		t.Fatal("a condition without op loads")
	}
	return choicesIn(err.Error())
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
