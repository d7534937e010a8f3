package source

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/redpanda-data/benthos/v4/public/service"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/semaphore"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/authkey"
	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/record"
	"github.com/esa-connect/esa-connect/plugins/selection"
	"github.com/esa-connect/esa-connect/plugins/tlsfiles"
)

// Defaults of esa_http_server.
const (
	// DefaultHTTPAddress is the ingest's default address: loopback only.
	DefaultHTTPAddress = "127.0.0.1:4196"
	// DefaultMaxBodyBytes bounds one request body, as sent and decompressed.
	DefaultMaxBodyBytes = 16 << 20
	// DefaultMaxPendingBytes bounds the bodies held by every request being read or waiting for delivery.
	DefaultMaxPendingBytes = 64 << 20
	// DefaultReadTimeout bounds reading one request (headers and body).
	DefaultReadTimeout = 30 * time.Second
	// DefaultFlushAfter is how long a request waits before the ingest flushes the destination's
	// partial batch for it.
	DefaultFlushAfter = 5 * time.Second
	// DefaultMaxConnections bounds the open connections; more wait to be accepted.
	DefaultMaxConnections = 1024
	// maxRejectedListed is how many rejected lines an answer names.
	maxRejectedListed = 10
)

func httpServerSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Categories("Network").
		Summary("An ingest endpoint for NDJSON log records: answers 200 only after every record of the request was delivered.").
		Description(`Clients POST NDJSON bodies (one JSON record per line, empty lines skipped), plain or with
`+"`Content-Encoding: gzip`"+`. A request becomes one or more batches of at most `+"`batch_size`"+` records. The
answer waits for the destination: 200 when every record of the request was delivered, deliberately dropped
(sampling, filter) or — for a line that is not a valid record — dead-lettered or dropped and counted; 503
(with `+"`Retry-After`"+`) otherwise, so the sender can send the request again.

Every answer is a JSON object. A 200 says `+"`{\"accepted\": N, \"rejected\": M, \"rejected_lines\": [{\"line\": 3, \"reason\": \"malformed\", \"error\": \"…\"}]}`"+`:
`+"`rejected`"+` counts the lines that are not valid records (not a JSON object, over 1 MiB, …; at most 10 are
listed); they go to the task's dead letter when it has one. Errors say `+"`{\"error\": \"…\"}`"+`: 401/403 for a
missing or wrong credential, 405 for a method other than POST, 413 when the body (as sent or decompressed)
exceeds `+"`max_body_bytes`"+`, 400 for a broken gzip stream, 415 for another Content-Encoding, 429 with
`+"`Retry-After`"+` when the bodies held by all requests would exceed `+"`max_pending_bytes`"+` (backpressure:
memory stays bounded whatever the number of clients), 503 when the destination did not take the records
or, with a disk buffer (`+"`buffer: esa_disk`"+`), when the buffer is full (`+"`Retry-After: 30`"+`). With a disk buffer
the 200 comes as soon as the records are synced to it.

The answer comes within about `+"`flush_after`"+` (plus the delivery itself) at any batch size: a request that
has waited that long makes the destination write its partial batch. The cost is smaller batches (objects)
when traffic is light; 0 waits for the destination's own batch policy.

**Security.** The endpoint listens on loopback unless `+"`address`"+` says otherwise. On any other address it
refuses to start unless requests are authenticated — `+"`auth.bearer_token`"+` (`+"`Authorization: Bearer …`"+`),
`+"`auth.private_key`"+` (ESA's `+"`auth_key`"+` query parameter, as esa_http signs it) or `+"`tls.client_ca_file`"+`
(client certificates) — or `+"`insecure: true`"+` is set. `+"`tls`"+` serves HTTPS. Reading a request is bounded by
`+"`read_timeout`"+`, so a slow client cannot hold a connection (or a shutdown) for long.`).
		Fields(
			service.NewStringField("address").
				Description("Address to listen on, `host:port`.").
				Default(DefaultHTTPAddress),
			service.NewStringField("path").
				Description("The URL path that accepts records.").
				Default("/v1/logs"),
			service.NewObjectField("tls",
				service.NewStringField("cert_file").Description("The server certificate (PEM).").Default(""),
				service.NewStringField("key_file").Description("Its private key (PEM).").Default(""),
				service.NewStringField("client_ca_file").Description("Require client certificates signed by this CA (PEM): mutual TLS.").Default(""),
			).Description("Serve HTTPS.").Optional(),
			service.NewObjectField("auth",
				service.NewStringField("bearer_token").Description("Require `Authorization: Bearer <token>`.").Default("").Secret(),
				service.NewStringField("private_key").Description("Require ESA's `auth_key` query parameter signed with this key (6–18 letters and digits).").Default("").Secret(),
				service.NewIntField("expired_time").Description("With `private_key`: refuse an auth_key valid for longer than this many seconds from now (0: any).").Default(0),
				service.NewStringField("url_path").Description("With `private_key`: the signed path (default: `path`).").Default(""),
			).Description("Authenticate every request.").Optional(),
			service.NewBoolField("insecure").
				Description("Accept unauthenticated records on an address that is not loopback.").
				Default(false),
			service.NewIntField("batch_size").
				Description("Maximum records per batch; a larger request is split into several batches.").
				Default(1000).Advanced(),
			selection.Field(),
			service.NewIntField("max_body_bytes").
				Description("Maximum size of a request body, both as sent and after gzip decompression.").
				Default(DefaultMaxBodyBytes).Advanced(),
			service.NewIntField("max_pending_bytes").
				Description("Maximum bytes of bodies held by all requests together (being read, or waiting for delivery); a request that would exceed it is answered 429 with Retry-After.").
				Default(DefaultMaxPendingBytes).Advanced(),
			service.NewIntField("max_connections").
				Description("Maximum open connections; further clients wait to be accepted.").
				Default(DefaultMaxConnections).Advanced(),
			service.NewDurationField("read_timeout").
				Description("Time limit for reading one request, headers and body.").
				Default(DefaultReadTimeout.String()).Advanced(),
			service.NewDurationField("flush_after").
				Description("Flush the destination's partial batch for a request that has waited this long; 0 waits for the batch policy.").
				Default(DefaultFlushAfter.String()).Advanced(),
			service.NewBoolField("flush_markers").
				Description("Send a flush marker (an empty message with metadata `esa_flush: \"1\"`) when the input ends, the stream is drained or a request has waited `flush_after`, so that the esa_* outputs write their partial batches at once. The esa_* outputs drop markers; turn this off when the output is not an esa_* output.").
				Default(true).Advanced(),
		).
		Example("Default ingest endpoint", "Edge nodes on this host POST NDJSON to http://127.0.0.1:4196/v1/logs.", `
input:
  esa_http_server:
    address: 127.0.0.1:4196
    path: /v1/logs
`).
		Example("Ingest from the network", "HTTPS with a bearer token.", `
input:
  esa_http_server:
    address: 0.0.0.0:4196
    tls: {cert_file: /etc/esa/ingest.pem, key_file: /etc/esa/ingest.key}
    auth: {bearer_token: "${ESA_INGEST_TOKEN}"}
`)
}

