// Package oss is the esa_oss output: delivery to Alibaba Cloud OSS (ESA OssDelivery) as
// gzip or zstd objects laid out as docs/destinations.md#object-layout describes (or by partition), on aliyun-oss-go-sdk.
package oss

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/objects"
	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// Name is the component name.
const Name = "esa_oss"

// minPartSize is OSS's smallest part (except the last).
const minPartSize = 100 * 1024

// ConfigSpec is the esa_oss configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Delivers records to an Alibaba Cloud OSS bucket as gzip (or zstd) objects named by date or partition (ESA OssDelivery).").
		Description(`
Each batch becomes one object `+"`<prefix>/<YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz`"+` (docs/destinations.md#object-layout): gzip of
NDJSON (or CSV/TSV) with `+"`Content-Type`"+` and `+"`Content-Encoding: gzip`"+` (`+"`compression: zstd`"+`: `+"`.log.zst`"+`,
`+"`Content-Encoding: zstd`"+`). With `+"`partition`"+`, each record goes to an object under its partition instead
(`+"`<prefix>/dt=2026-12-06/hour=07/…`"+`). Objects larger than
`+"`multipart.part_size`"+` are uploaded in parts; a failed multipart upload is aborted.

Credentials: `+"`access_key_id`"+` / `+"`access_key_secret`"+` (and `+"`security_token`"+` for STS), else the environment variables
`+"`ALIBABA_CLOUD_ACCESS_KEY_ID`"+`, `+"`ALIBABA_CLOUD_ACCESS_KEY_SECRET`"+` and `+"`ALIBABA_CLOUD_SECURITY_TOKEN`"+`.
At connect time the bucket is checked (GetBucketInfo): rejected credentials or a missing bucket stop the run
with an error naming the credential or the bucket.

At least once: a batch is acknowledged only after OSS confirmed the object. Network errors, timeouts, 429 and
5xx are retried with exponential backoff and jitter (`+"`max_retries`"+`), then the batch is nacked and redelivered
by the input; other 4xx fail the batch at once.

A bucket of another Alibaba Cloud account is reached through `+"`esa_s3_verified`"+` with
`+"`endpoint: https://oss-<region>.aliyuncs.com`"+` (OSS's S3-compatible API), as ESA does.`).
		Fields(append([]*service.ConfigField{
			service.NewStringField("bucket").Description("The OSS bucket."),
			service.NewStringField("region").Description("The bucket's region, e.g. `cn-hangzhou`: the endpoint is `https://oss-<region>.aliyuncs.com` unless `endpoint` is set.").Default(""),
			service.NewStringField("endpoint").Description("Endpoint URL or host[:port] (an internal endpoint or a test server). A host without a scheme uses https, an IP address http.").Default(""),
			service.NewStringField("prefix").Description("Key prefix (directory) of the objects.").Default(""),
			service.NewStringField("access_key_id").Description("AccessKey ID. Empty: `ALIBABA_CLOUD_ACCESS_KEY_ID`.").Default(""),
			service.NewStringField("access_key_secret").Description("AccessKey secret. Empty: `ALIBABA_CLOUD_ACCESS_KEY_SECRET`.").Default("").Secret(),
			service.NewStringField("security_token").Description("STS security token. Empty: `ALIBABA_CLOUD_SECURITY_TOKEN` when the key comes from the environment.").Default("").Secret(),
		}, objects.StoreFields("100 KiB", service.NewDurationField("timeout").Description("Read/write timeout of one request.").Default("120s").Advanced())...)...).
		Example("OSS bucket in Hangzhou", "Credentials from the environment.", `
output:
  esa_oss:
    bucket: my-logs
    region: cn-hangzhou
    prefix: esa/access
    task: access-to-oss
    time_field: EdgeStartTimestamp
`)
}

// Register registers esa_oss on env.
func Register(env *service.Environment) error {
	return objects.Register(env, Name, ConfigSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, *objects.Assembler, error) {
		o, err := fromParsed(conf, res)
		if err != nil {
			return nil, nil, err
		}
		return o, o.asm, nil
	})
}

