package fields

import (
	"context"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
)

// A watcher of the task's tap sees each delivered record as the destination gets it, bundles
// included; without a watcher nothing is published.
func TestTapSeesDeliveredRecords(t *testing.T) {
	for _, bundle := range []bool{false, true} {
		p, err := New(Config{Category: "access", Fields: []string{"ClientRequestID"}, Bundle: bundle}, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := p.tap.Watch(1)
		if err != nil {
			t.Fatal(err)
		}
		batch := service.MessageBatch{service.NewMessage([]byte(`{"ClientRequestID":"a","X":1}`)),
			service.NewMessage([]byte(`not json`)), service.NewMessage([]byte(`{"ClientRequestID":"b"}`))}
		if _, err := p.ProcessBatch(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		w.Close()
		var got []string
		for len(w.Batches()) > 0 {
			for _, r := range <-w.Batches() {
				got = append(got, string(r))
			}
		}
		if len(got) != 2 || got[0] != `{"ClientRequestID":"a"}` || got[1] != `{"ClientRequestID":"b"}` {
			t.Fatalf("bundle %v: the tap saw %q", bundle, got)
		}
	}
}

// BenchmarkTap is BenchmarkFields20 (unchecked records) without a watcher and with one that sees
// every record but never reads (the worst case: every record copied, then dropped).
func BenchmarkTap(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "unwatched"
		if watched {
			name = "watched-100%"
		}
		b.Run(name, func(b *testing.B) {
			recs := pipelinetest.AccessRecords(b, 1000)
			p, err := New(Config{Category: "access", Fields: fields20}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if watched {
				w, err := p.tap.Watch(1)
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				go func() {
					for range w.Batches() {
					}
				}()
			}
			benchProcess(b, p, pipelinetest.Batch(recs), recs)
		})
	}
}

// In bundle mode an invalid record between two valid ones leaves no empty line in the bundle.
func TestBundleSkipsInvalidRecords(t *testing.T) {
	p, err := New(Config{Category: "access", Fields: []string{"ClientRequestID"}, Bundle: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	batch := service.MessageBatch{service.NewMessage([]byte(`{"ClientRequestID":"a"}`)),
		service.NewMessage([]byte(`not json`)), service.NewMessage([]byte(`{"ClientRequestID":"b"}`))}
	out, err := p.ProcessBatch(context.Background(), batch)
	if err != nil || len(out) != 1 || len(out[0]) == 0 {
		t.Fatalf("%v %v", out, err)
	}
	b, _ := out[0][0].AsBytes()
	if string(b) != "{\"ClientRequestID\":\"a\"}\n{\"ClientRequestID\":\"b\"}" {
		t.Fatalf("bundle %q", b)
	}
	if n, _ := out[0][0].MetaGetMut("esa_records"); n != int64(2) {
		t.Fatalf("bundle counts %v records", n)
	}
}
