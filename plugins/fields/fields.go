// Package fields implements the esa_fields processor (docs/processing.md#field-selection): rewrite each
// record to exactly the task's selected fields, in order, with catalog types, plus CustomFields.
package fields

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/record"
	"github.com/esa-connect/esa-connect/plugins/tap"
)

// Name is the component name.
const Name = "esa_fields"

// MetricTypeErrors counts input values of a wrong type replaced by the sentinel (labels task, field).
const MetricTypeErrors = "esa_field_type_errors_total"

// Timestamp formats (docs/processing.md#timestamp-formats).
const (
	TimeRFC3339   = "rfc3339"
	TimeRFC3339ms = "rfc3339ms"
	TimeUnix      = "unix"
	TimeUnixMs    = "unixms"
	TimeUnixNano  = "unixnano"
)

// ConfigSpec returns the esa_fields config spec.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Categories("Mapping").
		Summary("Rewrites each ESA log record to exactly the delivered fields, in the task's order and with catalog types, plus CustomFields.").
		Description(`
The output record holds exactly `+"`fields`"+`, in that order, with the catalog's types: int and
float as JSON numbers, bool as JSON booleans, string and timestamp as strings. A field missing from the
input (or null) is written as its catalog sentinel: `+"`\"-\"`"+` for string and timestamp, `+"`-1`"+` for int
and float, `+"`false`"+` for bool. Values of another type are converted when that is lossless (int from a
numeric string or an integral number, float from a numeric string or an int, bool from `+"`\"true\"`"+` /
`+"`\"false\"`"+`, string and timestamp from a number or bool as its JSON text); otherwise the sentinel is
written and `+"`esa_field_type_errors_total{task,field}`"+` counts it. The edge's own markers
(`+"`\"-\"`"+` or `+"`\"\"`"+` in a numeric field) become the sentinel without being counted. With
`+"`missing_as_null: true`"+` every sentinel is `+"`null`"+` instead (for Parquet objects).

With `+"`custom_fields`"+` (access category only) the record gets one more field, `+"`CustomFields`"+`, after the
selected ones: `+"`{\"request_headers\": {...}, \"response_headers\": {...}, \"cookies\": {...}}`"+` with each
configured kind present (possibly `+"`{}`"+`) in that order, holding the configured names the input has, in
the configured order. Headers come from the input maps `+"`RequestHeaders`"+` / `+"`ResponseHeaders`"+`, matched
case-insensitively and written with lower-case names; cookies from the `+"`Cookies`"+` map or the
`+"`cookie`"+` request header, case-sensitive.

`+"`timestamp_format`"+` rewrites timestamp fields: `+"`rfc3339`"+` (as received), `+"`rfc3339ms`"+` (RFC 3339
with milliseconds, keeping the offset), `+"`unix`"+`, `+"`unixms`"+`, `+"`unixnano`"+` (JSON numbers; their
sentinel is `+"`-1`"+`). When the category's time field is not selected, the processor sets the metadata
`+"`esa_event_time`"+` (RFC 3339 with nanoseconds) from the input so that outputs can still name objects and
time logs.

Every record is parsed and validated; one that is not a JSON object of at most 1 MiB counts in
`+"`esa_records_invalid_total{task,reason}`"+`, is logged at most once per second with a sample and is
dropped, or, with `+"`route_invalid: true`"+`, kept unchanged, flagged with an error and metadata
`+"`esa_invalid_reason`"+`. Messages already flagged with an error and flush markers (empty messages with metadata `+"`esa_flush`"+`)
pass through untouched.`).
		Fields(
			service.NewStringField("category").
				Description("The log category whose catalog types the fields (`access`, `firewall`, `tcp_udp_proxy`, `dns`, `edge_routine`, `edge_container`, or an ESA BusinessType id)."),
			service.NewStringListField("fields").
				Description("The delivered fields, in output order; each a field of the category, no duplicates."),
			service.NewObjectField("custom_fields",
				service.NewStringListField("request_headers").
					Description("Request header names to deliver (case-insensitive; written lower-case).").
					Default([]any{}),
				service.NewStringListField("response_headers").
					Description("Response header names to deliver (case-insensitive; written lower-case).").
					Default([]any{}),
				service.NewStringListField("cookies").
					Description("Cookie names to deliver (case-sensitive).").
					Default([]any{}),
			).
				Description("Headers and cookies delivered in the `CustomFields` field (access category only). At most 100 names per kind.").
				Optional(),
			service.NewBoolField("missing_as_null").
				Description("Write JSON `null` in place of every placeholder (`\"-\"`, `-1`, `false`): for a field missing from the input or null, the edge's markers (`\"-\"` or `\"\"` in a numeric, bool or timestamp field) and a value of a wrong type (still counted). The member stays, so every record has the same members in the same order. A string value, `\"-\"` included, is delivered as received. The translator sets it for `output.format: parquet`, whose columns are optional: a missing value is then NULL, not a placeholder.").
				Default(false),
			service.NewStringEnumField("timestamp_format", TimeRFC3339, TimeRFC3339ms, TimeUnix, TimeUnixMs, TimeUnixNano).
				Description("How timestamp fields are written: `rfc3339` as received, `rfc3339ms`, or Unix seconds / milliseconds / nanoseconds as JSON numbers.").
				Default(TimeRFC3339),
			pipeline.TaskField(),
			pipeline.RouteInvalidField(),
			service.NewObjectListField("transforms",
				service.NewStringField("field").Description("A delivered string field."),
				service.NewObjectField("hash",
					service.NewStringField("key").Description("The HMAC key (at least 16 bytes); give it as an environment variable reference.").Secret(),
					service.NewStringField("encoding").Description("How the digest is written: `hex` (the default) or `base64url`.").Optional(),
				).Description("Replace the value with HMAC-SHA256(key, value): equal values stay equal (joins and counts still work), the value cannot be read back without the key.").Optional(),
				service.NewObjectField("truncate_ip",
					service.NewIntField("ipv4_prefix").Description("Bits of an IPv4 address kept (default 24).").Optional(),
					service.NewIntField("ipv6_prefix").Description("Bits of an IPv6 address kept (default 48).").Optional(),
				).Description("Keep the network part of an IP address (192.0.2.77 → 192.0.2.0); a value that is not an address becomes `\"-\"`.").Optional(),
				service.NewObjectField("redact",
					service.NewStringField("with").Description("The replacement (default `REDACTED`).").Optional(),
				).Description("Replace the value with a fixed string.").Optional(),
			).Description("Privacy transforms of delivered string fields, one per field: exactly one of `hash`, `truncate_ip`, `redact`. A missing value stays `\"-\"`.").Optional(),
			service.NewBoolField("log4shell_guard").
				Description("Rewrite `${` to `x{` in every delivered string (also when escaped as `\\u0024{`): the lookup syntax of CVE-2021-44228 never reaches a consumer.").
				Default(false),
			service.NewBoolField("bundle").
				Description("Emit the records of each batch as one message, for an object output: the records one per line, with metadata `"+pipeline.MetaRecords+"` (their number), `"+pipeline.MetaFirstTime+"` / `"+pipeline.MetaLastTime+"` (their earliest and latest event time, RFC 3339) and, when the category's time field is not delivered, `"+pipeline.MetaEventTimes+"` (each record's event time, packed: about 3 bytes a record), so that an output partitioned by date or hour files each record under its own time. A message costs a few hundred bytes while it waits for its object to be stored; one per batch instead of one per record keeps that wait cheap. Invalid records routed to a dead letter stay messages of their own. The translator sets it for object destinations.").
				Default(false).Advanced(),
		).
		Example("Four access-log fields", "The fields of ESA's console example.", `
pipeline:
  processors:
    - esa_fields:
        category: access
        task: access-to-s3
        fields: [EdgeStartTimestamp, ClientIP, ClientRequestHost, EdgeResponseStatusCode]
`).
		Example("Custom fields and Unix times", "Deliver a trace header and a cookie; timestamps as Unix milliseconds.", `
pipeline:
  processors:
    - esa_fields:
        category: access
        fields: [EdgeStartTimestamp, ClientRequestID, EdgeResponseStatusCode]
        custom_fields:
          request_headers: [x-trace-id]
          cookies: [session_region]
        timestamp_format: unixms
`)
}

