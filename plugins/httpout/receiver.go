package httpout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/esa-connect/esa-connect/plugins/authkey"
)

// DefaultMaxBodyBytes bounds the request body a Receiver accepts, compressed and decompressed.
const DefaultMaxBodyBytes = 256 << 20

// Receiver is an http.Handler that accepts deliveries of the esa_http output (and of ESA itself): it
// verifies the auth_key (when PrivateKey is set), decompresses the body by its Content-Encoding (gzip,
// deflate = zlib, snappy = block format, zstd, or none), strips the body prefix and suffix, splits the
// records and hands them on. It answers 200 when the records were taken, 403 with the reason when the
// signature is missing, malformed, expired or wrong, 415 for an unknown encoding, 400 for a body that
// cannot be decoded or lacks the configured prefix/suffix, and 500 when OnBatch or Out fails.
//
// It backs `esa-connect receive` and the delivery tests. Set the fields before serving; they must not
// change afterwards. A Receiver is safe for concurrent use.
type Receiver struct {
	// PrivateKey, when not empty, makes every request carry a valid auth_key.
	PrivateKey string
	// SignedPath is the path the sender signs (auth.url_path); empty means the request's path.
	SignedPath string
	// Path, when not empty, is the only request path served (others get 404).
	Path string
	// BodyPrefix and BodySuffix are removed from each body; a body without them is rejected (400).
	BodyPrefix, BodySuffix string
	// NoSplit takes the whole body (without prefix and suffix) as one record.
	NoSplit bool
	// SplitWords separates records (default "\n"). A separator after the last record is allowed.
	SplitWords string
	// Out, when set, receives each record followed by "\n", one request at a time.
	Out io.Writer
	// OnBatch, when set, is called with the request, the decompressed body (prefix and suffix still
	// included) and the records, before Out is written. Returning an error answers 500. The slices are
	// only valid during the call.
	OnBatch func(r *http.Request, body []byte, records [][]byte) error
	// Now is the clock for expiry checks (default time.Now).
	Now func() time.Time
	// MaxBodyBytes bounds the compressed and the decompressed body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Logf, when set, is told about every rejected request (the reason, never a key).
	Logf func(format string, args ...any)

	mu       sync.Mutex
	requests atomic.Int64
	records  atomic.Int64
	rejected atomic.Int64
}

// ReceiverStats counts what a Receiver has seen.
type ReceiverStats struct {
	// Requests is the number of requests accepted with 200.
	Requests int64
	// Records is the number of records in accepted requests.
	Records int64
	// Rejected is the number of requests answered with anything but 200.
	Rejected int64
}

// Stats returns the receiver's counters.
func (rc *Receiver) Stats() ReceiverStats {
	return ReceiverStats{Requests: rc.requests.Load(), Records: rc.records.Load(), Rejected: rc.rejected.Load()}
}