// httpBatch is one batch of a request on its way to ReadBatch: the messages of the records selection
// kept (marked valid when they were validated here, so the processors do not validate them again).
type httpBatch struct {
	msgs service.MessageBatch
	res  *requestResult
}

// requestResult collects the acks of a request's batches.
type requestResult struct {
	mu      sync.Mutex
	left    int
	err     error
	settled chan struct{}
}

func (r *requestResult) ack(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && r.err == nil {
		r.err = err
	}
	r.left--
	if r.left == 0 {
		close(r.settled)
	}
}

// ingestAuth is how requests authenticate.
type ingestAuth struct {
	bearer     string
	privateKey string
	maxValid   time.Duration
	signedPath string
}

type httpServerInput struct {
	address, path string
	batchSize     int
	maxBody       int64
	readTimeout   time.Duration
	maxConns      int
	flushAfter    time.Duration
	auth          ingestAuth
	tlsConf       *tls.Config
	log           *service.Logger
	out           *outcome.Outcome
	budget        *semaphore.Weighted
	stage         *selection.Stage

	batches chan httpBatch
	flush   chan struct{} // a request asks for a flush marker
	mu      sync.Mutex
	srv     *http.Server
	closed  chan struct{}
	once    sync.Once

	drain     <-chan struct{} // closed when the stream is drained; nil without flush markers
	drainDone bool            // the flush marker was handed out (ReadBatch is not called concurrently)
	markers   bool
}

