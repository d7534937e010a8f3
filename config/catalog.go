package config

import (
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"
)

// fieldsYAML is the field catalog: every log category and its fields (docs/task.md#categories).
//
//go:embed fields.yaml
var fieldsYAML []byte

// FieldType is the type of a catalog field: "string", "int", "float", "bool" or "timestamp".
type FieldType string

// The catalog field types.
const (
	TypeString    FieldType = "string"
	TypeInt       FieldType = "int"
	TypeFloat     FieldType = "float"
	TypeBool      FieldType = "bool"
	TypeTimestamp FieldType = "timestamp" // RFC 3339 / ISO 8601 with offset
)

// Field is one field of a log category.
type Field struct {
	Name string
	Type FieldType
	// Group is the console's grouping (General, Client, ...); About is a one-line description.
	Group, About string
}

// Category is one log category of the catalog. Values returned by LookupCategory and Categories are
// shared: treat them as read-only.
type Category struct {
	// Name is the canonical name (access, firewall, ...); Title the human-readable one.
	Name, Title string
	// APIID is ESA's BusinessType id (dcdn_log_access_l1, ...); empty when ESA publishes none.
	APIID string
	// Scope is site or account.
	Scope string
	// TimeField is the field holding the record's event time.
	TimeField string
	// CustomFields reports whether request/response headers and cookies may be delivered.
	CustomFields bool
	// Fields are the category's fields in catalog order.
	Fields []Field

	index map[string]int
}

// Field returns the catalog field called name (case-sensitive).
func (c *Category) Field(name string) (Field, bool) {
	i, ok := c.index[name]
	if !ok {
		return Field{}, false
	}
	return c.Fields[i], true
}

// FieldNames returns the names of the category's fields in catalog order.
func (c *Category) FieldNames() []string {
	names := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		names[i] = f.Name
	}
	return names
}

// catalog is parsed once at init and never modified afterwards.
var catalog = mustParseCatalog(fieldsYAML)

type catalogData struct {
	list   []*Category
	byName map[string]*Category // canonical names and API ids
}

// LookupCategory returns the category with the canonical name (access, firewall, tcp_udp_proxy, dns,
// edge_routine, edge_container) or ESA BusinessType id (dcdn_log_access_l1, dcdn_log_waf, dcdn_log_ipa,
// dcdn_log_er).
func LookupCategory(nameOrAlias string) (*Category, bool) {
	c, ok := catalog.byName[nameOrAlias]
	return c, ok
}

// Categories returns every category in catalog order.
func Categories() []*Category {
	return append([]*Category(nil), catalog.list...)
}

// categoryNames returns the canonical names and aliases, for suggestions.
func categoryNames() []string {
	var names []string
	for _, c := range catalog.list {
		names = append(names, c.Name)
		if c.APIID != "" {
			names = append(names, c.APIID)
		}
	}
	return names
}

func mustParseCatalog(data []byte) *catalogData {
	c, err := parseCatalog(data)
	if err != nil {
		panic("config: embedded fields.yaml: " + err.Error())
	}
	return c
}

func parseCatalog(data []byte) (*catalogData, error) {
	var doc struct {
		Categories yaml.Node `yaml:"categories"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Categories.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("categories is not a mapping")
	}
	out := &catalogData{byName: map[string]*Category{}}
	for i := 0; i+1 < len(doc.Categories.Content); i += 2 {
		name := doc.Categories.Content[i].Value
		var raw struct {
			Title        string `yaml:"title"`
			APIID        string `yaml:"api_id"`
			Scope        string `yaml:"scope"`
			TimeField    string `yaml:"time_field"`
			CustomFields bool   `yaml:"custom_fields"`
			Fields       []struct {
				Name  string `yaml:"name"`
				Type  string `yaml:"type"`
				Group string `yaml:"group"`
				About string `yaml:"about"`
			} `yaml:"fields"`
		}
		if err := doc.Categories.Content[i+1].Decode(&raw); err != nil {
			return nil, fmt.Errorf("category %s: %w", name, err)
		}
		c := &Category{Name: name, Title: raw.Title, APIID: raw.APIID, Scope: raw.Scope,
			TimeField: raw.TimeField, CustomFields: raw.CustomFields, index: map[string]int{}}
		for _, f := range raw.Fields {
			switch FieldType(f.Type) {
			case TypeString, TypeInt, TypeFloat, TypeBool, TypeTimestamp:
			default:
				return nil, fmt.Errorf("category %s: field %s: unknown type %q", name, f.Name, f.Type)
			}
			if _, dup := c.index[f.Name]; dup {
				return nil, fmt.Errorf("category %s: duplicate field %s", name, f.Name)
			}
			c.index[f.Name] = len(c.Fields)
			c.Fields = append(c.Fields, Field{Name: f.Name, Type: FieldType(f.Type), Group: f.Group, About: f.About})
		}
		if _, ok := c.index[c.TimeField]; !ok {
			return nil, fmt.Errorf("category %s: time field %s is not a field", name, c.TimeField)
		}
		out.list = append(out.list, c)
		out.byName[c.Name] = c
		if c.APIID != "" {
			out.byName[c.APIID] = c
		}
	}
	return out, nil
}
