package translate

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/config"
)

// secretRef is one environment variable that the config needs.
type secretRef struct{ name, path string }

// secrets collects the secret references of one translation.
type secrets struct {
	task string
	// values are the variables that stand for literal secrets, with those secrets.
	values map[string]string
	refs   []secretRef
	// err is the first secret that could not be written as a reference.
	err error
}

// ref returns the config text for the secret at path (e.g. "destination.access_key_secret") given as
// v: v itself when it holds ${VAR} references, else a reference to a new variable SecretVar(task,
// field), with _2, _3, … appended when that name is taken (header names that differ only in
// punctuation, a query parameter given twice).
func (s *secrets) ref(path, field, v string) string {
	if v == "" {
		return ""
	}
	if strings.Contains(v, "${") {
		for _, name := range envRefs(v) {
			s.refs = append(s.refs, secretRef{name: name, path: path})
		}
		return v
	}
	base := SecretVar(s.task, field)
	name := base
	for i := 2; s.taken(name); i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	s.values[name] = v
	s.refs = append(s.refs, secretRef{name: name, path: path})
	return "${" + name + "}"
}

// taken reports whether the config already refers to the variable name.
func (s *secrets) taken(name string) bool {
	for _, r := range s.refs {
		if r.name == name {
			return true
		}
	}
	return false
}

// secret returns what the config holds for the secret at path given as v (see ref and scalar); ""
// when v is empty.
func (s *secrets) secret(path, field, v string) any {
	if v == "" {
		return ""
	}
	return s.scalar(path, s.ref(path, field, v), v)
}

// set sets key of m to the secret at path given as v (see secret); nothing when v is empty.
func (s *secrets) set(m *omap, key, path, field, v string) {
	m.setIf(v != "", key, s.secret(path, field, v))
}

// scalar returns what the config holds for text, which stands for want with references to variables
// of s in place of literal secrets: text itself when ref replaced nothing (text == want), else a YAML
// string in the first style (plain, single-quoted, double-quoted, literal block) that reads back as
// exactly want once Benthos has put the values in. Benthos substitutes ${NAME} in the config text
// before it parses the YAML, so a secret such as "Bearer a: b #c", "'x'" or "!x" written into a plain
// scalar would change the YAML instead of being read as it is.
func (s *secrets) scalar(path, text, want string) any {
	if text == want {
		return text // nothing replaced
	}
	for _, style := range [...]yaml.Style{0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle, yaml.LiteralStyle} {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: style, Value: text}
		if s.readsBack(n, want) {
			return n
		}
	}
	if s.err == nil {
		s.err = fmt.Errorf("translate: task %q: the secret at %s cannot be written as an environment reference that reads back unchanged (it has a line break, or a leading space and both quote characters); give it as a ${VAR} reference", s.task, path)
	}
	return text
}

// readsBack reports whether the scalar n, as the value of a YAML mapping, is parsed as the string want
// after the references to the variables of s are replaced by their values, as Benthos replaces them
// (textually, with line feeds escaped as \n).
func (s *secrets) readsBack(n *yaml.Node, want string) bool {
	b, err := yaml.Marshal(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "k"}, n}})
	if err != nil {
		return false
	}
	for name, v := range s.values {
		b = bytes.ReplaceAll(b, []byte("${"+name+"}"), []byte(strings.ReplaceAll(v, "\n", `\n`)))
	}
	var doc struct {
		K yaml.Node `yaml:"k"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return false
	}
	return doc.K.Kind == yaml.ScalarNode && doc.K.ShortTag() == "!!str" && doc.K.Value == want
}

// url returns what the config holds for the URL (or host[:port]) u at path: the user name and the
// password of its user info and the values of its token-like query parameters (config.IsSecretName)
// become references named <field>_USER, <field>_PASSWORD and <field>_QUERY_<NAME>, whose values are
// the parts as written in u (percent-encoded), so that Benthos reads u byte for byte.
func (s *secrets) url(path, field, u string) any {
	if u == "" {
		return ""
	}
	text := config.MapURLSecrets(u, config.URLSecrets{
		User:     func(v string) string { return s.ref(path+" user", field+"_user", v) },
		Password: func(v string) string { return s.ref(path+" password", field+"_password", v) },
		Query: func(name, v string) string {
			return s.ref(path+" query "+name, field+"_query_"+name, v)
		},
	})
	return s.scalar(path, text, u)
}

// params returns the headers or query parameters m at path (kind "header" or "query") with the values
// of token-like names (config.IsSecretName) as references named <kind>_<NAME>, in name order.
func (s *secrets) params(path, kind string, m map[string]string) *omap {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	out := &omap{}
	for _, name := range names {
		v := m[name]
		if config.IsSecretName(name) {
			out.set(name, s.secret(path+"."+name, kind+"_"+name, v))
		} else {
			out.set(name, v)
		}
	}
	return out
}

// envRefs lists the variable names of the ${VAR} and ${VAR:default} references in v.
func envRefs(v string) []string {
	var names []string
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			return names
		}
		v = v[i+2:]
		j := strings.IndexByte(v, '}')
		if j < 0 {
			return names
		}
		name := v[:j]
		if k := strings.IndexByte(name, ':'); k >= 0 {
			name = name[:k]
		}
		if name != "" && !strings.HasPrefix(name, "!") {
			names = append(names, name)
		}
		v = v[j+1:]
	}
}

// check returns an error when a variable that stands for a literal secret is also referenced by the
// task itself (one value would replace the other), else the first secret that could not be written.
func (s *secrets) check() error {
	for _, r := range s.refs {
		if _, own := s.values[r.name]; !own {
			continue
		}
		for _, o := range s.refs {
			if o.name == r.name && o.path != r.path {
				return fmt.Errorf("translate: task %q: ${%s} at %s is the variable that stands for the literal secret at %s; give that secret as a reference too, or rename the variable", s.task, r.name, o.path, r.path)
			}
		}
	}
	return s.err
}
