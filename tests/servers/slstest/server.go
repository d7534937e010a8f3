// Package slstest is a protocol-level Alibaba Cloud Simple Log Service (SLS) server for tests, written
// from SLS's public API reference. It serves the calls esa_sls makes — PutLogs
// (POST /logstores/<logstore>[/shards/lb|/shards/route]) and GetLogStore (GET /logstores/<logstore>) —
// takes the project from the Host header (<project>.<endpoint>), checks the x-log-* headers, Date and
// Content-MD5, verifies the v1 request signature, decompresses the body (lz4 block, deflate, zstd or
// none), decodes the protobuf LogGroup and stores every log for the test to read. Errors use SLS's JSON
// error shape {"errorCode": ..., "errorMessage": ...}. A fault mode fails a fraction of PutLogs calls
// with SLS throttling (403 WriteQuotaExceed / ShardWriteQuotaExceed, 429) and 5xx responses.
package slstest

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// APIVersion is the x-log-apiversion the server accepts.
const APIVersion = "0.6.0"

// Limits of one PutLogs request enforced by the server (SLS's documented limits).
const (
	MaxLogsPerRequest = 4096
	MaxRawBytes       = 5 << 20
)

// Content is one key/value pair of a log, in the order it was sent.
type Content struct{ Key, Value string }

// Log is one stored log with the LogGroup attributes it arrived with.
type Log struct {
	Project, Logstore string
	Topic, Source     string
	Time              uint32
	TimeNs            uint32
	HasTimeNs         bool
	Contents          []Content
	// Request is the sequence number of the PutLogs request that carried the log (1-based).
	Request int
}

// Value returns the value of key and whether the log has it.
func (l Log) Value(key string) (string, bool) {
	for _, c := range l.Contents {
		if c.Key == key {
			return c.Value, true
		}
	}
	return "", false
}

// Stats counts what the server saw.
type Stats struct {
	PutLogsRequests int            // PutLogs calls that reached the handler (authenticated or not)
	PutLogsAccepted int            // PutLogs calls that stored their logs
	LogsStored      int            // logs stored
	WireBytes       int64          // bytes of accepted PutLogs bodies as sent (compressed)
	RawBytes        int64          // bytes of accepted PutLogs bodies after decompression
	Faults          map[string]int // injected faults by error code
	Rejected        map[string]int // requests rejected by validation, by error code
	CompressTypes   map[string]int // accepted PutLogs bodies by x-log-compresstype ("" = none)
	MaxLogs         int            // most logs in one accepted request
	MaxRaw          int            // largest raw body of an accepted request
	GetLogStore     int            // GetLogStore calls answered 200
}

// Fault is one kind of injected failure.
type Fault struct {
	Status  int
	Code    string
	Message string
}

// DefaultFaults are the failures injected by SetFaultRate: SLS throttling and server errors.
var DefaultFaults = []Fault{
	{403, "WriteQuotaExceed", "Project write quota exceed: inflow: 104857600"},
	{403, "ShardWriteQuotaExceed", "shard write quota exceed"},
	{429, "TooManyRequests", "too many requests"},
	{500, "InternalServerError", "internal server error"},
	{503, "ServerBusy", "server is busy, please try again later"},
}

// Server is a running SLS test server. Create one with Start.
type Server struct {
	// Endpoint is the address to configure as the SLS endpoint ("127.0.0.1:<port>").
	Endpoint string

	ln  net.Listener
	srv *http.Server

	mu          sync.Mutex
	keys        map[string]string // access key id → secret
	tokens      map[string]string // access key id → required security token ("" = none)
	projects    map[string]map[string]bool
	logs        []Log
	stats       Stats
	faultRate   float64
	faults      []Fault
	rng         *rand.Rand
	checkWindow bool
	seq         int
	denyRead    map[string]bool // access key ids that may write but not read logstores
	discard     bool            // count accepted logs without storing them
}

