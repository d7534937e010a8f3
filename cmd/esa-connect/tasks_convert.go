package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/translate"
)

// A task definition becomes the parameters of ESA's Create/Update*DeliveryTask as serve receives them:
// the ESA members come from config.ExportESA (TaskName, BusinessType, DataCenter, DeliveryType,
// FieldName, DiscardRate, FilterRules, SiteId and the delivery object of the DeliveryType; SinkConfig
// for local, which ESA lacks), with the secrets that an export masks put back from the task; the
// native settings that ESA has no member for but serve accepts (output, dead_letter, buffer,
// custom_fields, sample_key, ownership_token, transforms, log4shell_guard, and a Kafka source, which serve runs the task from) are
// added as extension parameters, objects as JSON text; another source is not sent (serve feeds the task
// from its ingest, whatever its source).
// Every parameter is text, as in a form. The result is loaded back exactly as serve will load it, and
// a setting that does not come back unchanged (an SLS endpoint or credentials, tls, batching, ...:
// ESA's parameters cannot carry it) is refused by name before anything is sent.

// extensionKeys are the native settings sent as extension parameters, in the order they are checked.
var extensionKeys = []string{"output", "dead_letter", "buffer", "custom_fields", "sample_key", "ownership_token", "transforms", "log4shell_guard"}

// taskRequest is what a task definition sends to serve.
type taskRequest struct {
	// Params are the request's parameters (TaskName and, for a site task, SiteId included).
	Params map[string]string
	// Site tells Site* actions from User* ones (config.Category.Scope "site").
	Site bool
	// Notes are what the file says that serve does not take (its source), for the user.
	Notes []string
}

// errNotSendable lists the settings of a task that ESA's parameters cannot carry.
type errNotSendable []string

func (e errNotSendable) Error() string {
	return "these settings cannot be sent to serve, whose API takes ESA's parameters (and output, dead_letter, buffer, " +
		"custom_fields, sample_key, ownership_token, transforms, log4shell_guard, a Kafka source): " + strings.Join(e, ", ")
}

// taskParams converts a loaded task into the parameters of a Create/Update*DeliveryTask request. With
// full, the extension parameters that the task leaves at their default are sent empty, so that an
// Update (which merges parameters into the stored ones) resets them; but for ownership_token, which
// serve stores when a task's ownership is verified (POST /v1/tasks/{name}/verify) and the file may
// not hold.
func taskParams(t *config.Task, full bool) (*taskRequest, error) {
	cat, ok := config.LookupCategory(t.Category)
	if !ok {
		return nil, fmt.Errorf("unknown category %q", t.Category)
	}
	e := config.ExportESA(t)
	kind, ok := t.Destination.Kind()
	if !ok {
		return nil, fmt.Errorf("destination type %q has no ESA delivery", t.Destination.Type)
	}
	key := kind.ESAParameter()
	sink, err := jsonText(unmaskSink(e.SinkConfig, &t.Destination))
	if err != nil {
		return nil, err
	}
	p := map[string]string{
		"TaskName":     e.TaskName,
		"BusinessType": e.BusinessType,
		"DeliveryType": e.DeliveryType,
		"FieldName":    e.FieldList,
		"DiscardRate":  strconv.FormatFloat(e.DiscardRate, 'f', -1, 64),
		"FilterRules":  e.FilterRules,
		key:            sink,
	}
	if e.DataCenter != "" || full {
		p["DataCenter"] = e.DataCenter
	}
	req := &taskRequest{Params: p, Site: cat.Scope == "site"}
	if req.Site {
		if t.SiteID == 0 {
			return nil, errors.New("no site: " + t.Category + " is a site log category; give site_id (SiteId) in the file or --site")
		}
		p["SiteId"] = strconv.FormatInt(t.SiteID, 10)
	}

	// The extension parameters that differ from what the ESA members alone give.
	base, err := loadParams(p)
	if err != nil {
		return nil, err
	}
	for _, k := range extensionKeys {
		mine, theirs := fieldOf(t, k), fieldOf(base, k)
		if reflect.DeepEqual(mine.Interface(), theirs.Interface()) {
			// An ownership token given to serve after the task was created (POST .../verify) is kept.
			if full && k != "ownership_token" {
				p[k] = ""
				if mine.Kind() == reflect.Bool {
					p[k] = "false"
				}
			}
			continue
		}
		if mine.Kind() == reflect.String {
			p[k] = mine.String()
			continue
		}
		if p[k], err = jsonText(mine.Interface()); err != nil {
			return nil, err
		}
	}
	fromKafka := translate.ServedFromKafka(t)
	switch {
	case fromKafka:
		if p["source"], err = sourceText(t.Source); err != nil {
			return nil, err
		}
	case full:
		p["source"] = ""
		fallthrough
	default:
		if !reflect.DeepEqual(t.Source, base.Source) {
			req.Notes = append(req.Notes, "source "+t.Source.Type+" is not sent: serve feeds this task the records of its ingest")
		}
	}

	// What serve will load must be the task, but for its status and a source that serve does not use.
	got, err := loadParams(p)
	if err != nil {
		return nil, err
	}
	want := *t
	want.Status = got.Status
	if !fromKafka {
		want.Source = got.Source
	}
	var lost []string
	diffPaths("", reflect.ValueOf(want), reflect.ValueOf(*got), &lost)
	if len(lost) > 0 {
		return nil, errNotSendable(lost)
	}
	return req, nil
}

