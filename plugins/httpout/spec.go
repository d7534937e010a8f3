// Package httpout delivers records to any HTTP server as ESA's HttpDelivery does
// (docs/destinations.md#http-server): the output esa_http (requests signed with package authkey) and
// the Receiver behind `esa-connect receive`.
package httpout

import (
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/delivery"
	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/encode"
)

// Defaults of ESA's HTTP delivery (docs/task.md#http; the batch defaults are encode.StreamBatch*).
const (
	DefaultMaxRetry    = 3
	DefaultTimeout     = "10s"
	DefaultMaxInFlight = 8
	// MaxHeaders and MaxQuery are the limits on static headers and query parameters.
	MaxHeaders = 20
	MaxQuery   = 20
	// errorBodyBytes is how much of a failed response's body an error quotes.
	errorBodyBytes = 512
)

// Name is the component name.
const Name = "esa_http"

// ConfigSpec is the esa_http configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Network").
		Summary("Delivers batches of records to an HTTP server with POST, as ESA's HTTP delivery (HttpDelivery) does.").
		Description(`
Each batch becomes one POST request whose body is `+"`body_prefix`"+`, the records joined by
`+"`split_words`"+` (also after the last record when `+"`last_split`"+`), and `+"`body_suffix`"+`,
compressed with `+"`compression`"+` and sent with the matching `+"`Content-Encoding`"+` (gzip,
deflate for zlib, snappy for the snappy block format, zstd: one Zstandard frame). `+"`Content-Type`"+` follows `+"`format`"+`
unless a static header sets it. Any 2xx acknowledges the batch.

### Server authentication
With `+"`auth`"+` set, every request, and every retry of it, carries a freshly signed query parameter
`+"`auth_key=<timestamp>-<rand>-<md5hash>`"+`: `+"`timestamp`"+` is now + `+"`expired_time`"+`
(Unix seconds), `+"`rand`"+` a UUID without dashes, and `+"`md5hash`"+` the hex MD5 of
`+"`<url_path>-<timestamp>-<rand>-<private_key>`"+`. `+"`esa-connect receive`"+` verifies it.

### Delivery guarantee
At least once: a batch is acknowledged only after the server answered 2xx. Network errors, timeouts,
408, 429 and 5xx are retried up to `+"`max_retry`"+` times with exponential backoff and full jitter
(a `+"`Retry-After`"+` on 429/503 is honoured, capped at the backoff maximum); after that the batch is
nacked and the input delivers it again. Any other status fails the batch at once with an error naming
the status and the first 512 bytes of the response body; such batches are counted as failed and go to the
task's dead letter when one is configured (`+"`dead_letter`"+`). A server certificate that does not verify is a
configuration error: it stops the run (the records stay unacknowledged). Errors and logs never show the private key, the auth_key or
the values of query parameters.

### Metrics
`+"`esa_records_delivered_total`, `esa_records_failed_total`, `esa_delivery_retries_total`, `esa_bytes_raw_total`, `esa_bytes_compressed_total`, `esa_batch_latency_ns`"+`, labelled `+"`task`"+`.`).
		Fields(
			service.NewStringField("url").
				Description("The URL records are POSTed to (ESA DestUrl). Must start with `http://` or `https://`. Its query string is kept."),
			service.NewStringEnumField("compression", encode.CodecGzip, encode.CodecZlib, encode.CodecSnappy, encode.CodecZstd, encode.CodecNone).
				Description("Body compression (ESA Compress): `gzip`, `zlib` (Content-Encoding: deflate), `snappy` (block format), `zstd` (Content-Encoding: zstd) or `no`.").
				Default(encode.CodecNone),
			service.NewIntField("compression_level").
				Description("The level of `gzip` and `zlib` (1 fastest … 9 smallest) or `zstd` (1 … 22, as the zstd command numbers them; the encoder has four levels: 1–2 fastest, 3–5 default, 6–9 better, 10–22 best). 0: the codec's default (gzip/zlib: the library's, about 5; zstd: 3).").
				Default(0).Advanced(),
			service.NewStringEnumField("format", encode.FormatNDJSON, encode.FormatCSV, encode.FormatTSV).
				Description("Record format of the body; also sets Content-Type (`application/x-ndjson`, `text/csv`, `text/tab-separated-values`). CSV and TSV start each body with a header line.").
				Default(encode.FormatNDJSON),
			service.NewObjectField("auth",
				service.NewStringField("private_key").
					Description("The shared private key (ESA StandardAuthParam.PrivateKey): 6–18 letters and digits, at least one of each. Give it as an environment variable reference.").
					Secret().Default(""),
				service.NewIntField("expired_time").
					Description("Validity of each signature in seconds (ESA ExpiredTime): the signed timestamp is now + this.").
					Default(300),
				service.NewStringField("url_path").
					Description("The path that is signed (ESA UrlPath); empty means the path of `url`.").
					Default(""),
			).Description("ESA server authentication: sign every request with an `auth_key` query parameter. Leave `private_key` empty to send no signature.").
				Optional(),
			service.NewStringMapField("headers").
				Description("Static request headers (ESA HeaderParam), at most 20. A `Content-Type` here replaces the one from `format`.").
				Default(map[string]any{}),
			service.NewStringMapField("query").
				Description("Static query parameters added to the URL (ESA QueryParam), at most 20.").
				Default(map[string]any{}),
			service.NewStringField("body_prefix").
				Description("Text before the records of each request (ESA LogBodyPrefix).").Default(""),
			service.NewStringField("body_suffix").
				Description("Text after the records of each request (ESA LogBodySuffix).").Default(""),
			service.NewBoolField("split").
				Description("Join records with `split_words` (ESA LogSplit). `false` concatenates them with nothing between.").
				Default(true),
			service.NewStringField("split_words").
				Description("The separator between records (ESA LogSplitWords).").Default("\n"),
			service.NewBoolField("last_split").
				Description("Write `split_words` after the last record too (ESA LastLogSplit).").Default(true),
			service.NewIntField("max_retry").
				Description("Retries of a failed request after the first attempt (ESA MaxRetry). Then the batch is nacked and redelivered by the input.").
				Default(DefaultMaxRetry),
			service.NewDurationField("timeout").
				Description("Timeout of each request attempt, including reading the response (ESA TransformTimeout).").
				Default(DefaultTimeout),
			service.NewObjectField("backoff",
				service.NewDurationField("initial_interval").
					Description("Ceiling of the first retry delay; each retry doubles it. Delays are drawn uniformly below the ceiling (full jitter).").
					Default("500ms"),
				service.NewDurationField("max_interval").
					Description("Cap of every retry delay, and of a server's Retry-After.").
					Default("30s"),
			).Description("Retry backoff.").Advanced(),
			service.NewObjectField("tls",
				service.NewBoolField("enabled").
					Description("Accepted for symmetry with the other outputs: an `https://` URL always uses TLS, and these options apply to it.").
					Default(false),
				service.NewStringField("ca_file").
					Description("PEM file of CA certificates trusted for the server, in addition to the system pool.").Default(""),
				service.NewStringField("cert_file").
					Description("PEM client certificate for mutual TLS (with `key_file`).").Default(""),
				service.NewStringField("key_file").
					Description("PEM private key of the client certificate.").Default(""),
				service.NewBoolField("skip_verify").
					Description("Do not verify the server's certificate. Insecure; for tests only.").Default(false),
			).Description("TLS options for `https://` URLs.").Advanced(),
			service.NewIntField("max_in_flight").
				Description("Requests sent concurrently.").
				Default(DefaultMaxInFlight),
			service.NewBatchPolicyField("batching").
				Description("When a request is sent: after `count` records (ESA MaxBatchSize), `byte_size` bytes (MaxBatchMB) or `period`, whichever comes first. A zero value takes the default: 1000 records, 5 MiB, 5 s."),
			pipeline.TaskField(),
			deadletter.Field(),
			delivery.RetryField(),
			service.NewStringField("time_field").
				Description("The category's time field (accepted for symmetry with the other outputs; HTTP bodies carry records as they are).").
				Default("").Advanced(),
		).
		LintRule(`root = if this.url.type() == "string" && !this.url.has_prefix("http://") && !this.url.has_prefix("https://") && !this.url.contains("${") { [ "url must start with http:// or https://" ] }`).
		Example("ESA-signed gzip NDJSON", "POST gzip-compressed NDJSON batches with ESA server authentication.", `
output:
  esa_http:
    url: https://logs.example.com/accesslog/post
    compression: gzip
    auth:
      private_key: ${ESA_HTTP_PRIVATE_KEY}
      expired_time: 300
    headers:
      X-Source: esa
    task: access-to-http
    batching:
      count: 1000
      byte_size: 5000000
      period: 5s
`).
		Example("JSON array bodies", "Wrap each request's records in a JSON array: `[rec,rec,rec]`.", `
output:
  esa_http:
    url: http://127.0.0.1:8080/ingest
    body_prefix: "["
    body_suffix: "]"
    split_words: ","
    last_split: false
    headers:
      Content-Type: application/json
`)
}

// Register registers the esa_http output on env.
func Register(env *service.Environment) error {
	return env.RegisterBatchOutput(Name, ConfigSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			o, err := fromParsed(conf, res)
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			return o, o.policy, o.maxInFlight, nil
		})
}
