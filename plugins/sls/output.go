package sls

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// Config is the parsed esa_sls configuration.
type Config struct {
	Project, Logstore, Region, Endpoint string
	AccessKeyID, AccessKeySecret        string
	SecurityToken                       string
	Topic, Source                       string
	Task, TimeField                     string
	MaxRetries                          int
	// Retry is the task's retry policy (its max_elapsed and max_backoff; SLS's error codes decide
	// what is retried).
	Retry       delivery.RetryPolicy
	Timeout     time.Duration
	MaxInFlight int
}

func parseConfig(conf *service.ParsedConfig) (Config, service.BatchPolicy, error) {
	var c Config
	var pol service.BatchPolicy
	var err error
	str := func(dst *string, name string) {
		if err == nil {
			*dst, err = conf.FieldString(name)
		}
	}
	str(&c.Project, "project")
	str(&c.Logstore, "logstore")
	str(&c.Region, "region")
	str(&c.Endpoint, "endpoint")
	str(&c.AccessKeyID, "access_key_id")
	str(&c.AccessKeySecret, "access_key_secret")
	str(&c.SecurityToken, "security_token")
	str(&c.Topic, "topic")
	str(&c.Source, "source")
	str(&c.Task, "task")
	str(&c.TimeField, "time_field")
	if err != nil {
		return c, pol, fmt.Errorf("%s: %w", Name, err)
	}
	if c.Retry, err = delivery.RetryFromParsed(conf); err != nil {
		return c, pol, fmt.Errorf("%s: %w", Name, err)
	}
	if c.MaxRetries, err = conf.FieldInt("max_retries"); err != nil {
		return c, pol, fmt.Errorf("%s: %w", Name, err)
	}
	if c.Timeout, err = conf.FieldDuration("timeout"); err != nil {
		return c, pol, fmt.Errorf("%s: %w", Name, err)
	}
	if c.MaxInFlight, err = conf.FieldMaxInFlight(); err != nil {
		return c, pol, fmt.Errorf("%s: %w", Name, err)
	}
	if pol, err = delivery.StreamBatching(conf); err != nil {
		return c, pol, fmt.Errorf("%s: batching: %w", Name, err)
	}
	c.applyEnv(os.Getenv)
	return c, pol, c.Validate()
}

// applyEnv fills missing credentials from the ALIBABA_CLOUD_* environment variables. The security token
// comes from the environment only together with a key pair from the environment.
func (c *Config) applyEnv(getenv func(string) string) {
	if c.AccessKeyID == "" && c.AccessKeySecret == "" {
		c.AccessKeyID = getenv(envAccessKeyID)
		c.AccessKeySecret = getenv(envAccessKeySecret)
		if c.SecurityToken == "" {
			c.SecurityToken = getenv(envSecurityToken)
		}
		return
	}
	if c.AccessKeyID == "" {
		c.AccessKeyID = getenv(envAccessKeyID)
	}
	if c.AccessKeySecret == "" {
		c.AccessKeySecret = getenv(envAccessKeySecret)
	}
}

// Validate reports every configuration problem at once; messages never contain a secret.
func (c *Config) Validate() error {
	var errs []string
	if c.Project == "" {
		errs = append(errs, "project: required")
	}
	if c.Logstore == "" {
		errs = append(errs, "logstore: required")
	}
	if c.Region == "" && c.Endpoint == "" {
		errs = append(errs, "region: required unless endpoint is set")
	}
	if c.AccessKeyID == "" {
		errs = append(errs, "access_key_id: required (or set "+envAccessKeyID+")")
	}
	if c.AccessKeySecret == "" {
		errs = append(errs, "access_key_secret: required (or set "+envAccessKeySecret+")")
	}
	if c.MaxRetries < 0 {
		errs = append(errs, fmt.Sprintf("max_retries: must be >= 0, got %d", c.MaxRetries))
	}
	if c.Timeout <= 0 {
		errs = append(errs, "timeout: must be positive")
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Sprintf("max_in_flight: must be >= 1, got %d", c.MaxInFlight))
	}
	if c.Endpoint != "" {
		if _, _, _, err := resolveEndpoint(c.Region, c.Endpoint); err != nil {
			errs = append(errs, "endpoint: "+err.Error())
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: invalid configuration: %s", Name, strings.Join(errs, "; "))
}

// resolveEndpoint returns the endpoint to give the SDK (with scheme), the host shown in messages and,
// when the endpoint is an IP address or names a port, the address to dial for every request.
func resolveEndpoint(region, endpoint string) (sdkEndpoint, display, dialAddr string, err error) {
	if endpoint == "" {
		host := fmt.Sprintf(defaultEndpointFmt, region)
		return "https://" + host, host, "", nil
	}
	scheme := ""
	rest := endpoint
	switch {
	case strings.HasPrefix(endpoint, "http://"):
		scheme, rest = "http", strings.TrimPrefix(endpoint, "http://")
	case strings.HasPrefix(endpoint, "https://"):
		scheme, rest = "https", strings.TrimPrefix(endpoint, "https://")
	case strings.Contains(endpoint, "://"):
		return "", "", "", fmt.Errorf("%q: only http:// and https:// are supported", config.RedactURL(endpoint))
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return "", "", "", fmt.Errorf("%q: want a host, host:port or http(s)://host[:port] without user info, a path or a query", config.RedactURL(endpoint))
	}
	host, port, splitErr := net.SplitHostPort(rest)
	if splitErr != nil {
		host, port = strings.Trim(rest, "[]"), ""
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", "", "", fmt.Errorf("%q: bad port %q", config.RedactURL(endpoint), port)
		}
	}
	isIP := net.ParseIP(host) != nil
	if scheme == "" {
		scheme = "https"
		if isIP || port != "" {
			scheme = "http"
		}
	}
	if isIP || port != "" {
		if port == "" {
			port = "443"
			if scheme == "http" {
				port = "80"
			}
		}
		dialAddr = net.JoinHostPort(host, port)
	}
	return scheme + "://" + rest, rest, dialAddr, nil
}

