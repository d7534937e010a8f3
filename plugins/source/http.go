package source

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"golang.org/x/net/netutil"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/authkey"
	"github.com/esa-connect/esa-connect/plugins/outcome"
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

// HTTPServerName is the esa_http_server input's component name.
const HTTPServerName = "esa_http_server"

// HTTPServerSpec is the esa_http_server configuration specification.
func HTTPServerSpec() *service.ConfigSpec {
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

// ingestAuth is how requests authenticate.
type ingestAuth struct {
	bearer     string
	privateKey string
	maxValid   time.Duration
	signedPath string
}

type httpServerInput struct {
	address, path string
	readTimeout   time.Duration
	maxConns      int
	auth          ingestAuth
	tlsConf       *tls.Config
	log           *service.Logger
	out           *outcome.Outcome
	bodies        *BodyReader
	feed          *Feed

	mu  sync.Mutex
	srv *http.Server
}

// httpServerFromParsed builds an esa_http_server input from its parsed config (HTTPServerSpec).
func httpServerFromParsed(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
	h := &httpServerInput{log: res.Logger(), out: outcome.From(res)}
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
	h.bodies = NewBodyReader("esa_http_server", int64(maxBody), int64(maxPending), h.readTimeout)
	if err := h.parseSecurity(conf); err != nil {
		return nil, fmt.Errorf("esa_http_server: %w", err)
	}
	if h.feed, err = NewFeed("esa_http_server", conf, res); err != nil {
		return nil, err
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
	case <-h.feed.Closed():
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
			ReplyError(w, http.StatusUnauthorized, msg)
			return false
		}
	case h.auth.privateKey != "":
		key := r.URL.Query().Get(authkey.Param)
		now := time.Now()
		if err := authkey.Verify(key, h.auth.signedPath, h.auth.privateKey, now); err != nil {
			ReplyError(w, http.StatusForbidden, "esa_http_server: "+err.Error())
			return false
		}
		if h.auth.maxValid > 0 {
			if exp, err := strconv.ParseInt(key[:strings.IndexByte(key, '-')], 10, 64); err == nil &&
				time.Unix(exp, 0).After(now.Add(h.auth.maxValid+time.Minute)) {
				ReplyError(w, http.StatusForbidden, fmt.Sprintf("esa_http_server: auth_key is valid for longer than expired_time (%s)", h.auth.maxValid))
				return false
			}
		}
	}
	return true
}

func (h *httpServerInput) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		ReplyError(w, http.StatusMethodNotAllowed, "esa_http_server: only POST is accepted")
		return
	}
	if !h.authorize(w, r) {
		return
	}
	if h.feed.Full() {
		w.Header().Set("Retry-After", "30")
		ReplyError(w, http.StatusServiceUnavailable, "esa_http_server: the task's disk buffer is full (the destination is behind); send the request again later")
		return
	}
	body, ok := h.bodies.Read(w, r)
	if !ok {
		return
	}
	defer body.Release()
	if body.Records() == 0 {
		Reply(w, http.StatusOK, body.Answer())
		return
	}
	d, err := h.feed.Offer(r.Context(), body)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			ReplyError(w, http.StatusServiceUnavailable, "esa_http_server: shutting down; "+err.Error())
		}
		return // otherwise the client is gone; batches already sent are still delivered
	}
	settled, err := d.Wait(r.Context())
	if !settled {
		body.Keep() // the batches still reference the body
	}
	switch {
	case r.Context().Err() != nil:
		return
	case errors.Is(err, ErrClosed):
		w.Header().Set("Retry-After", "5")
		ReplyError(w, http.StatusServiceUnavailable, "esa_http_server: shutting down before the records were delivered")
	case err != nil:
		w.Header().Set("Retry-After", "5")
		ReplyError(w, http.StatusServiceUnavailable, fmt.Sprintf("esa_http_server: the %d records of this request were not all delivered (send it again): %v", body.Records(), err))
	default:
		Reply(w, http.StatusOK, body.Answer())
	}
}

// ReadBatch returns the next batch of any request, or a flush marker (see Feed.ReadBatch).
func (h *httpServerInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	return h.feed.ReadBatch(ctx)
}

// Close stops accepting requests and lets running requests finish.
func (h *httpServerInput) Close(ctx context.Context) error {
	_ = h.feed.Close(ctx)
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
