// Package config holds the esa-connect task model: the delivery-task types, the decoding of both input
// shapes (native YAML/JSON and ESA's OpenAPI parameters), validation with field paths, the embedded
// field catalog, and the filter-condition model shared by the translator and the esa_filter processor.
//
// Config is data: the types here are plain structs with YAML/JSON tags. Load and Validate report every
// problem at once as a list of FieldError; nothing downstream re-validates.
package config

import (
	"fmt"

	"github.com/dustin/go-humanize"
)

// Task is one validated delivery task: source → sampling → filter → field selection → destination.
type Task struct {
	// Name is 1–64 characters of letters, digits, '-' and '_', starting with a letter or digit.
	Name string `yaml:"name" json:"name"`
	// Category is the canonical log category (access, firewall, tcp_udp_proxy, dns, edge_routine,
	// edge_container); ESA BusinessType aliases are mapped to it when decoding.
	Category string `yaml:"category" json:"category"`
	// SiteID is optional metadata for site-scoped categories.
	SiteID int64 `yaml:"site_id,omitempty" json:"site_id,omitempty"`
	// DataCenter is optional metadata: cn or oversea (alias sg is normalised to oversea).
	DataCenter string `yaml:"data_center,omitempty" json:"data_center,omitempty"`
	// Fields are the delivered fields, in output order.
	Fields []string `yaml:"fields" json:"fields"`
	// SamplingRate is the percentage of records kept, in (0, 100] with up to 2 decimals; default 100.
	SamplingRate float64 `yaml:"sampling_rate" json:"sampling_rate"`
	// SampleKey, when set, makes sampling deterministic by hashing this field's value.
	SampleKey string `yaml:"sample_key,omitempty" json:"sample_key,omitempty"`
	// Filters are ANDed conditions (at most 20 leaves in total).
	Filters []Condition `yaml:"filters,omitempty" json:"filters,omitempty"`
	// CustomFields selects request/response headers and cookies (access category only).
	CustomFields *CustomFields `yaml:"custom_fields,omitempty" json:"custom_fields,omitempty"`
	// Source is where records come from; the default is the HTTP ingest endpoint.
	Source Source `yaml:"source" json:"source"`
	// Destination is where records go.
	Destination Destination `yaml:"destination" json:"destination"`
	// Output holds the record/batch format options.
	Output Output `yaml:"output" json:"output"`
	// DeadLetter, when set, receives malformed and undeliverable records unchanged.
	DeadLetter *DeadLetter `yaml:"dead_letter,omitempty" json:"dead_letter,omitempty"`
	// OwnershipToken proves ownership of the bucket of an s3 or s3_compatible destination
	// (docs/destinations.md#ownership-verification).
	OwnershipToken string `yaml:"ownership_token,omitempty" json:"ownership_token,omitempty"`
	// Buffer is where records wait between the source and the destination; nil is memory.
	Buffer *Buffer `yaml:"buffer,omitempty" json:"buffer,omitempty"`
	// Retry is the retry policy for the destination (nil: the defaults).
	Retry *Retry `yaml:"retry,omitempty" json:"retry,omitempty"`
	// Transforms are privacy transforms of delivered string fields (at most one per field).
	Transforms []Transform `yaml:"transforms,omitempty" json:"transforms,omitempty"`
	// Log4ShellGuard rewrites "${" to "x{" in every delivered string value.
	Log4ShellGuard bool `yaml:"log4shell_guard,omitempty" json:"log4shell_guard,omitempty"`
	// Status is ESA's status of the task, online or offline, as an imported GetSiteDeliveryTask /
	// GetUserDeliveryTask export gives it (its Status key); empty when the definition gave none. It is
	// not a setting of the native shape: run ignores it, serve's import keeps it, and ExportESA
	// reports it.
	Status string `yaml:"-" json:"-"`
}

