package config

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load decodes a task definition — YAML or JSON, in the native shape or ESA's OpenAPI shape
// (docs/task.md; the ESA shape is recognised by its keys TaskName, BusinessType, DeliveryType, ...: a
// create request's parameters or a GetSiteDeliveryTask / GetUserDeliveryTask export, see esa.go) —
// applies the defaults and validates it. On any problem it returns nil and an Errors listing every
// problem with the path the user wrote (e.g. `destination.bucket_pth: unknown key (did you mean
// "bucket_path"?)` or `HttpDelivery.DestUrl: required`): at most MaxProblems of them, then one entry
// counting the rest.
//
// Hostile input is refused before it is decoded: more than MaxDefinitionBytes, more than
// MaxExpandedValues values with YAML aliases expanded (an alias bomb), or an alias that refers to a
// value containing it.
func Load(data []byte) (*Task, error) {
	if len(data) > MaxDefinitionBytes {
		return nil, Errors{{Msg: tooLarge("the task definition", int64(len(data)))}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{{Msg: "not valid YAML or JSON: " + yamlErr(err)}}
	}
	root := resolve(&doc)
	if isNull(root) {
		return nil, Errors{{Msg: "the task definition is empty"}}
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{{Msg: "the task definition must be an object, not " + kindName(root)}}
	}
	d := newDecoder("the task definition")
	if !d.charge(&doc, "") {
		return nil, d.result()
	}
	var t *Task
	if isESAShape(root) {
		t = d.esaTask(root)
	} else {
		t = d.nativeTask(root)
	}
	applyDefaults(t, !d.rateGiven)
	v := &validator{t: t, max: MaxProblems - len(d.errs), report: func(path string) (string, bool) {
		path = d.rewrite(path)
		return path, !d.covered(path)
	}}
	v.task()
	if errs := append(d.errs, v.errs...); len(errs) > 0 {
		return nil, capProblems(errs, d.more+v.more)
	}
	return t, nil
}

// LoadFile reads and decodes a task definition file (see ReadFile and Load).
func LoadFile(path string) (*Task, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(data)
}

// ReadFile reads a task definition file, reading no more than MaxDefinitionBytes+1 bytes of it: a
// larger file is refused with an Errors naming its size (when known) and the limit. An I/O error
// wraps the os error (errors.Is(err, fs.ErrNotExist) works).
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: read task definition: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxDefinitionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read task definition %s: %w", path, err)
	}
	if len(data) <= MaxDefinitionBytes {
		return data, nil
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxDefinitionBytes {
		return nil, Errors{{Msg: tooLarge("the task definition", st.Size())}}
	}
	return nil, Errors{{Msg: fmt.Sprintf("the task definition is more than %d bytes; at most %d bytes (1 MiB) are accepted",
		MaxDefinitionBytes, MaxDefinitionBytes)}}
}

// esaTopKeys are the keys that identify the ESA OpenAPI shape: the task's parameters and those of the
// destinations (ESADeliveryParameters).
func esaTopKeys() []string {
	return append([]string{"TaskName", "BusinessType", "DataCenter", "DeliveryType", "FieldName", "FieldList",
		"DiscardRate", "FilterRules", "FilterVer", "RawRule", "SiteId", "SiteName", "Details", "Status", "RequestId"},
		ESADeliveryParameters()...)
}

// IsTaskKey reports whether key is a top-level key of a task definition, in the native shape (the
// yaml names of Task's fields) or the ESA shape. The CLI uses it to tell task definitions from
// Benthos configs; note that output is both.
func IsTaskKey(key string) bool {
	if slices.Contains(esaTopKeys(), key) {
		return true
	}
	typ := reflect.TypeFor[Task]()
	for i := 0; i < typ.NumField(); i++ {
		if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ","); name == key && name != "-" {
			return true
		}
	}
	return false
}

func isESAShape(root *yaml.Node) bool {
	top := esaTopKeys()
	for _, k := range keys(root) {
		if slices.Contains(top, k) {
			return true
		}
	}
	return false
}

// nativeTask decodes the native shape.
func (d *decoder) nativeTask(root *yaml.Node) *Task {
	t := &Task{}
	d.structInto(root, "", reflect.ValueOf(t).Elem(), nil)
	// sampling_rate: null (or ~) is no rate: the default, as for any other key.
	d.rateGiven = slices.Contains(keys(root), "sampling_rate") && !isNull(valueOf(root, "sampling_rate"))
	return t
}

