package encode

import (
	"fmt"
	"testing"
)

func benchRecords(n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = []byte(fmt.Sprintf(`{"EdgeStartTimestamp":"2026-11-25T08:00:%02d+08:00","ClientIP":"203.0.113.%d","ClientRequestHost":"www%d.example.com","ClientRequestPath":"/static/img/%d.png","ClientRequestMethod":"GET","EdgeResponseStatusCode":200,"EdgeResponseBytes":%d,"ClientRequestUserAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36","EdgeCacheStatus":"HIT","ClientCountryCode":"DE"}`, i%60, i%250, i%7, i, 1000+i*13))
	}
	return recs
}

func BenchmarkEncodeNDJSON(b *testing.B) { benchEncode(b, DefaultOptions(), CodecNone) }
func BenchmarkEncodeCSV(b *testing.B) {
	benchEncode(b, Options{Format: FormatCSV, RecordDelimiter: "\n", DelimiterAfterLast: true}, CodecNone)
}
func BenchmarkEncodeNDJSONGzip(b *testing.B)   { benchEncode(b, DefaultOptions(), CodecGzip) }
func BenchmarkEncodeNDJSONZlib(b *testing.B)   { benchEncode(b, DefaultOptions(), CodecZlib) }
func BenchmarkEncodeNDJSONSnappy(b *testing.B) { benchEncode(b, DefaultOptions(), CodecSnappy) }

func benchEncode(b *testing.B, o Options, codec string) {
	recs := benchRecords(1000)
	enc, err := NewEncoder(o)
	if err != nil {
		b.Fatal(err)
	}
	var buf, out []byte
	b.ReportAllocs()
	b.ResetTimer()
	raw := 0
	for i := 0; i < b.N; i++ {
		buf, err = enc.Encode(buf[:0], recs)
		if err != nil {
			b.Fatal(err)
		}
		out, err = Compress(codec, out[:0], buf)
		if err != nil {
			b.Fatal(err)
		}
		raw += len(buf)
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(raw)/1e6/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(len(out))/float64(len(buf)), "ratio")
}
