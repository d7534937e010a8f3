package encode

import (
	"github.com/redpanda-data/benthos/v4/public/service"
)

// EncodingField is the `encoding` object field shared by the object outputs and esa_local.
func EncodingField() *service.ConfigField {
	return service.NewObjectField("encoding",
		service.NewStringEnumField("format", FormatNDJSON, FormatCSV, FormatTSV, "parquet").
			Description("Record format: one JSON object per line, or CSV/TSV with a header line first; or `parquet` for the object outputs (Parquet files, see their `parquet` field).").
			Default(FormatNDJSON),
		service.NewStringListField("fields").
			Description("CSV/TSV columns in order. Empty: the keys of the first record of each batch.").
			Default([]any{}),
		service.NewStringField("record_prefix").Description("Text before every record.").Default(""),
		service.NewStringField("record_suffix").Description("Text after every record.").Default(""),
		service.NewStringField("record_delimiter").Description("Text between records (and after the last one).").Default("\n"),
		service.NewStringField("batch_prefix").Description("Text before the records of an object.").Default(""),
		service.NewStringField("batch_suffix").Description("Text after the records of an object.").Default(""),
	).Description("How records are written into each object.").Advanced()
}

// OptionsFromParsed reads the `encoding` field declared by EncodingField.
func OptionsFromParsed(conf *service.ParsedConfig) (Options, error) {
	o := DefaultOptions()
	if !conf.Contains("encoding") {
		return o, nil
	}
	c := conf.Namespace("encoding")
	var err error
	if o.Format, err = c.FieldString("format"); err != nil {
		return o, err
	}
	if o.Fields, err = c.FieldStringList("fields"); err != nil {
		return o, err
	}
	if o.RecordPrefix, err = c.FieldString("record_prefix"); err != nil {
		return o, err
	}
	if o.RecordSuffix, err = c.FieldString("record_suffix"); err != nil {
		return o, err
	}
	if o.RecordDelimiter, err = c.FieldString("record_delimiter"); err != nil {
		return o, err
	}
	if o.BatchPrefix, err = c.FieldString("batch_prefix"); err != nil {
		return o, err
	}
	if o.BatchSuffix, err = c.FieldString("batch_suffix"); err != nil {
		return o, err
	}
	return o, o.Validate()
}