// The ESA task statuses (Task.Status).
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Buffer says where a task's records wait for the destination.
type Buffer struct {
	// Type is memory (the default: records wait in RAM, and the source keeps them until delivered) or
	// disk (records are acknowledged to the source once synced to a file under Path and survive an
	// outage, a restart and a SIGKILL).
	Type string `yaml:"type" json:"type"`
	// Path is the directory of the disk buffer's file (type disk).
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// MaxBytes bounds the disk buffer, compressed: a size such as 10GiB or 500MB (default
	// DefaultBufferMaxBytes, at least MinBufferBytes).
	MaxBytes string `yaml:"max_bytes,omitempty" json:"max_bytes,omitempty"`
	// WhenFull is what a full disk buffer does with new records: block (the default: the source
	// waits, the HTTP ingest answers 503) or reject (the batch fails at once).
	WhenFull string `yaml:"when_full,omitempty" json:"when_full,omitempty"`
}

// Disk buffer size bounds.
const (
	DefaultBufferMaxBytes = "10GiB"
	MinBufferBytes        = 16 << 20
	maxBufferBytes        = 1 << 50
)

// The memory of a disk buffer (plugins/diskbuffer), which the soft memory limit of its task allows
// for (translate.MemoryLimit).
const (
	// DiskBufferHotBytes bounds the records a disk buffer keeps in memory for their first delivery.
	DiskBufferHotBytes = 16 << 20
	// DiskBufferCommitBytes bounds the stored batches one commit of a disk buffer writes.
	DiskBufferCommitBytes = 8 << 20
)

// ParseByteSize reads a byte size such as 10GiB, 500MB or 1073741824 that a disk buffer accepts (at
// least MinBufferBytes).
func ParseByteSize(s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 10GiB or 500MB", s)
	}
	if n < MinBufferBytes {
		return 0, fmt.Errorf("%s is below the minimum of 16MiB", s)
	}
	if n > maxBufferBytes {
		return 0, fmt.Errorf("%s is over the maximum of 1PiB", s)
	}
	return int64(n), nil
}

// Condition is one filter condition, or an OR group when Any is non-empty.
// Native spelling: {field, op, value, ignore_case}; ESA spelling: {"Field": {"op": [values]}}.
type Condition struct {
	Field string `yaml:"field,omitempty" json:"field,omitempty"`
	// Op is one of the operators of docs/processing.md#operators (equals, not_equals, contains,
	// not_contains, starts_with, not_starts_with, ends_with, not_ends_with, gt, ge, lt, le, regex,
	// not_regex, exists, not_exists).
	Op string `yaml:"op,omitempty" json:"op,omitempty"`
	// Values is the value list (a single value is a list of one). Elements are string, int64, float64
	// or bool as decoded from YAML/JSON.
	Values []any `yaml:"value,omitempty" json:"value,omitempty"`
	// IgnoreCase makes string comparisons case-insensitive.
	IgnoreCase bool `yaml:"ignore_case,omitempty" json:"ignore_case,omitempty"`
	// Any is an OR group of conditions; when set, Field/Op/Values are empty.
	Any []Condition `yaml:"any,omitempty" json:"any,omitempty"`
}

// Retry is a task's retry policy for its destination.
type Retry struct {
	// OnStatus lists the HTTP statuses retried by the http, oss, s3 and s3_compatible destinations:
	// codes ("503") or classes ("5xx"); empty: 408, 429 and 5xx. sls and kafka retry by their error
	// codes.
	OnStatus []string `yaml:"on_status,omitempty" json:"on_status,omitempty"`
	// MaxElapsed stops retrying a request this long after its first attempt (a duration; the batch
	// then fails and its records are delivered again later).
	MaxElapsed string `yaml:"max_elapsed,omitempty" json:"max_elapsed,omitempty"`
	// MaxBackoff caps the wait between attempts (a duration; default 30s).
	MaxBackoff string `yaml:"max_backoff,omitempty" json:"max_backoff,omitempty"`
}