// Start starts a server on a free loopback port with one access key and returns it; it is stopped
// when the test ends.
func Start(t testing.TB, accessKeyID, accessKeySecret string) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", accessKeyID, accessKeySecret)
	if err != nil {
		t.Fatalf("slstest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen starts a server on addr with one access key.
func Listen(addr, accessKeyID, accessKeySecret string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint: ln.Addr().String(),
		ln:       ln,
		keys:     map[string]string{accessKeyID: accessKeySecret},
		tokens:   map[string]string{},
		projects: map[string]map[string]bool{},
		rng:      rand.New(rand.NewPCG(1, 2)),
	}
	s.resetStatsLocked()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

// AddKey adds an access key; a non-empty token makes x-acs-security-token mandatory for it.
func (s *Server) AddKey(accessKeyID, accessKeySecret, securityToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[accessKeyID] = accessKeySecret
	s.tokens[accessKeyID] = securityToken
}

// DenyRead makes GetLogStore answer 403 Unauthorized (RAM permission denied) for accessKeyID, as SLS
// does for credentials that may only write.
func (s *Server) DenyRead(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.denyRead == nil {
		s.denyRead = map[string]bool{}
	}
	s.denyRead[accessKeyID] = true
}

// AddLogstore creates project (if needed) and its logstore.
func (s *Server) AddLogstore(project, logstore string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projects[project] == nil {
		s.projects[project] = map[string]bool{}
	}
	s.projects[project][logstore] = true
}

// AddProject creates an empty project.
func (s *Server) AddProject(project string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projects[project] == nil {
		s.projects[project] = map[string]bool{}
	}
}

// SetFaultRate makes a fraction (0–1) of PutLogs requests fail with one of faults (DefaultFaults when
// none is given), chosen with a seeded generator so runs are repeatable.
func (s *Server) SetFaultRate(rate float64, seed uint64, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(faults) == 0 {
		faults = DefaultFaults
	}
	s.faultRate, s.faults = rate, faults
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Discard makes the server validate and count accepted logs without storing them (for benchmarks with
// millions of logs).
func (s *Server) Discard(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discard = on
}

// CheckTimeWindow makes PutLogs reject logs whose time is outside [now−7 days, now+15 min] with
// 400 InvalidTimestamp, as SLS does.
func (s *Server) CheckTimeWindow(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkWindow = on
}

// Logs returns a copy of the logs stored for project/logstore, in arrival order.
func (s *Server) Logs(project, logstore string) []Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Log
	for _, l := range s.logs {
		if l.Project == project && l.Logstore == logstore {
			out = append(out, l)
		}
	}
	return out
}

// LogCount returns how many logs are stored in total.
func (s *Server) LogCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.logs)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Faults = copyMap(s.stats.Faults)
	st.Rejected = copyMap(s.stats.Rejected)
	st.CompressTypes = copyMap(s.stats.CompressTypes)
	return st
}

// Reset drops the stored logs and counters.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = nil
	s.resetStatsLocked()
}

func (s *Server) resetStatsLocked() {
	s.stats = Stats{Faults: map[string]int{}, Rejected: map[string]int{}, CompressTypes: map[string]int{}}
}

func copyMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// apiError is an SLS error response.
type apiError struct {
	status  int
	code    string
	message string
	fault   bool // injected, not a validation failure
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func fail(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-log-requestid", strconv.FormatInt(time.Now().UnixNano(), 16))
	w.WriteHeader(e.status)
	b, _ := json.Marshal(map[string]string{"errorCode": e.code, "errorMessage": e.message})
	_, _ = w.Write(b)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		writeError(w, fail(400, "RequestBodyError", "cannot read body: %v", err))
		return
	}
	isPut := r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/logstores/")
	if isPut {
		s.mu.Lock()
		s.stats.PutLogsRequests++
		s.mu.Unlock()
	}
	if e := s.handle(w, r, body, isPut); e != nil {
		if isPut {
			s.mu.Lock()
			if !e.fault {
				s.stats.Rejected[e.code]++
			}
			s.mu.Unlock()
		}
		writeError(w, e)
	}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte, isPut bool) *apiError {
	if e := s.checkCommon(r, body); e != nil {
		return e
	}
	project, e := s.project(r)
	if e != nil {
		return e
	}
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/logstores/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/logstores/") || name == "" {
		return fail(404, "RouteNotFound", "no route for %s %s", r.Method, r.URL.Path)
	}
	s.mu.Lock()
	stores, projectOK := s.projects[project]
	storeOK := stores[name]
	s.mu.Unlock()
	if !projectOK {
		return fail(404, "ProjectNotExist", "The Project does not exist : %s", project)
	}
	if !storeOK {
		return fail(404, "LogStoreNotExist", "logstore %s does not exist", name)
	}
	switch {
	case r.Method == http.MethodGet && rest == "":
		s.mu.Lock()
		denied := s.denyRead[accessKeyOf(r)]
		if !denied {
			s.stats.GetLogStore++
		}
		s.mu.Unlock()
		if denied {
			return fail(403, "Unauthorized", "denied by sts or ram, action: log:GetLogStore, resource: acs:log:*:*:project/%s/logstore/%s", project, name)
		}
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]any{
			"logstoreName": name, "ttl": 30, "shardCount": 2, "autoSplit": true, "maxSplitShard": 64,
			"createTime": 1700000000, "lastModifyTime": 1700000000, "telemetryType": "None",
		})
		_, _ = w.Write(b)
		return nil
	case isPut && (rest == "" || rest == "shards/lb" || rest == "shards/route"):
		return s.putLogs(w, r, project, name, body)
	}
	return fail(404, "RouteNotFound", "no route for %s %s", r.Method, r.URL.Path)
}

// checkCommon checks the common request headers and the signature.
func (s *Server) checkCommon(r *http.Request, body []byte) *apiError {
	if v := r.Header.Get("x-log-apiversion"); v == "" {
		return fail(400, "MissingAPIVersion", "x-log-apiversion does not exist in http header")
	} else if v != APIVersion {
		return fail(400, "InvalidAPIVersion", "x-log-apiversion %s is unsupported", v)
	}
	if r.Header.Get("x-log-bodyrawsize") == "" {
		return fail(400, "MissingBodyRawSize", "x-log-bodyrawsize does not exist in header when it is necessary")
	}
	if _, err := strconv.Atoi(r.Header.Get("x-log-bodyrawsize")); err != nil {
		return fail(400, "InvalidBodyRawSize", "x-log-bodyrawsize is invalid")
	}
	date := r.Header.Get("Date")
	if date == "" {
		return fail(400, "MissingDate", "Date does not exist in http header")
	}
	when, err := time.Parse(time.RFC1123, date)
	if err != nil {
		return fail(400, "InvalidDateFormat", "Date %s must follow RFC822", date)
	}
	if d := time.Since(when); d > 15*time.Minute || d < -15*time.Minute {
		return fail(400, "RequestTimeExpired", "Request time %s has been expired while server time is %s", date, time.Now().UTC().Format(time.RFC1123))
	}
	if len(body) > 0 {
		if r.Header.Get("Content-Type") == "" {
			return fail(400, "MissingContentType", "Content-Type does not exist in http header when body is not empty")
		}
		sum := md5.Sum(body)
		if got := r.Header.Get("Content-MD5"); !strings.EqualFold(got, hex.EncodeToString(sum[:])) {
			return fail(400, "InvalidContentMD5", "Content-MD5 %q does not match the body", got)
		}
	}
	return s.checkSignature(r)
}

