// Package s3verified is the esa_s3_verified output: delivery to AWS S3 (ESA aws3) and S3-compatible
// stores (ESA aws3cmpt) with ownership verification and the object layout of docs/destinations.md, on
// aws-sdk-go-v2.
package s3verified

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/delivery"
	"github.com/esa-connect/esa-connect/plugins/objects"
	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// Name is the component name.
const Name = "esa_s3_verified"

// ConfigSpec is the esa_s3_verified configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Delivers records to AWS S3 or an S3-compatible store as gzip (or zstd) objects named by date or partition (ESA S3Delivery), after verifying ownership of the bucket.").
		Description(`
Each batch becomes one object `+"`<path>/<YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz`"+` (docs/destinations.md#object-layout): gzip of
NDJSON (or CSV/TSV), with `+"`Content-Type`"+` and `+"`Content-Encoding: gzip`"+` (`+"`compression: zstd`"+`: `+"`.log.zst`"+`,
`+"`Content-Encoding: zstd`"+`). With `+"`partition`"+`, each record goes to an object under its partition instead
(`+"`<path>/dt=2026-12-06/hour=07/…`"+`). Objects larger than
`+"`multipart.part_size`"+` go as multipart uploads; a failed multipart upload is aborted.

### Ownership verification
Before the first delivery the output proves that whoever configured the task can read the bucket: without
`+"`ownership_token`"+` it writes the challenge object `+"`<path>/esa-ownership-<task>.txt`"+` and stops with an error naming it
(`+"`esa-connect verify task.yaml`"+` does the same without running); put the object's content into
`+"`ownership_token`"+`. A token verifies only for the same bucket, path and task and the same `+"`ownership_secret`"+`, and is
refused when it is more than 7 days old at its first use (recorded in `+"`<path>/esa-ownership-<task>.used`"+`).

### Delivery guarantees
At least once: a batch is acknowledged only after the store confirmed the object. Network errors, timeouts, 429,
5xx and throttling are retried with exponential backoff and jitter (`+"`max_retries`"+`), then the batch is nacked
and redelivered by the input; other 4xx fail the batch at once. Rejected credentials, a missing bucket or a
Requester Pays bucket stop the run at connect time with an error naming the credential or the bucket.`).
		Fields(append([]*service.ConfigField{
			service.NewStringField("bucket_path").Description("`bucket` or `bucket/path`: the bucket and the key prefix (kept as written, without a trailing slash)."),
			service.NewStringField("region").Description("Signing region. Empty: taken from `endpoint` when it names one (`oss-cn-hangzhou.aliyuncs.com` → `cn-hangzhou`), else `us-east-1`.").Default(""),
			service.NewStringField("endpoint").Description("Endpoint URL without bucket or path, for S3-compatible stores. Empty: AWS.").Default(""),
			service.NewStringField("access_key_id").Description("Static access key id. Empty: the AWS default credential chain (environment, shared config, instance role).").Default(""),
			service.NewStringField("secret_access_key").Description("Static secret access key.").Default("").Secret(),
			service.NewStringField("session_token").Description("Session token of temporary credentials.").Default("").Secret(),
			service.NewBoolField("force_path_style").Description("Address the bucket as `endpoint/bucket` instead of the virtual-hosted `bucket.endpoint`.").Default(false),
			service.NewStringEnumField("server_side_encryption", "", "AES256").Description("`AES256`: send `x-amz-server-side-encryption: AES256` on every PUT (for bucket policies that require SSE-S3).").Default(""),
			service.NewStringField("ownership_token").Description("The content of the ownership challenge object (docs/destinations.md#ownership-verification).").Default(""),
			service.NewStringField("ownership_secret").Description("The secret that signs ownership tokens.").Default("${ESA_OWNERSHIP_SECRET}").Secret(),
			service.NewBoolField("compatible").Description("The store is S3-compatible (ESA aws3cmpt), not AWS: request checksums only when required.").Default(false),
		}, objects.StoreFields("5 MiB", service.NewDurationField("timeout").Description("Time limit of one upload attempt.").Default("300s").Advanced())...)...).
		Example("AWS S3 with SSE-S3", "Credentials from the default chain; the token comes from `esa-connect verify`.", `
output:
  esa_s3_verified:
    bucket_path: my-logs/esa/access
    region: us-east-1
    server_side_encryption: AES256
    ownership_token: ${ESA_OWNERSHIP_TOKEN}
    task: access-to-s3
    time_field: EdgeStartTimestamp
`).
		Example("S3-compatible store", "Path style for a self-hosted store.", `
output:
  esa_s3_verified:
    bucket_path: logs/esa
    endpoint: http://127.0.0.1:7070
    force_path_style: true
    compatible: true
    access_key_id: ${S3_KEY}
    secret_access_key: ${S3_SECRET}
    ownership_token: ${ESA_OWNERSHIP_TOKEN}
    task: access-to-s3
`)
}

