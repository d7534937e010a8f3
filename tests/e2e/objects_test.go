package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// object is one gzip object written by the local destination.
type object struct {
	rel   string   // path relative to the destination directory
	lines [][]byte // the records, one per line
}

// objectName is the object layout of docs/destinations.md#object-layout:
// <YYYYMMDD>/<task>_<first>_<last>_<seq>_<8 hex>.log.gz.
var objectName = regexp.MustCompile(`^(\d{8})/([A-Za-z0-9_-]+)_(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_(\d+)_([0-9a-f]{8})\.log\.gz$`)

// readObjects reads and gunzips every file under dir, failing on anything that is not an object.
func readObjects(t *testing.T, dir string) []object {
	t.Helper()
	var objs []object
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(d.Name(), ".") {
			// The hidden spool file of an object being filled; objects appear whole under their name.
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("%s is not gzip: %w", rel, err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			return fmt.Errorf("%s: gunzip: %w", rel, err)
		}
		if len(body) > 0 && body[len(body)-1] != '\n' {
			return fmt.Errorf("%s: the last record is not followed by a newline", rel)
		}
		o := object{rel: filepath.ToSlash(rel)}
		for _, l := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			if len(l) > 0 {
				o.lines = append(o.lines, l)
			}
		}
		objs = append(objs, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// checkObjectNames checks every object's name against docs/destinations.md#object-layout, with
// first/last the earliest and latest values of timeField in it (UTC) and the date directory the date
// of first.
func checkObjectNames(t *testing.T, task, timeField string, objs []object) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range objs {
		m := objectName.FindStringSubmatch(o.rel)
		if m == nil {
			t.Errorf("object name %q does not follow <YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz", o.rel)
			continue
		}
		if m[2] != task {
			t.Errorf("object %s: task %q, want %q", o.rel, m[2], task)
		}
		if seen[m[6]+m[5]] {
			t.Errorf("object %s: seq/rand repeated", o.rel)
		}
		seen[m[6]+m[5]] = true
		var first, last time.Time
		for i, l := range o.lines {
			var rec map[string]any
			if err := json.Unmarshal(l, &rec); err != nil {
				t.Fatalf("object %s line %d: %v", o.rel, i, err)
			}
			s, _ := rec[timeField].(string)
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatalf("object %s line %d: %s %q: %v", o.rel, i, timeField, s, err)
			}
			if i == 0 || ts.Before(first) {
				first = ts
			}
			if i == 0 || ts.After(last) {
				last = ts
			}
		}
		const layout = "20060102T150405Z"
		if want := first.UTC().Format(layout); m[3] != want {
			t.Errorf("object %s: first %s, want %s", o.rel, m[3], want)
		}
		if want := last.UTC().Format(layout); m[4] != want {
			t.Errorf("object %s: last %s, want %s", o.rel, m[4], want)
		}
		if want := first.UTC().Format("20060102"); m[1] != want {
			t.Errorf("object %s: date directory %s, want %s", o.rel, m[1], want)
		}
	}
}

// allLines returns the records of every object.
func allLines(objs []object) [][]byte {
	var out [][]byte
	for _, o := range objs {
		out = append(out, o.lines...)
	}
	return out
}

// ordered is a JSON object with its key order.
type ordered struct {
	keys []string
	vals []any
}

// decodeOrdered decodes one JSON value keeping the key order of objects; numbers are json.Number.
func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			o := &ordered{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				val, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, kt.(string))
				o.vals = append(o.vals, val)
			}
			_, err := dec.Token() // }
			return o, err
		case '[':
			var arr []any
			for dec.More() {
				val, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, val)
			}
			_, err := dec.Token() // ]
			return arr, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	default:
		return v, nil
	}
}

// parseOrdered parses one JSON object line keeping its key order.
func parseOrdered(line []byte) (*ordered, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*ordered)
	if !ok {
		return nil, fmt.Errorf("not a JSON object: %s", line)
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the object: %s", line)
	}
	return o, nil
}

// get returns the value of key.
func (o *ordered) get(key string) (any, bool) {
	for i, k := range o.keys {
		if k == key {
			return o.vals[i], true
		}
	}
	return nil, false
}

// String renders o as JSON-like text in its key order, for messages and comparisons.
func (o *ordered) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", k, render(o.vals[i]))
	}
	b.WriteByte('}')
	return b.String()
}

// render renders a decoded or expected value canonically: numbers by value (1 and 1.0 alike).
func render(v any) string {
	switch x := v.(type) {
	case *ordered:
		return x.String()
	case string:
		return fmt.Sprintf("%q", x)
	case json.Number:
		var f float64
		fmt.Sscan(x.String(), &f)
		return fmt.Sprintf("num(%v)", f)
	case int:
		return fmt.Sprintf("num(%v)", float64(x))
	case int64:
		return fmt.Sprintf("num(%v)", float64(x))
	case float64:
		return fmt.Sprintf("num(%v)", x)
	case bool:
		return fmt.Sprint(x)
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%#v", v)
	}
}

// readLinesFile reads a file of lines (the dead-letter file).
func readLinesFile(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
