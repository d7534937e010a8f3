package s3verified

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/esa-connect/esa-connect/config"
)

// Config is what esa_s3_verified (and `esa-connect verify`) need to reach a bucket.
type Config struct {
	// BucketPath is bucket[/path].
	BucketPath string
	// Region is the signing region; empty: derived from Endpoint when it names one, else us-east-1.
	Region string
	// Endpoint is the S3 endpoint URL without bucket or path; empty: AWS.
	Endpoint string
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials; empty: the AWS default chain.
	AccessKeyID, SecretAccessKey, SessionToken string
	// ForcePathStyle addresses buckets as endpoint/bucket instead of bucket.endpoint.
	ForcePathStyle bool
	// ServerSideEncryption is "" or AES256, sent on every PUT.
	ServerSideEncryption string
	// Compatible marks an S3-compatible store (aws3cmpt): request checksums only when required, and
	// a store that does not implement the Requester Pays query is not Requester Pays.
	Compatible bool
	// HTTPClient, when set, replaces the SDK's HTTP client (tests use it to map host names to loopback).
	HTTPClient *http.Client
}

// FromDestination is the Config of a task's s3 or s3_compatible destination, with the ${VAR}
// references in its values resolved by getenv (as Benthos resolves them when the task runs).
func FromDestination(typ string, s *config.S3Destination, getenv func(string) string) Config {
	x := func(v string) string { return expandRefs(v, getenv) }
	return Config{
		BucketPath:           x(s.BucketPath),
		Region:               x(s.Region),
		Endpoint:             x(s.Endpoint),
		AccessKeyID:          x(s.AccessKeyID),
		SecretAccessKey:      x(s.SecretAccessKey),
		SessionToken:         x(s.SessionToken),
		ForcePathStyle:       s.ForcePathStyle,
		ServerSideEncryption: s.ServerSideEncryption,
		Compatible:           typ == "s3_compatible",
	}
}

// envRef is a ${VAR} reference.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandRefs replaces ${VAR} references with getenv's values; other text (a literal '$' in a secret
// included) is kept.
func expandRefs(v string, getenv func(string) string) string {
	if !strings.Contains(v, "${") {
		return v
	}
	return envRef.ReplaceAllStringFunc(v, func(ref string) string {
		return getenv(ref[2 : len(ref)-1])
	})
}

// Bucket and Path split BucketPath (the path without a trailing slash).
func (c Config) Bucket() string { b, _ := config.SplitBucketPath(c.BucketPath); return b }

// Path is the key prefix of BucketPath, exactly as written, without a trailing slash.
func (c Config) Path() string { _, p := config.SplitBucketPath(c.BucketPath); return p }

// Validate checks the parts that can be checked without the network.
func (c Config) Validate() error {
	if c.Bucket() == "" {
		return errors.New("bucket_path: empty bucket name")
	}
	if c.ServerSideEncryption != "" && c.ServerSideEncryption != "AES256" {
		return fmt.Errorf("server_side_encryption: %q is not supported (want AES256 or empty)", c.ServerSideEncryption)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("endpoint: %q is not an http(s) URL", config.RedactURL(c.Endpoint))
		}
		if strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("endpoint: %q must not contain a path (the bucket and path go in bucket_path)", config.RedactURL(c.Endpoint))
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("access_key_id and secret_access_key must be given together")
	}
	return nil
}

// EffectiveRegion is Region, else the region named by Endpoint, else us-east-1.
func (c Config) EffectiveRegion() string {
	if c.Region != "" {
		return c.Region
	}
	if r := config.RegionFromEndpoint(c.Endpoint); r != "" {
		return r
	}
	return "us-east-1"
}

// NewClient builds the S3 client of c. Retries are left to the caller (the SDK's own retryer is
// turned off so that delivery.Backoff governs every retry).
func NewClient(ctx context.Context, c Config) (*s3.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.EffectiveRegion())}
	if c.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	if c.Compatible {
		opts = append(opts,
			awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.ForcePathStyle
		if c.HTTPClient != nil {
			o.HTTPClient = c.HTTPClient
		}
		o.RetryMaxAttempts = 1
	}), nil
}

