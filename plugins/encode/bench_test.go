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

func BenchmarkEncodeNDJSONZstd(b *testing.B) { benchEncode(b, DefaultOptions(), CodecZstd) }

// BenchmarkObjectCompress compresses generated access records (about 2.5 KB each, 8 MiB a round) into
// an object body as the object outputs do, in pieces of 256 KiB: gzip at levels 1, 6 (the default) and
// 9, on one core and with pgzip (parallel), and zstd at levels 1, 3 (the default), 7 and 19 (the four
// encoder levels) in frames of 4 MiB (one open object) and 1 MiB (sixteen). Reported: MB/s of records
// in, the compressed size as a fraction of the records (ratio), and -benchmem's allocations.
func BenchmarkObjectCompress(b *testing.B) {
	src := corpus(b, 3300)[:8<<20]
	for _, c := range []struct {
		name     string
		codec    string
		level    int
		parallel bool
		frame    int
	}{
		{"gzip-1", CodecGzip, 1, false, 0}, {"gzip-6", CodecGzip, 6, false, 0}, {"gzip-9", CodecGzip, 9, false, 0},
		{"pgzip-6", CodecGzip, 6, true, 0},
		{"zstd-1", CodecZstd, 1, false, 4 << 20}, {"zstd-3", CodecZstd, 3, false, 4 << 20},
		{"zstd-3-frame1M", CodecZstd, 3, false, 1 << 20},
		{"zstd-7", CodecZstd, 7, false, 4 << 20}, {"zstd-19", CodecZstd, 19, false, 4 << 20},
	} {
		b.Run(c.name, func(b *testing.B) {
			oc, err := NewObjectCompressor(c.codec, c.level, c.frame)
			if err != nil {
				b.Fatal(err)
			}
			var out countWriter
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			b.ResetTimer()
			for range b.N {
				out = 0
				w, err := oc.NewWriter(&out, c.parallel)
				if err != nil {
					b.Fatal(err)
				}
				for rest := src; len(rest) > 0; {
					n := min(len(rest), 256<<10)
					if _, err := w.Write(rest[:n]); err != nil {
						b.Fatal(err)
					}
					rest = rest[n:]
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out)/float64(len(src)), "ratio")
		})
	}
}

// countWriter counts the bytes written to it.
type countWriter int

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
