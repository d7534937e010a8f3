package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCLI runs realMain with args (after the program name) and returns the exit code and what it printed.
// It fails the test if the call does not return: every case here must end by itself.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- realMain(ctx, append([]string{"esa-connect"}, args...), &out, &errb) }()
	select {
	case code = <-done:
		return code, out.String(), errb.String()
	case <-time.After(2 * time.Minute):
		t.Fatalf("esa-connect %s did not return", strings.Join(args, " "))
		return 0, "", ""
	}
}

// writeFile writes content to name in a new temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const benthosPipeline = "input: {generate: {count: 1, interval: '', mapping: 'root = \"x\"'}}\n" +
	"output: {drop: {}}\nhttp: {enabled: false}\nlogger: {level: none}\n"

// TestRunFileIsATaskDefinition checks that `run FILE` reads FILE as a task definition whatever it holds
// and never hands it to Benthos: problems are listed with their paths, a Benthos config is named as
// one, and nothing is started (each call returns with exit 1 and prints nothing on stdout).
func TestRunFileIsATaskDefinition(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		// want is stderr with PATH standing for the file's path.
		want string
	}{
		{"empty object", "{}\n", "esa-connect: PATH is not a valid task definition (4 problems):\n" +
			"  name: required\n" +
			"  category: required (one of access, firewall, tcp_udp_proxy, dns, edge_routine, edge_container)\n" +
			"  fields: at least one field is required\n" +
			"  destination.type: required (one of sls, oss, s3, s3_compatible, http, kafka, local)\n"},
		{"empty file", "", "esa-connect: PATH is not a valid task definition (1 problem):\n  the task definition is empty\n"},
		{"comments only", "# nothing yet\n", "esa-connect: PATH is not a valid task definition (1 problem):\n  the task definition is empty\n"},
		{"duplicate category", "name: t\ncategory: access\ncategory: dns\nfields: [ClientIP]\ndestination: {type: local, path: o}\n",
			"esa-connect: PATH is not a valid task definition (1 problem):\n  category: duplicate key\n"},
		{"Benthos config", benthosPipeline,
			"esa-connect: PATH is a Benthos config, not a task definition; run it with: esa-connect run -c PATH\n"},
		{"Benthos config with duplicate keys", "input: {stdin: {}}\ninput: {stdin: {}}\noutput: {stdout: {}}\n",
			"esa-connect: PATH is a Benthos config, not a task definition; run it with: esa-connect run -c PATH\n"},
		{"a list", "- input\n", "esa-connect: PATH is not a valid task definition (1 problem):\n  the task definition must be an object, not a list\n"},
		{"too large", "#" + strings.Repeat("x", 2<<20) + "\n", "esa-connect: PATH is not a valid task definition (1 problem):\n" +
			"  the task definition is 2097154 bytes; at most 1048576 bytes (1 MiB) are accepted\n"},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
			"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
			"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
			"filters: *f\n", "esa-connect: PATH is not a valid task definition (1 problem):\n" +
			"  the task definition expands to more than 100000 values through YAML aliases (&anchor/*alias)\n"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("case%d.yaml", i))
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"run", p}, {"run", "--log.level", "debug", p}} {
				code, stdout, stderr := runCLI(t, args...)
				if want := strings.ReplaceAll(tc.want, "PATH", p); code != 1 || stdout != "" || stderr != want {
					t.Errorf("esa-connect %s: exit %d\nstdout: %q\nstderr: %q\nwant exit 1, no stdout, stderr %q",
						strings.Join(args, " "), code, stdout, stderr, want)
				}
			}
		})
	}
}

func TestRunUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	for _, tc := range []struct{ path, want string }{
		{missing, "esa-connect: cannot read the task definition " + missing + ": no such file or directory\n"},
		{dir, "esa-connect: cannot read the task definition " + dir + ": is a directory\n"},
	} {
		code, stdout, stderr := runCLI(t, "run", tc.path)
		if code != 1 || stdout != "" || stderr != tc.want {
			t.Errorf("run %s: exit %d, stdout %q, stderr %q; want exit 1, stderr %q", tc.path, code, stdout, stderr, tc.want)
		}
	}
}

