package source

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/generate"
)

// BenchmarkFileToDrop reads 1,000,000 generated records (dns, about 250 bytes each; access with
// ESA_BENCH_CATEGORY=access) from a file through esa_file into a drop output, per iteration.
func BenchmarkFileToDrop(b *testing.B) {
	const n = 1_000_000
	category := os.Getenv("ESA_BENCH_CATEGORY")
	if category == "" {
		category = "dns"
	}
	path := filepath.Join(b.TempDir(), "in.ndjson")
	fh, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	g, err := generate.New(category, 1)
	if err != nil {
		b.Fatal(err)
	}
	var rec []byte
	var size int64
	for i := 0; i < n; i++ {
		rec = append(g.Next(rec[:0]), '\n')
		size += int64(len(rec))
		_, _ = w.Write(rec)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fh.Close()

	b.ReportAllocs()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sb := testEnv(b).NewStreamBuilder()
		_ = sb.SetLoggerYAML("level: warn")
		if err := sb.AddInputYAML(fmt.Sprintf("esa_file:\n  paths: [%q]\n", path)); err != nil {
			b.Fatal(err)
		}
		if err := sb.AddOutputYAML("drop: {}"); err != nil {
			b.Fatal(err)
		}
		s, err := sb.Build()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