func newHTTPServerInput(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
	h := &httpServerInput{log: res.Logger(), out: outcome.From(res), batches: make(chan httpBatch),
		flush: make(chan struct{}, 1), closed: make(chan struct{})}
	var err error
	if h.address, err = conf.FieldString("address"); err != nil {
		return nil, err
	}
	if h.path, err = conf.FieldString("path"); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(h.path, "/") {
		return nil, fmt.Errorf("esa_http_server: path %q must start with /", h.path)
	}
	if h.batchSize, err = conf.FieldInt("batch_size"); err != nil {
		return nil, err
	}
	if h.batchSize < 1 {
		return nil, fmt.Errorf("esa_http_server: batch_size %d must be at least 1", h.batchSize)
	}
	maxBody, err := conf.FieldInt("max_body_bytes")
	if err != nil {
		return nil, err
	}
	maxPending, err := conf.FieldInt("max_pending_bytes")
	if err != nil {
		return nil, err
	}
	if maxBody < 1 || maxPending < maxBody {
		return nil, fmt.Errorf("esa_http_server: max_body_bytes (%d) must be positive and at most max_pending_bytes (%d)", maxBody, maxPending)
	}
	h.maxBody = int64(maxBody)
	h.budget = semaphore.NewWeighted(int64(maxPending))
	if h.maxConns, err = conf.FieldInt("max_connections"); err != nil {
		return nil, err
	}
	if h.maxConns < 1 {
		return nil, fmt.Errorf("esa_http_server: max_connections %d must be at least 1", h.maxConns)
	}
	if h.readTimeout, err = conf.FieldDuration("read_timeout"); err != nil {
		return nil, err
	}
	if h.readTimeout < time.Second {
		return nil, fmt.Errorf("esa_http_server: read_timeout %s must be at least 1s", h.readTimeout)
	}
	if h.flushAfter, err = conf.FieldDuration("flush_after"); err != nil {
		return nil, err
	}
	if h.flushAfter != 0 && h.flushAfter < 100*time.Millisecond {
		return nil, fmt.Errorf("esa_http_server: flush_after %s must be 0 or at least 100ms", h.flushAfter)
	}
	if h.markers, err = conf.FieldBool("flush_markers"); err != nil {
		return nil, err
	}
	if h.markers {
		h.drain = h.out.DrainCh()
	}
	if err := h.parseSecurity(conf); err != nil {
		return nil, fmt.Errorf("esa_http_server: %w", err)
	}
	if h.stage, err = selection.FromParsed(conf, res); err != nil {
		return nil, fmt.Errorf("esa_http_server: %w", err)
	}
	return h, nil
}

// parseSecurity reads tls, auth and insecure, and refuses an unauthenticated non-loopback address.
func (h *httpServerInput) parseSecurity(conf *service.ParsedConfig) error {
	clientCA, err := h.parseTLS(conf.Namespace("tls"))
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := h.parseAuth(conf.Namespace("auth")); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	insecure, err := conf.FieldBool("insecure")
	if err != nil {
		return err
	}
	authenticated := h.auth.bearer != "" || h.auth.privateKey != "" || clientCA
	if !authenticated && !insecure && !config.IsLoopback(h.address) {
		return fmt.Errorf("address %s is not a loopback address and requests are not authenticated: set auth.bearer_token, auth.private_key or tls.client_ca_file (or insecure: true to accept records from anyone who can reach it)", h.address)
	}
	return nil
}

