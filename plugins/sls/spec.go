// Package sls provides the esa_sls output: delivery of log records to Alibaba Cloud Simple Log Service
// (SLS) with the official SDK github.com/aliyun/aliyun-log-go-sdk (ESA SlsDelivery;
// docs/destinations.md#alibaba-cloud-sls).
//
// Each record (one JSON object, as esa_fields delivers it) becomes one SLS log: its time is the
// category's time field (else the esa_event_time metadata, else the receive time), nanoseconds kept in
// the log's TimeNs; its contents are the record's members in order — strings unquoted, every other
// value (numbers, booleans, CustomFields) as its JSON text. A Benthos batch is sent as one or more
// PutLogs calls (LogGroups of at most 4,096 logs and 5,000,000 protobuf bytes). The LogGroup protobuf
// (the SDK's log.proto) is written straight from the JSON records, without intermediate structs; the
// SDK compresses it with lz4, signs and sends it (PutRawLogWithCompressType). The batch is acknowledged only after every call succeeded. Network errors, 5xx and SLS
// throttling (WriteQuotaExceed, ShardWriteQuotaExceed, 429) are retried with exponential backoff and
// full jitter; the SDK's own retries are switched off so the total is ours. Other errors fail the
// records of the call at once with SLS's error code and message.
package sls

import (
	"fmt"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"
	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/deadletter"
)

// Batch defaults (docs/destinations.md#batching) and the SLS PutLogs limits.
const (
	DefaultMaxInFlight   = 8
	DefaultMaxRetries    = 3
	DefaultTimeout       = 30 * time.Second
	MaxLogsPerPut        = 4096
	MaxRawBytesPerPut    = 5 * 1000 * 1000
	envAccessKeyID       = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envAccessKeySecret   = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	envSecurityToken     = "ALIBABA_CLOUD_SECURITY_TOKEN"
	defaultEndpointFmt   = "%s.log.aliyuncs.com"
	maxErrorMessageBytes = 512
	maxCachedKeys        = 4096
)

// Name is the component name.
const Name = "esa_sls"