// Privacy transform limits and defaults.
const (
	// MinHashKeyBytes is the shortest HMAC key a hash transform accepts.
	MinHashKeyBytes = 16
	// DefaultIPv4Prefix and DefaultIPv6Prefix are the bits truncate_ip keeps by default.
	DefaultIPv4Prefix = 24
	DefaultIPv6Prefix = 48
	// MaxRedactLength bounds redact's replacement; DefaultRedaction is the replacement by default.
	MaxRedactLength  = 256
	DefaultRedaction = "REDACTED"
)

// Transform is a privacy transform of one delivered string field: exactly one of Hash, TruncateIP and
// Redact.
type Transform struct {
	Field      string         `yaml:"field" json:"field"`
	Hash       *HashTransform `yaml:"hash,omitempty" json:"hash,omitempty"`
	TruncateIP *TruncateIP    `yaml:"truncate_ip,omitempty" json:"truncate_ip,omitempty"`
	Redact     *Redact        `yaml:"redact,omitempty" json:"redact,omitempty"`
}

// HashTransform replaces a value with HMAC-SHA256(Key, value), written as hex (default) or base64url.
type HashTransform struct {
	// Key is a secret: give it as a ${VAR} reference (a literal key is moved to an environment
	// variable by translate, as every secret).
	Key      string `yaml:"key" json:"key"`
	Encoding string `yaml:"encoding,omitempty" json:"encoding,omitempty"`
}

// TruncateIP keeps the first IPv4Prefix (default 24) or IPv6Prefix (default 48) bits of an address.
type TruncateIP struct {
	IPv4Prefix int `yaml:"ipv4_prefix,omitempty" json:"ipv4_prefix,omitempty"`
	IPv6Prefix int `yaml:"ipv6_prefix,omitempty" json:"ipv6_prefix,omitempty"`
}

// Redact replaces a value with With (default "REDACTED").
type Redact struct {
	With string `yaml:"with,omitempty" json:"with,omitempty"`
}

// CustomFields names the headers and cookies delivered in the CustomFields field.
// Header names are stored lower-case; cookie names keep their case.
type CustomFields struct {
	RequestHeaders  []string `yaml:"request_headers,omitempty" json:"request_headers,omitempty"`
	ResponseHeaders []string `yaml:"response_headers,omitempty" json:"response_headers,omitempty"`
	Cookies         []string `yaml:"cookies,omitempty" json:"cookies,omitempty"`
}

// Output holds the format options (docs/task.md#output-options).
type Output struct {
	// Format is ndjson (default), csv or tsv.
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// TimestampFormat is rfc3339 (default, as received), rfc3339ms, unix, unixms or unixnano.
	TimestampFormat string `yaml:"timestamp_format,omitempty" json:"timestamp_format,omitempty"`
	RecordPrefix    string `yaml:"record_prefix,omitempty" json:"record_prefix,omitempty"`
	RecordSuffix    string `yaml:"record_suffix,omitempty" json:"record_suffix,omitempty"`
	// RecordDelimiter separates records; nil means the default "\n".
	RecordDelimiter *string `yaml:"record_delimiter,omitempty" json:"record_delimiter,omitempty"`
	BatchPrefix     string  `yaml:"batch_prefix,omitempty" json:"batch_prefix,omitempty"`
	BatchSuffix     string  `yaml:"batch_suffix,omitempty" json:"batch_suffix,omitempty"`
}

// DeadLetter is where malformed or undeliverable records go: a local directory or any Benthos output.
type DeadLetter struct {
	// Type is local (Path is a directory) or benthos (Config is a Benthos output config, verbatim).
	Type   string         `yaml:"type" json:"type"`
	Path   string         `yaml:"path,omitempty" json:"path,omitempty"`
	Config map[string]any `yaml:"config,omitempty" json:"config,omitempty"`
	// Envelope writes each record inside an object with its reason, error, destination, attempts
	// and first failure time.
	Envelope bool `yaml:"envelope,omitempty" json:"envelope,omitempty"`
}

