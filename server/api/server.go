// Package api is esa-connect serve's HTTP interface: ESA's delivery-task API at / (signed with
// ACS3-HMAC-SHA256, answered with ESA's bodies so ESA's SDKs work unchanged), the ingest that fans a
// request's records out to every online task of its site and log category, each task's health, and
// one /metrics for every task.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/source"
	"github.com/esa-connect/esa-connect/plugins/tap"
	"github.com/esa-connect/esa-connect/server/acs3"
	"github.com/esa-connect/esa-connect/server/fleet"
	"github.com/esa-connect/esa-connect/server/store"
)

// Server answers serve's HTTP requests. Fill its fields, call Restore, then serve Handler.
type Server struct {
	// Store keeps the tasks; Fleet runs the online ones.
	Store *store.Store
	Fleet *fleet.Fleet
	// Verifier checks the signature of every ESA API request.
	Verifier *acs3.Verifier
	// IngestToken is required as `Authorization: Bearer <token>` by the ingest, the status endpoint
	// and /metrics; empty requires nothing (serve allows that on loopback only).
	IngestToken string
	// Bodies reads ingest request bodies within their size and memory limits.
	Bodies *source.BodyReader
	// Registry holds every task's metrics and serve's own.
	Registry *prometheus.Registry
	// DisableAfter sets a task offline when it delivered nothing for this long while records wait
	// (0: never).
	DisableAfter time.Duration
	// Log receives serve's log lines.
	Log *slog.Logger

	mu        sync.Mutex // serialises task changes
	disabled  prometheus.Counter
	ingestReq *prometheus.CounterVec
}

// Restore starts every stored online task; a task that no longer loads or builds is logged and left
// stopped (its status says why).
func (s *Server) Restore() error {
	s.disabled = prometheus.NewCounter(prometheus.CounterOpts{Name: "esa_serve_tasks_disabled_total",
		Help: "Tasks set offline because they delivered nothing for --disable-after while records waited."})
	s.ingestReq = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "esa_serve_ingest_requests_total",
		Help: "Ingest requests by HTTP status."}, []string{"code"})
	for _, c := range []prometheus.Collector{s.disabled, s.ingestReq} {
		if err := s.Registry.Register(c); err != nil {
			return err
		}
	}
	all, err := s.Store.List()
	if err != nil {
		return err
	}
	for _, st := range all {
		if aerr := s.start(st); aerr != nil {
			s.Log.Error("task not started", "task", st.Name, "error", aerr.Message)
		}
	}
	return nil
}

// Handler routes serve's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.esa)
	mux.HandleFunc("POST /v1/sites/{site}/logs/{category}", s.ingest)
	mux.HandleFunc("POST /v1/logs/{category}", s.ingest)
	mux.HandleFunc("GET /v1/tasks/{task}/status", s.status)
	mux.HandleFunc("POST /v1/tasks/{task}/verify", s.verify)
	mux.HandleFunc("GET /v1/tasks/{task}/tap", func(w http.ResponseWriter, r *http.Request) {
		if !s.bearer(w, r) {
			return
		}
		name := r.PathValue("task")
		tap.Handler(func() (*tap.Hub, error) {
			rt, ok := s.Fleet.Get(name)
			if !ok {
				return nil, fmt.Errorf("task %s is not running", name)
			}
			return rt.Tap(), nil
		})(w, r)
	})
	metrics := promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if s.bearer(w, r) {
			metrics.ServeHTTP(w, r)
		}
	})
	return mux
}