// ConfigSpec is the esa_sls configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Delivers log records to an Alibaba Cloud Simple Log Service (SLS) logstore, as ESA's SLS delivery does.").
		Description(`
Each message must be one JSON object (one log record). It becomes one SLS log:

- **time**: the record's `+"`time_field`"+` (RFC 3339 or Unix seconds/ms/µs/ns), else the `+"`esa_event_time`"+` metadata
  that `+"`esa_fields`"+` sets, else the time the output received it. Sub-second precision is kept in the log's TimeNs.
- **contents**: the record's members, in order, as key/value strings. Strings are unquoted; numbers, booleans
  and objects such as `+"`CustomFields`"+` are written as their JSON text.
- **topic** and **source**: from the fields of the same name (SLS fills the source with the client IP when empty).

A batch is written with PutLogs (a protobuf LogGroup, sent lz4-compressed with aliyun-log-go-sdk) in as many calls as the
SLS limits need (at most 4,096 logs and 5,000,000 bytes per call); it is acknowledged only when every call
succeeded. Network errors, timeouts, HTTP 5xx and SLS throttling (`+"`WriteQuotaExceed`"+`,
`+"`ShardWriteQuotaExceed`"+`, 429) are retried with exponential backoff and full jitter (500 ms up to 30 s),
`+"`max_retries`"+` times; any other error (for example `+"`Unauthorized`"+`, `+"`ProjectNotExist`"+`) fails the
records at once with SLS's error code and message. Failed records are nacked, never dropped.

At connect time the output reads the logstore (GetLogStore): a missing project, a missing logstore or credentials
that SLS rejects stop the run with an error that says which one is wrong. When the credentials may write but not
read the logstore (HTTP 403 permission denied), the output warns and carries on.

An `+"`endpoint`"+` given as `+"`host:port`"+` or an IP address is dialled as given while the project still travels in the
Host header (`+"`<project>.<endpoint>`"+`), so a local test server works. Without a scheme, such an endpoint uses
HTTP and a host name uses HTTPS.`).
		Fields(
			service.NewStringField("project").
				Description("The SLS project (ESA `SLSProject`)."),
			service.NewStringField("logstore").
				Description("The logstore in the project (ESA `SLSLogStore`)."),
			service.NewStringField("region").
				Description("The region of the project (ESA `SLSRegion`), e.g. `cn-hangzhou`; the endpoint is `<region>.log.aliyuncs.com` unless `endpoint` is set.").
				Default(""),
			service.NewStringField("endpoint").
				Description("Overrides the endpoint: a host name (e.g. an intranet endpoint `cn-hangzhou-intranet.log.aliyuncs.com`), `host:port`, an IP address, or a URL with `http://` or `https://`.").
				Default("").Advanced(),
			service.NewStringField("access_key_id").
				Description("AccessKey ID. Default: the `ALIBABA_CLOUD_ACCESS_KEY_ID` environment variable.").
				Default(""),
			service.NewStringField("access_key_secret").
				Description("AccessKey secret. Default: the `ALIBABA_CLOUD_ACCESS_KEY_SECRET` environment variable.").
				Default("").Secret(),
			service.NewStringField("security_token").
				Description("STS security token for temporary credentials. Default: the `ALIBABA_CLOUD_SECURITY_TOKEN` environment variable (only when the key pair also comes from the environment).").
				Default("").Secret(),
			service.NewStringField("topic").
				Description("The topic of every log group (optional).").
				Default(""),
			service.NewStringField("source").
				Description("The source of every log group (optional; SLS uses the client IP when empty).").
				Default(""),
			pipeline.TaskField(),
			service.NewStringField("time_field").
				Description("The record field that holds the event time (the category's time field, e.g. `EdgeStartTimestamp`).").
				Default(""),
			service.NewIntField("max_retries").
				Description("Retries of one PutLogs call on network errors, 5xx and throttling before its records are nacked.").
				Default(DefaultMaxRetries).Advanced(),
			service.NewDurationField("timeout").
				Description("Timeout of one HTTP request to SLS.").
				Default(DefaultTimeout.String()).Advanced(),
			service.NewOutputMaxInFlightField().Default(DefaultMaxInFlight),
			deadletter.Field(),
			delivery.RetryField(),
			service.NewBatchPolicyField("batching").
				Description("When a batch is sent: after `count` records, `byte_size` bytes or `period`, whichever comes first; a zero value takes the default: 1000 records, 5 MiB, 5 s. A batch larger than the SLS limits is split into several PutLogs calls."),
		).
		Example("Deliver access logs to SLS", "Credentials from the environment; the project, logstore and region of an ESA SlsDelivery.", `
output:
  esa_sls:
    project: my-project
    logstore: esa-access
    region: cn-hangzhou
    access_key_id: ${ALIBABA_CLOUD_ACCESS_KEY_ID}
    access_key_secret: ${ALIBABA_CLOUD_ACCESS_KEY_SECRET}
    topic: esa
    task: access-to-sls
    time_field: EdgeStartTimestamp
    batching:
      count: 1000
      byte_size: 5000000
      period: 5s
`)
}

// Register registers the esa_sls output on env.
func Register(env *service.Environment) error {
	return env.RegisterBatchOutput(Name, ConfigSpec(),
		func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			o, pol, err := fromParsed(conf, res)
			if err != nil {
				return nil, pol, 0, err
			}
			return o, pol, o.c.MaxInFlight, nil
		})
}

// fromParsed builds an esa_sls output from its parsed config (ConfigSpec) and returns its batch
// policy.
func fromParsed(conf *service.ParsedConfig, res *service.Resources) (*output, service.BatchPolicy, error) {
	c, pol, err := parseConfig(conf)
	if err != nil {
		return nil, pol, err
	}
	o, err := newOutput(c, res)
	if err != nil {
		return nil, pol, err
	}
	if o.dl, err = deadletter.NewRouter(conf, res); err != nil {
		return nil, pol, fmt.Errorf("%s: %w", Name, err)
	}
	return o, pol, nil
}
