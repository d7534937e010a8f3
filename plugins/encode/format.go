// Package encode turns batches of delivered records into bytes, and does nothing else: the record
// formats (NDJSON, CSV, TSV, prefixes, suffixes, delimiters; docs/processing.md#record-formats) and
// the `encoding` field that chooses them, compression (gzip, zlib, snappy block, zstd, none), object
// naming (docs/destinations.md#object-layout), the object encoder shared by the local, S3 and OSS
// outputs, and Packed (records kept S2-compressed for redelivery). How the bytes are delivered is
// package delivery; what travels with a record between components is package pipeline.
package encode

import (
	"bytes"
	"fmt"

	"github.com/esa-connect/esa-connect/plugins/record"
)

// Record formats.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
	FormatTSV    = "tsv"
)

// Options are the record and batch format options.
type Options struct {
	// Format is ndjson, csv or tsv.
	Format string
	// Fields are the CSV/TSV columns in order; empty means the keys of the first record.
	Fields []string
	// RecordPrefix and RecordSuffix wrap every record.
	RecordPrefix, RecordSuffix string
	// RecordDelimiter separates records (default "\n").
	RecordDelimiter string
	// DelimiterAfterLast writes RecordDelimiter after the last record too (default true).
	DelimiterAfterLast bool
	// BatchPrefix and BatchSuffix wrap the whole batch.
	BatchPrefix, BatchSuffix string
}

// DefaultOptions are NDJSON: one JSON object per record, "\n" after each.
func DefaultOptions() Options {
	return Options{Format: FormatNDJSON, RecordDelimiter: "\n", DelimiterAfterLast: true}
}

// Validate reports an unknown format.
func (o Options) Validate() error {
	switch o.Format {
	case FormatNDJSON, FormatCSV, FormatTSV:
		return nil
	}
	return fmt.Errorf("unknown format %q (want ndjson, csv or tsv)", o.Format)
}

// ContentType is the MIME type of an encoded batch.
func (o Options) ContentType() string {
	switch o.Format {
	case FormatCSV:
		return "text/csv"
	case FormatTSV:
		return "text/tab-separated-values"
	}
	return "application/x-ndjson"
}

// Encoder encodes batches of JSON-object records. It is safe for concurrent use.
type Encoder struct {
	opts Options
}

// NewEncoder validates o and returns its encoder.
func NewEncoder(o Options) (*Encoder, error) {
	if o.Format == "" {
		o.Format = FormatNDJSON
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Encoder{opts: o}, nil
}

// Options returns the encoder's options.
func (e *Encoder) Options() Options { return e.opts }

// Encode appends the encoded batch of records (each a JSON object) to dst.
func (e *Encoder) Encode(dst []byte, records [][]byte) ([]byte, error) {
	st := e.NewStream()
	dst, err := st.Append(dst, records)
	if err != nil {
		return nil, err
	}
	return st.Finish(dst), nil
}

// Stream encodes one batch (one object, one request body) whose records come in parts: the batch
// prefix and the CSV/TSV header before the first record, the delimiter between records, and the
// delimiter after the last one (when DelimiterAfterLast) and the batch suffix at Finish. Its output is
// Encode's for the concatenation of the parts. A Stream is not safe for concurrent use.
type Stream struct {
	e       *Encoder
	cols    []string
	begun   bool
	records int
}

// NewStream starts a batch.
func (e *Encoder) NewStream() *Stream { return &Stream{e: e} }

// Records is the number of records appended so far.
func (s *Stream) Records() int { return s.records }

// begin writes the batch prefix and, for CSV/TSV, the header: the configured columns, else the keys of
// first (which may be nil).
func (s *Stream) begin(dst, first []byte) []byte {
	s.begun = true
	o := &s.e.opts
	dst = append(dst, o.BatchPrefix...)
	if o.Format == FormatNDJSON {
		return dst
	}
	s.cols = o.Fields
	if len(s.cols) == 0 && first != nil {
		_ = record.Each(first, func(k, _ []byte, _ record.Kind) bool {
			s.cols = append(s.cols, record.UnquoteString(append(append([]byte{'"'}, k...), '"')))
			return true
		})
	}
	sep := byte(',')
	if o.Format == FormatTSV {
		sep = '\t'
	}
	for i, c := range s.cols {
		if i > 0 {
			dst = append(dst, sep)
		}
		dst = appendCell(dst, []byte(c), o.Format)
	}
	return append(dst, '\n')
}

// Append appends the encoding of records to dst.
func (s *Stream) Append(dst []byte, records [][]byte) ([]byte, error) {
	o := &s.e.opts
	for _, rec := range records {
		if !s.begun {
			dst = s.begin(dst, rec)
		}
		if s.records > 0 {
			dst = append(dst, o.RecordDelimiter...)
		}
		dst = append(dst, o.RecordPrefix...)
		switch o.Format {
		case FormatNDJSON:
			dst = append(dst, rec...)
		default:
			var err error
			if dst, err = s.e.appendRow(dst, rec, s.cols); err != nil {
				return nil, err
			}
		}
		dst = append(dst, o.RecordSuffix...)
		s.records++
	}
	return dst, nil
}

// Finish appends the end of the batch to dst.
func (s *Stream) Finish(dst []byte) []byte {
	if !s.begun {
		dst = s.begin(dst, nil)
	}
	o := &s.e.opts
	if s.records > 0 && o.DelimiterAfterLast {
		dst = append(dst, o.RecordDelimiter...)
	}
	return append(dst, o.BatchSuffix...)
}

func (e *Encoder) appendRow(dst, rec []byte, cols []string) ([]byte, error) {
	sep := byte(',')
	if e.opts.Format == FormatTSV {
		sep = '\t'
	}
	// Records from esa_fields carry the columns in order, so one pass over the record usually fills
	// every cell; a column found out of order falls back to a lookup.
	// A record that is not a well-formed object (only possible when no esa_fields ran before the
	// output) gets the cells that could be read; the rest stay empty rather than failing the batch.
	next := 0
	_ = record.Each(rec, func(key, value []byte, kind record.Kind) bool {
		if next < len(cols) && string(key) == cols[next] {
			if next > 0 {
				dst = append(dst, sep)
			}
			dst = e.appendValue(dst, value, kind)
			next++
		}
		return next < len(cols)
	})
	for ; next < len(cols); next++ {
		if next > 0 {
			dst = append(dst, sep)
		}
		if raw, kind, ok := record.Lookup(rec, cols[next]); ok {
			dst = e.appendValue(dst, raw, kind)
		}
	}
	return dst, nil
}

// appendValue writes one raw JSON value as a cell: strings unquoted, null empty, the rest as JSON text.
func (e *Encoder) appendValue(dst, raw []byte, kind record.Kind) []byte {
	switch kind {
	case record.Null:
		return dst
	case record.String:
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return appendCell(dst, inner, e.opts.Format)
		}
		return appendCell(dst, []byte(record.UnquoteString(raw)), e.opts.Format)
	}
	return appendCell(dst, raw, e.opts.Format)
}

// appendCell writes one CSV (RFC 4180 quoting) or TSV (\t, \n, \r, \\ escaped) cell.
func appendCell(dst []byte, s []byte, format string) []byte {
	if format == FormatTSV {
		if bytes.IndexAny(s, "\t\n\r\\") < 0 {
			return append(dst, s...)
		}
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '\t':
				dst = append(dst, '\\', 't')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\\':
				dst = append(dst, '\\', '\\')
			default:
				dst = append(dst, s[i])
			}
		}
		return dst
	}
	if bytes.IndexAny(s, ",\"\r\n") < 0 {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}
