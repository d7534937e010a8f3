// Command esa-docs writes the reference pages of esa-connect's Benthos components,
// docs/components/*.md, from their config specs (package internal/componentdocs):
//
//	go run ./cmd/esa-docs            # rewrite docs/components (run from the repository root)
//	go run ./cmd/esa-docs -check     # exit 1, naming the stale pages, when they differ
//	go run ./cmd/esa-docs -out DIR   # write somewhere else
//
// Pages that no component produces any more are removed. go tool task docs runs it.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/esa-connect/esa-connect/internal/componentdocs"
)

func main() {
	out := flag.String("out", componentdocs.Dir, "directory of the component pages")
	check := flag.Bool("check", false, "only check that the pages are current; exit 1 when they are not")
	flag.Parse()
	if err := run(*out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "esa-docs:", err)
		os.Exit(1)
	}
}

func run(dir string, check bool) error {
	pages, err := componentdocs.Render()
	if err != nil {
		return err
	}
	existing, err := existingPages(dir)
	if err != nil {
		return err
	}
	var stale []string
	for name, data := range pages {
		if old, ok := existing[name]; !ok || !bytes.Equal(old, data) {
			stale = append(stale, name)
		}
	}
	var removed []string
	for name := range existing {
		if _, ok := pages[name]; !ok {
			removed = append(removed, name)
		}
	}
	slices.Sort(stale)
	slices.Sort(removed)
	if check {
		if len(stale)+len(removed) == 0 {
			return nil
		}
		return fmt.Errorf("%s is out of date (changed: %s; no longer generated: %s): run %s",
			dir, list(stale), list(removed), componentdocs.Regenerate)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range stale {
		if err := os.WriteFile(filepath.Join(dir, name), pages[name], 0o644); err != nil {
			return err
		}
	}
	for _, name := range removed {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	fmt.Printf("esa-docs: %d pages in %s (%d written, %d removed)\n", len(pages), dir, len(stale), len(removed))
	return nil
}

// existingPages reads the Markdown files of dir; a missing dir has none.
func existingPages(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = data
	}
	return out, nil
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
