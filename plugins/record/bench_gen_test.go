package record_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/plugins/record"
)

var fields20 = pipelinetest.Fields20

// BenchmarkFind20 is SelectorScanShape20 on a record known valid (Find: no validation; the 20 fields
// are found only near the end of the record).
func BenchmarkFind20(b *testing.B) { benchFind(b, fields20...) }

// BenchmarkFind5 looks up the fields of the esa_filter benchmark in a record known valid, stopping at
// the last of them.
func BenchmarkFind5(b *testing.B) {
	benchFind(b, "EdgeResponseStatusCode", "ClientRequestHost", "ClientRequestMethod", "EdgeResponseTime", "ClientSSLProtocol", "ClientRequestScheme")
}

func benchFind(b *testing.B, names ...string) {
	rec, err := os.ReadFile("testdata/access.json")
	if err != nil {
		b.Fatal(err)
	}
	rec = bytes.TrimSpace(rec)
	s := record.NewSelector(names...)
	out := make([]record.Value, s.Len())
	var sh record.Shape
	if err := s.ScanShape(rec, out, &sh); err != nil || !sh.Unique() {
		b.Fatal(err, sh.Unique())
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := s.Find(rec, out, &sh, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGenerated scans 1000 different esa_generate access records per op (as the processor
// benchmarks do) with Scan, ScanShape and Find; ns/record is per record.
func BenchmarkGenerated(b *testing.B) {
	recs := pipelinetest.AccessRecords(b, 1000)
	s := record.NewSelector(fields20...)
	out := make([]record.Value, s.Len())
	for _, tc := range []struct {
		name string
		scan func(rec []byte, sh *record.Shape) error
	}{
		{"Scan20", func(rec []byte, _ *record.Shape) error { return s.Scan(rec, out) }},
		{"ScanShape20", func(rec []byte, sh *record.Shape) error { return s.ScanShape(rec, out, sh) }},
		{"Find20", func(rec []byte, sh *record.Shape) error { return s.Find(rec, out, sh, true) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var sh record.Shape
			n := 0
			for b.Loop() {
				for _, r := range recs {
					if err := tc.scan(r, &sh); err != nil {
						b.Fatal(err)
					}
				}
				n += len(recs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
		})
	}
}