// sourceText is the native source parameter of a task that serve runs from its own source (a Kafka
// consumer group): {"type": "kafka", "brokers": [...], ...} as JSON text.
func sourceText(src config.Source) (string, error) {
	m := map[string]any{}
	if src.Kafka != nil {
		b, err := json.Marshal(src.Kafka)
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return "", err
		}
	}
	m["type"] = src.Type
	return jsonText(m)
}

// loadParams loads request parameters as serve does: the JSON object of their texts.
func loadParams(p map[string]string) (*config.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	t, err := config.Load(b)
	if err != nil {
		return nil, fmt.Errorf("internal: the converted parameters do not load: %w", err)
	}
	return t, nil
}

// fieldOf is the field of a task with the yaml name key.
func fieldOf(t *config.Task, key string) reflect.Value {
	v := reflect.ValueOf(t).Elem()
	for i := 0; i < v.NumField(); i++ {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); name == key {
			return v.Field(i)
		}
	}
	panic("no task field " + key)
}

// unmaskSink puts into an export's SinkConfig the secrets that ExportESA masks, from the destination
// they were taken from: the S3 endpoint and keys, the HTTP URL, auth private key, header and query
// values, and the Kafka SASL password.
func unmaskSink(s map[string]any, d *config.Destination) map[string]any {
	set := func(m map[string]any, key, v string) {
		if v != "" {
			m[key] = v
		}
	}
	switch {
	case d.S3 != nil:
		set(s, "Endpoint", d.S3.Endpoint)
		set(s, "AccessKey", d.S3.AccessKeyID)
		set(s, "SecretKey", d.S3.SecretAccessKey)
	case d.HTTP != nil:
		h := d.HTTP
		set(s, "DestUrl", h.URL)
		if a, ok := s["StandardAuthParam"].(map[string]any); ok && h.Auth != nil {
			set(a, "PrivateKey", h.Auth.PrivateKey)
		}
		for key, m := range map[string]map[string]string{"HeaderParam": h.Headers, "QueryParam": h.Query} {
			if len(m) == 0 {
				continue
			}
			out := make(map[string]any, len(m))
			for name, v := range m {
				out[name] = map[string]any{"StaticValue": v}
			}
			s[key] = out
		}
	case d.Kafka != nil && d.Kafka.SASL != nil:
		set(s, "Password", d.Kafka.SASL.Password)
	}
	return s
}

// jsonText encodes v as JSON text that YAML (config.Load reads JSON as YAML) reads back unchanged:
// no HTML escaping, and the characters that YAML does not take literally escaped.
func jsonText(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	var out strings.Builder
	for _, r := range strings.TrimSuffix(b.String(), "\n") {
		// JSON allows these only inside strings, where \uXXXX means the same.
		if r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff {
			fmt.Fprintf(&out, `\u%04x`, r)
			continue
		}
		out.WriteRune(r)
	}
	return out.String(), nil
}

// diffPaths appends to out the paths (in the native shape: destination.endpoint, filters[0].value)
// where a and b differ. Blocks without a name of their own (a destination's type-specific block) sit
// at their parent's path, as the native shape writes them.
func diffPaths(path string, a, b reflect.Value, out *[]string) {
	add := func() {
		if path == "" {
			path = "the task"
		}
		if !slices.Contains(*out, path) {
			*out = append(*out, path)
		}
	}
	if a.Kind() == reflect.Interface {
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				add()
			}
			return
		}
		a, b = a.Elem(), b.Elem()
		if a.Type() != b.Type() {
			add()
			return
		}
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				add()
			}
			return
		}
		diffPaths(path, a.Elem(), b.Elem(), out)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch {
			case !f.IsExported():
				continue
			case name == "-":
				name = "" // a type-specific block, or a value derived from others
			case path != "":
				name = path + "." + name
			}
			if name == "" {
				name = path
			}
			diffPaths(name, a.Field(i), b.Field(i), out)
		}
	case reflect.Map:
		if a.Len() != b.Len() {
			add()
			return
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			p := fmt.Sprintf("%s.%v", path, k.Interface())
			if !bv.IsValid() {
				*out = append(*out, p)
				continue
			}
			diffPaths(p, a.MapIndex(k), bv, out)
		}
	case reflect.Slice:
		if a.Len() != b.Len() {
			add()
			return
		}
		for i := 0; i < a.Len(); i++ {
			diffPaths(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			add()
		}
	}
}
