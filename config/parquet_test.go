package config

import (
	"errors"
	"strings"
	"testing"
)

// TestParquetFormat: output.format parquet loads for every object destination with the Parquet page
// codecs, and is refused, at its path, for a stream destination, with zlib, with a level snappy does
// not take, and with the text formats' record options; snappy stays refused for text objects.
func TestParquetFormat(t *testing.T) {
	const head = "name: t\ncategory: access\nfields: [ClientIP, EdgeResponseStatusCode]\n"
	for _, dest := range []string{
		"{type: local, path: o}",
		"{type: local, path: o, compression: zstd, compression_level: 9}",
		"{type: local, path: o, compression: gzip}",
		"{type: local, path: o, compression: no}",
		"{type: local, path: o, compression: snappy, partition: {by: [date, ClientIP]}}",
		"{type: s3_compatible, bucket_path: b/p, endpoint: 'http://127.0.0.1:9000', region: r, access_key_id: a, secret_access_key: s}",
		"{type: s3, bucket_path: b, region: r, access_key_id: a, secret_access_key: s}",
		"{type: oss, bucket: b, region: cn-hangzhou, access_key_id: a, access_key_secret: s}",
	} {
		if _, err := Load([]byte(head + "output: {format: parquet}\ndestination: " + dest + "\n")); err != nil {
			t.Errorf("%s: %v", dest, err)
		}
	}
	for _, c := range []struct{ doc, path, msg string }{
		{"output: {format: parquet}\ndestination: {type: http, url: 'http://h/'}", "output.format", "parquet is written only to an object destination (local, oss, s3, s3_compatible), not http"},
		{"output: {format: parquet}\ndestination: {type: kafka, topic: t, brokers: ['k:1']}", "output.format", "not kafka"},
		{"output: {format: parquet}\ndestination: {type: local, path: o, compression: zlib}", "destination.compression", `"zlib" is not one of snappy, zstd, gzip, no`},
		{"output: {format: parquet}\ndestination: {type: local, path: o, compression_level: 3}", "destination.compression_level", "only gzip, zlib and zstd take a level; compression is snappy"},
		{"output: {format: parquet, record_prefix: '>'}\ndestination: {type: local, path: o}", "output.record_prefix", "does not apply to format parquet"},
		{"output: {format: parquet, record_delimiter: ''}\ndestination: {type: local, path: o}", "output.record_delimiter", "does not apply to format parquet"},
		{"output: {format: parqet}\ndestination: {type: local, path: o}", "output.format", `(did you mean "parquet"?)`},
		{"destination: {type: local, path: o, compression: snappy}", "destination.compression", `"snappy" is not one of gzip, zstd`},
	} {
		_, err := Load([]byte(head + c.doc + "\n"))
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Path != c.path || !strings.Contains(errs[0].Msg, c.msg) {
			t.Errorf("%s:\n got %v\nwant %s: ...%s...", c.doc, err, c.path, c.msg)
		}
	}
}
