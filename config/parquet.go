package config

// FormatParquet is the output.format of Parquet objects (docs/destinations.md#parquet).
const FormatParquet = "parquet"

// ParquetCodecs are the page codecs of Parquet objects (destination compression with format
// parquet; snappy is the default). zlib is not a Parquet codec.
var ParquetCodecs = []string{"snappy", "zstd", "gzip", "no"}

// parquetOutput checks a task whose output.format is parquet: only object destinations write files,
// and the record options of the text formats do not apply.
func (v *validator) parquetOutput() {
	o := v.t.Output
	if o.Format != FormatParquet {
		return
	}
	if _, ok := v.t.Destination.Objects(); !ok && v.t.Destination.Type != "" && !isObjectType(v.t.Destination.Type) {
		v.add("output.format", "parquet is written only to an object destination (local, oss, s3, s3_compatible), not %s; use ndjson, csv or tsv", v.t.Destination.Type)
	}
	for _, f := range []struct {
		path string
		set  bool
	}{
		{"output.record_prefix", o.RecordPrefix != ""},
		{"output.record_suffix", o.RecordSuffix != ""},
		{"output.record_delimiter", o.RecordDelimiter != nil},
		{"output.batch_prefix", o.BatchPrefix != ""},
		{"output.batch_suffix", o.BatchSuffix != ""},
	} {
		if f.set {
			v.add(f.path, "does not apply to format parquet (a Parquet file has rows, not text records)")
		}
	}
}

// isObjectType reports whether a destination type stores objects.
func isObjectType(t string) bool {
	switch t {
	case "local", "oss", "s3", "s3_compatible":
		return true
	}
	return false
}
