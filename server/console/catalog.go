package console

import (
	"github.com/esa-connect/esa-connect/config"
)

// catalogView is what the create flow needs to draw its steps: the log categories with their fields,
// the filter operators each field type takes, and the destinations with their parameters.
type catalogView struct {
	Categories    []categoryView        `json:"categories"`
	Operators     []operatorView        `json:"operators"`
	Destinations  []destinationView     `json:"destinations"`
	MaxConditions int                   `json:"max_conditions"`
	CustomFields  customFieldLimitsView `json:"custom_fields"`
	DataCenters   []option              `json:"data_centers"`
	Limits        map[string]any        `json:"limits"`
}

type categoryView struct {
	Name         string      `json:"name"`
	Title        string      `json:"title"`
	APIID        string      `json:"api_id,omitempty"`
	Scope        string      `json:"scope"`
	TimeField    string      `json:"time_field"`
	CustomFields bool        `json:"custom_fields"`
	About        string      `json:"about"`
	Fields       []fieldView `json:"fields"`
}

type fieldView struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Group string `json:"group"`
	About string `json:"about"`
}

type operatorView struct {
	Name  string   `json:"name"`
	Label string   `json:"label"`
	Types []string `json:"types"` // the field types it applies to
	// Values is none (exists, not_exists), one (comparisons, regular expressions) or many.
	Values string `json:"values"`
	// IgnoreCase reports whether the operator takes ignore_case (string comparisons).
	IgnoreCase bool `json:"ignore_case"`
}

type customFieldLimitsView struct {
	MaxPerKind int `json:"max_per_kind"`
}

type option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// categoryAbout says in a line what each category holds (the catalog has titles only).
var categoryAbout = map[string]string{
	"access":         "Every HTTP request served by ESA's points of presence, with its origin fetch.",
	"firewall":       "Requests that a WAF, rate-limiting or bot rule matched.",
	"tcp_udp_proxy":  "Layer-4 proxy connections (TCP and UDP).",
	"dns":            "Queries answered by ESA's authoritative DNS.",
	"edge_routine":   "Logs of Edge Routine functions (account level).",
	"edge_container": "Logs of Edge Container applications (account level).",
}

// operators is the filter operator model of config/filter.go as the page shows it: which field types
// each operator applies to and how many values it takes. config.Load checks the same rules.
var operators = []operatorView{
	{"equals", "equals", allTypes, "many", true},
	{"not_equals", "does not equal", allTypes, "many", true},
	{"contains", "contains", textTypes, "many", true},
	{"not_contains", "does not contain", textTypes, "many", true},
	{"starts_with", "starts with", textTypes, "many", true},
	{"not_starts_with", "does not start with", textTypes, "many", true},
	{"ends_with", "ends with", textTypes, "many", true},
	{"not_ends_with", "does not end with", textTypes, "many", true},
	{"gt", "greater than (>)", compareTypes, "one", false},
	{"ge", "at least (≥)", compareTypes, "one", false},
	{"lt", "less than (<)", compareTypes, "one", false},
	{"le", "at most (≤)", compareTypes, "one", false},
	{"regex", "matches regular expression", textTypes, "one", true},
	{"not_regex", "does not match regular expression", textTypes, "one", true},
	{"exists", "exists", allTypes, "none", false},
	{"not_exists", "does not exist", allTypes, "none", false},
}

var (
	allTypes     = []string{"string", "int", "float", "bool", "timestamp"}
	textTypes    = []string{"string", "timestamp"}
	compareTypes = []string{"int", "float", "timestamp"}
)

func operatorByName(name string) (operatorView, bool) {
	for _, o := range operators {
		if o.Name == name {
			return o, true
		}
	}
	return operatorView{}, false
}

// buildCatalog returns the catalog view (the same for every session).
func buildCatalog() catalogView {
	v := catalogView{Operators: operators, Destinations: destinations, MaxConditions: config.MaxConditions,
		CustomFields: customFieldLimitsView{MaxPerKind: config.MaxCustomFieldsPerKind},
		DataCenters:  []option{{"", "Not set"}, {"cn", "Chinese mainland (cn)"}, {"oversea", "Outside the Chinese mainland (oversea)"}},
		Limits: map[string]any{
			"max_http_headers": config.MaxHTTPHeaders, "max_http_query": config.MaxHTTPQueryParams,
			"max_kafka_brokers": config.MaxKafkaBrokers,
		}}
	for _, c := range config.Categories() {
		cv := categoryView{Name: c.Name, Title: c.Title, APIID: c.APIID, Scope: c.Scope, TimeField: c.TimeField,
			CustomFields: c.CustomFields, About: categoryAbout[c.Name]}
		for _, f := range c.Fields {
			cv.Fields = append(cv.Fields, fieldView{Name: f.Name, Type: string(f.Type), Group: f.Group, About: f.About})
		}
		v.Categories = append(v.Categories, cv)
	}
	return v
}