// bearer checks the ingest token; it answers 401 and returns false when it is missing or wrong.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) bool {
	if s.IngestToken == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.IngestToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="esa-connect"`)
		msg := "missing bearer token (send Authorization: Bearer <token>)"
		if ok {
			msg = "wrong bearer token"
		}
		source.ReplyError(w, http.StatusUnauthorized, msg)
		return false
	}
	return true
}

// ingest takes NDJSON records for a site's (or the account's) log category and offers them to every
// online task of that site and category; it answers 200 once every task acknowledged them.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	code := s.ingestOnce(w, r)
	if s.ingestReq != nil {
		s.ingestReq.WithLabelValues(strconv.Itoa(code)).Inc()
	}
}

func (s *Server) ingestOnce(w http.ResponseWriter, r *http.Request) int {
	if !s.bearer(w, r) {
		return http.StatusUnauthorized
	}
	cat, ok := config.LookupCategory(r.PathValue("category"))
	if !ok {
		names := []string{}
		for _, c := range config.Categories() {
			names = append(names, c.Name)
		}
		source.ReplyError(w, http.StatusNotFound, fmt.Sprintf("unknown log category %q (one of %s, or ESA's BusinessType)", r.PathValue("category"), strings.Join(names, ", ")))
		return http.StatusNotFound
	}
	var site int64
	if v := r.PathValue("site"); v != "" {
		if cat.Scope != "site" {
			source.ReplyError(w, http.StatusNotFound, fmt.Sprintf("%s is an account-level log category: POST to /v1/logs/%s", cat.Name, cat.Name))
			return http.StatusNotFound
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			source.ReplyError(w, http.StatusNotFound, fmt.Sprintf("site id %q is not a positive integer", v))
			return http.StatusNotFound
		}
		site = id
	} else if cat.Scope == "site" {
		source.ReplyError(w, http.StatusNotFound, fmt.Sprintf("%s is a site log category: POST to /v1/sites/{SiteId}/logs/%s", cat.Name, cat.Name))
		return http.StatusNotFound
	}
	receivers := s.Fleet.Receivers(site, cat.Name)
	for _, t := range receivers {
		if t.Feed().Full() {
			w.Header().Set("Retry-After", "30")
			source.ReplyError(w, http.StatusServiceUnavailable, fmt.Sprintf("task %s: its disk buffer is full (the destination is behind); send the request again later", t.Def.Name))
			return http.StatusServiceUnavailable
		}
	}
	body, ok := s.Bodies.Read(w, r)
	if !ok {
		return 400
	}
	defer body.Release()
	if len(receivers) == 0 || body.Records() == 0 {
		source.Reply(w, http.StatusOK, body.Answer())
		return http.StatusOK
	}
	// Every task gets the records at once; the answer waits for all of them.
	errs := make([]error, len(receivers))
	settled := make([]bool, len(receivers))
	var wg sync.WaitGroup
	for i, t := range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := t.Feed().Offer(r.Context(), body)
			if err != nil {
				errs[i], settled[i] = err, true
				return
			}
			settled[i], errs[i] = d.Wait(r.Context())
		}()
	}
	wg.Wait()
	for _, ok := range settled {
		if !ok {
			body.Keep() // a batch still references the body
		}
	}
	if r.Context().Err() != nil {
		return 499 // the client is gone
	}
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("task %s: %v", receivers[i].Def.Name, err))
		}
	}
	if len(failed) > 0 {
		w.Header().Set("Retry-After", "5")
		source.ReplyError(w, http.StatusServiceUnavailable, fmt.Sprintf("the %d records of this request were not all delivered (send it again): %s", body.Records(), strings.Join(failed, "; ")))
		return http.StatusServiceUnavailable
	}
	source.Reply(w, http.StatusOK, body.Answer())
	return http.StatusOK
}

// Health is a task's status and delivery health (the status endpoint; "Health" in GetSiteDeliveryTask).
type Health struct {
	Status string `json:"status"`
	// Reason says why the task is not online when serve set it so (disabled, pending verification).
	Reason           string  `json:"reason,omitempty"`
	LastComplete     *string `json:"last_complete"`
	LastError        *string `json:"last_error"`
	ErrorMessage     *string `json:"error_message"`
	RecordsIn        int64   `json:"records_in"`
	RecordsDelivered int64   `json:"records_delivered"`
	RecordsFailed    int64   `json:"records_failed"`
	SampledOut       int64   `json:"records_sampled_out"`
	FilteredOut      int64   `json:"records_filtered_out"`
	Invalid          int64   `json:"records_invalid"`
	DeadLettered     int64   `json:"records_dead_lettered"`
	Buffered         int64   `json:"records_buffered,omitempty"`
	Running          bool    `json:"running"`
	Since            *string `json:"since"`
}

func rfc3339(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// Health returns the status and health of the task name (as GET /v1/tasks/{name}/status).
func (s *Server) Health(name string) (Health, error) {
	st, err := s.Store.Get(name)
	if err != nil {
		return Health{}, err
	}
	return s.health(st), nil
}

// VerifyOwnership gives a task waiting for verification its ownership token (as POST /v1/tasks/{name}/verify).
func (s *Server) VerifyOwnership(name, token string) (Health, *Error) {
	return s.verifyToken(name, token)
}

// health reports a stored task's status and, when it runs, its counts and health.
func (s *Server) health(st *store.Task) Health {
	h := Health{Status: st.Status, Reason: st.Reason}
	rt, ok := s.Fleet.Get(st.Name)
	if !ok {
		return h
	}
	h.Running = true
	h.Since = rfc3339(rt.Started())
	c := rt.Outcome().Counts()
	h.RecordsIn, h.RecordsDelivered, h.RecordsFailed = c.In, c.Delivered, c.NotDelivered
	h.SampledOut, h.FilteredOut, h.Invalid, h.DeadLettered = c.SampledOut, c.FilteredOut, c.Invalid, c.DeadLettered
	hl := rt.Outcome().Health()
	h.LastComplete, h.LastError = rfc3339(hl.LastComplete), rfc3339(hl.LastError)
	if hl.ErrorMessage != "" {
		msg := hl.ErrorMessage
		h.ErrorMessage = &msg
	}
	if err := rt.Err(); err != nil {
		h.Status, h.Running = "failed", false
		msg := err.Error()
		h.ErrorMessage = &msg
	}
	return h
}

// status answers GET /v1/tasks/{task}/status.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if !s.bearer(w, r) {
		return
	}
	name := r.PathValue("task")
	st, err := s.Store.Get(name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			source.ReplyError(w, http.StatusNotFound, "task "+name+" does not exist")
			return
		}
		source.ReplyError(w, http.StatusInternalServerError, err.Error())
		return
	}
	source.Reply(w, http.StatusOK, s.health(st))
}

// Watch sets offline, every minute until ctx ends, the online tasks that delivered nothing for
// DisableAfter while records waited (a log line and esa_serve_tasks_disabled_total say so).
func (s *Server) Watch(ctx context.Context) {
	if s.DisableAfter <= 0 {
		return
	}
	tick := time.NewTicker(min(time.Minute, s.DisableAfter/2))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		all, err := s.Store.List()
		if err != nil {
			continue
		}
		for _, st := range all {
			rt, ok := s.Fleet.Get(st.Name)
			if !ok || st.Status != store.Online {
				continue
			}
			hl := rt.Outcome().Health()
			last := hl.LastComplete
			if last.IsZero() {
				last = rt.Started()
			}
			waiting := hl.ErrorMessage != "" // a failure since the last success: records wait for a retry
			if !waiting || time.Since(last) < s.DisableAfter {
				continue
			}
			reason := fmt.Sprintf("disabled at %s: no successful delivery for %s (last error: %s)", time.Now().UTC().Format(time.RFC3339), s.DisableAfter, hl.ErrorMessage)
			s.mu.Lock()
			_, err := s.Store.Update(st.Name, func(cur *store.Task) error {
				cur.Status, cur.Reason = store.Offline, reason
				return nil
			})
			if err == nil {
				s.Fleet.Stop(st.Name)
				s.disabled.Inc()
				s.Log.Warn("task set offline", "task", st.Name, "reason", reason)
			}
			s.mu.Unlock()
		}
	}
}

// toMap turns a struct into the map of its JSON form.
func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}

// maxVerifyBody bounds the body of a verify request.
const maxVerifyBody = 4 << 10

// verify answers POST /v1/tasks/{task}/verify {"token": "…"}: the ownership token of a task waiting
// for verification (its challenge object's content). A token that verifies for the task's bucket,
// path and name puts the task online (its destination is checked as at creation); the answer is the
// task's status.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if !s.bearer(w, r) {
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxVerifyBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Token) == "" {
		source.ReplyError(w, http.StatusBadRequest, `send {"token": "<the content of the challenge object>"}`)
		return
	}
	h, aerr := s.verifyToken(r.PathValue("task"), strings.TrimSpace(req.Token))
	if aerr != nil {
		source.ReplyError(w, aerr.Status, aerr.Message)
		return
	}
	source.Reply(w, http.StatusOK, h)
}

// verifyToken checks an ownership token for a task waiting for verification and puts the task online.
func (s *Server) verifyToken(name, token string) (Health, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.Store.Get(name)
	if err != nil {
		return Health{}, notFound("task " + name)
	}
	if st.Status != store.PendingVerification {
		return Health{}, &apiError{Status: http.StatusConflict, Code: "InvalidStatus", Message: fmt.Sprintf("task %s is %s: it does not wait for an ownership token", name, st.Status)}
	}
	t, aerr := load(st.Definition)
	if aerr != nil {
		return Health{}, aerr
	}
	bucket, path := config.SplitBucketPath(t.Destination.S3.BucketPath)
	if err := config.VerifyOwnershipToken(os.Getenv(OwnershipSecretEnv), token, bucket, path, name, time.Now()); err != nil {
		return Health{}, invalid("task %s: %v", name, err)
	}
	t.OwnershipToken = token
	if aerr := s.startChecked(t); aerr != nil {
		return Health{}, aerr
	}
	updated, err := s.Store.Update(name, func(cur *store.Task) error {
		cur.Definition["ownership_token"] = token
		cur.Status, cur.Reason = store.Online, ""
		return nil
	})
	if err != nil {
		s.Fleet.Stop(name)
		return Health{}, storeError(err)
	}
	return s.health(updated), nil
}