// Config is the parsed configuration of one esa_oss output; the object fields (encoding, batching,
// partition, …) are objects.FromParsed's.
type Config struct {
	Bucket, Region, Endpoint, Prefix            string
	AccessKeyID, AccessKeySecret, SecurityToken string
	// Task names the objects.
	Task string
	// Upload holds multipart, timeout and spool_dir.
	Upload objects.Upload
	// Retry is the task's retry policy: the statuses retried (the assembler applies its timing).
	Retry delivery.RetryPolicy
}

// EndpointURL is the endpoint to dial: Endpoint (with a scheme added when missing), else
// https://oss-<region>.aliyuncs.com.
func (c Config) EndpointURL() (string, error) {
	ep := strings.TrimRight(c.Endpoint, "/")
	if ep == "" {
		if c.Region == "" {
			return "", errors.New("region or endpoint must be set")
		}
		return "https://oss-" + strings.TrimPrefix(c.Region, "oss-") + ".aliyuncs.com", nil
	}
	if !strings.Contains(ep, "://") {
		host := ep
		if h, _, err := net.SplitHostPort(ep); err == nil {
			host = h
		}
		if net.ParseIP(host) != nil || host == "localhost" {
			ep = "http://" + ep
		} else {
			ep = "https://" + ep
		}
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return "", fmt.Errorf("endpoint %q is not an http(s) URL or host[:port] without a path", config.RedactURL(c.Endpoint))
	}
	return u.Scheme + "://" + u.Host, nil
}

// credentials returns the effective credentials and where they came from.
func (c Config) credentials() (id, secret, token, source string) {
	if c.AccessKeyID != "" {
		return c.AccessKeyID, c.AccessKeySecret, c.SecurityToken, "access_key_id"
	}
	return os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
		os.Getenv("ALIBABA_CLOUD_SECURITY_TOKEN"), "ALIBABA_CLOUD_ACCESS_KEY_ID"
}

type output struct {
	cfg  Config
	task string
	up   objects.Upload // multipart, timeout, spool_dir
	// retry is the task's retry policy: the statuses retried (the assembler applies its timing).
	retry delivery.RetryPolicy
	asm   *objects.Assembler
	log   *service.Logger
	out   *outcome.Outcome

	mu     sync.RWMutex
	bucket *alioss.Bucket
}

// fromParsed builds an esa_oss output from its parsed config (ConfigSpec).
func fromParsed(conf *service.ParsedConfig, res *service.Resources) (*output, error) {
	c, err := parseConfig(conf)
	if err != nil {
		return nil, err
	}
	o := newOutput(c, res)
	if o.asm, err = objects.FromParsed(conf, res, Name, c.Prefix, o); err != nil {
		return nil, err
	}
	return o, nil
}

// parseConfig reads and checks an esa_oss config.
func parseConfig(conf *service.ParsedConfig) (Config, error) {
	var c Config
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"bucket", &c.Bucket}, {"region", &c.Region}, {"endpoint", &c.Endpoint}, {"prefix", &c.Prefix},
		{"access_key_id", &c.AccessKeyID}, {"access_key_secret", &c.AccessKeySecret},
		{"security_token", &c.SecurityToken}, {"task", &c.Task},
	} {
		if *f.dst, err = conf.FieldString(f.name); err != nil {
			return c, err
		}
	}
	if c.Bucket == "" {
		return c, errors.New("bucket: must not be empty")
	}
	if c.Task == "" {
		return c, errors.New("task: must not be empty (it names the objects)")
	}
	if _, err := c.EndpointURL(); err != nil {
		return c, err
	}
	if c.AccessKeyID != "" && c.AccessKeySecret == "" {
		return c, errors.New("access_key_secret: must be set with access_key_id")
	}
	if c.Upload, err = objects.UploadFromParsed(conf, "OSS", minPartSize); err != nil {
		return c, err
	}
	c.Retry, err = delivery.RetryFromParsed(conf)
	return c, err
}

// newOutput builds an esa_oss output from c, without its assembler (fromParsed adds it).
func newOutput(c Config, res *service.Resources) *output {
	return &output{cfg: c, task: c.Task, up: c.Upload, retry: c.Retry, log: res.Logger(), out: outcome.From(res)}
}

