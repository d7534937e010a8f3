package objects

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/delivery"
	"github.com/esa-connect/esa-connect/plugins/parquetfile"
	"github.com/esa-connect/esa-connect/plugins/pipeline"
	"github.com/esa-connect/esa-connect/tests/duckdbtest"
)

// dirStore copies each object to dir/<key>, and keeps its Content-Type and Content-Encoding.
type dirStore struct {
	dir   string
	mu    sync.Mutex
	types map[string][2]string
}

func (s *dirStore) Spool() (*os.File, error) { return os.CreateTemp(s.dir, ".spool-*") }

func (s *dirStore) Put(_ context.Context, o *Object) error {
	p := filepath.Join(s.dir, "out", filepath.FromSlash(o.Key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, io.NewSectionReader(o.Body, 0, o.Size)); err != nil {
		return err
	}
	s.mu.Lock()
	s.types[o.Key] = [2]string{o.ContentType, o.ContentEncoding}
	s.mu.Unlock()
	return nil
}

func (s *dirStore) Describe(key string) string { return key }

// TestParquetPartitioned: records in bundles and single messages, partitioned by a field, become one
// Parquet object per partition holding exactly that partition's records, as DuckDB reads them.
func TestParquetPartitioned(t *testing.T) {
	cols := []parquetfile.Column{
		{Name: "EdgeStartTimestamp", Type: parquetfile.TypeString},
		{Name: "ClientRequestHost", Type: parquetfile.TypeString},
		{Name: "EdgeResponseStatusCode", Type: parquetfile.TypeInt64},
	}
	body, err := parquetfile.New(parquetfile.Options{Columns: cols, Compression: "zstd", RowGroupRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	part, err := NewPartitioner([]string{"ClientRequestHost"}, StyleHive)
	if err != nil {
		t.Fatal(err)
	}
	store := &dirStore{dir: t.TempDir(), types: map[string][2]string{}}
	a, err := New(Config{Name: "test", Task: "pq", Path: "logs", TimeField: "EdgeStartTimestamp",
		Count: 100000, Bytes: 64 << 20, Period: time.Hour, Body: body, Partition: part,
		Metrics: delivery.NewMetrics(service.MockResources(), "pq")}, store)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var batch service.MessageBatch
	for i := range 1000 {
		rec := fmt.Sprintf(`{"EdgeStartTimestamp":"2026-12-06T07:%02d:%02dZ","ClientRequestHost":"h%d","EdgeResponseStatusCode":%d}`, i/60%60, i%60, i%3, 200+i)
		want = append(want, rec)
		if i%2 == 0 {
			batch = append(batch, service.NewMessage([]byte(rec)))
		}
	}
	// Odd records as bundles of 50 (one record per line).
	for i := 1; i < 1000; i += 100 {
		var lines []string
		for j := i; j < i+100 && j < 1000; j += 2 {
			lines = append(lines, want[j])
		}
		m := service.NewMessage([]byte(strings.Join(lines, "\n")))
		m.MetaSetMut(pipeline.MetaRecords, len(lines))
		batch = append(batch, m)
	}
	// A flush marker closes the objects: the write returns once they are stored.
	batch = append(batch, pipeline.NewFlushMarker())
	ctx := context.Background()
	if err := a.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(store.types) != 3 {
		t.Fatalf("%d objects, want one per partition: %v", len(store.types), store.types)
	}
	for key, ty := range store.types {
		if !strings.HasPrefix(key, "logs/ClientRequestHost=h") || !strings.HasSuffix(key, ".parquet") ||
			ty != [2]string{parquetfile.ContentType, ""} {
			t.Errorf("object %s: key or types %v", key, ty)
		}
	}
	glob := filepath.Join(store.dir, "out", "**", "*.parquet")
	rows := duckdbtest.Query(t, "SELECT to_json(t)::VARCHAR AS j, filename AS f FROM read_parquet("+duckdbtest.Quote(glob)+", filename=true, hive_partitioning=false) t")
	var got []string
	for _, r := range rows {
		j := r["j"].(string)
		var rec map[string]any
		if err := json.Unmarshal([]byte(j), &rec); err != nil {
			t.Fatal(err)
		}
		host := rec["ClientRequestHost"].(string)
		if !strings.Contains(r["f"].(string), "ClientRequestHost="+host+string(filepath.Separator)) {
			t.Errorf("record of %s in %s", host, r["f"])
		}
		delete(rec, "filename")
		b, _ := json.Marshal(rec)
		got = append(got, string(b))
	}
	norm := func(list []string) []string {
		var out []string
		for _, s := range list {
			var v map[string]any
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%d records read back, want %d; first %v / %v", len(g), len(w), g[:min(3, len(g))], w[:3])
	}
}