// Register registers esa_fields on env.
func Register(env *service.Environment) error {
	return env.RegisterBatchProcessor(Name, ConfigSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.BatchProcessor, error) {
			return FromParsed(conf, res)
		})
}

// Config is the plain configuration of a Processor.
type Config struct {
	Category        string
	Fields          []string
	CustomFields    *config.CustomFields
	TimestampFormat string
	// MissingAsNull writes null in place of the placeholders (see the missing_as_null field).
	MissingAsNull bool
	Task          string
	RouteInvalid  bool
	// Bundle emits each batch's records as one message (see the bundle field).
	Bundle bool
	// Transforms are privacy transforms of delivered string fields (hash, truncate_ip, redact).
	Transforms []Transform
	// Log4ShellGuard rewrites "${" to "x{" in every delivered string.
	Log4ShellGuard bool
}

// FromParsed builds a Processor from a parsed esa_fields config.
func FromParsed(conf *service.ParsedConfig, res *service.Resources) (*Processor, error) {
	var c Config
	var err error
	if c.Category, err = conf.FieldString("category"); err != nil {
		return nil, err
	}
	if c.Fields, err = conf.FieldStringList("fields"); err != nil {
		return nil, err
	}
	if conf.Contains("custom_fields") {
		cf := &config.CustomFields{}
		if cf.RequestHeaders, err = conf.FieldStringList("custom_fields", "request_headers"); err != nil {
			return nil, err
		}
		if cf.ResponseHeaders, err = conf.FieldStringList("custom_fields", "response_headers"); err != nil {
			return nil, err
		}
		if cf.Cookies, err = conf.FieldStringList("custom_fields", "cookies"); err != nil {
			return nil, err
		}
		c.CustomFields = cf
	}
	if c.TimestampFormat, err = conf.FieldString("timestamp_format"); err != nil {
		return nil, err
	}
	if c.MissingAsNull, err = conf.FieldBool("missing_as_null"); err != nil {
		return nil, err
	}
	if c.Task, c.RouteInvalid, err = pipeline.ParseTaskFields(conf); err != nil {
		return nil, err
	}
	if c.Bundle, err = conf.FieldBool("bundle"); err != nil {
		return nil, err
	}
	if c.Log4ShellGuard, err = conf.FieldBool("log4shell_guard"); err != nil {
		return nil, err
	}
	if conf.Contains("transforms") {
		list, err := conf.FieldObjectList("transforms")
		if err != nil {
			return nil, err
		}
		for _, tc := range list {
			var t Transform
			if t.Field, err = tc.FieldString("field"); err != nil {
				return nil, err
			}
			kinds := 0
			if tc.Contains("hash") {
				kinds++
				t.Kind = TransformHash
				if t.Key, err = tc.FieldString("hash", "key"); err != nil {
					return nil, err
				}
				if tc.Contains("hash", "encoding") {
					if t.Encoding, err = tc.FieldString("hash", "encoding"); err != nil {
						return nil, err
					}
				}
			}
			if tc.Contains("truncate_ip") {
				kinds++
				t.Kind = TransformTruncateIP
				if tc.Contains("truncate_ip", "ipv4_prefix") {
					if t.IPv4Prefix, err = tc.FieldInt("truncate_ip", "ipv4_prefix"); err != nil {
						return nil, err
					}
				}
				if tc.Contains("truncate_ip", "ipv6_prefix") {
					if t.IPv6Prefix, err = tc.FieldInt("truncate_ip", "ipv6_prefix"); err != nil {
						return nil, err
					}
				}
			}
			if tc.Contains("redact") {
				kinds++
				t.Kind = TransformRedact
				t.With = config.DefaultRedaction
				if tc.Contains("redact", "with") {
					if t.With, err = tc.FieldString("redact", "with"); err != nil {
						return nil, err
					}
				}
			}
			if kinds != 1 {
				return nil, fmt.Errorf("%s: transforms: field %q: give exactly one of hash, truncate_ip, redact", Name, t.Field)
			}
			c.Transforms = append(c.Transforms, t)
		}
	}
	return New(c, res)
}

