package unit

import (
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/plugins/fields"
	"github.com/esa-connect/esa-connect/plugins/filter"
	"github.com/esa-connect/esa-connect/plugins/sample"
)

// TestProcessorSpecs checks that every example of the esa_sample/esa_filter/esa_fields specs lints
// clean and builds, and that every field is described.
func TestProcessorSpecs(t *testing.T) {
	env := service.NewEmptyEnvironment()
	for _, r := range []func(*service.Environment) error{sample.Register, filter.Register, fields.Register} {
		if err := r(env); err != nil {
			t.Fatal(err)
		}
	}
	linter := env.FullConfigSchema("", "").NewStreamConfigLinter()
	seen := 0
	env.WalkProcessors(func(name string, view *service.ConfigView) {
		seen++
		data, err := view.TemplateData()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if data.Summary == "" || strings.TrimSpace(data.Description) == "" {
			t.Errorf("%s: no summary or description", name)
		}
		if len(data.Examples) == 0 {
			t.Errorf("%s: no example", name)
		}
		for _, f := range data.Fields {
			if strings.TrimSpace(f.Description) == "" {
				t.Errorf("%s: field %s has no description", name, f.FullName)
			}
		}
		for _, ex := range data.Examples {
			lints, err := linter.LintYAML([]byte(ex.Config))
			if err != nil || len(lints) > 0 {
				t.Errorf("%s example %q: %v %v", name, ex.Title, err, lints)
			}
			buildExample(t, env, name+" example "+ex.Title, ex.Config)
		}
	})
	if seen != 3 {
		t.Fatalf("walked %d processors, want 3", seen)
	}
	// The lint rule of esa_sample rejects an out-of-range rate.
	lints, err := linter.LintYAML([]byte("pipeline:\n  processors:\n    - esa_sample: {rate: 0}\n"))
	if err != nil || len(lints) == 0 {
		t.Errorf("rate 0 not linted: %v %v", lints, err)
	}
}

// buildExample constructs the processors of an example config (pipeline.processors) with their
// package constructors, so bad settings in an example are caught.
func buildExample(t *testing.T, env *service.Environment, what, conf string) {
	t.Helper()
	var doc struct {
		Pipeline struct {
			Processors []map[string]any `yaml:"processors"`
		} `yaml:"pipeline"`
	}
	if err := yaml.Unmarshal([]byte(conf), &doc); err != nil || len(doc.Pipeline.Processors) == 0 {
		t.Errorf("%s: no pipeline.processors (%v)", what, err)
		return
	}
	res := service.MockResources()
	for _, p := range doc.Pipeline.Processors {
		for name, body := range p {
			y, _ := yaml.Marshal(body)
			var err error
			switch name {
			case sample.Name:
				var c *service.ParsedConfig
				if c, err = sample.ConfigSpec().ParseYAML(string(y), env); err == nil {
					_, err = sample.FromParsed(c, res)
				}
			case filter.Name:
				var c *service.ParsedConfig
				if c, err = filter.ConfigSpec().ParseYAML(string(y), env); err == nil {
					_, err = filter.FromParsed(c, res)
				}
			case fields.Name:
				var c *service.ParsedConfig
				if c, err = fields.ConfigSpec().ParseYAML(string(y), env); err == nil {
					_, err = fields.FromParsed(c, res)
				}
			}
			if err != nil {
				t.Errorf("%s: %s: %v", what, name, err)
			}
		}
	}
}
