package source

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/semaphore"

	"github.com/esa-connect/esa-connect/plugins/pipeline"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// BodyReader reads the NDJSON bodies of ingest requests (plain or gzip) within a size limit per body
// and a memory budget shared by every request being read or waiting for delivery. It is shared by
// esa_http_server and esa-connect serve's ingest.
type BodyReader struct {
	prefix      string
	maxBody     int64
	budget      *semaphore.Weighted
	readTimeout time.Duration
}

// NewBodyReader returns a reader whose error answers start with prefix (such as "esa_http_server"),
// that refuses a body over maxBody bytes (as sent or decompressed) and answers 429 when the bodies
// held would exceed maxPending bytes. readTimeout is named in the answer to a body read too slowly.
func NewBodyReader(prefix string, maxBody, maxPending int64, readTimeout time.Duration) *BodyReader {
	return &BodyReader{prefix: prefix, maxBody: maxBody, budget: semaphore.NewWeighted(maxPending), readTimeout: readTimeout}
}

// Body is the records of one ingest request: its non-blank lines, which of them are valid records,
// and the answer that counts and lists the rejected ones. It holds its bytes in the reader's budget
// until Release.
type Body struct {
	lines         numberedLines
	valid, unique []bool
	ix            []record.Index     // where each valid record's values are (zero when not known)
	received      *pipeline.Received // the gzip body as sent, and decompressed (nil for a plain body)
	answer        acceptedBody
	held          *held
}

// index is the Index of record i (zero when not known).
func (b *Body) index(i int) record.Index {
	if i < len(b.ix) {
		return b.ix[i]
	}
	return record.Index{}
}

// Records is the number of non-blank lines (records and rejected lines).
func (b *Body) Records() int { return len(b.lines.recs) }

// Answer is the body of the 200 answer: {"accepted", "rejected", "rejected_lines"}.
func (b *Body) Answer() any { return b.answer }

// Release gives the body's memory back to the budget; call it once nothing references the records.
func (b *Body) Release() { b.held.release() }

// Keep makes Release leave the memory taken: batches that could not be waited for still reference it.
func (b *Body) Keep() { b.held.keep() }

// Read reads and checks r's body. On any problem it answers the request itself (413, 415, 400, 408,
// 429) and returns false.
func (br *BodyReader) Read(w http.ResponseWriter, r *http.Request) (*Body, bool) {
	if r.ContentLength > br.maxBody {
		ReplyError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: body of %d bytes is over the limit of %d", br.prefix, r.ContentLength, br.maxBody))
		return nil, false
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, br.maxBody)
	gzipped := false
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gzipped = true
	default:
		ReplyError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("%s: Content-Encoding %q is not supported (send gzip or plain)", br.prefix, enc))
		return nil, false
	}
	hd := &held{budget: br.budget}
	var data, comp []byte
	var err error
	if gzipped {
		// The compressed body first (its size is known, or small), then the records at their size
		// (from the gzip trailer), without growing a buffer: a gzip body is decompressed in one go.
		// The compressed body is kept (and counted) with the records: a disk buffer stores it as it is.
		if comp, err = br.readBody(body, hd, max(r.ContentLength, 0)); err == nil {
			data, err = br.gunzip(comp, hd)
		}
	} else {
		data, err = br.readBody(body, hd, max(r.ContentLength, 0))
	}
	if err != nil {
		hd.release()
		br.readError(w, err, gzipped)
		return nil, false
	}
	b := &Body{lines: splitNumbered(data), held: hd}
	if gzipped {
		b.received = &pipeline.Received{Gzip: comp, Lines: data}
	}
	n := len(b.lines.recs)
	b.valid, b.unique, b.ix = make([]bool, n), make([]bool, n), make([]record.Index, n)
	// The shape keeps where each record's values are: its Index goes with the record's mark, and the
	// esa_fields of every task fed by this body takes its fields from it without reading the record.
	var sh record.Shape
	sh.KeepPositions()
	var spans []uint32
	sel := record.NewSelector()
	for i, rec := range b.lines.recs {
		if err := sel.ScanShape(rec, nil, &sh); err != nil {
			b.answer.Rejected++
			if len(b.answer.RejectedLines) < maxRejectedListed {
				reason := record.ReasonMalformed
				var ie *record.InvalidError
				if errors.As(err, &ie) {
					reason = ie.Reason
				}
				b.answer.RejectedLines = append(b.answer.RejectedLines, rejectedLine{Line: b.lines.numbers[i], Reason: reason, Error: err.Error()})
			}
			continue
		}
		b.valid[i], b.unique[i] = true, sh.Unique()
		b.ix[i], _ = sh.TakeIndex(&spans, n)
	}
	if !hd.grow(int64(cap(spans))*4 + int64(n)*int64(unsafe.Sizeof(record.Index{}))) {
		b.ix = nil // no room in the budget for the positions: the processors read the records
	}
	b.answer.Accepted = n - b.answer.Rejected
	return b, true
}

