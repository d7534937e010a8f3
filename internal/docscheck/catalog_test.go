package docscheck

import (
	"fmt"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/config"
)

// TestCategoryTable checks the category table of docs/task.md against the built-in catalog.
func TestCategoryTable(t *testing.T) {
	data, ok := readRepoFile("docs/task.md")
	if !ok {
		t.Fatal("cannot read docs/task.md")
	}
	page := string(data)
	for _, c := range config.Categories() {
		id := "none"
		if c.APIID != "" {
			id = "`" + c.APIID + "`"
		}
		custom := "no"
		if c.CustomFields {
			custom = "yes"
		}
		row := fmt.Sprintf("| `%s` | %s | %s | `%s` | %s |", c.Name, id, c.Scope, c.TimeField, custom)
		if !strings.Contains(page, row) {
			t.Errorf("docs/task.md#categories lacks the row\n%s", row)
		}
	}
	if n := strings.Count(page[strings.Index(page, "### Categories"):], "\n| `"); n < len(config.Categories()) {
		t.Errorf("the category table has %d rows", n)
	}
}
