package config

// The values a task may choose from, written once: Validate offers exactly these (in this order, in
// its "one of" messages), Load fills the defaults from them, and the components that hold the same
// values themselves (plugins/encode's formats and codecs, plugins/fields's timestamp formats,
// plugins/kafka's balancers) are compared with them by tests/unit's agreement test. Each function
// returns a new slice.

// OutputFormats are the record formats of output.format; the first is the default. FormatParquet is
// for object destinations only.
func OutputFormats() []string { return []string{"ndjson", "csv", "tsv", FormatParquet} }

// TimestampFormats are the values of output.timestamp_format; the first is the default.
func TimestampFormats() []string {
	return []string{"rfc3339", "rfc3339ms", "unix", "unixms", "unixnano"}
}

// HTTPCompressions are the codecs of the http destination's compression ("no", the default, is none).
func HTTPCompressions() []string { return []string{"gzip", "zlib", "snappy", "zstd", "no"} }

// KafkaCompressions are the codecs of the kafka destination's compression ("no", the default, is none).
func KafkaCompressions() []string { return []string{"gzip", "snappy", "lz4", "zstd", "no"} }

// ObjectCompressions are the codecs of an object destination's compression; the first is the default.
func ObjectCompressions() []string { return []string{"gzip", "zstd"} }

// ParquetCompressions are the page codecs of Parquet objects (an object destination's compression with
// output.format parquet); the first is the default. zlib is not a Parquet codec.
func ParquetCompressions() []string { return []string{"snappy", "zstd", "gzip", "no"} }

// KafkaBalancers are the kafka destination's balancers (ESA's names, those of segmentio/kafka-go); the
// first, DefaultKafkaBalancer, is the default.
func KafkaBalancers() []string {
	return []string{DefaultKafkaBalancer, "Hash", "RoundRobin", "CRC32Balancer", "Murmur2Balancer"}
}

// DefaultKafkaBalancer is the kafka destination's balancer when the task gives none (ESA's default).
const DefaultKafkaBalancer = "LeastBytes"

// SASLMechanisms are the Kafka SASL mechanisms (upper case: Load upper-cases what the task gives).
func SASLMechanisms() []string { return []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} }
