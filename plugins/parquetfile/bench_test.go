package parquetfile_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/parquetfile"
)

// benchColumns are 15 access-log fields as a task delivers them, plus CustomFields.
var benchColumns = []parquetfile.Column{
	{Name: "EdgeStartTimestamp", Type: parquetfile.TypeString},
	{Name: "ClientRequestID", Type: parquetfile.TypeString},
	{Name: "ClientIP", Type: parquetfile.TypeString},
	{Name: "ClientCountryCode", Type: parquetfile.TypeString},
	{Name: "ClientSrcPort", Type: parquetfile.TypeInt64},
	{Name: "ClientRequestMethod", Type: parquetfile.TypeString},
	{Name: "ClientRequestHost", Type: parquetfile.TypeString},
	{Name: "ClientRequestPath", Type: parquetfile.TypeString},
	{Name: "ClientRequestUserAgent", Type: parquetfile.TypeString},
	{Name: "EdgeCacheStatus", Type: parquetfile.TypeString},
	{Name: "EdgeResponseBytes", Type: parquetfile.TypeInt64},
	{Name: "EdgeResponseStatusCode", Type: parquetfile.TypeInt64},
	{Name: "EdgeResponseTime", Type: parquetfile.TypeInt64},
	{Name: "EdgeResponseCompressionRatio", Type: parquetfile.TypeDouble},
	{Name: "SecAction", Type: parquetfile.TypeString},
	{Name: "CustomFields", Type: parquetfile.TypeCustomFields},
}

// benchBody is n delivered records as NDJSON (about 620 bytes each).
func benchBody(n int) []byte {
	var b []byte
	methods := []string{"GET", "GET", "GET", "POST", "HEAD"}
	caches := []string{"HIT", "MISS", "HIT", "EXPIRED"}
	for i := range n {
		b = fmt.Appendf(b, `{"EdgeStartTimestamp":"2026-12-06T07:%02d:%02d+08:00","ClientRequestID":"7f3a%012x","ClientIP":"10.%d.%d.%d","ClientCountryCode":"CN","ClientSrcPort":%d,"ClientRequestMethod":%q,"ClientRequestHost":"h%d.example.com","ClientRequestPath":"/static/img/%d.png","ClientRequestUserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36","EdgeCacheStatus":%q,"EdgeResponseBytes":%d,"EdgeResponseStatusCode":%d,"EdgeResponseTime":%d,"EdgeResponseCompressionRatio":%.2f,"SecAction":"-","CustomFields":{"request_headers":{"x-forwarded-for":"10.0.0.%d"},"cookies":{"sid":"s%d"}}}`+"\n",
			i/60%60, i%60, i*7919, i/256%256, i%256, i%256, 1024+i%60000, methods[i%len(methods)], i%13, i%1000,
			caches[i%len(caches)], 500+i*37%100000, []int{200, 200, 304, 404, 502}[i%5], i%900, float64(i%300)/100, i%256, i)
	}
	return b
}

// BenchmarkWriter writes 10,000 records an op (in chunks of 256 KiB, as plugins/objects does) into a
// Parquet file with snappy pages; records/s and ns/record are per record.
func BenchmarkWriter(b *testing.B) {
	for _, codec := range []string{"snappy", "zstd"} {
		b.Run(codec, func(b *testing.B) {
			const n = 10000
			body := benchBody(n)
			f, err := parquetfile.New(parquetfile.Options{Columns: benchColumns, Compression: codec})
			if err != nil {
				b.Fatal(err)
			}
			var out countWriter
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w, err := f.NewWriter(&out, false)
				if err != nil {
					b.Fatal(err)
				}
				for rest := body; len(rest) > 0; {
					k := min(len(rest), 256<<10)
					if _, err := w.Write(rest[:k]); err != nil {
						b.Fatal(err)
					}
					rest = rest[k:]
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perRecord := float64(b.Elapsed().Nanoseconds()) / float64(b.N*n)
			b.ReportMetric(perRecord, "ns/record")
			b.ReportMetric(1e9/perRecord, "records/s")
			b.ReportMetric(float64(out.n)/float64(b.N*n), "bytes/record")
		})
	}
}

// countWriter counts the bytes written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