// Source is the task's input (docs/task.md#sources). Only the block matching Type is set.
type Source struct {
	// Type is http (default), kafka, file, stdin, generate or benthos.
	Type     string          `yaml:"type" json:"type"`
	HTTP     *HTTPSource     `yaml:"-" json:"-"`
	Kafka    *KafkaSource    `yaml:"-" json:"-"`
	File     *FileSource     `yaml:"-" json:"-"`
	Generate *GenerateSource `yaml:"-" json:"-"`
	// Benthos is a Benthos input config, verbatim (type benthos).
	Benthos map[string]any `yaml:"-" json:"-"`
}

const (
	// DefaultIngestAddress is the HTTP ingest source's address when none is given: loopback only.
	DefaultIngestAddress = "127.0.0.1:4196"
	// DefaultIngestPath is the HTTP ingest source's path when none is given.
	DefaultIngestPath = "/v1/logs"
	// MinBearerToken is the shortest bearer token the ingest accepts written literally (a reference
	// to an environment variable is not measured).
	MinBearerToken = 16
)

// HTTPSource is the NDJSON ingest endpoint.
type HTTPSource struct {
	Address string `yaml:"address,omitempty" json:"address,omitempty"` // default 127.0.0.1:4196
	Path    string `yaml:"path,omitempty" json:"path,omitempty"`       // default DefaultIngestPath
	// TLS serves HTTPS (and, with a client CA, requires client certificates).
	TLS *IngestTLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Auth authenticates every request.
	Auth *IngestAuth `yaml:"auth,omitempty" json:"auth,omitempty"`
	// Insecure accepts unauthenticated records on an address that is not loopback.
	Insecure bool `yaml:"insecure,omitempty" json:"insecure,omitempty"`
}

// IngestTLS is the ingest endpoint's TLS: its certificate and, for mutual TLS, the CA of its clients.
type IngestTLS struct {
	CertFile     string `yaml:"cert_file" json:"cert_file"`
	KeyFile      string `yaml:"key_file" json:"key_file"`
	ClientCAFile string `yaml:"client_ca_file,omitempty" json:"client_ca_file,omitempty"`
}

// IngestAuth is how ingest requests authenticate: a bearer token, or ESA's auth_key signature.
type IngestAuth struct {
	BearerToken string `yaml:"bearer_token,omitempty" json:"bearer_token,omitempty"`
	PrivateKey  string `yaml:"private_key,omitempty" json:"private_key,omitempty"`
	// ExpiredTime (with PrivateKey) refuses an auth_key valid for longer than this many seconds.
	ExpiredTime int64 `yaml:"expired_time,omitempty" json:"expired_time,omitempty"`
	// URLPath (with PrivateKey) is the signed path; default the source's path.
	URLPath string `yaml:"url_path,omitempty" json:"url_path,omitempty"`
}

// KafkaSource is a consumer group.
type KafkaSource struct {
	Brokers []string `yaml:"brokers" json:"brokers"`
	Topics  []string `yaml:"topics" json:"topics"`
	Group   string   `yaml:"group" json:"group"`
	SASL    *SASL    `yaml:"sasl,omitempty" json:"sasl,omitempty"`
	TLS     *TLS     `yaml:"tls,omitempty" json:"tls,omitempty"`
	// StartOffset is earliest (default) or latest, used when the group has no committed offset.
	StartOffset string `yaml:"start_offset,omitempty" json:"start_offset,omitempty"`
}

// FileSource reads NDJSON files (gzip by .gz suffix); globs allowed.
type FileSource struct {
	Paths []string `yaml:"paths" json:"paths"`
}

// GenerateSource produces synthetic records of the task's category.
type GenerateSource struct {
	Count int64  `yaml:"count,omitempty" json:"count,omitempty"` // 0 = forever
	Rate  string `yaml:"rate,omitempty" json:"rate,omitempty"`   // e.g. "1000/s"; empty = as fast as possible
	Seed  int64  `yaml:"seed,omitempty" json:"seed,omitempty"`   // 0 = random
}

