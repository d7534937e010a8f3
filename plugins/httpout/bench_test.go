package httpout

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/generate"
)

// BenchmarkWriteBatch measures the output's per-batch work (encode, compress, sign, POST) for batches
// of 1000 generated access records sent to a loopback server that discards the body.
//
//	go test -run '^$' -bench BenchmarkWriteBatch -benchtime 2s ./plugins/httpout/
func BenchmarkWriteBatch(b *testing.B) {
	g, err := generate.New("access", 1)
	if err != nil {
		b.Fatal(err)
	}
	batch := make(service.MessageBatch, 1000)
	for i := range batch {
		batch[i] = service.NewMessage(g.Next(nil))
	}
	srv := serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	for _, codec := range []string{"no", "gzip", "zlib", "snappy"} {
		b.Run(codec, func(b *testing.B) {
			conf, err := ConfigSpec().ParseYAML("url: "+srv.URL+"/accesslog/post\ncompression: "+codec+
				"\nauth: {private_key: aliyuncdn1234}\n", service.NewEmptyEnvironment())
			if err != nil {
				b.Fatal(err)
			}
			o, err := fromParsed(conf, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close(context.Background())
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := o.WriteBatch(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
		})
	}
}
