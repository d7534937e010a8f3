package parquetfile

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// Page compression codecs (the objects' `compression` option with format parquet).
const (
	CodecSnappy = encode.CodecSnappy
	CodecZstd   = encode.CodecZstd
	CodecGzip   = encode.CodecGzip
	CodecNone   = encode.CodecNone
	// DefaultCodec is the codec when none is given.
	DefaultCodec = CodecSnappy
)

// Codecs are the page codecs of Parquet objects. zlib, which Parquet does not define, is refused.
var Codecs = []string{CodecSnappy, CodecZstd, CodecGzip, CodecNone}

// Row groups: a row group is flushed to the spool file after this many rows or bytes of records
// (the NDJSON size), whichever comes first.
const (
	DefaultRowGroupRows  = 65536
	DefaultRowGroupBytes = 8 << 20
)

// Extension is the end of a Parquet object's name; ContentType its media type.
const (
	Extension   = ".parquet"
	ContentType = "application/vnd.apache.parquet"
)

// Options configure a Format.
type Options struct {
	// Columns are the columns in order (at least one).
	Columns []Column
	// Compression is the page codec (Codecs; empty: snappy) and Level its level (0: the default;
	// gzip 1–9, zstd 1–22 as encode.CheckLevel).
	Compression string
	Level       int
	// RowGroupRows and RowGroupBytes close a row group (0: the defaults).
	RowGroupRows, RowGroupBytes int
	// Mismatch, when set, is called with the number of values of a column (by name; "" for a line
	// that is not a JSON object) that were written as null because their JSON type does not fit
	// the column. It may be called concurrently.
	Mismatch func(column string, n int)
}

// column is a compiled Column.
type column struct {
	name string
	typ  string
	leaf int // index of its first leaf column
}

// Format writes Parquet objects of one schema. It is safe for concurrent use; each writer it makes
// is not.
type Format struct {
	opts   Options
	cols   []column
	schema *parquet.Schema
	sel    *record.Selector
	codec  compress.Codec
	leaves int
}

// New checks o and returns its format.
func New(o Options) (*Format, error) {
	schema, err := newSchema(o.Columns)
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	if o.Compression == "" {
		o.Compression = DefaultCodec
	}
	f := &Format{opts: o, schema: schema, sel: record.NewSelector()}
	if f.codec, err = pageCodec(o.Compression, o.Level); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	if f.opts.RowGroupRows <= 0 {
		f.opts.RowGroupRows = DefaultRowGroupRows
	}
	if f.opts.RowGroupBytes <= 0 {
		f.opts.RowGroupBytes = DefaultRowGroupBytes
	}
	for _, c := range o.Columns {
		f.sel.Add(c.Name)
		f.cols = append(f.cols, column{name: c.Name, typ: c.Type, leaf: f.leaves})
		f.leaves += leaves(c.Type)
	}
	return f, nil
}

// pageCodec is the parquet-go codec of a codec name at level.
func pageCodec(name string, level int) (compress.Codec, error) {
	switch name {
	case CodecSnappy, CodecNone:
		if level != 0 {
			return nil, fmt.Errorf("compression %s takes no level (only gzip and zstd do)", name)
		}
		if name == CodecNone {
			return &uncompressed.Codec{}, nil
		}
		return &snappy.Codec{}, nil
	case CodecGzip, CodecZstd:
		if err := encode.CheckLevel(name, level); err != nil {
			return nil, err
		}
		if name == CodecZstd {
			return &zstd.Codec{Level: encode.ZstdEncoderLevel(level)}, nil
		}
		if level == 0 {
			level = encode.DefaultObjectGzipLevel
		}
		return &gzip.Codec{Level: level}, nil
	}
	return nil, fmt.Errorf("compression %q is not a Parquet page codec (want snappy, zstd, gzip or no)", name)
}

// Schema returns the Parquet schema of the format's files.
func (f *Format) Schema() *parquet.Schema { return f.schema }

// Codec returns the page codec's name.
func (f *Format) Codec() string { return f.opts.Compression }

// Extension is ".parquet" (the codec is inside the file).
func (f *Format) Extension() string { return Extension }

// ContentEncoding is empty: a Parquet file compresses its pages itself.
func (f *Format) ContentEncoding() string { return "" }

// ContentType is application/vnd.apache.parquet.
func (f *Format) ContentType() string { return ContentType }

// NewWriter returns a writer that takes NDJSON records (one JSON object per line, in as many Write
// calls as wanted, lines possibly split between calls) and writes them as one Parquet file to w;
// Close writes the last row group and the footer (it does not close w). parallel is ignored.
func (f *Format) NewWriter(w io.Writer, _ bool) (io.WriteCloser, error) {
	pw := parquet.NewWriter(w, f.schema, parquet.Compression(f.codec),
		parquet.CreatedBy("esa-connect", "", ""))
	return &Writer{f: f, pw: pw, vals: make([]record.Value, len(f.cols)), mismatch: make([]int, len(f.cols)+1)}, nil
}