// parseTLS reads the tls object (absent or empty: plain HTTP); clientCA reports mutual TLS.
func (h *httpServerInput) parseTLS(t *service.ParsedConfig) (clientCA bool, err error) {
	if !t.Contains("cert_file") {
		return false, nil
	}
	var cert, key, ca string
	for _, f := range []struct {
		name string
		dst  *string
	}{{"cert_file", &cert}, {"key_file", &key}, {"client_ca_file", &ca}} {
		if *f.dst, err = t.FieldString(f.name); err != nil {
			return false, err
		}
	}
	if cert == "" && key == "" && ca == "" {
		return false, nil
	}
	if cert == "" || key == "" {
		return false, errors.New("cert_file and key_file are both required")
	}
	pair, err := tlsfiles.KeyPair("cert_file/key_file", cert, key)
	if err != nil {
		return false, err
	}
	h.tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if ca == "" {
		return false, nil
	}
	pool := x509.NewCertPool()
	if err := tlsfiles.AppendCAs(pool, "client_ca_file", ca); err != nil {
		return false, err
	}
	h.tlsConf.ClientCAs = pool
	h.tlsConf.ClientAuth = tls.RequireAndVerifyClientCert
	return true, nil
}

// parseAuth reads the auth object (absent or empty: no authentication).
func (h *httpServerInput) parseAuth(a *service.ParsedConfig) error {
	if !a.Contains("bearer_token") {
		return nil
	}
	var err error
	if h.auth.bearer, err = a.FieldString("bearer_token"); err != nil {
		return err
	}
	if h.auth.privateKey, err = a.FieldString("private_key"); err != nil {
		return err
	}
	secs, err := a.FieldInt("expired_time")
	if err != nil {
		return err
	}
	if secs < 0 {
		return errors.New("expired_time must not be negative")
	}
	h.auth.maxValid = time.Duration(secs) * time.Second
	if h.auth.signedPath, err = a.FieldString("url_path"); err != nil {
		return err
	}
	if h.auth.signedPath == "" {
		h.auth.signedPath = h.path
	}
	if h.auth.bearer != "" && h.auth.privateKey != "" {
		return errors.New("set bearer_token or private_key, not both")
	}
	if h.auth.privateKey != "" {
		return authkey.ValidatePrivateKey(h.auth.privateKey)
	}
	return nil
}

// Connect binds the address and starts serving. An address that cannot be bound (in use, not an
// address of this host, no permission) is a configuration error that stops the run.
func (h *httpServerInput) Connect(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return nil
	}
	select {
	case <-h.closed:
		return service.ErrEndOfInput
	default:
	}
	ln, err := net.Listen("tcp", h.address)
	if err != nil {
		err = fmt.Errorf("esa_http_server: listen on %s: %w", h.address, err)
		h.out.Fatal(err)
		return err
	}
	ln = netutil.LimitListener(ln, h.maxConns)
	scheme := "http"
	if h.tlsConf != nil {
		ln = tls.NewListener(ln, h.tlsConf)
		scheme = "https"
	}
	mux := http.NewServeMux()
	mux.HandleFunc(h.path, h.handle)
	h.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: min(10*time.Second, h.readTimeout),
		ReadTimeout:       h.readTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	go func() {
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Errorf("esa_http_server: serving on %s: %v", h.address, err)
		}
	}()
	h.log.Infof("esa_http_server: accepting NDJSON at %s://%s%s", scheme, ln.Addr(), h.path)
	return nil
}

// reply writes a JSON answer.
func reply(w http.ResponseWriter, status int, body any) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type errorBody struct {
	Error string `json:"error"`
}

// replyError writes {"error": msg}.
func replyError(w http.ResponseWriter, status int, msg string) {
	reply(w, status, errorBody{Error: msg})
}