// sdkRetriesOff switches off the SDK's own retries of 5xx answers (a package-level switch of the SDK),
// so that every retry is esa_sls's and follows its backoff and limits.
var sdkRetriesOff sync.Once

// output is the esa_sls BatchOutput.
type output struct {
	c        Config
	display  string // endpoint host, for messages
	client   slssdk.ClientInterface
	tr       *http.Transport
	backoff  delivery.Backoff
	log      *service.Logger
	outcome  *outcome.Outcome
	now      func() time.Time
	builders sync.Pool // *builder scratch space
	bufs     sync.Pool // *[]byte group buffers
	keyMu    sync.RWMutex
	keys     map[string]*string // interned content keys (raw JSON key → decoded), shared by all batches

	metrics *delivery.Metrics
	dl      *deadletter.Router

	wireBytes, rawBytes atomic.Int64 // of accepted PutLogs calls, counted by the transport
}

func newOutput(c Config, mgr *service.Resources) (*output, error) {
	sdkEndpoint, display, dialAddr, err := resolveEndpoint(c.Region, c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("%s: endpoint: %w", Name, err)
	}
	sdkRetriesOff.Do(func() { slssdk.RetryOnServerErrorEnabled = false })

	o := &output{c: c, display: display, now: time.Now,
		backoff: delivery.Backoff{MaxRetries: c.MaxRetries, Max: c.Retry.MaxBackoff, MaxElapsed: c.Retry.MaxElapsed}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * c.MaxInFlight
	tr.MaxIdleConnsPerHost = 2 * c.MaxInFlight
	tr.ResponseHeaderTimeout = c.Timeout
	if dialAddr != "" {
		// The SDK puts the project in front of the endpoint host (<project>.<endpoint>): right for the
		// Host header, but not resolvable for an IP address or a test server; dial the endpoint itself.
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, dialAddr)
		}
	}
	o.tr = tr
	client := slssdk.CreateNormalInterfaceV2(sdkEndpoint,
		slssdk.NewStaticCredentialsProvider(c.AccessKeyID, c.AccessKeySecret, c.SecurityToken))
	client.SetHTTPClient(&http.Client{Transport: &countingTransport{next: tr, o: o}, Timeout: c.Timeout})
	// The retry timeout only bounds the SDK's retries of reads on network errors (GetLogStore at
	// connect); writes are attempted once per call (see sdkRetriesOff).
	client.SetRetryTimeout(c.Timeout)
	client.SetUserAgent("esa-connect esa_sls (aliyun-log-go-sdk)")
	o.client = client

	if mgr != nil {
		o.log = mgr.Logger()
	}
	o.outcome = outcome.From(mgr)
	o.metrics = delivery.NewMetrics(mgr, c.Task)
	return o, nil
}

// countingTransport counts the bytes of accepted PutLogs calls: as sent (compressed) and raw
// (x-log-bodyrawsize).
type countingTransport struct {
	next http.RoundTripper
	o    *output
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodPost && resp.StatusCode == http.StatusOK {
		t.o.wireBytes.Add(req.ContentLength)
		if n, perr := strconv.ParseInt(req.Header.Get("x-log-bodyrawsize"), 10, 64); perr == nil {
			t.o.rawBytes.Add(n)
		}
	}
	return resp, err
}