// Writer writes one Parquet file (see Format.NewWriter).
type Writer struct {
	f        *Format
	pw       *parquet.Writer
	pending  []byte // the start of a line whose end has not come yet
	rows     []parquet.Row
	n        int    // rows in use
	arena    []byte // decoded strings of the rows not written yet
	vals     []record.Value
	shape    record.Shape
	mismatch []int // per column, then lines that are not JSON objects
	// The rows and record bytes of the row group being filled.
	groupRows, groupBytes int
	closed                bool
	err                   error
}

// rowsPerWrite is how many rows are handed to parquet-go at a time.
const rowsPerWrite = 256

// Write adds the complete lines of p (and the line pending from the previous call that p ends) as
// rows; an empty line is skipped.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, fmt.Errorf("parquet: write after close")
	}
	n := len(p)
	if len(w.pending) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.pending = append(w.pending, p...)
			return n, nil
		}
		w.pending = append(w.pending, p[:i]...)
		w.add(w.pending)
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		w.add(p[:i])
		p = p[i+1:]
		if w.n == rowsPerWrite {
			if err := w.flushRows(); err != nil {
				return 0, err
			}
		}
	}
	if err := w.flushRows(); err != nil {
		return 0, err
	}
	// The rows referencing the pending line were written: it may be reused.
	w.pending = append(w.pending[:0], p...)
	w.report()
	return n, nil
}

// Close writes the pending line, the last row group and the footer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if len(w.pending) > 0 {
		w.add(w.pending)
	}
	if err := w.flushRows(); err != nil {
		return err
	}
	w.report()
	if err := w.pw.Close(); err != nil {
		w.err = fmt.Errorf("parquet: closing the file: %w", err)
	}
	return w.err
}

// report hands the mismatches counted so far to Options.Mismatch.
func (w *Writer) report() {
	fn := w.f.opts.Mismatch
	for i, m := range w.mismatch {
		if m == 0 {
			continue
		}
		w.mismatch[i] = 0
		if fn == nil {
			continue
		}
		if i == len(w.f.cols) {
			fn("", m)
		} else {
			fn(w.f.cols[i].name, m)
		}
	}
}

// flushRows writes the rows built so far, and closes the row group when it is full.
func (w *Writer) flushRows() error {
	if w.n == 0 {
		return nil
	}
	if _, err := w.pw.WriteRows(w.rows[:w.n]); err != nil {
		w.err = fmt.Errorf("parquet: writing rows: %w", err)
		return w.err
	}
	w.n = 0
	w.arena = w.arena[:0]
	if w.groupRows >= w.f.opts.RowGroupRows || w.groupBytes >= w.f.opts.RowGroupBytes {
		if err := w.pw.Flush(); err != nil {
			w.err = fmt.Errorf("parquet: writing a row group: %w", err)
			return w.err
		}
		w.groupRows, w.groupBytes = 0, 0
	}
	return nil
}

// add builds the row of the record line (skipped when empty or blank).
func (w *Writer) add(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	if w.n == len(w.rows) {
		w.rows = append(w.rows, make(parquet.Row, 0, w.f.leaves))
	}
	row := w.rows[w.n][:0]
	w.n++
	w.groupRows++
	w.groupBytes += len(line)
	if err := w.f.sel.ScanShape(line, w.vals, &w.shape); err != nil {
		// Not a JSON object: a row of nulls, counted.
		w.mismatch[len(w.f.cols)]++
		clear(w.vals)
	}
	for i := range w.f.cols {
		row = w.appendValue(row, i, w.vals[i])
	}
	w.rows[w.n-1] = row
}

// appendValue appends the leaf values of column i holding v.
func (w *Writer) appendValue(row parquet.Row, i int, v record.Value) parquet.Row {
	c := &w.f.cols[i]
	if v.Kind == record.Invalid || v.Kind == record.Null {
		if c.typ == TypeCustomFields {
			return appendNullCustom(row, c.leaf, 0)
		}
		return append(row, parquet.NullValue().Level(0, 0, c.leaf))
	}
	var pv parquet.Value
	ok := true
	switch c.typ {
	case TypeString:
		pv = parquet.ByteArrayValue(w.text(v))
	case TypeInt64:
		var n int64
		if n, ok = intOf(v); ok {
			pv = parquet.Int64Value(n)
		}
	case TypeDouble:
		var x float64
		if x, ok = floatOf(v); ok {
			pv = parquet.DoubleValue(x)
		}
	case TypeBool:
		if ok = v.Kind == record.Bool; ok {
			pv = parquet.BooleanValue(v.Raw[0] == 't')
		}
	case TypeCustomFields:
		if v.Kind != record.Object {
			w.mismatch[i]++
			return appendNullCustom(row, c.leaf, 0)
		}
		return w.appendCustom(row, i, v.Raw)
	}
	if !ok { // a JSON type the column cannot hold: null, counted
		w.mismatch[i]++
		return append(row, parquet.NullValue().Level(0, 0, c.leaf))
	}
	return append(row, pv.Level(0, 1, c.leaf))
}

