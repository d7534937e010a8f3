package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/esa-connect/esa-connect/config"
)

// draft is a task as the create flow's form holds it. It becomes the parameters of
// CreateSiteDeliveryTask / CreateUserDeliveryTask exactly as ESA's API receives them (params), which
// config.Load validates, as the API and run do.
type draft struct {
	Name       string `json:"name"`
	Category   string `json:"category"`
	SiteID     string `json:"site_id"`
	DataCenter string `json:"data_center"`
	// Fields are the delivered fields, in output order.
	Fields []string `json:"fields"`
	// SamplingRate is a percentage; empty is 100.
	SamplingRate string `json:"sampling_rate"`
	// Filters are the AND-ed conditions of the form's rows.
	Filters []filterRow `json:"filters"`
	// FilterRules, when set, is ESA's filter JSON as written (a filter with OR groups, which the rows
	// cannot show); Filters is then ignored.
	FilterRules *string `json:"filter_rules,omitempty"`
	// CustomFields are the access log's headers and cookies (one name a line or comma-separated).
	CustomFields *customFieldsForm `json:"custom_fields,omitempty"`
	// DeliveryType is ESA's (http, kafka, sls, oss, aws3, aws3cmpt, local).
	DeliveryType string `json:"delivery_type"`
	// Delivery holds the delivery object's parameters by ESA member name (nested members dotted).
	Delivery map[string]any `json:"delivery"`
}

// filterRow is one condition row: a field, an operator and the value as typed (several values
// comma-separated for the operators that take a list).
type filterRow struct {
	Field      string `json:"field"`
	Op         string `json:"op"`
	Value      string `json:"value"`
	IgnoreCase bool   `json:"ignore_case"`
}

type customFieldsForm struct {
	RequestHeaders  string `json:"request_headers"`
	ResponseHeaders string `json:"response_headers"`
	Cookies         string `json:"cookies"`
}

