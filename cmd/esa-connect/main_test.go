package main

import (
	"strings"
	"testing"
)

func TestTaskRunArgs(t *testing.T) {
	cases := []struct {
		args  []string
		path  string
		level string
		ok    bool
	}{
		{[]string{"task.yaml"}, "task.yaml", "", true},
		{[]string{"--log.level", "debug", "task.yaml"}, "task.yaml", "debug", true},
		{[]string{"--log-level=warn", "task.yaml"}, "task.yaml", "warn", true},
		{[]string{"-c", "pipe.yaml"}, "", "", false},
		{[]string{"--config", "pipe.yaml"}, "", "", false},
		{[]string{"-r", "res.yaml", "pipe.yaml"}, "", "", false},
		{[]string{"a.yaml", "b.yaml"}, "", "", false},
		{[]string{"--log.level"}, "", "", false},
		{nil, "", "", false},
	}
	for _, c := range cases {
		path, opts, ok := taskRunArgs(c.args)
		if ok != c.ok || (ok && (path != c.path || opts.logLevel != c.level)) {
			t.Errorf("taskRunArgs(%q) = %q, %q, %v; want %q, %q, %v", c.args, path, opts.logLevel, ok, c.path, c.level, c.ok)
		}
	}
}

func TestIsBenthosConfig(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"input: {stdin: {}}\noutput: {stdout: {}}\n", true},
		{"http: {enabled: false}\ninput: {generate: {count: 1}}\n", true},
		{"output: {drop: {}}\n", true},
		{"pipeline: {processors: []}\n", true},
		{"cache_resources: [{label: c, memory: {}}]\n", true},
		{"input: {stdin: {}}\ninput: {stdin: {}}\n", true}, // duplicate keys do not hide what it is
		{`{"input": {"stdin": {}}, "output": {"stdout": {}}}`, true},
		{"name: a\ncategory: access\n", false},
		{"name: a\ncategory: access\ncategory: dns\n", false},
		{"destination: {type: local, path: o}\n", false},
		{`{"TaskName": "t", "BusinessType": "dcdn_log_waf"}`, false},
		{"category: access\ninput: {stdin: {}}\n", false}, // a task key: a (bad) task definition
		{"output: {format: csv}\n", false},                // a task's output options
		{"output: {format: csv}\ninput: {stdin: {}}\n", true},
		{"{}", false},
		{"", false},
		{"not: [valid", false},
		{"- a list\n", false},
	}
	for _, c := range cases {
		if got := isBenthosConfig([]byte(c.in)); got != c.want {
			t.Errorf("isBenthosConfig(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range []string{"", "info", "DEBUG", "warn", "error", "none"} {
		if _, err := parseLevel(l); err != nil {
			t.Errorf("parseLevel(%q): %v", l, err)
		}
	}
	if _, err := parseLevel("loud"); err == nil {
		t.Error("parseLevel(loud) accepted")
	}
}

func TestBenthosArgs(t *testing.T) {
	cases := []struct{ in, want []string }{
		{[]string{"x", "run", "-c", "p.yaml"}, []string{"x", "run", "p.yaml"}},
		{[]string{"x", "run", "--log.level", "warn", "--config=p.yaml"}, []string{"x", "run", "--log.level", "warn", "p.yaml"}},
		{[]string{"x", "run", "p.yaml"}, []string{"x", "run", "p.yaml"}},
		{[]string{"x", "lint", "-c", "p.yaml"}, []string{"x", "lint", "-c", "p.yaml"}},
		{[]string{"x"}, []string{"x"}},
	}
	for _, c := range cases {
		got := benthosArgs(c.in)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("benthosArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