// text is the text of a value for a string column: a string decoded, any other value's JSON text.
// It refers to the record when it can, else to the arena (valid until the rows are written).
func (w *Writer) text(v record.Value) []byte {
	if v.Kind == record.String {
		if !v.Escaped {
			return v.Inner()
		}
		start := len(w.arena)
		w.arena = record.AppendUnquoted(w.arena, v.Raw)
		return w.arena[start:len(w.arena):len(w.arena)]
	}
	return v.Raw
}

// floatOf reads a float64 from a JSON number (out of range: ±Inf).
func floatOf(v record.Value) (float64, bool) {
	if v.Kind != record.Number {
		return 0, false
	}
	x, err := strconv.ParseFloat(string(v.Raw), 64)
	return x, err == nil || math.IsInf(x, 0)
}

// intOf reads an int64 from a JSON number: an integer, or a float with an integral value in range.
func intOf(v record.Value) (int64, bool) {
	if v.Kind != record.Number {
		return 0, false
	}
	if n, ok := record.ParseInt(v.Raw); ok {
		return n, true
	}
	if x, ok := record.ParseFloat(v.Raw); ok && x == math.Trunc(x) && math.Abs(x) < 1<<63 {
		return int64(x), true
	}
	return 0, false
}

// Definition levels of the leaves of a CustomFields column: the column is optional (1), each map is
// optional (2), its key_value group repeated (3: an entry, which has a key) and a value optional (4).
const (
	defCustom  = 1
	defMap     = 2
	defEntry   = 3
	defValue   = 4
	repEntries = 1
)

// appendNullCustom appends the leaves of a CustomFields column whose maps are all absent at
// definition level def (0: the column is null; 1: the object is there without the map).
func appendNullCustom(row parquet.Row, leaf, def int) parquet.Row {
	for k := 0; k < 2*len(CustomKinds); k++ {
		row = append(row, parquet.NullValue().Level(0, def, leaf+k))
	}
	return row
}

// appendCustom appends the leaves of column i holding the CustomFields object obj: each kind that obj holds as an
// object becomes a map of its members (a string value as it is, another value as its JSON text, null
// as a null value); a kind that is absent is a null map, and one that is not an object is a null map
// too, counted as a mismatch.
func (w *Writer) appendCustom(row parquet.Row, i int, obj []byte) parquet.Row {
	leaf := w.f.cols[i].leaf
	var kinds [3]record.Value
	for it := record.MembersOf(obj); it.Next(); {
		key := it.Key()
		for k, name := range CustomKinds {
			if string(key) == name && kinds[k].Kind == record.Invalid {
				kinds[k] = it.Value()
			}
		}
	}
	for k := range CustomKinds {
		kl, vl := leaf+2*k, leaf+2*k+1
		m := kinds[k]
		switch m.Kind {
		case record.Invalid, record.Null:
			row = append(row, parquet.NullValue().Level(0, defCustom, kl), parquet.NullValue().Level(0, defCustom, vl))
			continue
		case record.Object:
		default:
			w.mismatch[i]++
			row = append(row, parquet.NullValue().Level(0, defCustom, kl), parquet.NullValue().Level(0, defCustom, vl))
			continue
		}
		// Keys, then values: a Row holds each leaf's values together, in leaf order.
		start := len(row)
		rep := 0
		for it := record.MembersOf(m.Raw); it.Next(); {
			kb := it.Key()
			if it.KeyEscaped() {
				s := len(w.arena)
				w.arena = record.AppendUnescaped(w.arena, kb)
				kb = w.arena[s:len(w.arena):len(w.arena)]
			}
			row = append(row, parquet.ByteArrayValue(kb).Level(rep, defEntry, kl))
			rep = repEntries
		}
		entries := len(row) - start
		if entries == 0 {
			row = append(row, parquet.NullValue().Level(0, defMap, kl), parquet.NullValue().Level(0, defMap, vl))
			continue
		}
		rep = 0
		for it := record.MembersOf(m.Raw); it.Next(); {
			v := it.Value()
			if v.Kind == record.Null {
				row = append(row, parquet.NullValue().Level(rep, defEntry, vl))
			} else {
				row = append(row, parquet.ByteArrayValue(w.text(v)).Level(rep, defValue, vl))
			}
			rep = repEntries
		}
	}
	return row
}