// TestRunTaskAndBenthosConfig runs a small task with `run --log.level none FILE` and a Benthos config
// with `run -c FILE` and `run --config FILE`.
func TestRunTaskAndBenthosConfig(t *testing.T) {
	t.Setenv("ESA_HTTP_ADDRESS", "127.0.0.1:0")
	out := filepath.Join(t.TempDir(), "out")
	task := writeFile(t, "task.yaml", fmt.Sprintf("name: gen\ncategory: dns\nfields: [Timestamp, QueryName]\n"+
		"source: {type: generate, count: 10, seed: 1}\ndestination: {type: local, path: %q}\n", out))
	code, stdout, stderr := runCLI(t, "run", "--log.level", "none", task)
	if code != 0 || !strings.Contains(stdout, "esa-connect: task gen wrote 1 files") {
		t.Fatalf("run task: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	for _, flag := range []string{"-c", "--config"} {
		written := filepath.Join(t.TempDir(), "written.txt")
		pipe := writeFile(t, "pipeline.yaml", strings.Replace(benthosPipeline, "output: {drop: {}}",
			fmt.Sprintf("output: {file: {path: %q, codec: lines}}", written), 1))
		if code, stdout, stderr := runCLI(t, "run", flag, pipe); code != 0 {
			t.Errorf("run %s pipeline.yaml: exit %d\nstdout: %s\nstderr: %s", flag, code, stdout, stderr)
		}
		if got, err := os.ReadFile(written); err != nil || string(got) != "x\n" {
			t.Errorf("run %s pipeline.yaml wrote %q, %v; want the generated record", flag, got, err)
		}
	}
}

// TestLint checks that lint tells task definitions from Benthos configs as run does, lints the first
// itself and leaves the others to Benthos.
func TestLint(t *testing.T) {
	good := writeFile(t, "good.yaml", "name: t\ncategory: dns\nfields: [QueryName]\ndestination: {type: local, path: o}\n")
	dup := writeFile(t, "dup.yaml", "name: t\ncategory: dns\ncategory: dns\nfields: [QueryName]\ndestination: {type: local, path: o}\n")
	empty := writeFile(t, "empty.yaml", "{}\n")
	pipe := writeFile(t, "pipeline.yaml", benthosPipeline)
	badPipe := writeFile(t, "bad-pipeline.yaml", "input: {stdin: {}}\noutput: {nowhere: {}}\n")
	cases := []struct {
		name  string
		files []string
		code  int
		// stderr is a line it must contain, or "" when nothing is printed through realMain's writers
		// (the Benthos CLI prints its lint errors on the process's own stdout).
		stderr string
	}{
		{"good task", []string{good}, 0, ""},
		{"duplicate key", []string{dup}, 1, "  category: duplicate key\n"},
		{"empty object", []string{empty}, 1, "  name: required\n"},
		{"Benthos config", []string{pipe}, 0, ""},
		{"bad Benthos config", []string{badPipe}, 1, ""},
		{"task and Benthos config", []string{good, pipe}, 0, ""},
		{"task and bad Benthos config", []string{good, badPipe}, 1, ""},
		{"bad task and Benthos config", []string{dup, pipe}, 1, "  category: duplicate key\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"lint"}, tc.files...)...)
			ok := code == tc.code && (tc.stderr == "" && stderr == "" || tc.stderr != "" && strings.Contains(stderr, tc.stderr))
			if !ok || strings.Contains(stdout+stderr, "field not recognised") {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant in stderr: %q", code, tc.code, stdout, stderr, tc.stderr)
			}
		})
	}
}

// TestOtherCommandsReadBounded checks that translate and verify refuse what run refuses without
// reading it whole (their messages go to the Benthos CLI's own error writer: only the exit code is
// checked here).
func TestOtherCommandsReadBounded(t *testing.T) {
	big := writeFile(t, "big.yaml", "#"+strings.Repeat("x", 2<<20)+"\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, cmd := range []string{"translate", "verify"} {
		for _, p := range []string{big, missing} {
			if code, _, _ := runCLI(t, cmd, p); code != 1 {
				t.Errorf("%s %s: exit %d, want 1", cmd, filepath.Base(p), code)
			}
		}
	}
}