// Connect checks that the project and the logstore exist and the credentials work (GetLogStore).
// Rejected credentials and a missing project or logstore are fatal (outcome.Fatal); network errors,
// 5xx and throttling are returned for Benthos to retry the connection.
func (o *output) Connect(ctx context.Context) error {
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		_, err := o.client.GetLogStore(o.c.Project, o.c.Logstore)
		done <- result{err}
	}()
	var err error
	select {
	case r := <-done:
		err = r.err
	case <-ctx.Done():
		return fmt.Errorf("%s: connect to %s: %w", Name, o.display, ctx.Err())
	}
	if err == nil {
		o.outcome.Connected()
		return nil
	}
	cerr, fatal, warn := o.connectError(err)
	if warn {
		if o.log != nil {
			o.log.Warnf("%v", cerr)
		}
		o.outcome.Connected()
		return nil
	}
	if fatal {
		o.outcome.Fatal(cerr)
	}
	return cerr
}

// connectError turns a GetLogStore failure into an error naming what is wrong, and says whether it is
// fatal (configuration) or only a warning (no permission to read the logstore).
func (o *output) connectError(err error) (out error, fatal, warn bool) {
	se, ok := asSLSError(err)
	where := fmt.Sprintf("project %q, logstore %q at %s", o.c.Project, o.c.Logstore, o.display)
	if !ok {
		return fmt.Errorf("%s: connect (%s): %v", Name, where, err), false, false
	}
	code, msg := se.Code, o.scrub(truncate(se.Message))
	lmsg := strings.ToLower(msg)
	switch {
	case code == "ProjectNotExist":
		return fmt.Errorf("%s: project %q does not exist at %s (region %q): SLS %s: %s", Name, o.c.Project, o.display, o.c.Region, code, msg), true, false
	case code == "LogStoreNotExist":
		return fmt.Errorf("%s: logstore %q does not exist in project %q at %s: SLS %s: %s", Name, o.c.Logstore, o.c.Project, o.display, code, msg), true, false
	case code == "SignatureNotMatch":
		return fmt.Errorf("%s: access_key_secret is wrong for access_key_id %q (SLS %s: the request signature did not match)", Name, config.MaskKeyID(o.c.AccessKeyID), code), true, false
	case code == "InvalidAccessKeyId" || strings.Contains(lmsg, "accesskeyid"):
		return fmt.Errorf("%s: access_key_id %q is not valid (SLS %s: %s)", Name, config.MaskKeyID(o.c.AccessKeyID), code, msg), true, false
	case strings.Contains(lmsg, "security token") || strings.Contains(lmsg, "securitytoken") || strings.Contains(code, "Token"):
		return fmt.Errorf("%s: security_token is invalid or expired (SLS %s: %s)", Name, code, msg), true, false
	case se.HTTPCode == http.StatusForbidden && (code == "Unauthorized" || code == "Forbidden" || strings.Contains(lmsg, "denied")):
		return fmt.Errorf("%s: cannot check %s: the credentials may not read it (SLS %s: %s); continuing, PutLogs will tell whether they may write", Name, where, code, msg), false, true
	case se.HTTPCode == http.StatusUnauthorized:
		return fmt.Errorf("%s: credentials rejected for %s (access_key_id %q): SLS %s: %s", Name, where, config.MaskKeyID(o.c.AccessKeyID), code, msg), true, false
	case retryable(se):
		return fmt.Errorf("%s: connect (%s): SLS %s (HTTP %d): %s", Name, where, code, se.HTTPCode, msg), false, false
	}
	return fmt.Errorf("%s: connect (%s): SLS %s (HTTP %d): %s", Name, where, code, se.HTTPCode, msg), true, false
}

// Close releases idle connections.
func (o *output) Close(context.Context) error {
	o.tr.CloseIdleConnections()
	return nil
}

// WriteBatch writes batch with as many PutLogs calls as the SLS limits need and returns nil only when
// all succeeded. When some calls fail, a *service.BatchError names exactly the failed records (the
// dead-letter router makes it from the *delivery.Partial that writeBatch returns).
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	return o.dl.Write(ctx, batch, o.writeBatch)
}

func (o *output) writeBatch(ctx context.Context, batch service.MessageBatch) error {
	start := o.now()
	groups, bad := o.buildGroups(batch, start)
	var part *delivery.Partial
	var first error
	failed := 0
	markFailed := func(idx []int, err error) {
		if part == nil {
			part, first = delivery.NewPartial(len(batch)), err
		}
		for _, i := range idx {
			part.Fail(i, err)
		}
		failed += len(idx)
	}
	for _, b := range bad {
		markFailed([]int{b.index}, b.err)
	}
	delivered := 0
	for _, g := range groups {
		if err := o.put(ctx, g); err != nil {
			markFailed(g.indexes, err)
			continue
		}
		delivered += len(g.indexes)
	}
	o.putBufs(groups)
	o.record(delivered, failed, first, start)
	if part != nil {
		return part
	}
	return nil
}

