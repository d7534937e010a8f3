package config

// FormatParquet is the output.format of Parquet objects (docs/destinations.md#parquet).
const FormatParquet = "parquet"

// parquetOutput checks a task whose output.format is parquet: only object destinations write files,
// and the record options of the text formats do not apply.
func (v *validator) parquetOutput() {
	o := v.t.Output
	if o.Format != FormatParquet {
		return
	}
	if k, ok := v.t.Destination.Kind(); ok && !k.Object {
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
