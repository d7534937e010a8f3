package record

import "testing"

func BenchmarkValidate(b *testing.B) {
	rec := loadFixture(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := Validate(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkSelectorScan20(b *testing.B) {
	rec := loadFixture(b)
	s := NewSelector("EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientRequestHost", "ClientRequestMethod",
		"ClientRequestPath", "ClientRequestQuery", "ClientRequestUserAgent", "EdgeResponseStatusCode", "EdgeResponseBytes",
		"EdgeResponseTime", "EdgeCacheStatus", "ClientCountryCode", "ClientSSLProtocol", "OriginResponseStatusCode",
		"EdgeResponseCompressionRatio", "ClientSrcPort", "SecAction", "EdgeServerIP", "ClientRequestReferer")
	out := make([]Value, s.Len())
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := s.Scan(rec, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkSelectorScanShape20(b *testing.B) {
	rec := loadFixture(b)
	s := NewSelector("EdgeStartTimestamp", "ClientRequestID", "ClientIP", "ClientRequestHost", "ClientRequestMethod",
		"ClientRequestPath", "ClientRequestQuery", "ClientRequestUserAgent", "EdgeResponseStatusCode", "EdgeResponseBytes",
		"EdgeResponseTime", "EdgeCacheStatus", "ClientCountryCode", "ClientSSLProtocol", "OriginResponseStatusCode",
		"EdgeResponseCompressionRatio", "ClientSrcPort", "SecAction", "EdgeServerIP", "ClientRequestReferer")
	out := make([]Value, s.Len())
	var sh Shape
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := s.ScanShape(rec, out, &sh); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkLookup(b *testing.B) {
	rec := loadFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := Lookup(rec, "EdgeResponseStatusCode"); !ok {
			b.Fatal("not found")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
