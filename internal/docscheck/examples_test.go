package docscheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/config"
)

// docExample is a code block of the documentation that a check marker precedes:
//
//	<!-- check: valid -->            the block is a task definition that loads
//	<!-- check: invalid "message" --> the block fails to load with an error containing message
type docExample struct {
	file   string
	line   int // of the block's first line
	lang   string
	body   string
	valid  bool
	expect string // for invalid blocks
}

var checkMarker = regexp.MustCompile(`^<!-- check: (valid|invalid ("(?:[^"\\]|\\.)*")) -->$`)

// docExamples reads the marked code blocks of every page of docs/.
func docExamples(t *testing.T) []docExample {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []docExample
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		name := "docs/" + filepath.Base(page)
		lines := strings.Split(string(data), "\n")
		for i := 0; i < len(lines); i++ {
			m := checkMarker.FindStringSubmatch(strings.TrimSpace(lines[i]))
			if m == nil {
				if strings.HasPrefix(strings.TrimSpace(lines[i]), "<!-- check:") {
					t.Errorf("%s:%d: malformed check marker %q", name, i+1, lines[i])
				}
				continue
			}
			ex := docExample{file: name, valid: m[1] == "valid"}
			if !ex.valid {
				s, err := strconv.Unquote(m[2])
				if err != nil {
					t.Errorf("%s:%d: bad message in marker: %v", name, i+1, err)
					continue
				}
				ex.expect = s
			}
			j := i + 1
			for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
				j++
			}
			if j >= len(lines) || !strings.HasPrefix(lines[j], "```") {
				t.Errorf("%s:%d: a check marker must be followed by a code block", name, i+1)
				continue
			}
			ex.lang = strings.TrimPrefix(lines[j], "```")
			ex.line = j + 2
			var body []string
			for j++; j < len(lines) && !strings.HasPrefix(lines[j], "```"); j++ {
				body = append(body, lines[j])
			}
			ex.body = strings.Join(body, "\n") + "\n"
			out = append(out, ex)
			i = j
		}
	}
	return out
}

// TestDocExamples loads every marked task example of docs/: the valid ones must load, the invalid
// ones must fail with the error the page shows.
func TestDocExamples(t *testing.T) {
	examples := docExamples(t)
	if len(examples) < 10 {
		t.Fatalf("found %d marked examples in docs/, expected the task examples of docs/task.md", len(examples))
	}
	for _, ex := range examples {
		_, err := config.Load([]byte(ex.body))
		switch {
		case ex.valid && err != nil:
			t.Errorf("%s:%d: the example does not load:\n%v", ex.file, ex.line, err)
		case !ex.valid && err == nil:
			t.Errorf("%s:%d: the example loads, but the page says it fails with %q", ex.file, ex.line, ex.expect)
		case !ex.valid && !strings.Contains(err.Error(), ex.expect):
			t.Errorf("%s:%d: the example fails with\n%v\nbut the page says %q", ex.file, ex.line, err, ex.expect)
		}
	}
}