// objectURL is oss://bucket/key for messages.
func (o *output) objectURL(key string) string { return "oss://" + o.cfg.Bucket + "/" + key }

func (o *output) fatal(err error) error {
	err = fmt.Errorf("%s: %s: %w", Name, o.objectURL(strings.Trim(o.cfg.Prefix, "/")), err)
	o.out.Fatal(err)
	return err
}

// Connect builds the client and checks the bucket with GetBucketInfo. Rejected credentials and a
// missing bucket are fatal; network errors and 5xx are returned so that Benthos reconnects.
func (o *output) Connect(ctx context.Context) error {
	ep, err := o.cfg.EndpointURL()
	if err != nil {
		return o.fatal(err)
	}
	id, secret, token, source := o.cfg.credentials()
	if id == "" || secret == "" {
		return o.fatal(errors.New("no credentials: set access_key_id and access_key_secret, or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"))
	}
	secs := int64(o.up.Timeout / time.Second)
	opts := []alioss.ClientOption{alioss.Timeout(min(secs, 30), max(secs, 1))}
	if token != "" {
		opts = append(opts, alioss.SecurityToken(token))
	}
	client, err := alioss.New(ep, id, secret, opts...)
	if err != nil {
		return o.fatal(fmt.Errorf("endpoint %s: %w", ep, err))
	}
	if _, err := client.GetBucketInfo(o.cfg.Bucket, alioss.WithContext(ctx)); err != nil {
		if msg := credentialMsg(err, source, id, o.cfg.Bucket); msg != "" {
			return o.fatal(errors.New(msg))
		}
		var se alioss.ServiceError
		if errors.As(err, &se) && se.Code == "AccessDenied" {
			// A RAM policy may allow writing objects without oss:GetBucketInfo; the first upload tells.
			o.log.Warnf("%s: GetBucketInfo on bucket %q was denied; continuing (uploads need oss:PutObject)", Name, o.cfg.Bucket)
		} else {
			return fmt.Errorf("%s: GetBucketInfo %s at %s: %w", Name, o.cfg.Bucket, ep, err)
		}
	}
	b, err := client.Bucket(o.cfg.Bucket)
	if err != nil {
		return o.fatal(err)
	}
	o.mu.Lock()
	o.bucket = b
	o.mu.Unlock()
	o.out.Connected()
	return nil
}

// credentialMsg explains an error that means the credentials or the bucket were rejected, or "".
func credentialMsg(err error, source, id, bucket string) string {
	var se alioss.ServiceError
	if !errors.As(err, &se) {
		return ""
	}
	who := fmt.Sprintf("%s %q", source, config.MaskKeyID(id))
	switch se.Code {
	case "InvalidAccessKeyId":
		return fmt.Sprintf("credentials rejected: %s is not known to OSS (%s)", who, se.Code)
	case "SignatureDoesNotMatch":
		return fmt.Sprintf("credentials rejected: the access key secret does not match %s (%s)", who, se.Code)
	case "InvalidSecurityToken", "SecurityTokenExpired":
		return fmt.Sprintf("credentials rejected: the security token of %s is invalid or expired (%s)", who, se.Code)
	case "NoSuchBucket":
		return fmt.Sprintf("bucket %q does not exist (%s)", bucket, se.Code)
	}
	return ""
}

// retryable reports whether an upload error is worth retrying: network errors, timeouts, OSS's
// RequestTimeout and the statuses of the task's retry policy (by default 408, 429 and 5xx).
func retryable(err error, p delivery.RetryPolicy) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var se alioss.ServiceError
	if errors.As(err, &se) {
		return se.Code == "RequestTimeout" || p.Retries(se.StatusCode)
	}
	var ue alioss.UnexpectedStatusCodeError
	if errors.As(err, &ue) {
		return p.Retries(ue.Got())
	}
	return true
}

// classify wraps an error that the policy does not retry as a *delivery.Permanent with the reason
// oss_<Code> (reasonCodes).
func classify(err error, p delivery.RetryPolicy) error {
	if err == nil || retryable(err, p) {
		return err
	}
	var se alioss.ServiceError
	code := ""
	if errors.As(err, &se) {
		code = se.Code
	}
	return &delivery.Permanent{Err: err, Reason: delivery.ErrorReason("oss", code, reasonCodes)}
}