// structInto decodes an object into the struct v using its yaml tags; keys in extra are allowed and
// left to the caller. Unknown keys are errors.
func (d *decoder) structInto(n *yaml.Node, path string, v reflect.Value, extra []string) bool {
	typ := v.Type()
	known := append([]string(nil), extra...)
	index := map[string]int{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		known = append(known, name)
		index[name] = i
	}
	return d.mapping(n, path, known, func(key string, val *yaml.Node, p string) {
		i, ok := index[key]
		if !ok {
			return // an extra key, handled by the caller
		}
		d.valueInto(val, p, v.Field(i))
	})
}

var (
	conditionsType = reflect.TypeFor[[]Condition]()
	sourceType     = reflect.TypeFor[Source]()
	destType       = reflect.TypeFor[Destination]()
	tlsPtrType     = reflect.TypeFor[*TLS]()
)

// valueInto decodes n into the field v (native shape).
func (d *decoder) valueInto(n *yaml.Node, path string, v reflect.Value) {
	switch v.Type() {
	case conditionsType:
		v.Set(reflect.ValueOf(d.conditions(n, path, path)))
		return
	case sourceType:
		d.nativeSource(n, path, v.Addr().Interface().(*Source))
		return
	case destType:
		d.nativeDestination(n, path, v.Addr().Interface().(*Destination))
		return
	case tlsPtrType:
		if s := resolve(n); s != nil && s.Kind == yaml.ScalarNode && !isNull(s) {
			v.Set(reflect.ValueOf(&TLS{Enabled: d.bool(s, path)}))
			return
		}
		if isNull(n) {
			return
		}
		tls := &TLS{Enabled: true} // an object means TLS on unless it says enabled: false
		if d.structInto(n, path, reflect.ValueOf(tls).Elem(), nil) {
			v.Set(reflect.ValueOf(tls))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(d.str(n, path))
	case reflect.Int, reflect.Int64:
		v.SetInt(d.int(n, path))
	case reflect.Float64:
		v.SetFloat(d.float(n, path))
	case reflect.Bool:
		v.SetBool(d.bool(n, path))
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.ValueOf(d.strList(n, path)))
			return
		}
		if v.Type().Elem().Kind() == reflect.Struct {
			d.structList(n, path, v)
			return
		}
		d.errorf(path, "internal: unsupported list type %s", v.Type())
	case reflect.Map:
		switch v.Type().Elem().Kind() {
		case reflect.String:
			v.Set(reflect.ValueOf(d.stringMap(n, path)))
		case reflect.Interface:
			v.Set(reflect.ValueOf(d.anyMap(n, path)))
		default:
			d.errorf(path, "internal: unsupported map type %s", v.Type())
		}
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		if p.Elem().Kind() == reflect.Struct {
			if d.structInto(n, path, p.Elem(), nil) {
				v.Set(p)
			}
			return
		}
		d.valueInto(n, path, p.Elem())
		v.Set(p)
	case reflect.Struct:
		d.structInto(n, path, v, nil)
	default:
		d.errorf(path, "internal: unsupported type %s", v.Type())
	}
}

// structList decodes a list of objects into the slice v (a JSON string of one is accepted too, as
// ESA's form parameters carry lists).
func (d *decoder) structList(n *yaml.Node, path string, v reflect.Value) {
	n = d.embedded(n, path)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(path, "must be a list of objects, not %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		d.structInto(e, indexPath(path, i), out.Index(i), nil)
	}
	v.Set(out)
}

// typeOf reads the "type" key of a flat source/destination block.
func (d *decoder) typeOf(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(path, "must be an object, not %s", kindName(n))
		return "", false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == "type" {
			return d.str(n.Content[i+1], joinPath(path, "type")), true
		}
	}
	return "", true
}

// sourceTypes are the source types, in documentation order.
var sourceTypes = []string{"http", "kafka", "file", "stdin", "generate", "benthos"}