// Register registers esa_s3_verified on env.
func Register(env *service.Environment) error {
	return objects.Register(env, Name, ConfigSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, *objects.Assembler, error) {
		o, err := fromParsed(conf, res)
		if err != nil {
			return nil, nil, err
		}
		return o, o.asm, nil
	})
}

type output struct {
	cfg    Config
	task   string
	token  string
	secret string
	up     objects.Upload       // multipart, timeout, spool_dir
	retry  delivery.RetryPolicy // the statuses retried (the assembler applies its timing)
	asm    *objects.Assembler
	log    *service.Logger
	out    *outcome.Outcome

	mu       sync.RWMutex
	client   *s3.Client
	uploader *manager.Uploader
}

// OutputConfig is the parsed configuration of one esa_s3_verified output; the object fields
// (encoding, batching, partition, …) are objects.FromParsed's.
type OutputConfig struct {
	// Client is what reaches the bucket.
	Client Config
	// Task names the objects and the ownership challenge.
	Task string
	// OwnershipToken and OwnershipSecret prove that the bucket is the task owner's (CheckOwnership).
	OwnershipToken, OwnershipSecret string
	// Upload holds multipart, timeout and spool_dir.
	Upload objects.Upload
	// Retry is the task's retry policy: the statuses retried (the assembler applies its timing).
	Retry delivery.RetryPolicy
}

// fromParsed builds an esa_s3_verified output from its parsed config (ConfigSpec).
func fromParsed(conf *service.ParsedConfig, res *service.Resources) (*output, error) {
	c, err := parseConfig(conf)
	if err != nil {
		return nil, err
	}
	o := newOutput(c, res)
	if o.asm, err = objects.FromParsed(conf, res, Name, c.Client.Path(), o); err != nil {
		return nil, err
	}
	return o, nil
}

// parseConfig reads and checks an esa_s3_verified config.
func parseConfig(conf *service.ParsedConfig) (OutputConfig, error) {
	var c OutputConfig
	var err error
	str := func(name string, dst *string) {
		if err == nil {
			*dst, err = conf.FieldString(name)
		}
	}
	str("bucket_path", &c.Client.BucketPath)
	str("region", &c.Client.Region)
	str("endpoint", &c.Client.Endpoint)
	str("access_key_id", &c.Client.AccessKeyID)
	str("secret_access_key", &c.Client.SecretAccessKey)
	str("session_token", &c.Client.SessionToken)
	str("server_side_encryption", &c.Client.ServerSideEncryption)
	str("ownership_token", &c.OwnershipToken)
	str("ownership_secret", &c.OwnershipSecret)
	str("task", &c.Task)
	if err != nil {
		return c, err
	}
	c.OwnershipSecret = expandDefaultRef(c.OwnershipSecret)
	if c.Client.ForcePathStyle, err = conf.FieldBool("force_path_style"); err != nil {
		return c, err
	}
	if c.Client.Compatible, err = conf.FieldBool("compatible"); err != nil {
		return c, err
	}
	if err := c.Client.Validate(); err != nil {
		return c, err
	}
	if c.Task == "" {
		return c, errors.New("task: must not be empty (it names objects and the ownership challenge)")
	}
	if c.Upload, err = objects.UploadFromParsed(conf, "S3", manager.MinUploadPartSize); err != nil {
		return c, err
	}
	c.Retry, err = delivery.RetryFromParsed(conf)
	return c, err
}

// newOutput builds an esa_s3_verified output from c, without its assembler (fromParsed adds it).
func newOutput(c OutputConfig, res *service.Resources) *output {
	return &output{cfg: c.Client, task: c.Task, token: c.OwnershipToken, secret: c.OwnershipSecret,
		up: c.Upload, retry: c.Retry, log: res.Logger(), out: outcome.From(res)}
}