func (o *output) record(delivered, failed int, err error, start time.Time) {
	if failed > 0 {
		o.metrics.Failed(failed, err)
	}
	o.metrics.Delivered(delivered, int(o.rawBytes.Swap(0)), int(o.wireBytes.Swap(0)), start)
}

// put sends one LogGroup, retrying retryable failures with backoff.
func (o *output) put(ctx context.Context, g *group) error {
	err := o.backoff.Retry(ctx, func(context.Context) error {
		return o.classify(g, o.client.PutRawLogWithCompressType(o.c.Project, o.c.Logstore, g.raw, slssdk.Compress_LZ4))
	}, func(attempt int, err error) {
		o.metrics.Retried(err)
		if o.log != nil {
			o.log.Warnf("%v (retry %d of %d)", err, attempt, o.c.MaxRetries)
		}
	})
	return err
}

// classify wraps a PutLogs error: retryable errors as they are, others as *delivery.Permanent.
func (o *output) classify(g *group, err error) error {
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("%s: PutLogs %s/%s at %s (%d logs)", Name, o.c.Project, o.c.Logstore, o.display, len(g.indexes))
	se, ok := asSLSError(err)
	if !ok {
		return fmt.Errorf("%s: %v", where, err)
	}
	e := fmt.Errorf("%s: SLS %s (HTTP %d): %s", where, se.Code, se.HTTPCode, o.scrub(truncate(se.Message)))
	if se.RequestID != "" {
		e = fmt.Errorf("%w [request %s]", e, se.RequestID)
	}
	if retryable(se) {
		return e
	}
	return &delivery.Permanent{Err: e, Reason: delivery.ErrorReason("sls", se.Code, reasonCodes)}
}

// reasonCodes are the SLS error codes that give a refusal a dead-letter reason of its own,
// sls_<code> (sls_Unauthorized, …); a refusal with any other code is sls_error, one that no log
// group can carry (too large) is sls_record.
var reasonCodes = []string{
	"Unauthorized", "SignatureNotMatch", "InvalidAccessKeyId", "ProjectNotExist", "LogStoreNotExist",
	"ShardNotExist", "ProjectForbidden", "WriteQuotaExceed", "ShardWriteQuotaExceed", "PostBodyTooLarge",
	"PostBodyInvalid", "InvalidLogSize", "InvalidTimestamp", "ParameterInvalid", "InvalidContentType",
	"InvalidCompressType", "InvalidContentMD5", "RequestTimeExpired", "BadResponse",
}

// asSLSError extracts the SDK's error.
func asSLSError(err error) (*slssdk.Error, bool) {
	var se *slssdk.Error
	if errors.As(err, &se) {
		return se, true
	}
	var bre *slssdk.BadResponseError
	if errors.As(err, &bre) {
		return &slssdk.Error{HTTPCode: int32(bre.HTTPCode), Code: "BadResponse", Message: truncate(bre.RespBody)}, true
	}
	return nil, false
}

// retryable reports whether an SLS error is worth retrying: client-side failures (network, timeouts,
// unreadable responses — the SDK reports them as ClientError with HTTP code -1), 5xx, 429, 408 and the
// throttling codes.
func retryable(se *slssdk.Error) bool {
	switch {
	case se.HTTPCode <= 0, se.Code == "ClientError":
		return true
	case se.HTTPCode >= 500, se.HTTPCode == http.StatusTooManyRequests, se.HTTPCode == http.StatusRequestTimeout:
		return true
	}
	switch se.Code {
	case "WriteQuotaExceed", "ShardWriteQuotaExceed", "ReadQuotaExceed", "ShardReadQuotaExceed",
		"ExceedQuota", "QuotaExceed", "ServerBusy", "InternalServerError", "RequestTimeout":
		return true
	}
	return false
}

// scrub masks the credentials in a message from SLS (it echoes the AccessKey ID, for example).
func (o *output) scrub(msg string) string {
	if o.c.AccessKeySecret != "" {
		msg = strings.ReplaceAll(msg, o.c.AccessKeySecret, "***")
	}
	if o.c.SecurityToken != "" {
		msg = strings.ReplaceAll(msg, o.c.SecurityToken, "***")
	}
	if o.c.AccessKeyID != "" {
		msg = strings.ReplaceAll(msg, o.c.AccessKeyID, config.MaskKeyID(o.c.AccessKeyID))
	}
	return msg
}

func truncate(s string) string {
	if len(s) > maxErrorMessageBytes {
		return s[:maxErrorMessageBytes] + "…"
	}
	return s
}