// checkSignature verifies SLS signature v1:
// Authorization: LOG <AccessKeyId>:<base64(hmac-sha1(secret, VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedLOGHeaders\nCanonicalizedResource))>.
func (s *Server) checkSignature(r *http.Request) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return fail(401, "Unauthorized", "Authorization does not exist in http header")
	}
	if m := r.Header.Get("x-log-signaturemethod"); m != "hmac-sha1" {
		return fail(400, "InvalidSignatureMethod", "x-log-signaturemethod %q is unsupported (this server implements signature v1, hmac-sha1)", m)
	}
	cred, ok := strings.CutPrefix(auth, "LOG ")
	if !ok {
		return fail(401, "Unauthorized", "unsupported Authorization scheme (this server implements signature v1: LOG <ak>:<signature>)")
	}
	ak, sig, ok := strings.Cut(cred, ":")
	if !ok {
		return fail(400, "ParameterInvalid", "Http extend authorization : authorization pair is invalid")
	}
	s.mu.Lock()
	secret, known := s.keys[ak]
	token := s.tokens[ak]
	s.mu.Unlock()
	if !known {
		return fail(401, "Unauthorized", "AccessKeyId not found: %s", ak)
	}
	if token != "" && r.Header.Get("x-acs-security-token") != token {
		return fail(401, "Unauthorized", "The security token you provided is invalid.")
	}
	mac := hmac.New(sha1.New, []byte(secret))
	_, _ = io.WriteString(mac, StringToSign(r))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fail(401, "SignatureNotMatch", "Signature %s not matched.", sig)
	}
	return nil
}

func accessKeyOf(r *http.Request) string {
	cred, _ := strings.CutPrefix(r.Header.Get("Authorization"), "LOG ")
	ak, _, _ := strings.Cut(cred, ":")
	return ak
}

// StringToSign builds the v1 string to sign of r.
func StringToSign(r *http.Request) string {
	var keys []string
	for k := range r.Header {
		l := strings.ToLower(k)
		if strings.HasPrefix(l, "x-log-") || strings.HasPrefix(l, "x-acs-") {
			keys = append(keys, l)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-MD5"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Date"))
	b.WriteByte('\n')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(strings.TrimSpace(r.Header.Get(k)))
	}
	b.WriteByte('\n')
	b.WriteString(r.URL.EscapedPath())
	if r.URL.RawQuery != "" {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		qk := make([]string, 0, len(q))
		for k := range q {
			qk = append(qk, k)
		}
		sort.Strings(qk)
		b.WriteByte('?')
		for i, k := range qk {
			if i > 0 {
				b.WriteByte('&')
			}
			for _, v := range q[k] {
				b.WriteString(k + "=" + v)
			}
		}
	}
	return b.String()
}

// project returns the project named by the Host header: "<project>.<endpoint>".
func (s *Server) project(r *http.Request) (string, *apiError) {
	host := r.Host
	if host == "" {
		return "", fail(400, "MissingHost", "Host does not exist in http header")
	}
	p, ok := strings.CutSuffix(host, "."+s.Endpoint)
	if !ok {
		// Also accept a Host without the port when the endpoint's port is the default one.
		h, _, err := net.SplitHostPort(s.Endpoint)
		if err == nil {
			p, ok = strings.CutSuffix(host, "."+h)
		}
	}
	if !ok || p == "" || strings.Contains(p, ".") {
		return "", fail(400, "InvalidHost", "Host header %s is invalid: want <project>.%s", host, s.Endpoint)
	}
	return p, nil
}

