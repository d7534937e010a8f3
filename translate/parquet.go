package translate

import "github.com/esa-connect/esa-connect/config"

// parquetSpec is the `parquet` field of an object output for t (output.format parquet): a column per
// delivered field, typed from the catalog, then CustomFields (docs/destinations.md#parquet).
func parquetSpec(t *config.Task, cat *config.Category) *omap {
	var cols []any
	for _, name := range t.Fields {
		f, _ := cat.Field(name)
		cols = append(cols, obj("name", name, "type", ParquetType(f.Type, t.Output.TimestampFormat)))
	}
	if t.CustomFields != nil {
		cols = append(cols, obj("name", "CustomFields", "type", ParquetCustomFields))
	}
	return obj("columns", cols)
}

// ParquetCustomFields is the column type of CustomFields in a Parquet object.
const ParquetCustomFields = "custom_fields"

// ParquetType is the Parquet column type of a catalog field type: string, int64 (int), double
// (float), bool, and for a timestamp string with timestamp_format rfc3339 or rfc3339ms (as esa_fields
// writes it), int64 with unix, unixms or unixnano.
func ParquetType(ft config.FieldType, timestampFormat string) string {
	switch ft {
	case config.TypeInt:
		return "int64"
	case config.TypeFloat:
		return "double"
	case config.TypeBool:
		return "bool"
	case config.TypeTimestamp:
		switch timestampFormat {
		case "unix", "unixms", "unixnano":
			return "int64"
		}
	}
	return "string"
}
