// Package osstest is a small Alibaba Cloud OSS protocol server for tests, on a loopback port. It
// implements what esa_oss and its tests use — GetBucketInfo, PutObject, GetObject, HeadObject,
// DeleteObject, ListObjects (v1 and v2), multipart upload (Initiate, UploadPart, Complete, Abort,
// ListMultipartUploads) — and verifies the OSS V1 request signature of every request, answering a
// wrong signature with OSS's XML error (403 SignatureDoesNotMatch).
//
// It was written from Alibaba Cloud's public OSS API reference ("Include signatures in the
// Authorization header", V1):
//
//	Authorization: OSS <AccessKeyId>:<Signature>
//	Signature = base64(HMAC-SHA1(AccessKeySecret, VERB + "\n" + Content-MD5 + "\n" + Content-Type + "\n"
//	            + Date + "\n" + CanonicalizedOSSHeaders + CanonicalizedResource))
//
// CanonicalizedOSSHeaders are the x-oss-* headers, names lower-cased, sorted, one "name:value\n" each;
// CanonicalizedResource is "/<bucket>/<object>" (or "/<bucket>/", "/") followed by the sub-resources
// of the query (acl, uploads, uploadId, partNumber, bucketInfo, ...) sorted by name, joined with '&'
// after a '?', values unescaped. The Date must be within 15 minutes of the server's clock.
package osstest

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Default credentials of a test server.
const (
	AccessKeyID     = "LTAItestosskey"
	AccessKeySecret = "osstest-secret-2f6b"
)

// Object is one stored object.
type Object struct {
	Key             string
	Body            []byte
	ContentType     string
	ContentEncoding string
	Meta            http.Header // x-oss-meta-* and x-oss-server-side-encryption as received
	ETag            string
	Modified        time.Time
}

// Request is what the server saw of one (authenticated or not) request.
type Request struct {
	Method, Bucket, Key string
	Query               url.Values
	Header              http.Header
	Status              int
}

type upload struct {
	bucket string
	key    string
	parts  map[int][]byte
	hdr    http.Header
}

// Server is a running OSS test server.
type Server struct {
	// Addr is 127.0.0.1:port; Endpoint is the same, to give to the SDK (which then uses path style).
	Addr, Endpoint string

	mu       sync.Mutex
	creds    map[string]string // access key id → secret
	tokens   map[string]string // access key id → required security token
	buckets  map[string]map[string]*Object
	uploads  map[string]*upload // upload id → upload
	reqs     []Request
	fail     func(r *http.Request) (status int, code string)
	srv      *http.Server
	listener net.Listener
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// Start starts a server with the default credentials on a free loopback port; it stops at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		creds:   map[string]string{AccessKeyID: AccessKeySecret},
		tokens:  map[string]string{},
		buckets: map[string]map[string]*Object{},
		uploads: map[string]*upload{},
		Addr:    l.Addr().String(),
	}
	s.Endpoint = "http://" + s.Addr
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.listener = l
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// AddCredentials accepts another key pair; a non-empty token must then come as x-oss-security-token
// (STS credentials).
func (s *Server) AddCredentials(id, secret, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[id] = secret
	if token != "" {
		s.tokens[id] = token
	}
}

// CreateBucket creates an empty bucket.
func (s *Server) CreateBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] == nil {
		s.buckets[name] = map[string]*Object{}
	}
}

