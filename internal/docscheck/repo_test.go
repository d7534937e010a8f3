package docscheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// root is the repository root, relative to this package.
const root = "../.."

// repoFiles lists the repository's files as git sees them: tracked, or new and not ignored (so that a
// page being written is checked before it is committed). Outside a git checkout it lists the files
// under root except .git and the build and run outputs the repository ignores.
func repoFiles(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range bytes.Split(out, []byte{0}) {
			if len(f) > 0 {
				files = append(files, string(f))
			}
		}
		return files
	}
	var files []string
	skip := map[string]bool{".git": true, "bin": true, "out": true, "dead": true, "tmp": true, ".cache": true, ".task": true}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if skip[rel] {
				return filepath.SkipDir
			}
			return nil
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// readRepoFile reads a file of the repository; ok is false for a file that is gone (deleted in the
// work tree but still tracked) or unreadable.
func readRepoFile(name string) ([]byte, bool) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	return data, err == nil
}

// isText reports whether data looks like text (no NUL byte in its first 8 KiB).
func isText(data []byte) bool {
	return !bytes.Contains(data[:min(len(data), 8192)], []byte{0})
}
