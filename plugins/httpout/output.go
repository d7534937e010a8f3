package httpout

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/authkey"
	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/tlsfiles"
)

// Config is the parsed configuration of one esa_http output.
type Config struct {
	URL         string
	Compression string
	// CompressionLevel is the gzip/zlib (1–9) or zstd (1–22) level; 0 is the codec's default.
	CompressionLevel int
	Format           string
	// PrivateKey empty means no server authentication.
	PrivateKey  string
	ExpiredTime time.Duration
	URLPath     string
	Headers     map[string]string
	Query       map[string]string
	BodyPrefix  string
	BodySuffix  string
	Split       bool
	SplitWords  string
	LastSplit   bool
	MaxRetry    int
	// Retry is the task's retry policy: the statuses retried, max elapsed time and backoff cap.
	Retry       delivery.RetryPolicy
	Timeout     time.Duration
	Backoff     delivery.Backoff
	TLS         TLSConfig
	MaxInFlight int
	Task        string
}

// TLSConfig holds the client TLS options.
type TLSConfig struct {
	CAFile, CertFile, KeyFile string
	SkipVerify                bool
}

// output is the esa_http batch output.
type output struct {
	cfg         Config
	policy      service.BatchPolicy
	maxInFlight int
	log         *service.Logger

	enc       *encode.Encoder
	comp      *encode.Compressor
	signer    *authkey.Signer
	endpoint  *url.URL // without query
	baseQuery string   // encoded static query (URL query + query map), may be empty
	redacted  string   // the endpoint for errors and logs
	header    http.Header
	client    *http.Client
	transport *http.Transport
	now       func() time.Time
	bufs      sync.Pool
	metrics   *delivery.Metrics
	dl        *deadletter.Router
	outcome   *outcome.Outcome
}

func parseConfig(conf *service.ParsedConfig) (Config, service.BatchPolicy, error) {
	var c Config
	var pol service.BatchPolicy
	var err error
	str := func(dst *string, path ...string) {
		if err == nil {
			*dst, err = conf.FieldString(path...)
		}
	}
	str(&c.URL, "url")
	str(&c.Compression, "compression")
	str(&c.Format, "format")
	str(&c.BodyPrefix, "body_prefix")
	str(&c.BodySuffix, "body_suffix")
	str(&c.SplitWords, "split_words")
	str(&c.Task, "task")
	if err != nil {
		return c, pol, err
	}
	if conf.Contains("auth") {
		str(&c.PrivateKey, "auth", "private_key")
		str(&c.URLPath, "auth", "url_path")
		if err != nil {
			return c, pol, err
		}
		secs, err := conf.FieldInt("auth", "expired_time")
		if err != nil {
			return c, pol, err
		}
		c.ExpiredTime = time.Duration(secs) * time.Second
	}
	if c.Headers, err = conf.FieldStringMap("headers"); err != nil {
		return c, pol, err
	}
	if c.Query, err = conf.FieldStringMap("query"); err != nil {
		return c, pol, err
	}
	if c.Split, err = conf.FieldBool("split"); err != nil {
		return c, pol, err
	}
	if c.LastSplit, err = conf.FieldBool("last_split"); err != nil {
		return c, pol, err
	}
	if c.MaxRetry, err = conf.FieldInt("max_retry"); err != nil {
		return c, pol, err
	}
	if c.Timeout, err = conf.FieldDuration("timeout"); err != nil {
		return c, pol, err
	}
	c.Backoff.Initial, c.Backoff.Max = 500*time.Millisecond, 30*time.Second
	if conf.Contains("backoff") {
		if c.Backoff.Initial, err = conf.FieldDuration("backoff", "initial_interval"); err != nil {
			return c, pol, err
		}
		if c.Backoff.Max, err = conf.FieldDuration("backoff", "max_interval"); err != nil {
			return c, pol, err
		}
	}
	if c.Retry, err = delivery.RetryFromParsed(conf); err != nil {
		return c, pol, err
	}
	if c.Retry.MaxBackoff > 0 {
		c.Backoff.Max = c.Retry.MaxBackoff
	}
	if conf.Contains("tls") {
		str(&c.TLS.CAFile, "tls", "ca_file")
		str(&c.TLS.CertFile, "tls", "cert_file")
		str(&c.TLS.KeyFile, "tls", "key_file")
		if err != nil {
			return c, pol, err
		}
		if c.TLS.SkipVerify, err = conf.FieldBool("tls", "skip_verify"); err != nil {
			return c, pol, err
		}
	}
	if c.MaxInFlight, err = conf.FieldInt("max_in_flight"); err != nil {
		return c, pol, err
	}
	if c.CompressionLevel, err = conf.FieldInt("compression_level"); err != nil {
		return c, pol, err
	}
	pol, err = delivery.StreamBatching(conf)
	return c, pol, err
}