// nativeDestination decodes the flat destination block {type: s3, bucket_path: ..., ...}.
func (d *decoder) nativeDestination(n *yaml.Node, path string, dst *Destination) {
	typ, ok := d.typeOf(n, path)
	if !ok {
		return
	}
	dst.Type = typ
	k, ok := dst.Kind()
	if !ok {
		return // Validate reports the type; the other keys cannot be checked without it
	}
	target := k.newParams(dst)
	d.structInto(n, path, reflect.ValueOf(target).Elem(), []string{"type"})
}

// nativeSource decodes the flat source block {type: kafka, brokers: [...], ...}.
func (d *decoder) nativeSource(n *yaml.Node, path string, src *Source) {
	typ, ok := d.typeOf(n, path)
	if !ok {
		return
	}
	src.Type = typ
	var target any
	switch typ {
	case "", "http":
		src.HTTP = &HTTPSource{}
		target = src.HTTP
	case "kafka":
		src.Kafka = &KafkaSource{}
		target = src.Kafka
	case "file":
		src.File = &FileSource{}
		target = src.File
	case "stdin":
		d.mapping(n, path, []string{"type"}, func(string, *yaml.Node, string) {})
		return
	case "generate":
		src.Generate = &GenerateSource{}
		target = src.Generate
	case "benthos":
		d.mapping(n, path, []string{"type", "config"}, func(key string, v *yaml.Node, p string) {
			if key == "config" {
				src.Benthos = d.anyMap(v, p)
			}
		})
		return
	default:
		return
	}
	d.structInto(n, path, reflect.ValueOf(target).Elem(), []string{"type"})
}

// applyDefaults fills the defaults of docs/task.md and normalises aliases and letter case; defaultRate
// says that the definition gave no sampling rate.
func applyDefaults(t *Task, defaultRate bool) {
	if defaultRate {
		t.SamplingRate = 100
	}
	if c, ok := LookupCategory(t.Category); ok {
		t.Category = c.Name
	}
	if t.DataCenter == "sg" {
		t.DataCenter = "oversea"
	}
	if t.Source.Type == "" {
		t.Source.Type = "http"
	}
	switch t.Source.Type {
	case "http":
		if t.Source.HTTP == nil {
			t.Source.HTTP = &HTTPSource{}
		}
		if t.Source.HTTP.Address == "" {
			t.Source.HTTP.Address = DefaultIngestAddress
		}
		if t.Source.HTTP.Path == "" {
			t.Source.HTTP.Path = DefaultIngestPath
		}
	case "kafka":
		if k := t.Source.Kafka; k != nil {
			if k.StartOffset == "" {
				k.StartOffset = "earliest"
			}
			normaliseSASL(k.SASL)
		}
	}
	if t.Output.Format == "" {
		t.Output.Format = OutputFormats()[0]
	}
	if t.Output.TimestampFormat == "" {
		t.Output.TimestampFormat = TimestampFormats()[0]
	}
	if k := t.Destination.Kafka; k != nil {
		k.Balancer = strings.TrimPrefix(k.Balancer, "kafka.")
		if k.Balancer == "" {
			k.Balancer = DefaultKafkaBalancer
		}
		normaliseSASL(k.SASL)
	}
	if cf := t.CustomFields; cf != nil {
		for i, h := range cf.RequestHeaders {
			cf.RequestHeaders[i] = strings.ToLower(h)
		}
		for i, h := range cf.ResponseHeaders {
			cf.ResponseHeaders[i] = strings.ToLower(h)
		}
	}
	lowerHeaderFilters(t.Filters)
}

// normaliseSASL upper-cases the mechanism (ESA's examples write "plain").
func normaliseSASL(s *SASL) {
	if s != nil {
		s.Mechanism = strings.ToUpper(s.Mechanism)
	}
}

// lowerHeaderFilters lower-cases header names in CustomFields.<headers kind>.<name> filter fields
// (headers are case-insensitive; cookies are not).
func lowerHeaderFilters(conds []Condition) {
	for i := range conds {
		lowerHeaderFilters(conds[i].Any)
		kind, name, ok := SplitCustomField(conds[i].Field)
		if ok && (kind == KindRequestHeaders || kind == KindResponseHeaders) {
			conds[i].Field = CustomFieldsPrefix + kind + "." + strings.ToLower(name)
		}
	}
}

// valueOf returns the value of key in the mapping n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
