package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/outcome"
)

func httpServerSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Categories("Network").
		Summary("An ingest endpoint for NDJSON log records: answers 200 only after every record of the request was delivered.").
		Description(`Clients POST NDJSON bodies (one JSON record per line, empty lines skipped), plain or with
`+"`Content-Encoding: gzip`"+`. A request becomes one or more batches of at most `+"`batch_size`"+` records. The
response waits for the destination: 200 when every record of the request was delivered (or deliberately
dropped by sampling or a filter), 503 with the reason otherwise, so the sender can retry the request.
Other answers: 405 for a method other than POST, 413 when the body (compressed or not) exceeds
`+"`max_body_bytes`"+`, 400 for a broken gzip stream, 415 for another Content-Encoding, 404 for another path.`).
		Fields(
			service.NewStringField("address").
				Description("Address to listen on, `host:port`.").
				Default("0.0.0.0:4196"),
			service.NewStringField("path").
				Description("The URL path that accepts records.").
				Default("/v1/logs"),
			service.NewIntField("batch_size").
				Description("Maximum records per batch; a larger request is split into several batches.").
				Default(1000).Advanced(),
			service.NewIntField("max_body_bytes").
				Description("Maximum size of a request body, both as sent and after gzip decompression.").
				Default(64<<20).Advanced(),
			service.NewBoolField("flush_markers").
				Description("Send a flush marker (an empty message with metadata `esa_flush: \"1\"`) when the input ends or the stream is drained, so that the esa_* outputs write their partial batches at once instead of after their batch period. The esa_* outputs drop markers; turn this off when the output is not an esa_* output.").
				Default(true).Advanced(),
		).
		Example("Default ingest endpoint", "Edge nodes POST NDJSON to http://<host>:4196/v1/logs.", `
input:
  esa_http_server:
    address: 0.0.0.0:4196
    path: /v1/logs
`)
}

// httpBatch is one batch of a request on its way to ReadBatch.
type httpBatch struct {
	recs [][]byte
	res  *requestResult
}

// requestResult collects the acks of a request's batches.
type requestResult struct {
	mu      sync.Mutex
	left    int
	err     error
	settled chan struct{}
}

func (r *requestResult) ack(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && r.err == nil {
		r.err = err
	}
	r.left--
	if r.left == 0 {
		close(r.settled)
	}
}

type httpServerInput struct {
	address, path string
	batchSize     int
	maxBody       int64
	log           *service.Logger

	batches chan httpBatch
	mu      sync.Mutex
	srv     *http.Server
	closed  chan struct{}
	once    sync.Once

	drain     <-chan struct{} // closed when the stream is drained; nil without flush markers
	drainDone bool            // the flush marker was handed out (ReadBatch is not called concurrently)
}

func newHTTPServerInput(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
	address, err := conf.FieldString("address")
	if err != nil {
		return nil, err
	}
	path, err := conf.FieldString("path")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("esa_http_server: path %q must start with /", path)
	}
	batchSize, err := conf.FieldInt("batch_size")
	if err != nil {
		return nil, err
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("esa_http_server: batch_size %d must be at least 1", batchSize)
	}
	maxBody, err := conf.FieldInt("max_body_bytes")
	if err != nil {
		return nil, err
	}
	if maxBody < 1 {
		return nil, fmt.Errorf("esa_http_server: max_body_bytes %d must be positive", maxBody)
	}
	markers, err := conf.FieldBool("flush_markers")
	if err != nil {
		return nil, err
	}
	drain := outcome.From(res).DrainCh()
	if !markers {
		drain = nil
	}
	return &httpServerInput{
		address: address, path: path, batchSize: batchSize, maxBody: int64(maxBody),
		log: res.Logger(), batches: make(chan httpBatch), closed: make(chan struct{}),
		drain: drain,
	}, nil
}

// Connect binds the address and starts serving.
func (h *httpServerInput) Connect(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return nil
	}
	select {
	case <-h.closed:
		return service.ErrEndOfInput
	default:
	}
	ln, err := net.Listen("tcp", h.address)
	if err != nil {
		return fmt.Errorf("esa_http_server: listen on %s: %w", h.address, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(h.path, h.handle)
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Errorf("esa_http_server: serving on %s: %v", h.address, err)
		}
	}()
	h.log.Infof("esa_http_server: accepting NDJSON at http://%s%s", ln.Addr(), h.path)
	return nil
}