func (s *Server) putLogs(w http.ResponseWriter, r *http.Request, project, logstore string, body []byte) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		return fail(415, "InvalidContentType", "Content-Type %s is unsupported", ct)
	}
	rawSize, _ := strconv.Atoi(r.Header.Get("x-log-bodyrawsize"))
	if rawSize > MaxRawBytes {
		return fail(400, "PostBodyTooLarge", "body raw size %d exceeds %d bytes", rawSize, MaxRawBytes)
	}
	ctype := r.Header.Get("x-log-compresstype")
	raw, err := decompress(ctype, body, rawSize)
	if err != nil {
		if ae, ok := err.(*apiError); ok {
			return ae
		}
		return fail(400, "PostBodyUncompressError", "cannot decompress the %q body: %v", ctype, err)
	}
	if len(raw) != rawSize {
		return fail(400, "InvalidBodyRawSize", "x-log-bodyrawsize %d but the body decompresses to %d bytes", rawSize, len(raw))
	}
	g, err := DecodeLogGroup(raw)
	if err != nil {
		return fail(400, "PostBodyInvalid", "Protobuffer content cannot be parsed: %v", err)
	}
	if len(g.Logs) > MaxLogsPerRequest {
		return fail(400, "PostBodyTooLarge", "Logs must be less than %d bytes and %d lines, got %d", MaxRawBytes, MaxLogsPerRequest, len(g.Logs))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.checkWindow {
		now := time.Now()
		for _, l := range g.Logs {
			t := time.Unix(int64(l.Time), 0)
			if t.Before(now.Add(-7*24*time.Hour)) || t.After(now.Add(15*time.Minute)) {
				return fail(400, "InvalidTimestamp", "Invalid timestamps are in logs.")
			}
		}
	}
	// Faults are drawn only for requests that would otherwise succeed, so the injected rate is exact.
	if s.faultRate > 0 && s.rng.Float64() < s.faultRate {
		f := s.faults[s.rng.IntN(len(s.faults))]
		s.stats.Faults[f.Code]++
		return &apiError{status: f.Status, code: f.Code, message: f.Message, fault: true}
	}
	s.seq++
	if !s.discard {
		for i := range g.Logs {
			l := &g.Logs[i]
			l.Project, l.Logstore, l.Topic, l.Source, l.Request = project, logstore, g.Topic, g.Source, s.seq
		}
		s.logs = append(s.logs, g.Logs...)
	}
	s.stats.PutLogsAccepted++
	s.stats.LogsStored += len(g.Logs)
	s.stats.WireBytes += int64(len(body))
	s.stats.RawBytes += int64(len(raw))
	s.stats.CompressTypes[ctype]++
	s.stats.MaxLogs = max(s.stats.MaxLogs, len(g.Logs))
	s.stats.MaxRaw = max(s.stats.MaxRaw, len(raw))
	w.Header().Set("x-log-requestid", strconv.Itoa(s.seq))
	w.WriteHeader(http.StatusOK)
	return nil
}

func decompress(ctype string, body []byte, rawSize int) ([]byte, error) {
	switch ctype {
	case "":
		return body, nil
	case "lz4":
		out := make([]byte, rawSize)
		n, err := lz4.UncompressBlock(body, out)
		if err != nil {
			return nil, err
		}
		return out[:n], nil
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(io.LimitReader(zr, int64(rawSize)+1))
	case "zstd":
		d, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(body, nil)
	}
	return nil, fail(400, "InvalidCompressType", "x-log-compresstype %s is unsupported", ctype)
}

// LogGroup is a decoded LogGroup.
type LogGroup struct {
	Topic, Source, Category, MachineUUID string
	Logs                                 []Log
	Tags                                 []Content
}

// DecodeLogGroup decodes a protobuf LogGroup (sls log.proto): Logs=1, Category=2, Topic=3, Source=4,
// MachineUUID=5, LogTags=6; Log: Time=1 (varint, required), Contents=2, TimeNs=4 (fixed32);
// LogContent/LogTag: Key=1, Value=2 (both required). Keys and values must be valid UTF-8.
func DecodeLogGroup(b []byte) (LogGroup, error) {
	var g LogGroup
	err := eachField(b, func(num int, wt int, v uint64, data []byte) error {
		switch num {
		case 1:
			if wt != wireBytes {
				return fmt.Errorf("LogGroup.Logs: wire type %d", wt)
			}
			l, err := decodeLog(data)
			if err != nil {
				return fmt.Errorf("log %d: %w", len(g.Logs), err)
			}
			g.Logs = append(g.Logs, l)
		case 2, 3, 4, 5:
			if wt != wireBytes {
				return fmt.Errorf("LogGroup field %d: wire type %d", num, wt)
			}
			if !utf8.Valid(data) {
				return fmt.Errorf("LogGroup field %d: not UTF-8", num)
			}
			switch num {
			case 2:
				g.Category = string(data)
			case 3:
				g.Topic = string(data)
			case 4:
				g.Source = string(data)
			case 5:
				g.MachineUUID = string(data)
			}
		case 6:
			if wt != wireBytes {
				return fmt.Errorf("LogGroup.LogTags: wire type %d", wt)
			}
			kv, err := decodeKV(data)
			if err != nil {
				return fmt.Errorf("log tag: %w", err)
			}
			g.Tags = append(g.Tags, kv)
		}
		return nil
	})
	return g, err
}

