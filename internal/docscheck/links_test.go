package docscheck

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// mdLink is an inline Markdown link or image: [text](target) or ![alt](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// docRef is a reference to a page of docs/ in any file: docs/task.md, docs/processing.md#sampling.
var docRef = regexp.MustCompile(`\bdocs/[A-Za-z0-9_./-]+\.md(#[A-Za-z0-9_-]+)?`)

// withoutCode removes fenced code blocks and inline code spans from Markdown.
func withoutCode(md string) string {
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			b.WriteString("\n")
			continue
		}
		if fenced {
			b.WriteString("\n")
			continue
		}
		b.WriteString(inlineCode.ReplaceAllString(line, "``") + "\n")
	}
	return b.String()
}

var inlineCode = regexp.MustCompile("`[^`]*`")

// anchors returns the anchors GitHub gives the headings of a Markdown page.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slug := slugify(text)
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// slugify is GitHub's heading anchor: lower case, punctuation other than '-' and '_' removed,
// spaces turned into '-'.
func slugify(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestLinks checks that every relative link of the Markdown files, and every docs/….md reference in
// any file (comments, messages), points to a file that exists and, with #anchor, to a heading of it.
func TestLinks(t *testing.T) {
	files := repoFiles(t)
	tracked := map[string]bool{}
	for _, f := range files {
		tracked[f] = true
	}
	pageAnchors := map[string]map[string]bool{}
	anchorsOf := func(page string) (map[string]bool, bool) {
		if a, ok := pageAnchors[page]; ok {
			return a, true
		}
		data, ok := readRepoFile(page)
		if !ok {
			return nil, false
		}
		a := anchors(string(data))
		pageAnchors[page] = a
		return a, true
	}
	check := func(from string, line int, target string) {
		file, anchor, _ := strings.Cut(target, "#")
		if file == "" {
			file = from
		}
		if !tracked[file] && !tracked[strings.TrimSuffix(file, "/")+"/README.md"] {
			if _, ok := readRepoFile(file); !ok {
				t.Errorf("%s:%d: link to %s: no such file", from, line, target)
				return
			}
		}
		if anchor == "" || !strings.HasSuffix(file, ".md") {
			return
		}
		a, ok := anchorsOf(file)
		if !ok {
			t.Errorf("%s:%d: link to %s: cannot read %s", from, line, target, file)
			return
		}
		if !a[anchor] {
			t.Errorf("%s:%d: link to %s: %s has no heading with the anchor #%s", from, line, target, file, anchor)
		}
	}
	checked := 0
	for _, name := range files {
		data, ok := readRepoFile(name)
		if !ok || !isText(data) || name == "go.sum" {
			continue
		}
		text := string(data)
		if strings.HasSuffix(name, ".md") {
			for i, line := range strings.Split(withoutCode(text), "\n") {
				for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
					target := m[1]
					if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
						continue
					}
					check(name, i+1, path.Clean(path.Join(path.Dir(name), target)))
					checked++
				}
			}
		}
		for i, line := range strings.Split(text, "\n") {
			for _, m := range docRef.FindAllString(line, -1) {
				if strings.Contains(line, "/"+m) || strings.Contains(line, "../"+m) {
					continue // a relative link, checked above
				}
				check(name, i+1, m)
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no links found")
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"ESA's OpenAPI shape":             "esas-openapi-shape",
		"The HTTP server of `run`":        "the-http-server-of-run",
		"`esa_sample` (processor)":        "esa_sample-processor",
		"`batching.count`":                "batchingcount",
		"AWS S3 and S3-compatible stores": "aws-s3-and-s3-compatible-stores",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}
