package translate_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/translate"
)

// TestCompileOnce checks that one Compile gives what the separate calls give, and that its secrets are
// exactly the variables its config refers to in place of literal secrets: for `run` and for serve
// (whose config has no input of its own for a fed task, so a secret of the source is not among them).
func TestCompileOnce(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, ".golden.yaml") {
			continue
		}
		task := loadTestTask(t, path)
		for _, mode := range []translate.Mode{translate.ForRun, translate.ForServe} {
			p, err := translate.Compile(task, mode)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			conf := translate.Task
			if mode == translate.ForServe {
				conf = translate.ServeTask
			}
			if want, _ := conf(task); string(p.Config) != string(want) {
				t.Errorf("%s (mode %d): Compile's config differs from the config alone", path, mode)
			}
			if p.MemoryLimit != translate.MemoryLimit(task) || p.BatchPeriod != translate.BatchPeriod(task) {
				t.Errorf("%s (mode %d): memory limit %d, batch period %s", path, mode, p.MemoryLimit, p.BatchPeriod)
			}
			for name, v := range p.Secrets {
				if !strings.Contains(string(p.Config), "${"+name+"}") {
					t.Errorf("%s (mode %d): secret %s is not referred to by the config", path, mode, name)
				}
				if v == "" {
					t.Errorf("%s (mode %d): secret %s is empty", path, mode, name)
				}
			}
			if mode == translate.ForRun && len(p.Secrets) != len(translate.Secrets(task)) {
				t.Errorf("%s: Compile has %d secrets, Secrets %d", path, len(p.Secrets), len(translate.Secrets(task)))
			}
		}
	}
}