// Destination is where a task delivers (docs/task.md#destinations). Only the block matching Type is
// set. In the native YAML shape the destination's parameters sit beside type:
// {type: s3, bucket_path: b/p, region: us-east-1}.
type Destination struct {
	// Type is sls, oss, s3, s3_compatible, http, kafka or local.
	Type  string            `yaml:"type" json:"type"`
	SLS   *SLSDestination   `yaml:"-" json:"-"`
	OSS   *OSSDestination   `yaml:"-" json:"-"`
	S3    *S3Destination    `yaml:"-" json:"-"` // for s3 and s3_compatible
	HTTP  *HTTPDestination  `yaml:"-" json:"-"`
	Kafka *KafkaDestination `yaml:"-" json:"-"`
	Local *LocalDestination `yaml:"-" json:"-"`
}

// The batch policy defaults: for the stream destinations (HTTP, Kafka, SLS) and for the object stores
// (local, S3, S3-compatible, OSS). The one source of these numbers: translate and the esa_* outputs
// use them.
const (
	DefaultStreamBatchCount  = 1000
	DefaultStreamBatchBytes  = 5 << 20
	DefaultStreamBatchPeriod = "5s"
	DefaultObjectBatchCount  = 100_000
	DefaultObjectBatchBytes  = 64 << 20
	DefaultObjectBatchPeriod = "60s"
)

// Batching overrides a destination's batch policy (docs/task.md#batching: zero values keep the
// defaults).
type Batching struct {
	Count    int    `yaml:"count,omitempty" json:"count,omitempty"`
	ByteSize int    `yaml:"byte_size,omitempty" json:"byte_size,omitempty"`
	Period   string `yaml:"period,omitempty" json:"period,omitempty"` // Go duration, e.g. "5s"
}

// Object compression levels and partitions (the object destinations local, oss, s3, s3_compatible).
const (
	// DefaultPartitionMaxOpen is how many partitions may have an object being filled by default;
	// MaxPartitionMaxOpen the most a task may ask for.
	DefaultPartitionMaxOpen = 16
	MaxPartitionMaxOpen     = 256
	// MaxPartitionLevels is the most levels of a partition.
	MaxPartitionLevels = 4
	// PartitionDate and PartitionHour are the partition levels of a record's event time (UTC).
	PartitionDate = "date"
	PartitionHour = "hour"
)

// ObjectOptions are the settings every object destination shares (the fields Compression,
// CompressionLevel and Partition of LocalDestination, OSSDestination and S3Destination): how objects
// are compressed and partitioned.
type ObjectOptions struct {
	// Compression is gzip (the default) or zstd.
	Compression string
	// CompressionLevel is 1–9 for gzip (default 6) or 1–22 for zstd (default 3); 0 is the default.
	CompressionLevel int
	// Partition, when set, puts each record under a partition of its event time and field values
	// instead of the date directory of its object's first record.
	Partition *Partition
}

// Partition lays objects out by partition: <path>/dt=2026-12-06/hour=07/... (hive) or
// <path>/2026-12-06/07/... (plain).
type Partition struct {
	// By are the levels, in order: date, hour (after date) or a delivered top-level field.
	By []string `yaml:"by" json:"by"`
	// Style is hive (the default: key=value levels) or plain (values only).
	Style string `yaml:"style,omitempty" json:"style,omitempty"`
	// MaxOpen is how many partitions may have an object being filled at a time (default 16).
	MaxOpen int `yaml:"max_open,omitempty" json:"max_open,omitempty"`
}

// SLSDestination is ESA's SlsDelivery{SLSProject, SLSLogStore, SLSRegion}.
type SLSDestination struct {
	Project         string    `yaml:"project" json:"project"`
	Logstore        string    `yaml:"logstore" json:"logstore"`
	Region          string    `yaml:"region" json:"region"`
	Endpoint        string    `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	AccessKeyID     string    `yaml:"access_key_id,omitempty" json:"access_key_id,omitempty"`
	AccessKeySecret string    `yaml:"access_key_secret,omitempty" json:"access_key_secret,omitempty"`
	SecurityToken   string    `yaml:"security_token,omitempty" json:"security_token,omitempty"`
	Topic           string    `yaml:"topic,omitempty" json:"topic,omitempty"`
	LogSource       string    `yaml:"source,omitempty" json:"source,omitempty"`
	MaxInFlight     int       `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	Batching        *Batching `yaml:"batching,omitempty" json:"batching,omitempty"`
}

