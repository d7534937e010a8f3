package source

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// FuzzIngestBody feeds arbitrary request bodies, plain and as gzip, through the ingest's handler (its
// body decoder, line splitter and record validator) with every batch acknowledged: no input may panic
// or hang, the answer is one of the documented statuses, and a 200 counts every non-blank line once.
// Run longer with: go test -run '^$' -fuzz FuzzIngestBody -fuzztime 60s ./plugins/source/
func FuzzIngestBody(f *testing.F) {
	for _, seed := range []string{
		"{\"a\":1}\n{\"a\":2}\r\n\n", "not json\n{\"a\":\"\xff\"}\n[1]\n", "", "\n\n\n", "{}", "{\"a\":1}{\"b\":2}",
		"{\"k\":\"" + string(bytes.Repeat([]byte("x"), 2000)) + "\"}\n",
	} {
		f.Add([]byte(seed), false)
		f.Add(gzipBytes([]byte(seed)), true)
	}
	conf, err := HTTPServerSpec().ParseYAML("batch_size: 3\nmax_body_bytes: 65536\nmax_pending_bytes: 1048576\nflush_after: 0s\n", nil)
	if err != nil {
		f.Fatal(err)
	}
	in, err := httpServerFromParsed(conf, service.MockResources())
	if err != nil {
		f.Fatal(err)
	}
	h := in.(*httpServerInput)
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	go func() {
		for {
			_, ack, err := h.ReadBatch(ctx)
			if err != nil {
				return
			}
			_ = ack(ctx, nil)
		}
	}()
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		req := httptest.NewRequest(http.MethodPost, "/v1/logs", bytes.NewReader(body))
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		h.handle(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var ans acceptedBody
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
				t.Fatalf("200 with a body that is not the answer: %q", rec.Body.String())
			}
			if gzipped {
				return // the line count is of the decompressed body
			}
			if n := len(splitNumbered(body).recs); ans.Accepted+ans.Rejected != n || ans.Accepted < 0 || ans.Rejected < 0 {
				t.Fatalf("answer %+v for %d non-blank lines", ans, n)
			}
			if len(ans.RejectedLines) > maxRejectedListed || len(ans.RejectedLines) > ans.Rejected {
				t.Fatalf("answer lists %d rejected lines of %d", len(ans.RejectedLines), ans.Rejected)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if !gzipped && rec.Code == http.StatusBadRequest {
				t.Fatalf("a plain body got 400: %s", rec.Body.String())
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		if h.bodies.budget.TryAcquire(1048576) {
			h.bodies.budget.Release(1048576)
		} else {
			t.Fatal("a request left part of the budget taken")
		}
	})
}

func gzipBytes(p []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return b.Bytes()
}