// rejectedLine names a line that is not a valid record.
type rejectedLine struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// acceptedBody is the answer to a request whose records were all taken care of.
type acceptedBody struct {
	Accepted      int            `json:"accepted"`
	Rejected      int            `json:"rejected"`
	RejectedLines []rejectedLine `json:"rejected_lines,omitempty"`
}

// authorize checks the request's credential; it answers and returns false when it is missing or wrong.
func (h *httpServerInput) authorize(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case h.auth.bearer != "":
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(h.auth.bearer)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="esa-connect"`)
			msg := "esa_http_server: missing bearer token (send Authorization: Bearer <token>)"
			if ok {
				msg = "esa_http_server: wrong bearer token"
			}
			replyError(w, http.StatusUnauthorized, msg)
			return false
		}
	case h.auth.privateKey != "":
		key := r.URL.Query().Get(authkey.Param)
		now := time.Now()
		if err := authkey.Verify(key, h.auth.signedPath, h.auth.privateKey, now); err != nil {
			replyError(w, http.StatusForbidden, "esa_http_server: "+err.Error())
			return false
		}
		if h.auth.maxValid > 0 {
			if exp, err := strconv.ParseInt(key[:strings.IndexByte(key, '-')], 10, 64); err == nil &&
				time.Unix(exp, 0).After(now.Add(h.auth.maxValid+time.Minute)) {
				replyError(w, http.StatusForbidden, fmt.Sprintf("esa_http_server: auth_key is valid for longer than expired_time (%s)", h.auth.maxValid))
				return false
			}
		}
	}
	return true
}

func (h *httpServerInput) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		replyError(w, http.StatusMethodNotAllowed, "esa_http_server: only POST is accepted")
		return
	}
	if !h.authorize(w, r) {
		return
	}
	if h.out.Full() {
		w.Header().Set("Retry-After", "30")
		replyError(w, http.StatusServiceUnavailable, "esa_http_server: the task's disk buffer is full (the destination is behind); send the request again later")
		return
	}
	if r.ContentLength > h.maxBody {
		replyError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("esa_http_server: body of %d bytes is over the limit of %d", r.ContentLength, h.maxBody))
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, h.maxBody)
	gzipped := false
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gzipped = true
	default:
		replyError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("esa_http_server: Content-Encoding %q is not supported (send gzip or plain)", enc))
		return
	}
	held := &held{budget: h.budget}
	defer held.release()
	var data []byte
	var err error
	if gzipped {
		// The compressed body first (its size is known, or small), then the records at their size
		// (from the gzip trailer), without growing a buffer: a gzip body is decompressed in one go.
		var comp []byte
		if comp, err = h.readBody(body, held, max(r.ContentLength, 0)); err != nil {
			h.readError(w, err, false)
			return
		}
		data, err = h.gunzip(comp, held)
		held.shrink(int64(cap(comp)))
	} else {
		data, err = h.readBody(body, held, max(r.ContentLength, 0))
	}
	if err != nil {
		h.readError(w, err, gzipped)
		return
	}
	lines := splitNumbered(data)
	if len(lines.recs) == 0 {
		reply(w, http.StatusOK, acceptedBody{})
		return
	}
	ans := acceptedBody{}
	valid, unique := make([]bool, len(lines.recs)), make([]bool, len(lines.recs))
	var sh record.Shape
	sel := record.NewSelector()
	for i, rec := range lines.recs {
		if err := sel.ScanShape(rec, nil, &sh); err != nil {
			ans.Rejected++
			if len(ans.RejectedLines) < maxRejectedListed {
				reason := record.ReasonMalformed
				var ie *record.InvalidError
				if errors.As(err, &ie) {
					reason = ie.Reason
				}
				ans.RejectedLines = append(ans.RejectedLines, rejectedLine{Line: lines.numbers[i], Reason: reason, Error: err.Error()})
			}
			continue
		}
		valid[i], unique[i] = true, sh.Unique()
	}
	ans.Accepted = len(lines.recs) - ans.Rejected

	n := (len(lines.recs) + h.batchSize - 1) / h.batchSize
	res := &requestResult{left: n, settled: make(chan struct{})}
	sent := 0
	for i := 0; i < len(lines.recs); i += h.batchSize {
		j := min(i+h.batchSize, len(lines.recs))
		trust := func(k int) (bool, bool) { return valid[i+k], unique[i+k] }
		msgs, _ := h.stage.Select(lines.recs[i:j], trust, false)
		if len(msgs) == 0 {
			res.ack(nil) // sampled or filtered out: nothing to deliver
			sent++
			continue
		}
		b := httpBatch{msgs: msgs, res: res}
		select {
		case h.batches <- b:
			sent++
		case <-r.Context().Done():
			h.waitSent(res, sent, n)
			return // the client is gone; batches already sent are still delivered
		case <-h.closed:
			h.waitSent(res, sent, n)
			replyError(w, http.StatusServiceUnavailable, fmt.Sprintf("esa_http_server: shutting down; %d of %d batches were not taken", n-sent, n))
			return
		}
	}
	// Ask for a flush once the request has waited flush_after, and again each flush_after after that.
	var flushTimer *time.Timer
	if h.flushAfter > 0 && h.markers {
		var arm func()
		arm = func() {
			flushTimer = time.AfterFunc(h.flushAfter, func() {
				select {
				case <-res.settled:
					return
				default:
				}
				select {
				case h.flush <- struct{}{}:
				default:
				}
				arm()
			})
		}
		arm()
	}
	defer func() {
		if flushTimer != nil {
			flushTimer.Stop()
		}
	}()
	select {
	case <-res.settled:
	case <-r.Context().Done():
		<-res.settled // keep the body (and its budget) until the batches that reference it resolve
		return
	case <-h.closed:
		// Shutdown waits for the batches in flight to resolve, but not forever.
		select {
		case <-res.settled:
		case <-time.After(10 * time.Second):
			w.Header().Set("Retry-After", "5")
			replyError(w, http.StatusServiceUnavailable, "esa_http_server: shutting down before the records were delivered")
			held.keep() // the batches still reference the body
			return
		}
	}
	res.mu.Lock()
	err = res.err
	res.mu.Unlock()
	if err != nil {
		w.Header().Set("Retry-After", "5")
		replyError(w, http.StatusServiceUnavailable, fmt.Sprintf("esa_http_server: the %d records of this request were not all delivered (send it again): %v", len(lines.recs), err))
		return
	}
	reply(w, http.StatusOK, ans)
}

// waitSent resolves the batches of a request that were never sent and waits for the sent ones, so
// that the body they reference stays counted in the budget until nothing uses it.
func (h *httpServerInput) waitSent(res *requestResult, sent, n int) {
	for range n - sent {
		res.ack(nil)
	}
	if sent > 0 {
		<-res.settled
	}
}

// held is the part of the budget a request holds.
type held struct {
	budget *semaphore.Weighted
	n      int64
	kept   bool
}

// grow takes n more bytes of the budget, without waiting; false when the budget is exhausted.
func (hd *held) grow(n int64) bool {
	if !hd.budget.TryAcquire(n) {
		return false
	}
	hd.n += n
	return true
}

// keep leaves the bytes taken (the request's batches still reference its body).
func (hd *held) keep() { hd.kept = true }

// shrink gives n bytes back to the budget (a buffer no longer used).
func (hd *held) shrink(n int64) {
	if n > 0 && n <= hd.n && !hd.kept {
		hd.budget.Release(n)
		hd.n -= n
	}
}

func (hd *held) release() {
	if hd.n > 0 && !hd.kept {
		hd.budget.Release(hd.n)
	}
}

// gunzip decompresses a gzip body, taking its memory from the budget. The buffer is sized by the
// trailer's ISIZE (the size of the last member, mod 2^32: a hint, capped at deflate's largest ratio).
func (h *httpServerInput) gunzip(comp []byte, hd *held) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(comp))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	hint := int64(0)
	if len(comp) >= 18 {
		hint = min(int64(binary.LittleEndian.Uint32(comp[len(comp)-4:])), int64(len(comp))*1032)
	}
	return h.readBody(zr, hd, hint)
}

// errBudget is a body that does not fit the max_pending_bytes budget now.
var errBudget = errors.New("the bodies of the requests in progress fill max_pending_bytes")

// errTooLarge is a (decompressed) body over max_body_bytes.
var errTooLarge = errors.New("decompressed body over the limit")

// readBody reads the whole body, taking its memory from the budget as it grows (sizeHint: the
// declared length of a plain body).
func (h *httpServerInput) readBody(body io.Reader, hd *held, sizeHint int64) ([]byte, error) {
	initial := int64(64 << 10)
	if sizeHint > 0 {
		initial = sizeHint + 1 // one more byte tells a body of exactly the limit from a longer one
	}
	initial = min(initial, h.maxBody+1)
	if !hd.grow(initial) {
		return nil, errBudget
	}
	buf := make([]byte, 0, initial)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > h.maxBody {
				return nil, errTooLarge
			}
			next := min(int64(cap(buf))*2, h.maxBody+1)
			if !hd.grow(next - int64(cap(buf))) {
				return nil, errBudget
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > h.maxBody {
				return nil, errTooLarge
			}
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (h *httpServerInput) readError(w http.ResponseWriter, err error, gzipped bool) {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.Is(err, errBudget):
		w.Header().Set("Retry-After", "1")
		replyError(w, http.StatusTooManyRequests, "esa_http_server: "+err.Error()+"; send it again later")
	case errors.As(err, &mbe), errors.Is(err, errTooLarge):
		replyError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("esa_http_server: body is over the limit of %d bytes", h.maxBody))
	case errors.As(err, &ne) && ne.Timeout():
		replyError(w, http.StatusRequestTimeout, fmt.Sprintf("esa_http_server: the body was not read within read_timeout (%s)", h.readTimeout))
	case gzipped:
		replyError(w, http.StatusBadRequest, "esa_http_server: bad gzip body: "+err.Error())
	default:
		replyError(w, http.StatusBadRequest, "esa_http_server: reading the body: "+err.Error())
	}
}

// numberedLines are the non-blank lines of a body and their 1-based line numbers.
type numberedLines struct {
	recs    [][]byte
	numbers []int
}

// splitNumbered returns the non-blank lines of data without their line endings (sub-slices of data)
// with their line numbers.
func splitNumbered(data []byte) numberedLines {
	n := bytes.Count(data, []byte{'\n'}) + 1
	out := numberedLines{recs: make([][]byte, 0, n), numbers: make([]int, 0, n)}
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out.recs = append(out.recs, line[:len(line):len(line)])
		out.numbers = append(out.numbers, lineNo)
	}
	return out
}

// ReadBatch returns the next batch of any request (its ack settles that request's part), or a flush
// marker when a request has waited flush_after or the stream is drained.
func (h *httpServerInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if h.drainDone {
		return nil, nil, service.ErrEndOfInput
	}
	select {
	case b := <-h.batches:
		var once sync.Once
		return b.msgs, func(_ context.Context, err error) error {
			once.Do(func() { b.res.ack(err) })
			return nil
		}, nil
	case <-h.flush:
		return service.MessageBatch{encode.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
	case <-h.closed:
		return nil, nil, service.ErrEndOfInput
	case <-h.drain:
		// Drained: requests still waiting get 503 when the input closes; the batches already handed
		// out are flushed by the marker and answered once delivered.
		h.drainDone = true
		return service.MessageBatch{encode.NewFlushMarker()}, func(context.Context, error) error { return nil }, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// Close stops accepting requests and lets running requests finish.
func (h *httpServerInput) Close(ctx context.Context) error {
	h.once.Do(func() { close(h.closed) })
	h.mu.Lock()
	srv := h.srv
	h.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}