// Reply writes a JSON answer.
func Reply(w http.ResponseWriter, status int, body any) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type errorBody struct {
	Error string `json:"error"`
}

// ReplyError writes {"error": msg}.
func ReplyError(w http.ResponseWriter, status int, msg string) {
	Reply(w, status, errorBody{Error: msg})
}

// rejectedLine names a line that is not a valid record.
type rejectedLine struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// acceptedBody is the answer to a request whose records were all taken care of.
type acceptedBody struct {
	Accepted      int            `json:"accepted"`
	Rejected      int            `json:"rejected"`
	RejectedLines []rejectedLine `json:"rejected_lines,omitempty"`
}

// held is the part of the budget a request holds.
type held struct {
	budget *semaphore.Weighted
	n      int64
	kept   bool
}

// grow takes n more bytes of the budget, without waiting; false when the budget is exhausted.
func (hd *held) grow(n int64) bool {
	if !hd.budget.TryAcquire(n) {
		return false
	}
	hd.n += n
	return true
}

// keep leaves the bytes taken (the request's batches still reference its body).
func (hd *held) keep() { hd.kept = true }

// shrink gives n bytes back to the budget (a buffer no longer used).
func (hd *held) shrink(n int64) {
	if n > 0 && n <= hd.n && !hd.kept {
		hd.budget.Release(n)
		hd.n -= n
	}
}

func (hd *held) release() {
	if hd.n > 0 && !hd.kept {
		hd.budget.Release(hd.n)
	}
}

// gunzip decompresses a gzip body, taking its memory from the budget. The buffer is sized by the
// trailer's ISIZE (the size of the last member, mod 2^32: a hint, capped at deflate's largest ratio).
func (br *BodyReader) gunzip(comp []byte, hd *held) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(comp))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	hint := int64(0)
	if len(comp) >= 18 {
		hint = min(int64(binary.LittleEndian.Uint32(comp[len(comp)-4:])), int64(len(comp))*1032)
	}
	return br.readBody(zr, hd, hint)
}

// errBudget is a body that does not fit the max_pending_bytes budget now.
var errBudget = errors.New("the bodies of the requests in progress fill max_pending_bytes")

// errTooLarge is a (decompressed) body over max_body_bytes.
var errTooLarge = errors.New("decompressed body over the limit")

// readBody reads the whole body, taking its memory from the budget as it grows (sizeHint: the
// declared length of a plain body).
func (br *BodyReader) readBody(body io.Reader, hd *held, sizeHint int64) ([]byte, error) {
	initial := int64(64 << 10)
	if sizeHint > 0 {
		initial = sizeHint + 1 // one more byte tells a body of exactly the limit from a longer one
	}
	initial = min(initial, br.maxBody+1)
	if !hd.grow(initial) {
		return nil, errBudget
	}
	buf := make([]byte, 0, initial)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > br.maxBody {
				return nil, errTooLarge
			}
			next := min(int64(cap(buf))*2, br.maxBody+1)
			if !hd.grow(next - int64(cap(buf))) {
				return nil, errBudget
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > br.maxBody {
				return nil, errTooLarge
			}
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (br *BodyReader) readError(w http.ResponseWriter, err error, gzipped bool) {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.Is(err, errBudget):
		w.Header().Set("Retry-After", "1")
		ReplyError(w, http.StatusTooManyRequests, br.prefix+": "+err.Error()+"; send it again later")
	case errors.As(err, &mbe), errors.Is(err, errTooLarge):
		ReplyError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: body is over the limit of %d bytes", br.prefix, br.maxBody))
	case errors.As(err, &ne) && ne.Timeout():
		ReplyError(w, http.StatusRequestTimeout, fmt.Sprintf("%s: the body was not read within read_timeout (%s)", br.prefix, br.readTimeout))
	case gzipped:
		ReplyError(w, http.StatusBadRequest, br.prefix+": bad gzip body: "+err.Error())
	default:
		ReplyError(w, http.StatusBadRequest, br.prefix+": reading the body: "+err.Error())
	}
}

// numberedLines are the non-blank lines of a body and their 1-based line numbers.
type numberedLines struct {
	recs    [][]byte
	numbers []int
}

// splitNumbered returns the non-blank lines of data without their line endings (sub-slices of data)
// with their line numbers.
func splitNumbered(data []byte) numberedLines {
	n := bytes.Count(data, []byte{'\n'}) + 1
	out := numberedLines{recs: make([][]byte, 0, n), numbers: make([]int, 0, n)}
	lineNo := 0
	for len(data) > 0 {
		lineNo++
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
		out.recs = append(out.recs, line[:len(line):len(line)])
		out.numbers = append(out.numbers, lineNo)
	}
	return out
}