// Objects returns the objects of bucket whose keys start with prefix, sorted by key.
func (s *Server) Objects(bucket, prefix string) []*Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Object
	for k, o := range s.buckets[bucket] {
		if strings.HasPrefix(k, prefix) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// PendingUploads is the number of multipart uploads neither completed nor aborted.
func (s *Server) PendingUploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

// Requests returns every request seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// SetFail makes the server answer with an injected error whenever fn returns a non-zero status
// (after authentication). nil removes it.
func (s *Server) SetFail(fn func(r *http.Request) (status int, code string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fn
}

// subResources are the query parameters that are part of the V1 CanonicalizedResource.
var subResources = map[string]bool{
	"acl": true, "uploads": true, "location": true, "cors": true, "logging": true, "website": true,
	"referer": true, "lifecycle": true, "delete": true, "append": true, "tagging": true, "objectMeta": true,
	"uploadId": true, "partNumber": true, "security-token": true, "position": true, "img": true,
	"style": true, "styleName": true, "replication": true, "replicationProgress": true,
	"replicationLocation": true, "cname": true, "bucketInfo": true, "comp": true, "qos": true, "live": true,
	"status": true, "vod": true, "startTime": true, "endTime": true, "symlink": true, "x-oss-process": true,
	"response-content-type": true, "response-content-language": true, "response-expires": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"restore": true, "callback": true, "callback-var": true, "versioning": true, "versionId": true,
	"encryption": true, "policy": true, "requestPayment": true, "stat": true,
	// Also signed by the OSS SDKs (a listing's continuation token among them).
	"continuation-token": true, "versions": true, "x-oss-traffic-limit": true, "x-oss-request-payer": true,
	"sequential": true, "inventory": true, "inventoryId": true, "asyncFetch": true, "worm": true,
	"wormId": true, "wormExtend": true, "qosInfo": true, "transferAcceleration": true, "regionList": true,
	"metaQuery": true, "resourceGroup": true, "rtc": true, "responseHeader": true,
}

// StringToSign is the V1 string to sign of r for bucket and key (exported for the server's own test).
func StringToSign(r *http.Request, bucket, key string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(r.Header.Get("Content-MD5") + "\n")
	b.WriteString(r.Header.Get("Content-Type") + "\n")
	b.WriteString(r.Header.Get("Date") + "\n")
	var names []string
	for name := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-oss-") {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString(n + ":" + strings.TrimSpace(strings.Join(r.Header.Values(n), ",")) + "\n")
	}
	switch {
	case bucket == "":
		b.WriteString("/")
	default:
		b.WriteString("/" + bucket + "/" + key)
	}
	q := r.URL.Query()
	var subs []string
	for k := range q {
		if subResources[k] {
			subs = append(subs, k)
		}
	}
	sort.Strings(subs)
	for i, k := range subs {
		if i == 0 {
			b.WriteString("?")
		} else {
			b.WriteString("&")
		}
		b.WriteString(k)
		if v := q.Get(k); v != "" {
			b.WriteString("=" + v)
		}
	}
	return b.String()
}

// Sign is the V1 signature of stringToSign with secret.
func Sign(secret, stringToSign string) string {
	h := hmac.New(sha1.New, []byte(secret))
	h.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

type errorXML struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
	Extra     string   `xml:"StringToSignBytes,omitempty"`
}

func requestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func (s *Server) writeError(w http.ResponseWriter, status int, code, msg string) {
	id := requestID()
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-oss-request-id", id)
	w.WriteHeader(status)
	out, _ := xml.Marshal(errorXML{Code: code, Message: msg, RequestID: id, HostID: s.Addr})
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-oss-request-id", requestID())
	out, _ := xml.Marshal(v)
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

// bucketAndKey takes the bucket from the Host (virtual-hosted: <bucket>.<endpoint>) or, for an IP or
// localhost, from the first path segment (path style).
func bucketAndKey(r *http.Request) (bucket, key string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if net.ParseIP(host) != nil || host == "localhost" {
		bucket, key, _ = strings.Cut(p, "/")
		return bucket, key
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		return host[:i], p
	}
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// ServeHTTP authenticates and serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key := bucketAndKey(r)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Method: r.Method, Bucket: bucket, Key: key, Query: r.URL.Query(), Header: r.Header.Clone(), Status: rec.status})
		s.mu.Unlock()
	}()
	if !s.authenticate(rec, r, bucket, key) {
		return
	}
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if status, code := fail(r); status != 0 {
			_, _ = io.Copy(io.Discard, r.Body)
			s.writeError(rec, status, code, "injected by the test")
			return
		}
	}
	s.serve(rec, r, bucket, key)
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, bucket, key string) bool {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		s.writeError(w, http.StatusForbidden, "AccessDenied", "You have no right to access this object because of bucket acl.")
		return false
	}
	if strings.HasPrefix(auth, "OSS4-HMAC-SHA256") {
		s.writeError(w, http.StatusBadRequest, "InvalidArgument", "This test server verifies V1 signatures only.")
		return false
	}
	cred, ok := strings.CutPrefix(auth, "OSS ")
	id, sig, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 {
		s.writeError(w, http.StatusBadRequest, "InvalidArgument", "Authorization header is invalid.")
		return false
	}
	s.mu.Lock()
	secret, known := s.creds[id]
	token, needToken := s.tokens[id]
	s.mu.Unlock()
	if !known {
		s.writeError(w, http.StatusForbidden, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.")
		return false
	}
	date, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		s.writeError(w, http.StatusForbidden, "AccessDenied", "OSS authentication requires a valid Date.")
		return false
	}
	if d := time.Since(date); d > 15*time.Minute || d < -15*time.Minute {
		s.writeError(w, http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
		return false
	}
	sts := StringToSign(r, bucket, key)
	if want := Sign(secret, sts); !hmac.Equal([]byte(want), []byte(sig)) {
		s.writeError(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		return false
	}
	if needToken && r.Header.Get("X-Oss-Security-Token") != token {
		s.writeError(w, http.StatusForbidden, "InvalidSecurityToken", "The security token you provided is invalid.")
		return false
	}
	return true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, bucket, key string) {
	q := r.URL.Query()
	if bucket == "" {
		s.writeError(w, http.StatusForbidden, "AccessDenied", "listing buckets is not supported by this test server")
		return
	}
	s.mu.Lock()
	objs, exists := s.buckets[bucket]
	s.mu.Unlock()
	if !exists {
		s.writeError(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.")
		return
	}
	switch {
	case key == "" && r.Method == http.MethodGet && q.Has("bucketInfo"):
		type owner struct {
			ID          string `xml:"ID"`
			DisplayName string `xml:"DisplayName"`
		}
		writeXML(w, struct {
			XMLName xml.Name `xml:"BucketInfo"`
			Bucket  struct {
				Name             string `xml:"Name"`
				Location         string `xml:"Location"`
				CreationDate     string `xml:"CreationDate"`
				ExtranetEndpoint string `xml:"ExtranetEndpoint"`
				StorageClass     string `xml:"StorageClass"`
				Owner            owner  `xml:"Owner"`
			} `xml:"Bucket"`
		}{Bucket: struct {
			Name             string `xml:"Name"`
			Location         string `xml:"Location"`
			CreationDate     string `xml:"CreationDate"`
			ExtranetEndpoint string `xml:"ExtranetEndpoint"`
			StorageClass     string `xml:"StorageClass"`
			Owner            owner  `xml:"Owner"`
		}{Name: bucket, Location: "oss-cn-hangzhou", CreationDate: time.Now().UTC().Format(time.RFC3339), ExtranetEndpoint: s.Addr, StorageClass: "Standard", Owner: owner{ID: "1", DisplayName: "1"}}})
	case key == "" && r.Method == http.MethodGet && q.Has("uploads"):
		s.listUploads(w, bucket)
	case key == "" && r.Method == http.MethodGet:
		s.list(w, r, bucket, objs)
	case key == "":
		s.writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	case r.Method == http.MethodPost && q.Has("uploads"):
		id := requestID()
		s.mu.Lock()
		s.uploads[id] = &upload{bucket: bucket, key: key, parts: map[int][]byte{}, hdr: r.Header.Clone()}
		s.mu.Unlock()
		writeXML(w, struct {
			XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
			Bucket   string   `xml:"Bucket"`
			Key      string   `xml:"Key"`
			UploadID string   `xml:"UploadId"`
		}{Bucket: bucket, Key: key, UploadID: id})
	case r.Method == http.MethodPut && q.Has("uploadId"):
		s.uploadPart(w, r, key)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		s.complete(w, r, bucket, key)
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		s.mu.Lock()
		up := s.uploads[q.Get("uploadId")]
		if up != nil && up.key == key {
			delete(s.uploads, q.Get("uploadId"))
		}
		s.mu.Unlock()
		if up == nil || up.key != key {
			s.writeError(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
		if md := r.Header.Get("Content-MD5"); md != "" {
			sum := md5.Sum(body)
			if md != base64.StdEncoding.EncodeToString(sum[:]) {
				s.writeError(w, http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
				return
			}
		}
		o := s.store(bucket, key, body, r.Header)
		w.Header().Set("ETag", o.ETag)
		w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(body, crcTable), 10))
		w.Header().Set("x-oss-request-id", requestID())
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.mu.Lock()
		o := objs[key]
		s.mu.Unlock()
		if o == nil {
			s.writeError(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
			return
		}
		w.Header().Set("Content-Type", o.ContentType)
		if o.ContentEncoding != "" {
			w.Header().Set("Content-Encoding", o.ContentEncoding)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(o.Body)))
		w.Header().Set("ETag", o.ETag)
		w.Header().Set("Last-Modified", o.Modified.Format(http.TimeFormat))
		w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(o.Body, crcTable), 10))
		for k, v := range o.Meta {
			w.Header()[k] = v
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(o.Body)
		}
	case r.Method == http.MethodDelete:
		s.mu.Lock()
		delete(objs, key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		s.writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

func etag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
}

func (s *Server) store(bucket, key string, body []byte, h http.Header) *Object {
	o := &Object{Key: key, Body: body, ContentType: h.Get("Content-Type"), ContentEncoding: h.Get("Content-Encoding"),
		Meta: http.Header{}, ETag: etag(body), Modified: time.Now().UTC()}
	for k, v := range h {
		if l := strings.ToLower(k); strings.HasPrefix(l, "x-oss-meta-") || l == "x-oss-server-side-encryption" {
			o.Meta[k] = v
		}
	}
	if o.ContentType == "" {
		o.ContentType = "application/octet-stream"
	}
	s.mu.Lock()
	s.buckets[bucket][key] = o
	s.mu.Unlock()
	return o
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		s.writeError(w, http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000.")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	s.mu.Lock()
	up := s.uploads[q.Get("uploadId")]
	if up != nil && up.key == key {
		up.parts[n] = body
	}
	s.mu.Unlock()
	if up == nil || up.key != key {
		s.writeError(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
		return
	}
	w.Header().Set("ETag", etag(body))
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(body, crcTable), 10))
	w.WriteHeader(http.StatusOK)
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, bucket, key string) {
	var in struct {
		Parts []struct {
			PartNumber int    `xml:"PartNumber"`
			ETag       string `xml:"ETag"`
		} `xml:"Part"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		s.writeError(w, http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed.")
		return
	}
	id := r.URL.Query().Get("uploadId")
	s.mu.Lock()
	up := s.uploads[id]
	s.mu.Unlock()
	if up == nil || up.key != key {
		s.writeError(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
		return
	}
	var body bytes.Buffer
	prev := 0
	for i, p := range in.Parts {
		data, ok := up.parts[p.PartNumber]
		if !ok || strings.Trim(p.ETag, `"`) != strings.Trim(etag(data), `"`) {
			s.writeError(w, http.StatusBadRequest, "InvalidPart", fmt.Sprintf("part %d was not uploaded or its ETag differs", p.PartNumber))
			return
		}
		if p.PartNumber <= prev {
			s.writeError(w, http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order.")
			return
		}
		if i < len(in.Parts)-1 && len(data) < 100*1024 {
			s.writeError(w, http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.")
			return
		}
		prev = p.PartNumber
		body.Write(data)
	}
	s.mu.Lock()
	delete(s.uploads, id)
	s.mu.Unlock()
	o := s.store(bucket, key, body.Bytes(), up.hdr)
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(o.Body, crcTable), 10))
	writeXML(w, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
	}{Location: "http://" + s.Addr + "/" + bucket + "/" + key, Bucket: bucket, Key: key, ETag: o.ETag})
}

type listEntry struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Type         string `xml:"Type"`
	Size         int    `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, bucket string, objs map[string]*Object) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	maxKeys := 100
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.writeError(w, http.StatusBadRequest, "InvalidArgument", "max-keys must be between 1 and 1000")
			return
		}
		maxKeys = n
	}
	v2 := q.Get("list-type") == "2"
	after := q.Get("marker")
	if v2 {
		after = q.Get("start-after")
		if tok := q.Get("continuation-token"); tok != "" {
			b, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				s.writeError(w, http.StatusBadRequest, "InvalidArgument", "bad continuation-token")
				return
			}
			after = string(b)
		}
	}
	urlEnc := q.Get("encoding-type") == "url"
	enc := func(k string) string {
		if urlEnc {
			return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/")
		}
		return k
	}
	s.mu.Lock()
	var keys []string
	for k := range objs {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	truncated := len(keys) > maxKeys
	if truncated {
		keys = keys[:maxKeys]
	}
	entries := make([]listEntry, len(keys))
	for i, k := range keys {
		o := objs[k]
		entries[i] = listEntry{Key: enc(k), LastModified: o.Modified.Format("2006-01-02T15:04:05.000Z"), ETag: o.ETag, Type: "Normal", Size: len(o.Body), StorageClass: "Standard"}
	}
	s.mu.Unlock()
	next := ""
	if truncated {
		next = keys[len(keys)-1]
	}
	encType := ""
	if urlEnc {
		encType = "url"
	}
	if v2 {
		nextTok := ""
		if next != "" {
			nextTok = base64.RawURLEncoding.EncodeToString([]byte(next))
		}
		writeXML(w, struct {
			XMLName               xml.Name    `xml:"ListBucketResult"`
			Name                  string      `xml:"Name"`
			Prefix                string      `xml:"Prefix"`
			MaxKeys               int         `xml:"MaxKeys"`
			EncodingType          string      `xml:"EncodingType,omitempty"`
			IsTruncated           bool        `xml:"IsTruncated"`
			KeyCount              int         `xml:"KeyCount"`
			NextContinuationToken string      `xml:"NextContinuationToken,omitempty"`
			Contents              []listEntry `xml:"Contents"`
		}{Name: bucket, Prefix: enc(prefix), MaxKeys: maxKeys, EncodingType: encType, IsTruncated: truncated, KeyCount: len(entries), NextContinuationToken: nextTok, Contents: entries})
		return
	}
	writeXML(w, struct {
		XMLName      xml.Name    `xml:"ListBucketResult"`
		Name         string      `xml:"Name"`
		Prefix       string      `xml:"Prefix"`
		Marker       string      `xml:"Marker"`
		MaxKeys      int         `xml:"MaxKeys"`
		EncodingType string      `xml:"EncodingType,omitempty"`
		IsTruncated  bool        `xml:"IsTruncated"`
		NextMarker   string      `xml:"NextMarker,omitempty"`
		Contents     []listEntry `xml:"Contents"`
	}{Name: bucket, Prefix: enc(prefix), Marker: enc(q.Get("marker")), MaxKeys: maxKeys, EncodingType: encType, IsTruncated: truncated, NextMarker: enc(next), Contents: entries})
}

func (s *Server) listUploads(w http.ResponseWriter, bucket string) {
	type up struct {
		Key       string `xml:"Key"`
		UploadID  string `xml:"UploadId"`
		Initiated string `xml:"Initiated"`
	}
	s.mu.Lock()
	var ups []up
	for id, u := range s.uploads {
		if u.bucket != bucket {
			continue
		}
		ups = append(ups, up{Key: u.key, UploadID: id, Initiated: time.Now().UTC().Format(time.RFC3339)})
	}
	s.mu.Unlock()
	sort.Slice(ups, func(i, j int) bool { return ups[i].UploadID < ups[j].UploadID })
	writeXML(w, struct {
		XMLName     xml.Name `xml:"ListMultipartUploadsResult"`
		Bucket      string   `xml:"Bucket"`
		IsTruncated bool     `xml:"IsTruncated"`
		Uploads     []up     `xml:"Upload"`
	}{Bucket: bucket, Uploads: ups})
}