// OSSDestination is ESA's OssDelivery{BucketName, Region, PrefixPath, Aliuid}.
type OSSDestination struct {
	Bucket          string    `yaml:"bucket" json:"bucket"`
	Region          string    `yaml:"region" json:"region"`
	Endpoint        string    `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	Prefix          string    `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	AliUID          string    `yaml:"aliuid,omitempty" json:"aliuid,omitempty"`
	AccessKeyID     string    `yaml:"access_key_id,omitempty" json:"access_key_id,omitempty"`
	AccessKeySecret string    `yaml:"access_key_secret,omitempty" json:"access_key_secret,omitempty"`
	SecurityToken   string    `yaml:"security_token,omitempty" json:"security_token,omitempty"`
	MaxInFlight     int       `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	Batching        *Batching `yaml:"batching,omitempty" json:"batching,omitempty"`
	// Compression, CompressionLevel and Partition are the ObjectOptions.
	Compression      string     `yaml:"compression,omitempty" json:"compression,omitempty"`
	CompressionLevel int        `yaml:"compression_level,omitempty" json:"compression_level,omitempty"`
	Partition        *Partition `yaml:"partition,omitempty" json:"partition,omitempty"`
}

// S3Destination is ESA's S3Delivery, for both AWS S3 (type s3, ESA aws3) and S3-compatible stores
// (type s3_compatible, ESA aws3cmpt).
type S3Destination struct {
	// BucketPath is bucket[/path].
	BucketPath      string `yaml:"bucket_path" json:"bucket_path"`
	Region          string `yaml:"region" json:"region"`
	Endpoint        string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	AccessKeyID     string `yaml:"access_key_id,omitempty" json:"access_key_id,omitempty"`
	SecretAccessKey string `yaml:"secret_access_key,omitempty" json:"secret_access_key,omitempty"`
	SessionToken    string `yaml:"session_token,omitempty" json:"session_token,omitempty"`
	ForcePathStyle  bool   `yaml:"force_path_style,omitempty" json:"force_path_style,omitempty"`
	// ServerSideEncryption is empty or AES256.
	ServerSideEncryption string    `yaml:"server_side_encryption,omitempty" json:"server_side_encryption,omitempty"`
	MaxInFlight          int       `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	Batching             *Batching `yaml:"batching,omitempty" json:"batching,omitempty"`
	// Compression, CompressionLevel and Partition are the ObjectOptions.
	Compression      string     `yaml:"compression,omitempty" json:"compression,omitempty"`
	CompressionLevel int        `yaml:"compression_level,omitempty" json:"compression_level,omitempty"`
	Partition        *Partition `yaml:"partition,omitempty" json:"partition,omitempty"`
}