func decodeLog(b []byte) (Log, error) {
	var l Log
	hasTime := false
	err := eachField(b, func(num int, wt int, v uint64, data []byte) error {
		switch num {
		case 1:
			if wt != wireVarint {
				return fmt.Errorf("Log.Time: wire type %d", wt)
			}
			if v > 0xffffffff {
				return fmt.Errorf("Log.Time %d overflows uint32", v)
			}
			l.Time, hasTime = uint32(v), true
		case 2:
			if wt != wireBytes {
				return fmt.Errorf("Log.Contents: wire type %d", wt)
			}
			kv, err := decodeKV(data)
			if err != nil {
				return fmt.Errorf("content %d: %w", len(l.Contents), err)
			}
			l.Contents = append(l.Contents, kv)
		case 4:
			if wt != wireFixed32 {
				return fmt.Errorf("Log.TimeNs: wire type %d", wt)
			}
			l.TimeNs, l.HasTimeNs = uint32(v), true
		}
		return nil
	})
	if err == nil && !hasTime {
		err = fmt.Errorf("required Log.Time missing")
	}
	return l, err
}

func decodeKV(b []byte) (Content, error) {
	var c Content
	var hasK, hasV bool
	err := eachField(b, func(num int, wt int, v uint64, data []byte) error {
		if num != 1 && num != 2 {
			return nil
		}
		if wt != wireBytes {
			return fmt.Errorf("field %d: wire type %d", num, wt)
		}
		if !utf8.Valid(data) {
			return fmt.Errorf("field %d: not UTF-8", num)
		}
		if num == 1 {
			c.Key, hasK = string(data), true
		} else {
			c.Value, hasV = string(data), true
		}
		return nil
	})
	if err == nil && (!hasK || !hasV) {
		err = fmt.Errorf("required Key or Value missing")
	}
	return c, err
}

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// eachField walks the fields of a protobuf message: fn gets the field number, the wire type, the
// integer value (varint and fixed) and the payload (length-delimited).
func eachField(b []byte, fn func(num int, wt int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		tag, n := uvarint(b)
		if n <= 0 {
			return fmt.Errorf("bad tag")
		}
		b = b[n:]
		num, wt := int(tag>>3), int(tag&7)
		if num <= 0 {
			return fmt.Errorf("bad field number %d", num)
		}
		var v uint64
		var data []byte
		switch wt {
		case wireVarint:
			v, n = uvarint(b)
			if n <= 0 {
				return fmt.Errorf("field %d: bad varint", num)
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return fmt.Errorf("field %d: short fixed64", num)
			}
			for i := 7; i >= 0; i-- {
				v = v<<8 | uint64(b[i])
			}
			b = b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return fmt.Errorf("field %d: short fixed32", num)
			}
			v = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
			b = b[4:]
		case wireBytes:
			l, n := uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("field %d: bad length", num)
			}
			data = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("field %d: unsupported wire type %d", num, wt)
		}
		if err := fn(num, wt, v, data); err != nil {
			return err
		}
	}
	return nil
}

// uvarint decodes a base-128 varint; n <= 0 on error.
func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}