// Connect builds the client, refuses Requester Pays buckets and checks ownership. Rejected
// credentials, a missing bucket, Requester Pays and a missing or wrong ownership token are fatal
// (outcome.Fatal); network errors are returned so that Benthos reconnects with backoff.
func (o *output) Connect(ctx context.Context) error {
	client, err := NewClient(ctx, o.cfg)
	if err != nil {
		return o.fatal(err)
	}
	if err := CheckRequesterPays(ctx, client, o.cfg); err != nil {
		if errors.Is(err, errFatal) {
			return o.fatal(err)
		}
		return fmt.Errorf("%s: %s: %w", Name, o.cfg.ObjectURL(""), err)
	}
	if err := CheckOwnership(ctx, client, o.cfg, o.secret, o.token, o.task); err != nil {
		if errors.Is(err, ErrNotVerified) || errors.Is(err, errFatal) {
			return o.fatal(err)
		}
		return fmt.Errorf("%s: %w", Name, err)
	}
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = o.up.PartSize
		u.Concurrency = o.up.PartConcurrency
		u.LeavePartsOnError = false
	})
	o.mu.Lock()
	o.client, o.uploader = client, up
	o.mu.Unlock()
	o.log.Infof("%s: delivering to %s (ownership verified)", Name, o.cfg.ObjectURL(o.cfg.Path()))
	o.out.Connected()
	return nil
}

func (o *output) fatal(err error) error {
	err = fmt.Errorf("%s: %s: %w", Name, o.cfg.ObjectURL(o.cfg.Path()), err)
	o.out.Fatal(err)
	return err
}

var errFatal = errors.New("fatal")

type fatalError struct{ msg string }

func (f fatalError) Error() string   { return f.msg }
func (f fatalError) Is(t error) bool { return t == errFatal }

// CheckRequesterPays refuses a Requester Pays bucket, as ESA does. A store that does not implement
// the query (501 / NotImplemented) is not Requester Pays. Errors that are the configuration's fault
// match errFatal; others (network, 5xx) are worth a reconnect.
func CheckRequesterPays(ctx context.Context, client *s3.Client, c Config) error {
	out, err := client.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: aws.String(c.Bucket())})
	if err != nil {
		code, status := errorCode(err)
		if code == "NotImplemented" || status == 501 {
			return nil
		}
		if ce := credentialError(c, err); ce != nil {
			return ce
		}
		if c.Compatible && status >= 400 && status < 500 && status != 429 {
			// Some S3-compatible stores answer an unknown sub-resource with 400 or 405.
			return nil
		}
		return fmt.Errorf("checking Requester Pays: %w", err)
	}
	if out.Payer == types.PayerRequester {
		return fatalError{msg: fmt.Sprintf("bucket %q has Requester Pays enabled: ESA delivery refuses such buckets; disable Requester Pays or choose another bucket", c.Bucket())}
	}
	return nil
}

// WriteBatch adds batch to the object being filled and returns once that object is uploaded.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.RLock()
	up := o.uploader
	o.mu.RUnlock()
	if up == nil {
		return service.ErrNotConnected
	}
	return o.asm.Write(ctx, batch)
}

// Spool implements objects.Store: a temporary file in spool_dir.
func (o *output) Spool() (*os.File, error) { return objects.TempSpool(o.up.SpoolDir, o.task) }

// Describe implements objects.Store.
func (o *output) Describe(key string) string { return o.cfg.ObjectURL(key) }

// Put implements objects.Store: one PUT, or a multipart upload (aborted on failure) for a body larger
// than multipart.part_size; the body is read from the spool file, never loaded into memory.
func (o *output) Put(ctx context.Context, obj *objects.Object) error {
	o.mu.RLock()
	up := o.uploader
	o.mu.RUnlock()
	if up == nil {
		return service.ErrNotConnected
	}
	actx, cancel := context.WithTimeout(ctx, o.up.Timeout)
	defer cancel()
	in := &s3.PutObjectInput{
		Bucket:          aws.String(o.cfg.Bucket()),
		Key:             aws.String(obj.Key),
		Body:            io.NewSectionReader(obj.Body, 0, obj.Size),
		ContentLength:   aws.Int64(obj.Size),
		ContentType:     aws.String(obj.ContentType),
		ContentEncoding: aws.String(obj.ContentEncoding),
	}
	if obj.ContentEncoding == "" {
		in.ContentEncoding = nil // Parquet: compressed inside
	}
	if o.cfg.ServerSideEncryption != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(o.cfg.ServerSideEncryption)
	}
	_, err := up.Upload(actx, in)
	return classify(err, o.retry)
}

// Close uploads the object being filled and waits for it.
func (o *output) Close(ctx context.Context) error { return o.asm.Close(ctx) }

// expandDefaultRef resolves a value that is still an unexpanded ${VAR} reference — as the field's
// default is, since Benthos interpolates environment variables in the config text only.
func expandDefaultRef(v string) string {
	if strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") && !strings.ContainsAny(v[2:len(v)-1], "${}:") {
		return os.Getenv(v[2 : len(v)-1])
	}
	return v
}