// ServeHTTP implements http.Handler.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.Path != "" && r.URL.Path != rc.Path {
		rc.reject(w, http.StatusNotFound, "path %q is not served (want %q)", r.URL.Path, rc.Path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		rc.reject(w, http.StatusMethodNotAllowed, "method %s not allowed (want POST)", r.Method)
		return
	}
	if rc.PrivateKey != "" {
		signed := rc.SignedPath
		if signed == "" {
			signed = r.URL.Path
		}
		now := time.Now
		if rc.Now != nil {
			now = rc.Now
		}
		if err := authkey.Verify(r.URL.Query().Get(authkey.Param), signed, rc.PrivateKey, now()); err != nil {
			rc.reject(w, http.StatusForbidden, "%v", err)
			return
		}
	}
	limit := rc.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	var rb bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		rb.Grow(int(r.ContentLength) + 1)
	}
	_, err := rb.ReadFrom(io.LimitReader(r.Body, limit+1))
	raw := rb.Bytes()
	if err != nil {
		rc.reject(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	if int64(len(raw)) > limit {
		rc.reject(w, http.StatusRequestEntityTooLarge, "body larger than %d bytes", limit)
		return
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	body, status, err := Decompress(enc, raw, limit)
	if err != nil {
		rc.reject(w, status, "%v", err)
		return
	}
	inner, ok := bytes.CutPrefix(body, []byte(rc.BodyPrefix))
	if !ok {
		rc.reject(w, http.StatusBadRequest, "body does not start with the configured prefix")
		return
	}
	inner, ok = bytes.CutSuffix(inner, []byte(rc.BodySuffix))
	if !ok {
		rc.reject(w, http.StatusBadRequest, "body does not end with the configured suffix")
		return
	}
	records := rc.split(inner)
	if rc.OnBatch != nil {
		if err := rc.OnBatch(r, body, records); err != nil {
			rc.reject(w, http.StatusInternalServerError, "%v", err)
			return
		}
	}
	if rc.Out != nil && len(records) > 0 {
		n := 0
		for _, rec := range records {
			n += len(rec) + 1
		}
		buf := make([]byte, 0, n)
		for _, rec := range records {
			buf = append(append(buf, rec...), '\n')
		}
		rc.mu.Lock()
		_, err := rc.Out.Write(buf)
		if f, ok := rc.Out.(interface{ Flush() error }); ok && err == nil {
			err = f.Flush()
		}
		rc.mu.Unlock()
		if err != nil {
			rc.reject(w, http.StatusInternalServerError, "writing records: %v", err)
			return
		}
	}
	rc.requests.Add(1)
	rc.records.Add(int64(len(records)))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "ok %d records\n", len(records))
}

// split cuts the body into records: by SplitWords (default "\n"), without an empty record after a
// final separator; with NoSplit the whole body is one record; an empty body has none.
func (rc *Receiver) split(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	if rc.NoSplit {
		return [][]byte{b}
	}
	sep := rc.SplitWords
	if sep == "" {
		sep = "\n"
	}
	recs := bytes.Split(b, []byte(sep))
	if n := len(recs); n > 0 && len(recs[n-1]) == 0 {
		recs = recs[:n-1]
	}
	return recs
}

func (rc *Receiver) reject(w http.ResponseWriter, status int, format string, args ...any) {
	rc.rejected.Add(1)
	msg := fmt.Sprintf(format, args...)
	if rc.Logf != nil {
		rc.Logf("receive: %d %s", status, msg)
	}
	http.Error(w, msg, status)
}

// Decompress decodes body by its Content-Encoding value: "" or "identity" (as is), "gzip", "deflate"
// (zlib), "snappy" (block format) or "zstd" (one or more frames). The result is bounded by limit bytes. On error it also returns
// the HTTP status a receiver should answer (415 for an unknown encoding, 400 for a corrupt body, 413
// for one too large).
func Decompress(contentEncoding string, body []byte, limit int64) ([]byte, int, error) {
	switch contentEncoding {
	case "", "identity":
		return body, http.StatusOK, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("gzip body: %w", err)
		}
		return readLimited(zr, limit, "gzip")
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("deflate (zlib) body: %w", err)
		}
		return readLimited(zr, limit, "deflate (zlib)")
	case "snappy":
		n, err := s2.DecodedLen(body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("snappy (block) body: %w", err)
		}
		if int64(n) > limit {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("snappy body decodes to %d bytes, more than %d", n, limit)
		}
		out, err := s2.Decode(nil, body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("snappy (block) body: %w", err)
		}
		return out, http.StatusOK, nil
	case "zstd":
		// The window a frame may ask for is bounded too (the decoder allocates it): 64 MiB at most.
		zr, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(uint64(max(min(limit, 64<<20), zstd.MinWindowSize))))
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("zstd body: %w", err)
		}
		out, status, err := readLimited(zr.IOReadCloser(), limit, "zstd")
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			// A frame that declares more than the limit (or a larger window) is refused unread.
			status = http.StatusRequestEntityTooLarge
		}
		return out, status, err
	}
	return nil, http.StatusUnsupportedMediaType,
		fmt.Errorf("unsupported Content-Encoding %q (want gzip, deflate, snappy, zstd or none)", truncate(contentEncoding, 40))
}

func readLimited(r io.ReadCloser, limit int64, name string) ([]byte, int, error) {
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("%s body: %w", name, err)
	}
	if int64(len(out)) > limit {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%s body decodes to more than %d bytes", name, limit)
	}
	return out, http.StatusOK, nil
}
