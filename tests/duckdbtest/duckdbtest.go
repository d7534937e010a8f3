// Package duckdbtest reads Parquet files in tests with DuckDB, an implementation independent of the
// parquet-go library that writes them: the Node.js client @duckdb/node-api, installed with npm into
// the cache directory ($ESA_CONNECT_CACHE/duckdb, else $HOME/.cache/esa-connect/duckdb) when missing.
// Node.js and npm must be installed (`go tool task test-node` installs Debian's when root); a
// missing reader fails the test, it never skips it.
package duckdbtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Package is the npm package (and its exact version) of the reader.
const Package = "@duckdb/node-api@1.5.6-r.1"

// script runs the SQL of argv[2] and prints its rows as JSON objects (BIGINT as strings, MAP as an
// array of {key, value}, STRUCT as an object).
const script = `const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const reader = await conn.runAndReadAll(process.argv[2]);
  process.stdout.write(JSON.stringify(reader.getRowObjectsJson()));
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
`

var installMu sync.Mutex

// Dir is the directory holding the reader (node_modules and the script).
func Dir() (string, error) {
	if d := os.Getenv("ESA_CONNECT_CACHE"); d != "" {
		return filepath.Join(d, "duckdb"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "esa-connect", "duckdb"), nil
}

// Install installs the reader into Dir when it is missing (npm install of Package) and returns the
// path of its script.
func Install() (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	dir, err := Dir()
	if err != nil {
		return "", fmt.Errorf("duckdbtest: cache dir: %w", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("duckdbtest: node is not installed (go tool task test-node, or apt-get install -y nodejs npm): %w", err)
	}
	js := filepath.Join(dir, "query.cjs")
	marker := filepath.Join(dir, "node_modules", "@duckdb", "node-api", "package.json")
	if _, err := os.Stat(marker); err != nil || !installed(dir) {
		if _, err := exec.LookPath("npm"); err != nil {
			return "", fmt.Errorf("duckdbtest: npm is not installed (go tool task test-node, or apt-get install -y nodejs npm): %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("duckdbtest: %w", err)
		}
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix", dir, Package)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("duckdbtest: npm install %s: %v\n%s", Package, err, out.String())
		}
		if err := os.WriteFile(filepath.Join(dir, "version"), []byte(Package), 0o644); err != nil {
			return "", fmt.Errorf("duckdbtest: %w", err)
		}
	}
	if err := os.WriteFile(js, []byte(script), 0o644); err != nil {
		return "", fmt.Errorf("duckdbtest: %w", err)
	}
	return js, nil
}

// installed reports whether dir holds Package (its version file).
func installed(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "version"))
	return err == nil && string(b) == Package
}

// Query runs sql in an in-memory DuckDB and returns its rows (see script for the JSON forms); a
// failure to install or to run fails the test.
func Query(t testing.TB, sql string) []map[string]any {
	t.Helper()
	js, err := Install()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", js, sql)
	cmd.Dir = filepath.Dir(js)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("duckdbtest: %s: %v\n%s", sql, err, errOut.String())
	}
	var rows []map[string]any
	dec := json.NewDecoder(&out)
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("duckdbtest: %s: decoding the rows: %v", sql, err)
	}
	return rows
}

// Quote quotes s as an SQL string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Describe returns the columns of the Parquet files matched by glob (read_parquet's glob, or a single
// path) as DuckDB types them: name → type (BIGINT, VARCHAR, DOUBLE, BOOLEAN,
// STRUCT(request_headers MAP(VARCHAR, VARCHAR), ...)), and their names in order.
func Describe(t testing.TB, glob string) (types map[string]string, names []string) {
	t.Helper()
	rows := Query(t, "DESCRIBE SELECT * FROM read_parquet("+Quote(glob)+")")
	types = map[string]string{}
	for _, r := range rows {
		n, _ := r["column_name"].(string)
		ty, _ := r["column_type"].(string)
		types[n] = ty
		names = append(names, n)
	}
	return types, names
}