// HTTPDestination is ESA's HttpDelivery.
type HTTPDestination struct {
	URL string `yaml:"url" json:"url"`
	// Compression is gzip, zlib, snappy, zstd or no (default no).
	Compression string `yaml:"compression,omitempty" json:"compression,omitempty"`
	// CompressionLevel is 1–9 for gzip and zlib, 1–22 for zstd; 0 is the codec's default.
	CompressionLevel int               `yaml:"compression_level,omitempty" json:"compression_level,omitempty"`
	Auth             *HTTPAuth         `yaml:"auth,omitempty" json:"auth,omitempty"`
	Headers          map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Query            map[string]string `yaml:"query,omitempty" json:"query,omitempty"`
	BodyPrefix       string            `yaml:"body_prefix,omitempty" json:"body_prefix,omitempty"`
	BodySuffix       string            `yaml:"body_suffix,omitempty" json:"body_suffix,omitempty"`
	// Split joins records with SplitWords when true (nil = default true).
	Split      *bool  `yaml:"split,omitempty" json:"split,omitempty"`
	SplitWords string `yaml:"split_words,omitempty" json:"split_words,omitempty"` // default "\n"
	// LastSplit adds SplitWords after the last record too (nil = default true).
	LastSplit    *bool   `yaml:"last_split,omitempty" json:"last_split,omitempty"`
	MaxBatchSize int     `yaml:"max_batch_size,omitempty" json:"max_batch_size,omitempty"` // default 1000
	MaxBatchMB   float64 `yaml:"max_batch_mb,omitempty" json:"max_batch_mb,omitempty"`     // default 5
	// MaxRetry is the number of retries after the first attempt (nil = default 3).
	MaxRetry *int `yaml:"max_retry,omitempty" json:"max_retry,omitempty"`
	// Timeout is the per-request timeout in seconds (default 10).
	Timeout     int    `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	MaxInFlight int    `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	Period      string `yaml:"period,omitempty" json:"period,omitempty"` // flush period, default 5s
	TLS         *TLS   `yaml:"tls,omitempty" json:"tls,omitempty"`
}

// HTTPAuth is ESA's StandardAuthParam.
type HTTPAuth struct {
	PrivateKey  string `yaml:"private_key" json:"private_key"`
	ExpiredTime int64  `yaml:"expired_time" json:"expired_time"`
	URLPath     string `yaml:"url_path,omitempty" json:"url_path,omitempty"`
}

// KafkaDestination is ESA's KafkaDelivery.
type KafkaDestination struct {
	Topic   string   `yaml:"topic" json:"topic"`
	Brokers []string `yaml:"brokers" json:"brokers"`
	// Compression is gzip, snappy, lz4, zstd or no (default no).
	Compression string `yaml:"compression,omitempty" json:"compression,omitempty"`
	SASL        *SASL  `yaml:"sasl,omitempty" json:"sasl,omitempty"`
	TLS         *TLS   `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Balancer is LeastBytes (default), Hash, RoundRobin, CRC32Balancer or Murmur2Balancer; a
	// "kafka." prefix is accepted and removed when decoding.
	Balancer    string    `yaml:"balancer,omitempty" json:"balancer,omitempty"`
	KeyField    string    `yaml:"key_field,omitempty" json:"key_field,omitempty"`
	MaxInFlight int       `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	Batching    *Batching `yaml:"batching,omitempty" json:"batching,omitempty"`
}

// LocalDestination writes the objects of docs/destinations.md#object-layout under a directory.
type LocalDestination struct {
	Path     string    `yaml:"path" json:"path"`
	Batching *Batching `yaml:"batching,omitempty" json:"batching,omitempty"`
	// Compression, CompressionLevel and Partition are the ObjectOptions.
	Compression      string     `yaml:"compression,omitempty" json:"compression,omitempty"`
	CompressionLevel int        `yaml:"compression_level,omitempty" json:"compression_level,omitempty"`
	Partition        *Partition `yaml:"partition,omitempty" json:"partition,omitempty"`
}

// SASL is Kafka SASL authentication.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `yaml:"mechanism" json:"mechanism"`
	Username  string `yaml:"username" json:"username"`
	Password  string `yaml:"password" json:"password"`
}

// TLS is client TLS. In YAML it may also be written as a bare boolean (tls: true).
type TLS struct {
	Enabled    bool   `yaml:"enabled" json:"enabled"`
	CAFile     string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	CertFile   string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile    string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	SkipVerify bool   `yaml:"skip_verify,omitempty" json:"skip_verify,omitempty"`
}

// FieldError is one validation problem: the path of the offending field (e.g. "filters[3].field")
// and the reason.
type FieldError struct {
	Path string
	Msg  string
}

// Error implements error as "path: msg".
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors is a list of validation problems, reported together.
type Errors []FieldError

// Error joins every problem, one per line.
func (es Errors) Error() string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}
