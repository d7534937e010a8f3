package httpdelivery

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/httpout"
)

// BenchmarkDelivery measures records/s delivered end to end — esa_generate (access records, every
// catalog field) → esa_http → a loopback Receiver that decompresses and splits every body — per
// compression codec and max_in_flight, with the compressed/raw byte ratio and the process's peak RSS.
// One iteration is one record:
//
//	go test -run '^$' -bench BenchmarkDelivery -benchtime 1000000x ./tests/httpdelivery/
func BenchmarkDelivery(b *testing.B) {
	for _, codec := range []string{"no", "gzip", "zlib", "snappy"} {
		for _, inFlight := range []int{1, 8} {
			b.Run(codec+"/in_flight="+strconv.Itoa(inFlight), func(b *testing.B) {
				var wire, raw, records atomic.Int64
				rc := &httpout.Receiver{PrivateKey: "aliyuncdn1234",
					OnBatch: func(r *http.Request, body []byte, recs [][]byte) error {
						raw.Add(int64(len(body)))
						records.Add(int64(len(recs)))
						return nil
					}}
				counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					wire.Add(r.ContentLength)
					rc.ServeHTTP(w, r)
				})
				srv := serve(b, counting)
				b.ReportAllocs()
				b.ResetTimer()
				runStream(b, `
input:
  esa_generate: {category: access, count: `+strconv.Itoa(b.N)+`, batch_size: 1000, seed: 1}
output:
  esa_http:
    url: `+srv.URL+`/accesslog/post
    compression: `+codec+`
    auth: {private_key: aliyuncdn1234, expired_time: 300}
    max_in_flight: `+strconv.Itoa(inFlight)+`
    batching: {count: 1000, byte_size: 5242880, period: 1s}
    task: bench
`)
				b.StopTimer()
				if records.Load() < int64(b.N) {
					b.Fatalf("%d of %d records arrived", records.Load(), b.N)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(wire.Load())/float64(raw.Load()), "compressed/raw")
				b.ReportMetric(float64(raw.Load())/float64(records.Load()), "raw-bytes/record")
				b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
			})
		}
	}
}

// peakRSSMiB is the process's peak resident set size (VmHWM) in MiB, or 0 where /proc is missing.
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