// outField is one compiled output field.
type outField struct {
	name string
	key  []byte // `"Name":`
	slot int
	typ  config.FieldType
	tr   *transformer // a privacy transform, or nil
}

// customKind is one compiled CustomFields kind.
type customKind struct {
	key    []byte // `"request_headers":{`
	kind   string
	names  []string
	keys   [][]byte // `"name":` per name
	cookie bool
}

// Processor is the esa_fields batch processor.
type Processor struct {
	task       string
	fields     []outField
	custom     []customKind
	sel        *record.Selector
	reqSlot    int
	respSlot   int
	cookieSlot int
	timeSlot   int // the category's time field when not selected (for metadata), else -1
	eventSlot  int // the category's time field, selected or not, else -1
	tsFormat   string
	bundle     bool
	guard      bool // log4shell_guard
	nulls      bool // missing_as_null

	invalid    *pipeline.InvalidHandler
	typeErrors *service.MetricCounter
	tap        *tap.Hub     // watchers of the delivered records (esa-connect tap)
	pool       sync.Pool    // *state
	sizeHint   atomic.Int64 // mean output record size of the last batch
}

type state struct {
	shape      record.Shape
	ixMap      record.IndexMap
	cv         []record.Value // custom-field values of one kind
	cookieText []byte         // the decoded Cookie header
	vals       []record.Value
	scratch    []byte
	mismatch   []int64  // per output field
	text       []byte   // a transformed value's text
	tapped     [][]byte // the batch's delivered records, while the task is tapped
	sum        []byte
	hashes     map[*transformer]*hashCache
	times      pipeline.TimePacker // a bundle's event times, when no line holds its own
}