// reasonCodes are the OSS error codes that give a refused object a dead-letter reason of its own,
// oss_<Code> (oss_AccessDenied, …); any other refusal is oss_error.
var reasonCodes = []string{
	"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurityToken",
	"SecurityTokenExpired", "InvalidObjectName", "InvalidArgument", "InvalidBucketName", "EntityTooLarge",
	"InvalidDigest", "BadDigest", "MalformedXML", "NoSuchUpload", "InvalidPart", "InvalidPartOrder",
	"RequestTimeTooSkewed", "KmsServiceNotEnabled", "UserDisable", "QuotaExceeded", "ServiceUnavailable",
	"InternalError",
}

// WriteBatch adds batch to the object being filled and returns once that object is uploaded.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.RLock()
	b := o.bucket
	o.mu.RUnlock()
	if b == nil {
		return service.ErrNotConnected
	}
	return o.asm.Write(ctx, batch)
}

// Spool implements objects.Store: a temporary file in spool_dir.
func (o *output) Spool() (*os.File, error) { return objects.TempSpool(o.up.SpoolDir, o.task) }

// Describe implements objects.Store.
func (o *output) Describe(key string) string { return o.objectURL(key) }

// Put implements objects.Store, reading the body from the spool file.
func (o *output) Put(ctx context.Context, obj *objects.Object) error {
	o.mu.RLock()
	b := o.bucket
	o.mu.RUnlock()
	if b == nil {
		return service.ErrNotConnected
	}
	return classify(o.upload(ctx, b, obj), o.retry)
}

func (o *output) upload(ctx context.Context, b *alioss.Bucket, obj *objects.Object) error {
	opts := []alioss.Option{alioss.ContentType(obj.ContentType), alioss.WithContext(ctx)}
	if obj.ContentEncoding != "" { // none for Parquet: compressed inside
		opts = append(opts, alioss.ContentEncoding(obj.ContentEncoding))
	}
	if obj.Size <= o.up.PartSize {
		return b.PutObject(obj.Key, io.NewSectionReader(obj.Body, 0, obj.Size), opts...)
	}
	imur, err := b.InitiateMultipartUpload(obj.Key, opts...)
	if err != nil {
		return fmt.Errorf("InitiateMultipartUpload: %w", err)
	}
	parts, err := o.uploadParts(ctx, b, imur, obj.Body, obj.Size)
	if err == nil {
		_, err = b.CompleteMultipartUpload(imur, parts, alioss.WithContext(ctx))
		if err != nil {
			err = fmt.Errorf("CompleteMultipartUpload: %w", err)
		}
	}
	if err != nil {
		// Abort with a fresh context: ctx may be the reason of the failure.
		actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if aerr := b.AbortMultipartUpload(imur, alioss.WithContext(actx)); aerr != nil {
			o.log.Warnf("%s: aborting multipart upload %s of %s: %v", Name, imur.UploadID, o.objectURL(obj.Key), aerr)
		}
		return err
	}
	return nil
}

func (o *output) uploadParts(ctx context.Context, b *alioss.Bucket, imur alioss.InitiateMultipartUploadResult, body io.ReaderAt, size int64) ([]alioss.UploadPart, error) {
	n := int((size + o.up.PartSize - 1) / o.up.PartSize)
	parts := make([]alioss.UploadPart, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		next     = make(chan int)
	)
	for w := 0; w < min(o.up.PartConcurrency, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				lo := int64(i) * o.up.PartSize
				hi := min(lo+o.up.PartSize, size)
				p, err := b.UploadPart(imur, io.NewSectionReader(body, lo, hi-lo), hi-lo, i+1, alioss.WithContext(ctx))
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("UploadPart %d: %w", i+1, err); cancel() })
					continue
				}
				parts[i] = p
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return parts, nil
}

// Close releases nothing: the SDK client holds no resources that need closing.
func (o *output) Close(ctx context.Context) error { return o.asm.Close(ctx) }