// errorCode returns the S3 error code and HTTP status of err (0 when no response was received).
func errorCode(err error) (code string, status int) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

// credentialError explains an error that means the credentials or the bucket were rejected (a
// fatal configuration error, matching errFatal), or returns nil.
func credentialError(c Config, err error) error {
	msg := credentialMsg(c, err)
	if msg == "" {
		return nil
	}
	return fatalError{msg: msg}
}

func credentialMsg(c Config, err error) string {
	code, status := errorCode(err)
	who := "the AWS default credential chain"
	if c.AccessKeyID != "" {
		who = fmt.Sprintf("access_key_id %q", config.MaskKeyID(c.AccessKeyID))
	}
	if strings.Contains(err.Error(), "failed to refresh cached credentials") {
		return fmt.Sprintf("no usable credentials: %s gave none (%v); set access_key_id and secret_access_key or configure the chain", who, err)
	}
	switch code {
	case "InvalidAccessKeyId":
		return fmt.Sprintf("credentials rejected: %s is not known to the store (%s)", who, code)
	case "SignatureDoesNotMatch":
		return fmt.Sprintf("credentials rejected: secret_access_key does not match %s (%s)", who, code)
	case "InvalidToken", "ExpiredToken", "TokenRefreshRequired":
		return fmt.Sprintf("credentials rejected: session_token of %s is invalid or expired (%s)", who, code)
	case "AccessDenied", "AllAccessDisabled", "Forbidden":
		return fmt.Sprintf("permission denied for %s on bucket %q (%s)", who, c.Bucket(), code)
	case "NoSuchBucket":
		return fmt.Sprintf("bucket %q does not exist (%s)", c.Bucket(), code)
	case "PermanentRedirect", "AuthorizationHeaderMalformed":
		return fmt.Sprintf("bucket %q is not in region %q (%s): set region", c.Bucket(), c.EffectiveRegion(), code)
	}
	if status == http.StatusForbidden || status == http.StatusUnauthorized {
		return fmt.Sprintf("credentials or permissions rejected for %s on bucket %q (HTTP %d)", who, c.Bucket(), status)
	}
	if status == http.StatusNotFound && code == "" {
		return fmt.Sprintf("bucket %q does not exist (HTTP 404)", c.Bucket())
	}
	return ""
}

// retryable reports whether an upload error is worth retrying: network errors, timeouts, S3's
// throttling codes and the statuses of the task's retry policy (by default 408, 429 and 5xx).
func retryable(err error, p delivery.RetryPolicy) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	code, status := errorCode(err)
	switch code {
	case "SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	if status == 0 {
		return true // no response: network error or timeout
	}
	return p.Retries(status)
}

// classify wraps an error that the policy does not retry as a *delivery.Permanent with the reason
// s3_<Code> (reasonCodes).
func classify(err error, p delivery.RetryPolicy) error {
	if err == nil || retryable(err, p) {
		return err
	}
	code, _ := errorCode(err)
	return &delivery.Permanent{Err: err, Reason: delivery.ErrorReason("s3", code, reasonCodes)}
}

// reasonCodes are the S3 error codes that give a refused object a dead-letter reason of its own,
// s3_<Code> (s3_AccessDenied, …); any other refusal is s3_error.
var reasonCodes = []string{
	"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
	"ExpiredToken", "AllAccessDisabled", "AccountProblem", "InvalidBucketName", "InvalidArgument",
	"InvalidRequest", "InvalidObjectState", "EntityTooLarge", "EntityTooSmall", "MalformedXML",
	"MissingContentLength", "InvalidDigest", "BadDigest", "NoSuchUpload", "InvalidPart", "InvalidPartOrder",
	"PermanentRedirect", "AuthorizationHeaderMalformed", "KMS.DisabledException", "KMS.NotFoundException",
	"MethodNotAllowed", "NotImplemented",
}