// New validates c and builds the processor. res may be nil (no metrics, no logs).
func New(c Config, res *service.Resources) (*Processor, error) {
	cat, ok := config.LookupCategory(c.Category)
	if !ok {
		return nil, fmt.Errorf("%s: unknown log category %q", Name, c.Category)
	}
	if len(c.Fields) == 0 {
		return nil, fmt.Errorf("%s: fields: at least one field is required", Name)
	}
	switch c.TimestampFormat {
	case "":
		c.TimestampFormat = TimeRFC3339
	case TimeRFC3339, TimeRFC3339ms, TimeUnix, TimeUnixMs, TimeUnixNano:
	default:
		return nil, fmt.Errorf("%s: timestamp_format %q is not one of rfc3339, rfc3339ms, unix, unixms, unixnano", Name, c.TimestampFormat)
	}
	p := &Processor{task: c.Task, nulls: c.MissingAsNull, sel: record.NewSelector(), reqSlot: -1, respSlot: -1, cookieSlot: -1, timeSlot: -1, tsFormat: c.TimestampFormat}
	var problems []string
	seen := map[string]bool{}
	for i, name := range c.Fields {
		f, ok := cat.Field(name)
		if !ok {
			problems = append(problems, fmt.Sprintf("fields[%d]: %q is not a field of category %s%s", i, name, cat.Name, suggest(name, cat.FieldNames())))
			continue
		}
		if seen[name] {
			problems = append(problems, fmt.Sprintf("fields[%d]: %q is selected twice", i, name))
			continue
		}
		seen[name] = true
		p.fields = append(p.fields, outField{name: name, key: append(record.AppendString(nil, name), ':'), slot: p.sel.Add(name), typ: f.Type})
	}
	if c.CustomFields != nil {
		kinds := []struct {
			kind  string
			names []string
		}{
			{config.KindRequestHeaders, c.CustomFields.RequestHeaders},
			{config.KindResponseHeaders, c.CustomFields.ResponseHeaders},
			{config.KindCookies, c.CustomFields.Cookies},
		}
		for _, k := range kinds {
			if len(k.names) == 0 {
				continue
			}
			if !cat.CustomFields {
				problems = append(problems, fmt.Sprintf("custom_fields: custom fields exist only in category access, not %s", cat.Name))
				break
			}
			if len(k.names) > 100 {
				problems = append(problems, fmt.Sprintf("custom_fields.%s: %d names; at most 100 are allowed", k.kind, len(k.names)))
			}
			ck := customKind{kind: k.kind, key: append(record.AppendString(nil, k.kind), ':', '{'), cookie: k.kind == config.KindCookies}
			dup := map[string]bool{}
			for j, n := range k.names {
				if n == "" || strings.Trim(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_- ") != "" {
					problems = append(problems, fmt.Sprintf("custom_fields.%s[%d]: %q: names may contain only letters, digits, '_', '-' and space", k.kind, j, n))
					continue
				}
				if !ck.cookie {
					n = strings.ToLower(n)
				}
				if dup[n] {
					continue
				}
				dup[n] = true
				ck.names = append(ck.names, n)
				ck.keys = append(ck.keys, append(record.AppendString(nil, n), ':'))
			}
			switch k.kind {
			case config.KindRequestHeaders:
				p.reqSlot = p.sel.Add(record.FieldRequestHeaders)
			case config.KindResponseHeaders:
				p.respSlot = p.sel.Add(record.FieldResponseHeaders)
			default:
				p.cookieSlot = p.sel.Add(record.FieldCookies)
				p.reqSlot = p.sel.Add(record.FieldRequestHeaders)
			}
			p.custom = append(p.custom, ck)
		}
	}
	problems = append(problems, p.compileTransforms(c.Transforms)...)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", Name, strings.Join(problems, "; "))
	}
	p.guard = c.Log4ShellGuard
	if cat.TimeField != "" && !seen[cat.TimeField] {
		p.timeSlot = p.sel.Add(cat.TimeField)
	}
	p.eventSlot = -1
	if cat.TimeField != "" {
		p.eventSlot = p.sel.Index(cat.TimeField)
	}
	p.bundle = c.Bundle
	p.invalid = pipeline.NewInvalidHandler(res, Name, c.Task, c.RouteInvalid)
	p.tap = tap.From(res)
	if res != nil {
		p.typeErrors = res.Metrics().NewCounter(MetricTypeErrors, "task", "field")
	}
	n, nf := p.sel.Len(), len(p.fields)
	maxNames := 0
	for _, ck := range p.custom {
		maxNames = max(maxNames, len(ck.names))
	}
	p.pool.New = func() any {
		return &state{vals: make([]record.Value, n), scratch: make([]byte, 0, 256), mismatch: make([]int64, nf), cv: make([]record.Value, maxNames)}
	}
	return p, nil
}