func (h *httpServerInput) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "esa_http_server: only POST is accepted", http.StatusMethodNotAllowed)
		return
	}
	if r.ContentLength > h.maxBody {
		http.Error(w, fmt.Sprintf("esa_http_server: body of %d bytes is over the limit of %d", r.ContentLength, h.maxBody), http.StatusRequestEntityTooLarge)
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, h.maxBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			h.readError(w, err, "gzip")
			return
		}
		defer zr.Close()
		body = zr
	default:
		http.Error(w, fmt.Sprintf("esa_http_server: Content-Encoding %q is not supported (send gzip or plain)", enc), http.StatusUnsupportedMediaType)
		return
	}
	// Read one byte past the limit to tell a body of exactly the limit from a longer one.
	data, err := io.ReadAll(io.LimitReader(body, h.maxBody+1))
	if err != nil {
		h.readError(w, err, r.Header.Get("Content-Encoding"))
		return
	}
	if int64(len(data)) > h.maxBody {
		http.Error(w, fmt.Sprintf("esa_http_server: decompressed body is over the limit of %d bytes", h.maxBody), http.StatusRequestEntityTooLarge)
		return
	}
	recs := splitLines(data)
	if len(recs) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	n := (len(recs) + h.batchSize - 1) / h.batchSize
	res := &requestResult{left: n, settled: make(chan struct{})}
	sent := 0
	for i := 0; i < len(recs); i += h.batchSize {
		b := httpBatch{recs: recs[i:min(i+h.batchSize, len(recs))], res: res}
		select {
		case h.batches <- b:
			sent++
		case <-r.Context().Done():
			return // the client is gone; batches already sent are still delivered
		case <-h.closed:
			http.Error(w, fmt.Sprintf("esa_http_server: shutting down; %d of %d batches were not taken", n-sent, n), http.StatusServiceUnavailable)
			return
		}
	}
	select {
	case <-res.settled:
	case <-r.Context().Done():
		return
	case <-h.closed:
		// Shutdown waits for the batches in flight to resolve, but not forever.
		select {
		case <-res.settled:
		case <-time.After(10 * time.Second):
			http.Error(w, "esa_http_server: shutting down before the records were delivered", http.StatusServiceUnavailable)
			return
		}
	}
	res.mu.Lock()
	err = res.err
	res.mu.Unlock()
	if err != nil {
		http.Error(w, fmt.Sprintf("esa_http_server: %d records were not delivered: %v", len(recs), err), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *httpServerInput) readError(w http.ResponseWriter, err error, enc string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		http.Error(w, fmt.Sprintf("esa_http_server: body is over the limit of %d bytes", h.maxBody), http.StatusRequestEntityTooLarge)
	case strings.Contains(strings.ToLower(enc), "gzip"):
		http.Error(w, "esa_http_server: bad gzip body: "+err.Error(), http.StatusBadRequest)
	default:
		http.Error(w, "esa_http_server: reading the body: "+err.Error(), http.StatusBadRequest)
	}
}

// splitLines returns the non-blank lines of data without their line endings (sub-slices of data).
func splitLines(data []byte) [][]byte {
	recs := make([][]byte, 0, bytes.Count(data, []byte{'\n'})+1)
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		recs = append(recs, line[:len(line):len(line)])
	}
	return recs
}

// ReadBatch returns the next batch of any request; its ack settles that request's part.
func (h *httpServerInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if h.drainDone {
		return nil, nil, service.ErrEndOfInput
	}
	select {
	case b := <-h.batches:
		batch := make(service.MessageBatch, len(b.recs))
		for i, r := range b.recs {
			batch[i] = service.NewMessage(r)
		}
		var once sync.Once
		return batch, func(_ context.Context, err error) error {
			once.Do(func() { b.res.ack(err) })
			return nil
		}, nil
	case <-h.closed:
		return nil, nil, service.ErrEndOfInput
	case <-h.drain:
		// Drained: requests still waiting get 503 when the input closes; the batches already handed
		// out are flushed by the marker and answered once delivered.
		h.drainDone = true
		return service.MessageBatch{encode.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// Close stops accepting requests and lets running requests finish.
func (h *httpServerInput) Close(ctx context.Context) error {
	h.once.Do(func() { close(h.closed) })
	h.mu.Lock()
	srv := h.srv
	h.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}
