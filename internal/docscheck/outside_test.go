package docscheck

import (
	"regexp"
	"strings"
	"testing"
)

// outsideRef matches references to the product contract that was kept outside the repository: the
// upper-case word for it followed by a section number, as in references like "<word> §4.8", or the
// word alone, and the paths of its companion files (vectors, field catalog, API notes).
var outsideRef = regexp.MustCompile(`\b` + "SP" + `EC\b|spec/(vectors\.md|fields\.yaml|esa-api\.md)`)

// selfFile is this file, which spells the pattern.
const selfFile = "internal/docscheck/outside_test.go"

// pendingOutsideRefs lists the files that may still carry such references, because other work owns
// them at the moment; each entry says why. Empty this list, do not grow it.
var pendingOutsideRefs = map[string]string{}

// TestNoOutsideReferences fails when a tracked file refers to the product contract that lived
// outside the repository: the repository's own documents (docs/) are the reference.
func TestNoOutsideReferences(t *testing.T) {
	for _, name := range repoFiles(t) {
		if name == "go.sum" || name == selfFile { // checksums, not prose; this test's own pattern
			continue
		}
		data, ok := readRepoFile(name)
		if !ok || !isText(data) || !outsideRef.Match(data) {
			continue
		}
		if _, pending := pendingOutsideRefs[name]; pending {
			continue
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := outsideRef.FindString(line); m != "" {
				t.Errorf("%s:%d refers to %q, a document outside the repository: point to the docs/ page that says it (docs/README.md lists them), or drop the reference", name, i+1, m)
			}
		}
	}
	for name, why := range pendingOutsideRefs {
		data, ok := readRepoFile(name)
		if !ok {
			t.Errorf("%s is listed as pending but does not exist: remove it from pendingOutsideRefs", name)
			continue
		}
		if !outsideRef.Match(data) {
			t.Errorf("%s no longer refers outside the repository (%s): remove it from pendingOutsideRefs", name, why)
		}
	}
}
