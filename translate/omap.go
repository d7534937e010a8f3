package translate

import (
	"gopkg.in/yaml.v3"
)

// omap is a YAML mapping that keeps its keys in insertion order, so generated configs read top-down in
// pipeline order and golden files are stable.
type omap struct {
	keys []string
	vals []any
}

// set appends key (or replaces its value when present).
func (m *omap) set(key string, v any) *omap {
	for i, k := range m.keys {
		if k == key {
			m.vals[i] = v
			return m
		}
	}
	m.keys = append(m.keys, key)
	m.vals = append(m.vals, v)
	return m
}

// setIf sets key only when cond holds.
func (m *omap) setIf(cond bool, key string, v any) *omap {
	if cond {
		m.set(key, v)
	}
	return m
}

// setStr sets key when s is not empty.
func (m *omap) setStr(key, s string) *omap { return m.setIf(s != "", key, s) }

// MarshalYAML implements yaml.Marshaler.
func (m *omap) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i, k := range m.keys {
		var v yaml.Node
		if err := v.Encode(m.vals[i]); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, &v)
	}
	return n, nil
}

// obj builds an omap from alternating keys and values.
func obj(kv ...any) *omap {
	m := &omap{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.set(kv[i].(string), kv[i+1])
	}
	return m
}