func suggest(name string, names []string) string {
	if s := config.Suggest(name, names); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// Transform appends the output record for rec to dst. It returns the event time for the
// esa_event_time metadata (zero when the time field is selected or absent), the number of values of a
// wrong type that were replaced by sentinels, and an *record.InvalidError when rec is not a valid
// record.
func (p *Processor) Transform(dst, rec []byte) ([]byte, time.Time, int, error) {
	st := p.pool.New().(*state)
	out, t, err := p.transform(dst, rec, st, false, false, record.Index{})
	if p.timeSlot < 0 {
		t = time.Time{}
	}
	n := 0
	for _, m := range st.mismatch {
		n += int(m)
	}
	return out, t, n, err
}

// transform is Transform with the state of the calling goroutine. checked says an earlier
// component validated rec (pipeline.Checked), unique that its top-level names are distinct.
func (p *Processor) transform(dst, rec []byte, st *state, checked, unique bool, ix record.Index) ([]byte, time.Time, error) {
	var err error
	switch {
	case ix.Valid():
		err = p.sel.FromIndex(rec, st.vals, ix, &st.ixMap)
	case checked:
		err = p.sel.Find(rec, st.vals, &st.shape, unique)
	default:
		err = p.sel.ScanShape(rec, st.vals, &st.shape)
	}
	if err != nil {
		return dst, time.Time{}, err
	}
	start := len(dst)
	dst = append(dst, '{')
	for i := range p.fields {
		f := &p.fields[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		v := st.vals[f.slot]
		if p.nulls && noValue(f.typ, v) {
			dst = append(dst, "null"...)
			continue
		}
		if f.tr != nil {
			dst = p.appendTransformed(dst, f.tr, v, st)
			continue
		}
		mark := len(dst)
		var ok bool
		dst, ok = p.appendValue(dst, f.typ, v, st)
		if !ok {
			st.mismatch[i]++
			if p.nulls {
				dst = append(dst[:mark], "null"...)
			}
		}
	}
	if len(p.custom) > 0 {
		dst = p.appendCustom(dst, st)
	}
	dst = append(dst, '}')
	if p.guard {
		dst = dst[:start+len(guardLog4Shell(dst[start:]))]
	}
	var t time.Time
	if p.eventSlot >= 0 && (p.timeSlot >= 0 || p.bundle) {
		if v := st.vals[p.eventSlot]; v.Kind == record.String || v.Kind == record.Number {
			t, _ = record.ParseTime(v.Raw, v.Kind)
		}
	}
	return dst, t, nil
}

// appendCustom appends the CustomFields member. Each headers object is read once for all of its
// configured names; the Cookie header is decoded at most once.
func (p *Processor) appendCustom(dst []byte, st *state) []byte {
	dst = append(dst, `,"CustomFields":{`...)
	var cookieHdr record.Value
	cookieHdrKnown, cookieTextKnown := false, false
	for k := range p.custom {
		ck := &p.custom[k]
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, ck.key...)
		vals := st.cv[:len(ck.names)]
		switch ck.kind {
		case config.KindRequestHeaders:
			cookieHdr = record.FindHeaders(object(st.vals, p.reqSlot), ck.names, vals)
			cookieHdrKnown = true
		case config.KindResponseHeaders:
			record.FindHeaders(object(st.vals, p.respSlot), ck.names, vals)
		default:
			findExact(object(st.vals, p.cookieSlot), ck.names, vals)
			if !cookieHdrKnown {
				cookieHdr = record.FindHeaders(object(st.vals, p.reqSlot), nil, nil)
				cookieHdrKnown = true
			}
		}
		first := true
		for j, name := range ck.names {
			v := vals[j]
			var text []byte
			ok, raw := false, false
			switch v.Kind {
			case record.String:
				ok, raw = true, true
			case record.Invalid:
			default:
				st.scratch, ok = record.AppendHeaderValue(st.scratch[:0], v)
				text = st.scratch
			}
			if !ok && ck.cookie && cookieHdr.Kind != record.Invalid {
				if !cookieTextKnown {
					st.cookieText, _ = record.AppendCookieHeaderValue(st.cookieText[:0], cookieHdr)
					cookieTextKnown = true
				}
				text, ok = record.CookieFromHeader(st.cookieText, name)
			}
			if !ok {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, ck.keys[j]...)
			if raw {
				dst = append(dst, v.Raw...) // a validated JSON string
			} else {
				dst = record.AppendString(dst, text)
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// findExact looks up names (case-sensitive) in the raw object obj: out[j] receives the first member
// called names[j] whose value is a string, number, bool or array (the zero Value when none).
func findExact(obj []byte, names []string, out []record.Value) {
	clear(out)
	if len(obj) == 0 {
		return
	}
	var keyBuf [64]byte
	for it := record.MembersOf(obj); it.Next(); {
		key := it.Key()
		if it.KeyEscaped() {
			key = record.AppendUnescaped(keyBuf[:0], key)
		}
		v := it.Value()
		if v.Kind == record.Null || v.Kind == record.Object {
			continue
		}
		for j, n := range names {
			if out[j].Kind == record.Invalid && string(key) == n {
				out[j] = v
			}
		}
	}
}

func object(vals []record.Value, slot int) []byte {
	if slot < 0 || vals[slot].Kind != record.Object {
		return nil
	}
	return vals[slot].Raw
}

// ProcessBatch rewrites every valid record of batch. All outputs of a batch share one buffer.
func (p *Processor) ProcessBatch(_ context.Context, batch service.MessageBatch) ([]service.MessageBatch, error) {
	st := p.pool.Get().(*state)
	defer p.pool.Put(st)
	// Size the shared buffer from the mean output size seen so far (+1/8), or the input size at first.
	size := 0
	if hint := p.sizeHint.Load(); hint > 0 {
		size = int(hint+hint/8) * len(batch)
	} else {
		for _, msg := range batch {
			if b, err := msg.AsBytes(); err == nil {
				size += len(b)
			}
		}
	}
	buf := make([]byte, 0, size+64)
	written := 0
	kept := batch[:0]
	var markers service.MessageBatch // bundle mode: flush markers go after the bundle
	var first, last time.Time
	now := time.Now()
	tapped := p.tap.Active()
	for _, msg := range batch {
		if msg.GetError() != nil {
			kept = append(kept, msg)
			continue
		}
		rec, err := msg.AsBytes()
		if err == nil && len(rec) == 0 && pipeline.IsFlushMarker(msg) {
			if p.bundle {
				markers = append(markers, msg)
				continue
			}
			kept = append(kept, msg) // flush marker: untouched, uncounted
			continue
		}
		before := len(buf) // an invalid record leaves nothing behind, not even its separator
		if p.bundle && written > 0 {
			buf = append(buf, '\n')
		}
		start := len(buf)
		var t time.Time
		if err == nil {
			checked, unique, ix := pipeline.CheckedIndex(msg, rec)
			buf, t, err = p.transform(buf, rec, st, checked, unique, ix)
			if checked {
				pipeline.Release(msg)
			}
		}
		if err != nil {
			buf = buf[:before]
			if p.invalid.Handle(msg, rec, err) {
				kept = append(kept, msg)
			}
			continue
		}
		written++
		if tapped {
			st.tapped = append(st.tapped, buf[start:])
		}
		if p.bundle {
			if t.IsZero() {
				t = now
			}
			if written == 1 || t.Before(first) {
				first = t
			}
			if written == 1 || t.After(last) {
				last = t
			}
			if p.timeSlot >= 0 {
				st.times.Add(t)
			}
			msg.SetBytes(nil) // the record lives on in the bundle
			continue
		}
		msg.SetBytes(buf[start:len(buf):len(buf)])
		if !t.IsZero() {
			st.scratch = t.AppendFormat(st.scratch[:0], time.RFC3339Nano)
			msg.MetaSet(pipeline.MetaEventTime, string(st.scratch))
		}
		kept = append(kept, msg)
	}
	if written > 0 {
		p.sizeHint.Store(int64(len(buf) / written))
	}
	if tapped {
		p.tap.Publish(st.tapped)
		clear(st.tapped)
		st.tapped = st.tapped[:0]
	}
	if p.bundle {
		if written > 0 {
			b := service.NewMessage(buf)
			b.MetaSetMut(pipeline.MetaRecords, int64(written))
			b.MetaSetMut(pipeline.MetaFirstTime, first.Format(time.RFC3339Nano))
			b.MetaSetMut(pipeline.MetaLastTime, last.Format(time.RFC3339Nano))
			if p.timeSlot >= 0 {
				// The records do not hold their time: it travels beside them, so that an output
				// files each record under its own date and hour.
				b.MetaSetMut(pipeline.MetaEventTimes, st.times.Take())
			}
			kept = append([]*service.Message{b}, kept...)
		}
		kept = append(kept, markers...)
	}
	if p.typeErrors != nil {
		for i, n := range st.mismatch {
			if n > 0 {
				p.typeErrors.Incr(n, p.task, p.fields[i].name)
				st.mismatch[i] = 0
			}
		}
	}
	if len(kept) == 0 {
		return nil, nil
	}
	return []service.MessageBatch{kept}, nil
}

// Close releases nothing; it exists to satisfy service.BatchProcessor.
func (p *Processor) Close(context.Context) error { return nil }