// Validate checks the configuration and reports every problem at once. Messages never contain the
// private key or header/query values.
func (c *Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		errs = append(errs, errors.New("url: not a valid URL"))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("url: must start with http:// or https://, got scheme %q", u.Scheme))
	case u.Host == "":
		errs = append(errs, errors.New("url: has no host"))
	}
	if !encode.ValidCodec(c.Compression) {
		errs = append(errs, fmt.Errorf("compression: unknown %q (want gzip, zlib, snappy, zstd or no)", c.Compression))
	} else if err := encode.CheckLevel(c.Compression, c.CompressionLevel); err != nil {
		errs = append(errs, fmt.Errorf("compression_level: %w", err))
	}
	if len(c.Headers) > MaxHeaders {
		errs = append(errs, fmt.Errorf("headers: %d given, at most %d allowed", len(c.Headers), MaxHeaders))
	}
	for name := range c.Headers {
		if !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("headers: %q is not a valid header name", truncate(name, 64)))
		}
	}
	if len(c.Query) > MaxQuery {
		errs = append(errs, fmt.Errorf("query: %d given, at most %d allowed", len(c.Query), MaxQuery))
	}
	for name := range c.Query {
		if name == "" {
			errs = append(errs, errors.New("query: empty parameter name"))
		}
	}
	if c.PrivateKey != "" {
		if err := authkey.ValidatePrivateKey(c.PrivateKey); err != nil {
			errs = append(errs, err)
		}
		if c.ExpiredTime <= 0 {
			errs = append(errs, errors.New("auth.expired_time: must be > 0 seconds"))
		}
		if _, ok := c.Query[authkey.Param]; ok {
			errs = append(errs, errors.New("query: auth_key is set by auth and cannot be given as a static parameter"))
		}
		if c.URLPath != "" && !strings.HasPrefix(c.URLPath, "/") {
			errs = append(errs, errors.New("auth.url_path: must start with /"))
		}
	}
	if c.MaxRetry < 0 {
		errs = append(errs, fmt.Errorf("max_retry: must be >= 0, got %d", c.MaxRetry))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be > 0, got %s", c.Timeout))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max_in_flight: must be >= 1, got %d", c.MaxInFlight))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file must be given together"))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// EncoderOptions maps the body options of ESA's HttpDelivery to encode.Options: body_prefix and
// body_suffix wrap the batch, split_words separates records (none when split is false) and last_split
// adds it after the last record.
func (c *Config) EncoderOptions() encode.Options {
	o := encode.Options{
		Format:      c.Format,
		BatchPrefix: c.BodyPrefix,
		BatchSuffix: c.BodySuffix,
	}
	if o.Format == "" {
		o.Format = encode.FormatNDJSON
	}
	if c.Split {
		o.RecordDelimiter = c.SplitWords
		o.DelimiterAfterLast = c.LastSplit
	}
	return o
}

// fromParsed builds an esa_http output from its parsed config (ConfigSpec).
func fromParsed(conf *service.ParsedConfig, res *service.Resources) (*output, error) {
	c, pol, err := parseConfig(conf)
	if err != nil {
		return nil, fmt.Errorf("esa_http: %w", err)
	}
	o, err := newOutput(c, res)
	if err != nil {
		return nil, err
	}
	if o.dl, err = deadletter.NewRouter(conf, res); err != nil {
		return nil, fmt.Errorf("esa_http: %w", err)
	}
	o.policy = pol
	return o, nil
}

