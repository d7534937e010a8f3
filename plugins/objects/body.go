package objects

import (
	"fmt"
	"io"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/parquetfile"
)

// Body writes the encoded records of an object into its spool file: a compressor of the record
// format (encode.ObjectCompressor), or a file format that takes NDJSON records (parquetfile.Format).
type Body interface {
	// NewWriter returns the writer of one object's body into w; Close finishes the body.
	NewWriter(w io.Writer, parallel bool) (io.WriteCloser, error)
	// Codec names the compression.
	Codec() string
	// Extension is the end of the objects' names; ContentEncoding their Content-Encoding ("" for
	// none).
	Extension() string
	ContentEncoding() string
}

// contentTyper is a Body that knows its objects' media type (else the record format's is used).
type contentTyper interface{ ContentType() string }

// contentType is the Content-Type of the objects of body with record encoder enc.
func contentType(body Body, enc *encode.Encoder) string {
	if ct, ok := body.(contentTyper); ok {
		return ct.ContentType()
	}
	return enc.Options().ContentType()
}

// FormatParquet is the `encoding.format` of Parquet objects.
const FormatParquet = "parquet"

// MetricParquetTypeErrors counts the values written as null in Parquet objects because their JSON
// type does not fit their column (labels task, field; field "" for a record that is not a JSON
// object).
const MetricParquetTypeErrors = "esa_parquet_type_errors_total"

// IsParquet reports whether an object output's `encoding.format` is parquet.
func IsParquet(conf *service.ParsedConfig) bool {
	if !conf.Contains("encoding", "format") {
		return false
	}
	f, err := conf.FieldString("encoding", "format")
	return err == nil && f == FormatParquet
}

// parquetField is the `parquet` field of the object outputs.
func parquetField() *service.ConfigField {
	return service.NewObjectField("parquet",
		service.NewObjectListField("columns",
			service.NewStringField("name").Description("The delivered field."),
			service.NewStringEnumField("type", parquetfile.Types...).
				Description("`string`, `int64`, `double`, `bool`, or `custom_fields` (the CustomFields object: a struct of three map<string,string> columns, `request_headers`, `response_headers`, `cookies`)."),
		).Description("The columns, in order: every column is optional, so a field the record lacks (or holds as null) is null. A value whose JSON type does not fit its column is null and counted in `"+MetricParquetTypeErrors+"{task,field}`; a string column takes any other value as its JSON text.").
			Default([]any{}),
		service.NewIntField("row_group_rows").
			Description("A row group is written to the spool file after this many rows (or 8 MiB of records, less with several partitions open): it bounds the memory of an object being filled.").
			Default(parquetfile.DefaultRowGroupRows).Advanced(),
	).Description("With `encoding.format: parquet`: the schema of the Parquet objects (`.parquet`, `Content-Type: " + parquetfile.ContentType + "`; the translator derives it from the field catalog). `compression` is then the page codec; the record options of `encoding` do not apply.").
		Optional()
}

// BodyFromParsed returns the Parquet body of an object output whose `encoding.format` is parquet
// (from its `parquet` field, `compression` and `compression_level` as read into cfg), else nil.
func BodyFromParsed(conf *service.ParsedConfig, res *service.Resources, cfg Config) (Body, error) {
	if !IsParquet(conf) {
		return nil, nil
	}
	if !conf.Contains("parquet") {
		return nil, fmt.Errorf("parquet: the columns are required with encoding.format parquet")
	}
	list, err := conf.FieldObjectList("parquet", "columns")
	if err != nil {
		return nil, err
	}
	o := parquetfile.Options{Compression: cfg.Compression, Level: cfg.Level}
	for _, c := range list {
		var col parquetfile.Column
		if col.Name, err = c.FieldString("name"); err != nil {
			return nil, err
		}
		if col.Type, err = c.FieldString("type"); err != nil {
			return nil, err
		}
		o.Columns = append(o.Columns, col)
	}
	if o.RowGroupRows, err = conf.FieldInt("parquet", "row_group_rows"); err != nil {
		return nil, err
	}
	// Row groups wait in memory until written: 8 MiB of records for one open object, less (at least
	// 1 MiB) with partitions.
	maxOpen := max(cfg.MaxOpen, 1)
	if cfg.Partition == nil {
		maxOpen = 1
	}
	o.RowGroupBytes = min(max((32<<20)/maxOpen, 1<<20), parquetfile.DefaultRowGroupBytes)
	errs := res.Metrics().NewCounter(MetricParquetTypeErrors, "task", "field")
	o.Mismatch = func(field string, n int) { errs.Incr(int64(n), cfg.Task, field) }
	return parquetfile.New(o)
}
