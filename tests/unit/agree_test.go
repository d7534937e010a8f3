package unit

import (
	"slices"
	"testing"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/fields"
	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/plugins/kafka"
	"github.com/esa-connect/esa-connect/plugins/objects"
	"github.com/esa-connect/esa-connect/plugins/parquetfile"
	"github.com/esa-connect/esa-connect/translate"
)

// TestPluginsAgreeWithConfig compares the values that config offers a task (config/choices.go,
// config's limits) with the copies the components hold themselves: a value Validate accepts must be
// one the component takes, and a default must be the same number on both sides. (The outputs' config
// defaults and enums are compared in translate's agree_test.go, which knows their names.)
func TestPluginsAgreeWithConfig(t *testing.T) {
	if got := []string{encode.FormatNDJSON, encode.FormatCSV, encode.FormatTSV, objects.FormatParquet}; !slices.Equal(got, config.OutputFormats()) {
		t.Errorf("encode formats %v, config.OutputFormats %v", got, config.OutputFormats())
	}
	for _, c := range config.HTTPCompressions() {
		if !encode.ValidCodec(c) {
			t.Errorf("config.HTTPCompressions has %q, which encode.ValidCodec refuses", c)
		}
	}
	if got := []string{fields.TimeRFC3339, fields.TimeRFC3339ms, fields.TimeUnix, fields.TimeUnixMs, fields.TimeUnixNano}; !slices.Equal(got, config.TimestampFormats()) {
		t.Errorf("fields timestamp formats %v, config.TimestampFormats %v", got, config.TimestampFormats())
	}
	if !slices.Equal(kafka.BalancerNames, config.KafkaBalancers()) {
		t.Errorf("kafka.BalancerNames %v, config.KafkaBalancers %v", kafka.BalancerNames, config.KafkaBalancers())
	}
	if b, err := kafka.ParseBalancer(""); err != nil || b != config.DefaultKafkaBalancer {
		t.Errorf("kafka's default balancer %q (%v), config.DefaultKafkaBalancer %q", b, err, config.DefaultKafkaBalancer)
	}
	// Every column type the translator gives a catalog field, and CustomFields's, is one parquetfile writes.
	for _, ft := range []config.FieldType{config.TypeString, config.TypeInt, config.TypeFloat, config.TypeBool, config.TypeTimestamp} {
		for _, tf := range config.TimestampFormats() {
			if typ := translate.ParquetType(ft, tf); !slices.Contains(parquetfile.Types, typ) {
				t.Errorf("translate.ParquetType(%s, %s) = %q, not one of parquetfile.Types %v", ft, tf, typ, parquetfile.Types)
			}
		}
	}
	if translate.ParquetCustomFields != parquetfile.TypeCustomFields {
		t.Errorf("translate.ParquetCustomFields %q, parquetfile.TypeCustomFields %q", translate.ParquetCustomFields, parquetfile.TypeCustomFields)
	}
	if !slices.Equal(parquetfile.Codecs, config.ParquetCompressions()) {
		t.Errorf("parquetfile.Codecs %v, config.ParquetCompressions %v", parquetfile.Codecs, config.ParquetCompressions())
	}
	if httpout.MaxHeaders != config.MaxHTTPHeaders || httpout.MaxQuery != config.MaxHTTPQueryParams {
		t.Errorf("httpout allows %d headers and %d query parameters, config %d and %d",
			httpout.MaxHeaders, httpout.MaxQuery, config.MaxHTTPHeaders, config.MaxHTTPQueryParams)
	}
}
