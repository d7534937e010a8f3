package componentdocs

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins"
)

// TestPagesCurrent fails when docs/components differs from what the component specs give: a spec
// changed (or a component was added or removed) without the pages being regenerated.
func TestPagesCurrent(t *testing.T) {
	pages, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", Dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v: run %s", err, Regenerate)
	}
	var stale []string
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			stale = append(stale, name)
		}
	}
	for _, e := range entries {
		if _, ok := pages[e.Name()]; !ok && strings.HasSuffix(e.Name(), ".md") {
			stale = append(stale, e.Name()+" (no longer generated)")
		}
	}
	slices.Sort(stale)
	if len(stale) > 0 {
		t.Fatalf("%s is out of date: %s\nregenerate it from the repository root with: %s",
			Dir, strings.Join(stale, ", "), Regenerate)
	}
}

// TestEveryComponentHasAPage checks the pages cover the components of every kind that
// plugins.RegisterAll registers, each with a summary, a description and described fields.
func TestEveryComponentHasAPage(t *testing.T) {
	pages, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"input-esa_http_server.md", "input-esa_kafka.md", "processor-esa_filter.md",
		"output-esa_kafka.md", "output-esa_s3_verified.md", "buffer-esa_disk.md", "metrics-prometheus.md"} {
		if _, ok := pages[want]; !ok {
			t.Errorf("no page %s", want)
		}
	}
	for name, page := range pages {
		if name == IndexFile {
			continue
		}
		if !strings.Contains(string(pages[IndexFile]), "("+name+")") {
			t.Errorf("the index does not link %s", name)
		}
		s := string(page)
		if !strings.Contains(s, "\n## Description\n") {
			t.Errorf("%s: no description", name)
		}
		if strings.Contains(s, "xref:") {
			t.Errorf("%s: unconverted cross reference", name)
		}
	}
}

// TestEveryFieldDescribed checks that every component has a summary and every field a description.
func TestEveryFieldDescribed(t *testing.T) {
	env := service.NewEmptyEnvironment()
	if err := plugins.RegisterAll(env); err != nil {
		t.Fatal(err)
	}
	comps, err := components(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range comps {
		if strings.TrimSpace(c.Summary) == "" {
			t.Errorf("%s %s: no summary", c.Type, c.Name)
		}
		for _, f := range flatten(c.Config.Children, "") {
			if strings.TrimSpace(f.Description) == "" {
				t.Errorf("%s %s: field %s has no description", c.Type, c.Name, f.path)
			}
		}
	}
}

// TestSkeletonsLint checks that the config block of every page is a config the components accept
// (Benthos's linter, with the components' own lint rules).
func TestSkeletonsLint(t *testing.T) {
	t.Setenv("ESA_OWNERSHIP_SECRET", "set") // the default of esa_s3_verified's ownership_secret refers to it
	env := service.NewEmptyEnvironment()
	if err := plugins.RegisterAll(env); err != nil {
		t.Fatal(err)
	}
	comps, err := components(env)
	if err != nil {
		t.Fatal(err)
	}
	linter := env.FullConfigSchema("", "").NewStreamConfigLinter()
	for _, c := range comps {
		conf := skeleton(c)
		lints, err := linter.LintYAML([]byte(conf))
		if err != nil {
			t.Errorf("%s %s: the config block does not parse: %v\n%s", c.Type, c.Name, err, conf)
			continue
		}
		// A required field without an example is shown empty, for the user to fill in: the
		// component's own lint rule may well refuse the empty value. Nothing else may be refused.
		lines := strings.Split(conf, "\n")
		for _, l := range lints {
			if l.Line >= 1 && l.Line <= len(lines) && strings.HasSuffix(lines[l.Line-1], `: ""`) {
				continue
			}
			t.Errorf("%s %s: the config block does not lint: %v\n%s", c.Type, c.Name, l, conf)
		}
	}
}
