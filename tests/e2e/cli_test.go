package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

func TestFieldsCommand(t *testing.T) {
	res := testutil.RunBinary(t, testutil.RunOptions{}, "fields", "access")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	for _, want := range []string{"NAME", "TYPE", "ABOUT", "EdgeStartTimestamp", "timestamp", "EdgeResponseStatusCode", "int"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("fields access does not print %q:\n%s", want, res.Stdout)
		}
	}

	res = testutil.RunBinary(t, testutil.RunOptions{}, "fields", "--json", "dcdn_log_waf")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	var cat struct {
		Category  string `json:"category"`
		TimeField string `json:"time_field"`
		Fields    []struct{ Name, Type, About string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &cat); err != nil {
		t.Fatalf("fields --json: %v\n%s", err, res.Stdout)
	}
	if cat.Category != "firewall" || cat.TimeField != "Datetime" || len(cat.Fields) == 0 || cat.Fields[0].Type == "" {
		t.Errorf("fields --json dcdn_log_waf = %+v", cat)
	}

	res = testutil.RunBinary(t, testutil.RunOptions{}, "fields", "acess")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, `did you mean "access"`) {
		t.Errorf("fields acess: exit %d, want 1 with a suggestion\n%s", res.ExitCode, res.Output())
	}
}

func TestVersion(t *testing.T) {
	res := testutil.RunBinary(t, testutil.RunOptions{}, "--version")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "Version:") {
		t.Errorf("--version: exit %d\n%s", res.ExitCode, res.Output())
	}
}

// TestTranslateThenBenthosCLI translates every example and lints the result with the Benthos lint
// subcommand of the same binary, and runs a translated config with run -c.
func TestTranslateThenBenthosCLI(t *testing.T) {
	dir := t.TempDir()
	examples, err := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "examples", "*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, ex := range examples {
		res := testutil.RunBinary(t, testutil.RunOptions{}, "translate", ex)
		if res.ExitCode != 0 {
			t.Errorf("translate %s: exit %d\n%s", ex, res.ExitCode, res.Output())
			continue
		}
		conf := filepath.Join(dir, filepath.Base(ex))
		if err := os.WriteFile(conf, []byte(res.Stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		// The Benthos CLI requires the referenced secret variables to be set.
		secrets := []string{"ESA_HTTP_PRIVATE_KEY=abc123", "KAFKA_PASSWORD=x", "ALIBABA_CLOUD_ACCESS_KEY_ID=x",
			"ALIBABA_CLOUD_ACCESS_KEY_SECRET=x", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
			"S3_ACCESS_KEY_ID=x", "S3_SECRET_ACCESS_KEY=x"}
		if res := testutil.RunBinary(t, testutil.RunOptions{Env: secrets}, "lint", conf); res.ExitCode != 0 {
			t.Errorf("lint of translated %s: exit %d\n%s", filepath.Base(ex), res.ExitCode, res.Output())
		}
	}

	// lint of task definitions: validated, translated and linted.
	res := testutil.RunBinary(t, testutil.RunOptions{}, append([]string{"lint"}, examples...)...)
	if res.ExitCode != 0 {
		t.Errorf("lint examples/*.yaml: exit %d\n%s", res.ExitCode, res.Output())
	}
	bad := filepath.Join(dir, "bad.task.yaml")
	if err := os.WriteFile(bad, []byte("name: x\ncategory: access\nfields: [Nope]\ndestination: {type: local, path: o}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = testutil.RunBinary(t, testutil.RunOptions{}, "lint", bad)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "fields[0]") {
		t.Errorf("lint of an invalid task: exit %d, want 1 naming fields[0]\n%s", res.ExitCode, res.Output())
	}

	// run -c: a translated task run by the Benthos CLI itself.
	out := filepath.Join(dir, "out")
	task := filepath.Join(dir, "gen.task.yaml")
	if err := os.WriteFile(task, []byte(`name: gen
category: dns
fields: [Timestamp, QueryName, ResponseCode]
source: {type: generate, count: 500, seed: 3}
destination: {type: local, path: `+out+`}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	res = testutil.RunBinary(t, testutil.RunOptions{}, "translate", task)
	if res.ExitCode != 0 {
		t.Fatalf("translate: exit %d\n%s", res.ExitCode, res.Output())
	}
	conf := filepath.Join(dir, "gen.benthos.yaml")
	if err := os.WriteFile(conf, []byte(res.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	res = testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: env}, "run", "-c", conf)
	if res.ExitCode != 0 {
		t.Fatalf("run -c: exit %d\n%s", res.ExitCode, res.Output())
	}
	n := len(allLines(readObjects(t, out)))
	if n != 500 {
		t.Errorf("run -c delivered %d records, want 500", n)
	}
}

// TestRunBenthosConfigPositional checks that `run file.yaml` of a Benthos config (not a task) is not
// run — `run FILE` always means a task definition — but named, with the `run -c` that runs it.
func TestRunBenthosConfigPositional(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "pipe.yaml")
	outFile := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(conf, []byte(`http: {enabled: false}
input:
  generate: {count: 3, interval: "", mapping: 'root = "hello"'}
output:
  file: {path: `+outFile+`, codec: lines}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir}, "run", conf)
	want := "esa-connect: " + conf + " is a Benthos config, not a task definition; run it with: esa-connect run -c " + conf + "\n"
	if res.ExitCode != 1 || res.Stderr != want || res.Stdout != "" {
		t.Fatalf("run pipe.yaml: exit %d\n%s\nwant exit 1 and stderr %q", res.ExitCode, res.Output(), want)
	}
	if _, err := os.Stat(outFile); err == nil {
		t.Error("the Benthos config ran")
	}
	res = testutil.RunBinary(t, testutil.RunOptions{Dir: dir}, "run", "-c", conf)
	if res.ExitCode != 0 {
		t.Fatalf("run -c pipe.yaml: exit %d\n%s", res.ExitCode, res.Output())
	}
	b, err := os.ReadFile(outFile)
	if err != nil || string(b) != "hello\nhello\nhello\n" {
		t.Errorf("output %q, %v", b, err)
	}
}