// problem is one validation problem placed on the form: the field it belongs to (target), the step
// of the create flow that holds it, ESA's parameter path and the message (with its "did you mean").
type problem struct {
	Target  string `json:"target"`
	Step    int    `json:"step"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// names splits a list typed one a line or comma-separated.
func names(s string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		if n := strings.TrimSpace(line); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// scope is the category's scope (site or account); "" when the category is unknown.
func scope(category string) string {
	if c, ok := config.LookupCategory(category); ok {
		return c.Scope
	}
	return ""
}

// businessType is ESA's BusinessType of a category (its API id, or its name when ESA has none).
func businessType(category string) string {
	if c, ok := config.LookupCategory(category); ok && c.APIID != "" {
		return c.APIID
	}
	return category
}

// action is the ESA action of verb (Create, Get, …) for a category: Site or User.
func action(verb, category string, plural bool) string {
	who := "Site"
	if scope(category) == "account" {
		who = "User"
	}
	noun := "DeliveryTask"
	if plural {
		noun = "DeliveryTasks"
	}
	return verb + who + noun
}

// params returns the draft as ESA's API parameters, and the problems found while converting the
// form's values (a sampling rate that is not a number).
func (d *draft) params() (url.Values, []problem) {
	v := url.Values{}
	var probs []problem
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("TaskName", strings.TrimSpace(d.Name))
	set("BusinessType", businessType(d.Category))
	if scope(d.Category) != "account" {
		set("SiteId", strings.TrimSpace(d.SiteID))
	}
	set("DataCenter", d.DataCenter)
	v.Set("FieldName", strings.Join(d.Fields, ","))
	if dr, p := discardRate(d.SamplingRate); p != "" {
		probs = append(probs, problem{Target: "sampling_rate", Step: 2, Message: p})
	} else {
		set("DiscardRate", dr)
	}
	switch {
	case d.FilterRules != nil:
		set("FilterRules", strings.TrimSpace(*d.FilterRules))
	case len(d.Filters) > 0:
		v.Set("FilterRules", config.FormatESAFilter(conditions(d.Category, d.Filters)))
	}
	if cf := d.CustomFields; cf != nil {
		c := config.CustomFields{RequestHeaders: names(cf.RequestHeaders), ResponseHeaders: names(cf.ResponseHeaders), Cookies: names(cf.Cookies)}
		if len(c.RequestHeaders)+len(c.ResponseHeaders)+len(c.Cookies) > 0 {
			b, _ := json.Marshal(c)
			v.Set("custom_fields", string(b))
		}
	}
	set("DeliveryType", d.DeliveryType)
	if dest, ok := destinationByType(d.DeliveryType); ok {
		obj := deliveryObject(dest, d.Delivery)
		if d.DeliveryType == "aws3cmpt" {
			obj["S3Cmpt"] = true
		}
		b, _ := json.Marshal(obj)
		v.Set(dest.Object, string(b))
	}
	return v, probs
}

// discardRate turns a sampling percentage into ESA's DiscardRate (a fraction, exact to the 4
// decimals that 2 decimals of percentage give); it returns a problem for what is not a percentage.
func discardRate(rate string) (string, string) {
	rate = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rate), "%"))
	if rate == "" {
		return "", ""
	}
	r, err := strconv.ParseFloat(rate, 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
		return "", fmt.Sprintf("%q is not a percentage", rate)
	}
	if r <= 0 || r > 100 {
		return "", fmt.Sprintf("%v is not in (0, 100] percent", r)
	}
	if h := r * 100; math.Abs(h-math.Round(h)) < 1e-6 {
		kept := int64(math.Round(h)) // hundredths of a percent: 1..10000
		return strconv.FormatFloat(float64(10000-kept)/10000, 'f', -1, 64), ""
	}
	return strconv.FormatFloat((100-r)/100, 'f', -1, 64), "" // more than 2 decimals: Load says so
}

// conditions turns the form's rows into filter conditions, each value typed as its field (numbers for
// numeric fields, booleans for bool fields) so that the filter JSON is what one would write by hand;
// a value that does not fit its field stays a string, for Load to report.
func conditions(category string, rows []filterRow) []config.Condition {
	cat, _ := config.LookupCategory(category)
	out := make([]config.Condition, 0, len(rows))
	for _, r := range rows {
		c := config.Condition{Field: strings.TrimSpace(r.Field), Op: r.Op, IgnoreCase: r.IgnoreCase}
		ft := config.TypeString
		if cat != nil {
			if f, ok := cat.Field(c.Field); ok {
				ft = f.Type
			}
		}
		op, known := operatorByName(r.Op)
		var raw []string
		switch {
		case known && op.Values == "none":
		case known && op.Values == "one":
			if strings.TrimSpace(r.Value) != "" {
				raw = []string{strings.TrimSpace(r.Value)}
			}
		default:
			for _, s := range strings.Split(r.Value, ",") {
				if s = strings.TrimSpace(s); s != "" {
					raw = append(raw, s)
				}
			}
		}
		for _, s := range raw {
			c.Values = append(c.Values, typedValue(ft, s, op.Name == "regex" || op.Name == "not_regex"))
		}
		out = append(out, c)
	}
	return out
}

func typedValue(ft config.FieldType, s string, pattern bool) any {
	if pattern {
		return s
	}
	switch ft {
	case config.TypeInt:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	case config.TypeFloat:
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	case config.TypeBool:
		if b, err := strconv.ParseBool(s); err == nil && (s == "true" || s == "false") {
			return b
		}
	}
	return s
}

// deliveryObject builds the delivery object from the form's values: dotted names nest, maps become
// ESA's {name: {"StaticValue": value}}, lists are split one a line, numbers are numbers (a value that
// is not stays a string, for Load to report), and empty values are left out.
func deliveryObject(dest destinationView, values map[string]any) map[string]any {
	obj := map[string]any{}
	on := func(name string) bool {
		b, _ := values[name].(bool)
		return b
	}
	for _, p := range dest.Params {
		val, given := values[p.Name]
		if !given || val == nil {
			continue
		}
		if p.When != "" && !on(p.When) {
			continue
		}
		var out any
		switch p.Kind {
		case "bool":
			b, ok := val.(bool)
			if !ok {
				continue
			}
			out = b
		case "number":
			s := strings.TrimSpace(fmt.Sprint(val))
			if s == "" {
				continue
			}
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				out = i
			} else if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				out = f
			} else {
				out = s
			}
		case "list":
			s, _ := val.(string)
			items := names(s)
			if len(items) == 0 {
				continue
			}
			out = items
		case "map":
			pairs, _ := val.([]any)
			m := map[string]any{}
			for _, pr := range pairs {
				kv, _ := pr.(map[string]any)
				name, _ := kv["name"].(string)
				value, _ := kv["value"].(string)
				if name = strings.TrimSpace(name); name == "" && value == "" {
					continue
				}
				m[name] = map[string]any{"StaticValue": value}
			}
			if len(m) == 0 {
				continue
			}
			out = m
		default:
			s, ok := val.(string)
			if !ok || s == "" {
				continue
			}
			if p.Kind != "secret" {
				s = strings.TrimSpace(s)
			}
			out = s
		}
		parent, member, nested := strings.Cut(p.Name, ".")
		if !nested {
			obj[p.Name] = out
			continue
		}
		sub, _ := obj[parent].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			obj[parent] = sub
		}
		sub[member] = out
	}
	if dest.Type == "http" && on("StandardAuthOn") {
		if _, ok := obj["StandardAuthParam"]; !ok {
			obj["StandardAuthParam"] = map[string]any{}
		}
	}
	return obj
}

// load validates ESA parameters as the API does (config.Load of the parameters as a JSON object of
// strings) and returns the task, or the problems placed on the form.
func load(v url.Values, dest string) (*config.Task, []problem) {
	def := map[string]string{}
	for k, vs := range v {
		if len(vs) > 0 {
			def[k] = vs[len(vs)-1]
		}
	}
	b, _ := json.Marshal(def)
	t, err := config.Load(b)
	if err == nil {
		return t, nil
	}
	var es config.Errors
	if !errors.As(err, &es) {
		return nil, []problem{{Target: "", Step: 4, Message: err.Error()}}
	}
	out := make([]problem, 0, len(es))
	for _, e := range es {
		target, step := placeOf(e.Path, dest)
		out = append(out, problem{Target: target, Step: step, Path: e.Path, Message: e.Msg})
	}
	return nil, out
}

var indexRE = regexp.MustCompile(`^\[(\d+)\]`)

// placeOf maps ESA's parameter path of a problem to the form field that shows it and its step.
func placeOf(path, deliveryType string) (string, int) {
	head, rest, _ := strings.Cut(path, ".")
	base, idx, hasIdx := strings.Cut(head, "[")
	switch base {
	case "TaskName", "name":
		return "name", 1
	case "BusinessType", "category":
		return "category", 1
	case "SiteId", "site_id":
		return "site_id", 1
	case "DataCenter", "data_center":
		return "data_center", 1
	case "FieldName", "FieldList", "fields":
		return "fields", 2
	case "DiscardRate", "sampling_rate", "sample_key":
		return "sampling_rate", 2
	case "FilterRules", "filters":
		if hasIdx {
			if m := indexRE.FindStringSubmatch("[" + idx); m != nil {
				return "filters[" + m[1] + "]", 2
			}
		}
		return "filters", 2
	case "custom_fields":
		kind, _, _ := strings.Cut(rest, "[")
		kind, _, _ = strings.Cut(kind, ".")
		switch kind {
		case config.KindRequestHeaders, config.KindResponseHeaders, config.KindCookies:
			return "custom_fields." + kind, 2
		}
		return "custom_fields", 2
	case "DeliveryType", "destination":
		if rest == "" && base == "DeliveryType" {
			return "delivery_type", 3
		}
	case "HttpDelivery", "KafkaDelivery", "SlsDelivery", "OssDelivery", "S3Delivery", "SinkConfig":
	case "":
		return "", 4
	default:
		return "", 4
	}
	dest, ok := destinationByType(deliveryType)
	if !ok || rest == "" {
		return "delivery", 4
	}
	// The longest parameter name that the rest of the path starts with: HeaderParam.X-Token →
	// HeaderParam, Brokers[1] → Brokers, StandardAuthParam.PrivateKey → itself.
	member := strings.Split(rest, "[")[0]
	best := ""
	for _, p := range dest.Params {
		if (member == p.Name || strings.HasPrefix(member, p.Name+".")) && len(p.Name) > len(best) {
			best = p.Name
		}
	}
	if best == "" {
		if member == "StandardAuthParam" {
			return "delivery.StandardAuthParam.PrivateKey", 4
		}
		return "delivery", 4
	}
	return "delivery." + best, 4
}

// checkScope adds the problems that the API finds before config.Load: a site category needs a site.
func checkScope(v url.Values, category string) []problem {
	if scope(category) == "site" && v.Get("SiteId") == "" {
		return []problem{{Target: "site_id", Step: 1, Path: "SiteId", Message: "required: the site whose logs the task delivers"}}
	}
	return nil
}

// sortProblems orders problems by step, then as found.
func sortProblems(ps []problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Step < ps[j].Step })
}