// newOutput builds an esa_http output from a Config (used by fromParsed; mgr may be nil in
// tests, then metrics and logs are discarded).
func newOutput(c Config, mgr *service.Resources) (*output, error) {
	if c.Compression == "" {
		c.Compression = encode.CodecNone
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff.Initial = 500 * time.Millisecond
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = 30 * time.Second
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("esa_http: %w", err)
	}
	enc, err := encode.NewEncoder(c.EncoderOptions())
	if err != nil {
		return nil, fmt.Errorf("esa_http: %w", err)
	}
	comp, err := encode.NewCompressor(c.Compression, c.CompressionLevel)
	if err != nil {
		return nil, fmt.Errorf("esa_http: %w", err)
	}
	u, _ := url.Parse(c.URL)
	q := u.Query()
	for k, v := range c.Query {
		q.Set(k, v)
	}
	endpoint := *u
	endpoint.RawQuery, endpoint.Fragment, endpoint.RawFragment = "", "", ""
	o := &output{
		cfg:         c,
		maxInFlight: c.MaxInFlight,
		enc:         enc,
		comp:        comp,
		endpoint:    &endpoint,
		baseQuery:   q.Encode(),
		redacted:    config.RedactURL(c.URL),
		header:      http.Header{},
		now:         time.Now,
		policy: service.BatchPolicy{Count: delivery.StreamBatchCount, ByteSize: delivery.StreamBatchBytes,
			Period: delivery.StreamBatchPeriod},
	}
	if c.PrivateKey != "" {
		path := c.URLPath
		if path == "" {
			path = u.EscapedPath()
		}
		if o.signer, err = authkey.NewSigner(path, c.PrivateKey, c.ExpiredTime); err != nil {
			return nil, fmt.Errorf("esa_http: %w", err)
		}
	}
	o.header.Set("Content-Type", enc.Options().ContentType())
	if ce := encode.ContentEncoding(c.Compression); ce != "" {
		o.header.Set("Content-Encoding", ce)
	}
	o.header.Set("User-Agent", "esa-connect")
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		o.header.Set(k, c.Headers[k])
	}
	tlsConf, err := c.TLS.build()
	if err != nil {
		return nil, fmt.Errorf("esa_http: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.MaxIdleConns = 2 * c.MaxInFlight
	tr.MaxIdleConnsPerHost = 2 * c.MaxInFlight
	tr.ResponseHeaderTimeout = c.Timeout
	o.transport = tr
	o.client = &http.Client{Transport: tr}
	if mgr != nil {
		o.log = mgr.Logger()
	}
	o.outcome = outcome.From(mgr)
	o.metrics = delivery.NewMetrics(mgr, o.cfg.Task)
	return o, nil
}

// build returns the client TLS configuration (nil when nothing is set). Errors name the file, never
// its content.
func (t TLSConfig) build() (*tls.Config, error) {
	if t == (TLSConfig{}) {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.SkipVerify} //nolint:gosec // opt-in for tests
	if t.CAFile != "" {
		pool, err := tlsfiles.TrustedRoots("tls.ca_file", t.CAFile)
		if err != nil {
			return nil, err
		}
		conf.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tlsfiles.KeyPair("tls.cert_file/key_file", t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// Connect implements service.BatchOutput. Nothing is dialled ahead of the first batch: a server that
// is down at start is retried like any other network error.
// Connect has nothing to check (the first request does): it tells the stream's outcome the output
// is ready.
func (o *output) Connect(context.Context) error {
	o.outcome.Connected()
	return nil
}

// Close implements service.BatchOutput.
func (o *output) Close(context.Context) error {
	o.transport.CloseIdleConnections()
	return nil
}

func (o *output) getBuf() *[]byte {
	if b, ok := o.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func (o *output) putBuf(b *[]byte) {
	if cap(*b) > 64<<20 {
		return
	}
	*b = (*b)[:0]
	o.bufs.Put(b)
}

// WriteBatch implements service.BatchOutput: one POST per batch, retried as the package documents. A
// batch larger than the batch policy's count or byte_size (an input can hand over bigger batches than
// the policy makes) is sent as several requests in order; if one fails, the rest are not sent and the
// whole batch is failed, so records of the requests that succeeded may be delivered twice.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	return o.dl.Write(ctx, batch, o.writeBatch)
}

func (o *output) writeBatch(ctx context.Context, batch service.MessageBatch) error {
	if len(batch) == 0 {
		return nil
	}
	recs := make([][]byte, len(batch))
	for i, m := range batch {
		b, err := m.AsBytes()
		if err != nil {
			perr := &delivery.Permanent{Err: fmt.Errorf("esa_http: record %d: %w", i, err)}
			o.metrics.Failed(len(batch), perr)
			return perr
		}
		recs[i] = b
	}
	for start := 0; start < len(recs); {
		end, size := start, 0
		for end < len(recs) {
			size += len(recs[end]) + len(o.cfg.SplitWords)
			if end > start && (o.policy.Count > 0 && end-start >= o.policy.Count ||
				o.policy.ByteSize > 0 && size > o.policy.ByteSize) {
				break
			}
			end++
		}
		if err := o.writeChunk(ctx, recs[start:end], size); err != nil {
			o.metrics.Failed(len(recs)-start, err)
			return err
		}
		start = end
	}
	return nil
}

// writeChunk encodes, compresses and sends one request's records (about size bytes).
func (o *output) writeChunk(ctx context.Context, recs [][]byte, size int) error {
	start := time.Now()
	rawBuf, compBuf := o.getBuf(), o.getBuf()
	defer o.putBuf(rawBuf)
	defer o.putBuf(compBuf)
	*rawBuf = slices.Grow((*rawBuf)[:0], size+len(o.cfg.BodyPrefix)+len(o.cfg.BodySuffix)+64)
	raw, err := o.enc.Encode(*rawBuf, recs)
	if err != nil {
		return &delivery.Permanent{Err: fmt.Errorf("esa_http: encoding batch: %w", err)}
	}
	*rawBuf = raw
	body := raw
	if o.cfg.Compression != encode.CodecNone {
		if body, err = o.comp.Append((*compBuf)[:0], raw); err != nil {
			return &delivery.Permanent{Err: fmt.Errorf("esa_http: compressing batch: %w", err)}
		}
		*compBuf = body
	}
	if err := o.send(ctx, body); err != nil {
		return err
	}
	o.metrics.Delivered(len(recs), len(raw), len(body), start)
	return nil
}

// attemptError is a failed attempt that may be retried, with the server's Retry-After if any.
type attemptError struct {
	err        error
	retryAfter time.Duration
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// send POSTs body, retrying retryable failures up to MaxRetry times.
func (o *output) send(ctx context.Context, body []byte) error {
	first := o.now()
	for attempt := 0; ; attempt++ {
		err := o.attempt(ctx, body)
		if err == nil {
			return nil
		}
		var ae *attemptError
		if !errors.As(err, &ae) {
			return err // permanent
		}
		if attempt >= o.cfg.MaxRetry {
			return fmt.Errorf("%w (gave up after %d attempts)", ae.err, attempt+1)
		}
		if o.cfg.Retry.GaveUp(first, o.now()) {
			return fmt.Errorf("%w (gave up after %d attempts in %s: retry.max_elapsed)", ae.err, attempt+1, o.cfg.Retry.MaxElapsed)
		}
		delay := o.cfg.Backoff.Delay(attempt + 1)
		if ae.retryAfter > 0 {
			delay = min(ae.retryAfter, o.cfg.Backoff.Max)
		}
		o.metrics.Retried(ae.err)
		if o.log != nil {
			o.log.Debugf("esa_http: retry %d/%d in %s: %v", attempt+1, o.cfg.MaxRetry, delay, ae.err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped while retrying: %v)", ae.err, ctx.Err())
		case <-t.C:
		}
	}
}

// attempt makes one request. It returns nil on 2xx, an *attemptError for retryable failures and an
// *delivery.Permanent otherwise.
func (o *output) attempt(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	u := *o.endpoint
	u.RawQuery = o.baseQuery
	if o.signer != nil {
		kv := authkey.Param + "=" + o.signer.Sign(o.now())
		if u.RawQuery == "" {
			u.RawQuery = kv
		} else {
			u.RawQuery += "&" + kv
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return &delivery.Permanent{Err: fmt.Errorf("esa_http: POST %s: building request failed", o.redacted)}
	}
	req.Header = o.header.Clone()
	resp, err := o.client.Do(req)
	if err != nil {
		if isCertError(err) {
			// The server's certificate will not verify on a retry either: a configuration error that
			// stops the run. The records are not given up on (nor dead-lettered): they stay unacknowledged.
			cerr := fmt.Errorf("esa_http: POST %s: TLS: %s (set tls.ca_file to the CA that signed the server certificate)",
				o.redacted, describeNetErr(err, ctx, o.cfg.Timeout))
			o.outcome.Fatal(cerr)
			return cerr
		}
		return &attemptError{err: fmt.Errorf("esa_http: POST %s: %s", o.redacted, describeNetErr(err, ctx, o.cfg.Timeout))}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The server confirmed with its status line; the body is drained (so the connection can be
		// reused) and a slow or broken body does not undo the confirmation.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	e := fmt.Errorf("esa_http: POST %s: %s: %s", o.redacted, resp.Status, bodyText(snippet))
	switch {
	case o.cfg.Retry.Retries(resp.StatusCode):
		ae := &attemptError{err: e}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			ae.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), o.now())
		}
		return ae
	default:
		return &delivery.Permanent{Err: e, Reason: "http_" + strconv.Itoa(resp.StatusCode)}
	}
}

// describeNetErr describes a transport error without the request URL (which carries the auth_key and
// query values).
func describeNetErr(err error, ctx context.Context, timeout time.Duration) string {
	if ctx.Err() == context.DeadlineExceeded {
		return "no response within timeout " + timeout.String()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// isCertError reports whether err is a failed verification of the server's certificate.
func isCertError(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr)
}

// bodyText quotes the first bytes of a response body for an error message.
func bodyText(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if s == "" {
		return "(empty body)"
	}
	return strconv.Quote(s)
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date. Zero means none.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > 24*3600 {
			secs = 24 * 3600
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// truncate shortens s to n bytes for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
