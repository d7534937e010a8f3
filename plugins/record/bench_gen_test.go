package record_test

import (
	"testing"

	"github.com/esa-connect/esa-connect/plugins/record"
	"github.com/esa-connect/esa-connect/plugins/record/recordtest"
)

var fields20 = []string{"EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientRequestHost", "ClientRequestMethod",
	"ClientRequestPath", "ClientRequestQuery", "ClientRequestUserAgent", "EdgeResponseStatusCode", "EdgeResponseBytes",
	"EdgeResponseTime", "EdgeCacheStatus", "ClientCountryCode", "ClientSSLProtocol", "OriginResponseStatusCode",
	"EdgeResponseCompressionRatio", "ClientSrcPort", "SecAction", "EdgeServerIP", "ClientRequestReferer"}

// BenchmarkGenerated scans 1000 different esa_generate access records per op (as the processor
// benchmarks do) with Scan, ScanShape and Find; ns/record is per record.
func BenchmarkGenerated(b *testing.B) {
	recs := recordtest.AccessRecords(b, 1000)
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
