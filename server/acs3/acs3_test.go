package acs3

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	esa "github.com/alibabacloud-go/esa-20240910/v3/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
)

// These tests sign requests with the official ESA SDK (esa-20240910 on darabonba-openapi), send them
// to a loopback server that verifies them with a Verifier and answers like the ESA API, and check
// what the SDK makes of the answers. Tampered requests are re-sent with net/http from the raw form
// the server captured.

const (
	testID     = "LTAI5tTestAccessKeyId01"
	testSecret = "TestSecret-0123456789abcdefghijkl"
	otherID    = "LTAI5tOtherAccessKeyId2"
	otherSec   = "OtherSecret-zyxwvutsrqponmlkjihg"
)

// testKeys returns the keys testID/testSecret (from the environment) and otherID/otherSec (from a
// keys file).
func testKeys(t testing.TB) Keys {
	t.Helper()
	file := writeKeyFile(t, 0o600, fmt.Sprintf("- access_key_id: %s\n  access_key_secret: %s\n", otherID, otherSec))
	keys, err := LoadKeys(envOf(map[string]string{EnvAccessKeyID: testID, EnvAccessKeySecret: testSecret}), file)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// capturedRequest is a request as the server received it.
type capturedRequest struct {
	method, uri string
	header      http.Header
	body        []byte
}

// esaServer is a loopback stand-in for the ESA API endpoint that verifies signatures.
type esaServer struct {
	t        *testing.T
	verifier *Verifier
	srv      *httptest.Server

	mu       sync.Mutex
	requests []capturedRequest
	keyIDs   []string // AccessKey ID of each accepted request
	refusals []*Error
}

func startESA(t *testing.T, keys Keys) *esaServer {
	t.Helper()
	s := &esaServer{t: t, verifier: NewVerifier(keys)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *esaServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, verr := s.verifier.Verify(r, body)
	s.mu.Lock()
	s.requests = append(s.requests, capturedRequest{r.Method, r.URL.RequestURI(), r.Header.Clone(), body})
	if verr == nil {
		s.keyIDs = append(s.keyIDs, id)
	} else {
		s.refusals = append(s.refusals, verr)
	}
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	if verr != nil {
		w.WriteHeader(verr.Status)
		json.NewEncoder(w).Encode(map[string]string{"RequestId": "test-request", "Code": verr.Code, "Message": verr.Message})
		return
	}
	io.WriteString(w, `{"RequestId":"test-request","TaskName":"x"}`)
}

// last returns the last request the server received.
func (s *esaServer) last() capturedRequest {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		s.t.Fatal("no request received")
	}
	return s.requests[len(s.requests)-1]
}

// client returns an ESA SDK client that signs with id/secret and sends to the server.
func (s *esaServer) client(id, secret string) *esa.Client {
	s.t.Helper()
	u, _ := url.Parse(s.srv.URL)
	cl, err := esa.NewClient(&openapiutil.Config{
		AccessKeyId:     dara.String(id),
		AccessKeySecret: dara.String(secret),
		Endpoint:        dara.String(u.Host),
		Protocol:        dara.String("HTTP"),
		RegionId:        dara.String("cn-hangzhou"),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return cl
}

// resend sends a captured request again with net/http, after edit (if not nil) changed it, and
// returns the status and the error the server answered with ("" codes if it accepted).
func (s *esaServer) resend(c capturedRequest, edit func(*http.Request)) (status int, code, message string) {
	s.t.Helper()
	req, err := http.NewRequest(c.method, s.srv.URL+c.uri, bytes.NewReader(c.body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header = c.header.Clone()
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct{ RequestId, Code, Message string }
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		s.t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, answer.Code, answer.Message
}

// sdkCode returns the error code and HTTP status of an error returned by the ESA SDK.
func sdkCode(t *testing.T, err error) (code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatal("the SDK returned no error")
	}
	var se *tea.SDKError
	if errors.As(err, &se) {
		return tea.StringValue(se.Code), tea.IntValue(se.StatusCode)
	}
	var de *dara.SDKError
	if errors.As(err, &de) {
		return dara.StringValue(de.Code), dara.IntValue(de.StatusCode)
	}
	t.Fatalf("the SDK returned a %T, not a *tea.SDKError: %v", err, err)
	return "", 0
}

func createRequest() *esa.CreateSiteDeliveryTaskRequest {
	return new(esa.CreateSiteDeliveryTaskRequest).
		SetTaskName("sdk-http").
		SetBusinessType("dcdn_log_access_l1").
		SetDataCenter("cn").
		SetDeliveryType("http").
		SetDiscardRate(0).
		SetFieldName("EdgeStartTimestamp,ClientIP,ClientRequestHost").
		SetSiteId(1234567890123).
		SetHttpDelivery(new(esa.CreateSiteDeliveryTaskRequestHttpDelivery).
			SetDestUrl("https://logs.example.com/ingest?token=a b&x=é").
			SetCompress("gzip").
			SetMaxBatchSize(1000).
			SetStandardAuthOn(false))
}

// taskNames need percent-encoding in the canonical query: blanks, '+', '/', '*', '~', quotes,
// reserved characters and non-ASCII.
var taskNames = []string{
	"simple-name",
	"with spaces and + plus",
	"tâche 日志 😀",
	"a/b?c=d&e#f%20g*h~i'j(k)l!m",
	"",
}

// TestSDKAccepted: requests signed by the official SDK with a known key are accepted, for POST
// (form body) and GET (query string) actions, whatever characters the parameters hold.
func TestSDKAccepted(t *testing.T) {
	s := startESA(t, testKeys(t))
	cl := s.client(testID, testSecret)

	resp, err := cl.CreateSiteDeliveryTask(createRequest())
	if err != nil {
		t.Fatalf("CreateSiteDeliveryTask: %v", err)
	}
	if got := dara.StringValue(resp.Body.TaskName); got != "x" {
		t.Errorf("CreateSiteDeliveryTask answered TaskName %q", got)
	}
	c := s.last()
	if c.method != http.MethodPost || len(c.body) == 0 || c.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("CreateSiteDeliveryTask was sent as %s %q with %d body bytes", c.method, c.header.Get("Content-Type"), len(c.body))
	}
	if !strings.Contains(c.header.Get("Authorization"), "SignedHeaders=content-type;host;") {
		t.Errorf("content-type is not signed: %s", c.header.Get("Authorization"))
	}

	for _, bt := range []string{"dcdn_log_access_l1", "dcdn log/access+l1 ☃"} {
		if _, err := cl.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).
			SetBusinessType(bt).SetSiteId(1234567890123).SetPageNumber(1).SetPageSize(500)); err != nil {
			t.Fatalf("ListSiteDeliveryTasks(%q): %v", bt, err)
		}
		c := s.last()
		if c.method != http.MethodGet || len(c.body) != 0 || !strings.Contains(c.uri, "BusinessType=") {
			t.Errorf("ListSiteDeliveryTasks was sent as %s %s with %d body bytes", c.method, c.uri, len(c.body))
		}
	}
	for _, name := range taskNames {
		if _, err := cl.GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).
			SetSiteId(1234567890123).SetTaskName(name)); err != nil {
			t.Errorf("GetSiteDeliveryTask(%q): %v", name, err)
		}
		if _, err := cl.UpdateSiteDeliveryTaskStatus(new(esa.UpdateSiteDeliveryTaskStatusRequest).
			SetSiteId(1234567890123).SetTaskName(name).SetMethod("online")); err != nil {
			t.Errorf("UpdateSiteDeliveryTaskStatus(%q): %v", name, err)
		}
		if c := s.last(); c.method != http.MethodGet || c.header.Get("x-acs-action") != "UpdateSiteDeliveryTaskStatus" {
			t.Errorf("UpdateSiteDeliveryTaskStatus was sent as %s action %q", c.method, c.header.Get("x-acs-action"))
		}
	}

	// The second key (from the keys file) is accepted too, and the Verifier says which key signed.
	if _, err := s.client(otherID, otherSec).GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).
		SetSiteId(1).SetTaskName("other")); err != nil {
		t.Fatalf("GetSiteDeliveryTask with the second key: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.refusals) != 0 {
		t.Fatalf("refused: %v", s.refusals)
	}
	if n := len(s.keyIDs); n < 2 || s.keyIDs[0] != testID || s.keyIDs[n-1] != otherID {
		t.Errorf("accepted key IDs %v", s.keyIDs)
	}
}

// TestSDKRefused: the SDK surfaces the code of each refusal.
func TestSDKRefused(t *testing.T) {
	s := startESA(t, testKeys(t))
	get := func(cl *esa.Client) error {
		_, err := cl.GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).SetSiteId(1).SetTaskName("a b"))
		return err
	}
	create := func(cl *esa.Client) error {
		_, err := cl.CreateSiteDeliveryTask(createRequest())
		return err
	}

	t.Run("wrong secret", func(t *testing.T) {
		for _, call := range []func(*esa.Client) error{get, create} {
			code, status := sdkCode(t, call(s.client(testID, "not-the-secret")))
			if code != CodeSignatureDoesNotMatch || status != http.StatusBadRequest {
				t.Fatalf("code %q status %d, want %s 400", code, status, CodeSignatureDoesNotMatch)
			}
			msg := s.lastRefusal().Message
			if !strings.Contains(msg, "server string to sign is:"+Algorithm+"\n") {
				t.Errorf("the message does not give the string to sign: %s", msg)
			}
		}
	})
	t.Run("secret of another key", func(t *testing.T) {
		code, _ := sdkCode(t, get(s.client(testID, otherSec)))
		if code != CodeSignatureDoesNotMatch {
			t.Fatalf("code %q, want %s", code, CodeSignatureDoesNotMatch)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		code, status := sdkCode(t, create(s.client("LTAI5tUnknownKeyId", testSecret)))
		if code != CodeAccessKeyNotFound || status != http.StatusNotFound {
			t.Fatalf("code %q status %d, want %s 404", code, status, CodeAccessKeyNotFound)
		}
	})
	for _, off := range []time.Duration{20 * time.Minute, -20 * time.Minute} {
		t.Run(fmt.Sprintf("clock %v off", off), func(t *testing.T) {
			s.verifier.Now = func() time.Time { return time.Now().Add(off) }
			defer func() { s.verifier.Now = time.Now }()
			code, status := sdkCode(t, get(s.client(testID, testSecret)))
			if code != CodeTimeStampExpired || status != http.StatusBadRequest {
				t.Fatalf("code %q status %d, want %s 400", code, status, CodeTimeStampExpired)
			}
		})
	}
	t.Run("clock 14 minutes off", func(t *testing.T) {
		s.verifier.Now = func() time.Time { return time.Now().Add(-14 * time.Minute) }
		defer func() { s.verifier.Now = time.Now }()
		if err := get(s.client(testID, testSecret)); err != nil {
			t.Fatalf("refused within the skew: %v", err)
		}
	})
	s.assertNoSecretInRefusals(t)
}

func (s *esaServer) lastRefusal() *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.refusals) == 0 {
		s.t.Fatal("no refusal")
	}
	return s.refusals[len(s.refusals)-1]
}

func (s *esaServer) assertNoSecretInRefusals(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.refusals {
		for _, secret := range []string{testSecret, otherSec} {
			if strings.Contains(e.Message, secret) || strings.Contains(e.Error(), secret) {
				t.Errorf("a refusal holds a secret: %s", e.Message)
			}
		}
	}
}

// TestTamperedRequests: a request signed by the SDK and captured by the server is re-sent as it
// was, and changed in the ways an attacker could.
func TestTamperedRequests(t *testing.T) {
	s := startESA(t, testKeys(t))
	cl := s.client(testID, testSecret)
	if _, err := cl.CreateSiteDeliveryTask(createRequest()); err != nil {
		t.Fatal(err)
	}
	post := s.last()
	if _, err := cl.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).
		SetBusinessType("dcdn_log_access_l1").SetSiteId(1234567890123)); err != nil {
		t.Fatal(err)
	}
	get := s.last()

	type tamper struct {
		name    string
		req     capturedRequest
		edit    func(*http.Request)
		status  int
		code    string
		message string // a part of the message
	}
	otherBody := []byte(strings.Replace(string(post.body), "sdk-http", "evil-http", 1))
	sum := func(b []byte) string { return fmt.Sprintf("%x", sha256Sum(b)) }
	tampers := []tamper{
		{name: "POST replayed", req: post, status: 400, code: CodeSignatureNonceUsed},
		{name: "GET replayed", req: get, status: 400, code: CodeSignatureNonceUsed},
		{name: "body changed", req: post, edit: func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(otherBody)), int64(len(otherBody))
		}, status: 400, code: CodeSignatureDoesNotMatch, message: "does not match x-acs-content-sha256"},
		{name: "body and its hash changed", req: post, edit: func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(otherBody)), int64(len(otherBody))
			r.Header.Set(HeaderContentSHA256, sum(otherBody))
		}, status: 400, code: CodeSignatureDoesNotMatch, message: "server string to sign is:"},
		{name: "query changed", req: get, edit: func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "dcdn_log_access_l1", "dcdn_log_er", 1)
		}, status: 400, code: CodeSignatureDoesNotMatch, message: "server string to sign is:"},
		{name: "query parameter added", req: get, edit: func(r *http.Request) {
			r.URL.RawQuery += "&PageSize=500"
		}, status: 400, code: CodeSignatureDoesNotMatch},
		{name: "action changed", req: get, edit: func(r *http.Request) {
			r.Header.Set("x-acs-action", "DeleteSiteDeliveryTask")
		}, status: 400, code: CodeSignatureDoesNotMatch},
		{name: "unsigned x-acs header added", req: get, edit: func(r *http.Request) {
			r.Header.Set("x-acs-extra", "1")
		}, status: 400, code: CodeIncompleteSignature, message: "x-acs-extra"},
		{name: "nonce changed", req: get, edit: func(r *http.Request) {
			r.Header.Set(HeaderSignatureNonce, "fresh-nonce")
		}, status: 400, code: CodeSignatureDoesNotMatch},
		{name: "host changed", req: get, edit: func(r *http.Request) {
			r.Host = "esa.cn-hangzhou.aliyuncs.com"
		}, status: 400, code: CodeSignatureDoesNotMatch},
		{name: "method changed", req: get, edit: func(r *http.Request) {
			r.Method = http.MethodPost
		}, status: 400, code: CodeSignatureDoesNotMatch},
		{name: "Authorization removed", req: get, edit: func(r *http.Request) {
			r.Header.Del("Authorization")
		}, status: 400, code: CodeMissingAuthorization},
		{name: "Authorization emptied", req: post, edit: func(r *http.Request) {
			r.Header.Set("Authorization", "")
		}, status: 400, code: CodeMissingAuthorization},
	}
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := s.resend(tc.req, tc.edit)
			if status != tc.status || code != tc.code || !strings.Contains(msg, tc.message) {
				t.Fatalf("answered %d %s %q, want %d %s with %q", status, code, msg, tc.status, tc.code, tc.message)
			}
		})
	}
	// The server still accepts fresh requests.
	if _, err := cl.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(1)); err != nil {
		t.Fatal(err)
	}
	s.assertNoSecretInRefusals(t)
}

// signed builds a request signed the way the SDK signs, with the SDK's own GetAuthorization.
func signed(t testing.TB, method, host, query string, body []byte, header map[string]string, id, secret string) *http.Request {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	dq := map[string]*string{}
	for k, v := range q {
		dq[k] = dara.String(v[0])
	}
	payload := fmt.Sprintf("%x", sha256Sum(body))
	h := map[string]*string{
		"host":               dara.String(host),
		"x-acs-action":       dara.String("GetSiteDeliveryTask"),
		"x-acs-version":      dara.String("2024-09-10"),
		"x-acs-date":         dara.String(time.Now().UTC().Format(DateLayout)),
		HeaderSignatureNonce: openapiutil.GetNonce(),
		HeaderContentSHA256:  dara.String(payload),
		"user-agent":         dara.String("test"),
		"accept":             dara.String("application/json"),
	}
	if len(body) > 0 {
		h["content-type"] = dara.String("application/x-www-form-urlencoded")
	}
	for k, v := range header {
		h[k] = dara.String(v)
	}
	dr := &dara.Request{Method: dara.String(method), Pathname: dara.String("/"), Query: dq, Headers: h}
	h["Authorization"] = openapiutil.GetAuthorization(dr, dara.String(Algorithm), dara.String(payload), dara.String(id), dara.String(secret))

	u := "http://" + host + "/"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	r := httptest.NewRequest(method, u, bytes.NewReader(body))
	r.Host = host
	for k, v := range h {
		if k != "host" {
			r.Header.Set(k, *v)
		}
	}
	return r
}

// TestVerifyDirect covers what the SDK does not send, on requests built and signed by the test with
// the SDK's signing function.
func TestVerifyDirect(t *testing.T) {
	keys := testKeys(t)
	const host = "127.0.0.1:8080"
	query := "SiteId=1&TaskName=" + url.QueryEscape("a b+c/ü*~")
	ok := func() *http.Request { return signed(t, "GET", host, query, nil, nil, testID, testSecret) }

	if id, err := NewVerifier(keys).Verify(ok(), nil); err != nil || id != testID {
		t.Fatalf("Verify = %q, %v", id, err)
	}
	if _, err := NewVerifier(keys).Verify(signed(t, "POST", host, "", []byte("a=1&b=%20"), nil, testID, testSecret), []byte("a=1&b=%20")); err != nil {
		t.Fatalf("POST: %v", err)
	}
	// An empty query value and a parameter without '=' both sign as "name=".
	if _, err := NewVerifier(keys).Verify(signed(t, "GET", host, "A=&B=1", nil, nil, testID, testSecret), nil); err != nil {
		t.Fatalf("empty value: %v", err)
	}
	// Extra signed x-acs-* headers (as with an STS token) are covered.
	if _, err := NewVerifier(keys).Verify(signed(t, "GET", host, query, nil, map[string]string{"x-acs-security-token": "tok"}, testID, testSecret), nil); err != nil {
		t.Fatalf("extra x-acs header: %v", err)
	}

	setAuth := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	replaceAuth := func(old, new string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
		}
	}
	cases := []struct {
		name   string
		edit   func(*http.Request)
		status int
		code   string
	}{
		{"other algorithm", replaceAuth("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3"), 400, CodeIncompleteSignature},
		{"RPC-style", setAuth("acs " + testID + ":c2lnbmF0dXJl"), 400, CodeIncompleteSignature},
		{"no fields", setAuth(Algorithm), 400, CodeIncompleteSignature},
		{"no Signature", replaceAuth(",Signature=", ",Sig="), 400, CodeIncompleteSignature},
		{"short Signature", replaceAuth(",Signature=", ",Signature=ab"), 400, CodeIncompleteSignature},
		{"no Credential", replaceAuth("Credential="+testID+",", ""), 400, CodeIncompleteSignature},
		{"empty Credential", replaceAuth("Credential="+testID, "Credential="), 400, CodeIncompleteSignature},
		{"Credential twice", replaceAuth("Credential="+testID, "Credential="+testID+",Credential="+testID), 400, CodeIncompleteSignature},
		{"unsorted SignedHeaders", replaceAuth("host;x-acs-action", "x-acs-action;host"), 400, CodeIncompleteSignature},
		{"upper-case SignedHeaders", replaceAuth("host;", "Host;"), 400, CodeIncompleteSignature},
		{"host not signed", replaceAuth("SignedHeaders=host;", "SignedHeaders="), 400, CodeIncompleteSignature},
		{"signed header absent", replaceAuth("x-acs-version", "x-acs-version;x-acs-zzz"), 400, CodeIncompleteSignature},
		{"two Authorization headers", func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, 400, CodeIncompleteSignature},
		{"no x-acs-date", func(r *http.Request) { r.Header.Del(HeaderDate) }, 400, CodeMissingParameter},
		{"two nonces", func(r *http.Request) { r.Header.Add(HeaderSignatureNonce, "another") }, 400, CodeIncompleteSignature},
		{"no nonce", func(r *http.Request) { r.Header.Del(HeaderSignatureNonce) }, 400, CodeMissingParameter},
		{"no content hash", func(r *http.Request) { r.Header.Del(HeaderContentSHA256) }, 400, CodeMissingParameter},
		{"date in RFC 1123", func(r *http.Request) { r.Header.Set(HeaderDate, time.Now().UTC().Format(http.TimeFormat)) }, 400, CodeTimeStampFormat},
		{"date with fraction", func(r *http.Request) { r.Header.Set(HeaderDate, time.Now().UTC().Format("2006-01-02T15:04:05.000Z")) }, 400, CodeTimeStampFormat},
		{"date of another zone", func(r *http.Request) { r.Header.Set(HeaderDate, time.Now().Format("2006-01-02T15:04:05+08:00")) }, 400, CodeTimeStampFormat},
		{"content hash not hex", func(r *http.Request) { r.Header.Set(HeaderContentSHA256, "zz") }, 400, CodeSignatureDoesNotMatch},
		{"bad query escape", func(r *http.Request) { r.URL.RawQuery += "&x=%zz" }, 400, CodeInvalidParameter},
		{"unknown key", replaceAuth("Credential="+testID, "Credential=LTAI5tNobody"), 404, CodeAccessKeyNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.edit(r)
			_, err := NewVerifier(keys).Verify(r, nil)
			if err == nil || err.Status != tc.status || err.Code != tc.code {
				t.Fatalf("Verify = %v, want %d %s", err, tc.status, tc.code)
			}
			if strings.Contains(err.Message, testSecret) || strings.Contains(err.Message, otherSec) {
				t.Fatalf("the message holds a secret: %s", err.Message)
			}
		})
	}

	t.Run("skew bound", func(t *testing.T) {
		for _, tc := range []struct {
			off time.Duration
			ok  bool
		}{{15 * time.Minute, true}, {-15 * time.Minute, true}, {15*time.Minute + time.Second, false}, {-15*time.Minute - time.Second, false}} {
			r := ok()
			date, _ := time.Parse(DateLayout, r.Header.Get(HeaderDate))
			v := NewVerifier(keys)
			v.Now = func() time.Time { return date.Add(tc.off) }
			if _, err := v.Verify(r, nil); (err == nil) != tc.ok {
				t.Errorf("clock %v off: %v", tc.off, err)
			}
		}
	})
	t.Run("empty key set", func(t *testing.T) {
		if _, err := NewVerifier(Keys{}).Verify(ok(), nil); err == nil || err.Code != CodeAccessKeyNotFound {
			t.Fatalf("Verify = %v", err)
		}
	})
	t.Run("a refusal does not use the nonce", func(t *testing.T) {
		v := NewVerifier(keys)
		body := []byte("TaskName=a")
		r := signed(t, "POST", host, "", body, nil, testID, testSecret)
		if _, err := v.Verify(r, []byte("TaskName=b")); err == nil || err.Code != CodeSignatureDoesNotMatch {
			t.Fatalf("changed body: %v", err)
		}
		if _, err := v.Verify(r, body); err != nil {
			t.Fatalf("the request with its own body: %v", err)
		}
		if _, err := v.Verify(r, body); err == nil || err.Code != CodeSignatureNonceUsed {
			t.Fatalf("replayed: %v", err)
		}
	})
	t.Run("nonce with blanks is the same nonce", func(t *testing.T) {
		v := NewVerifier(keys)
		r := ok()
		if _, err := v.Verify(r, nil); err != nil {
			t.Fatal(err)
		}
		r.Header.Set(HeaderSignatureNonce, " "+r.Header.Get(HeaderSignatureNonce)+"\t")
		if _, err := v.Verify(r, nil); err == nil || err.Code != CodeSignatureNonceUsed {
			t.Fatalf("replayed with blanks around the nonce: %v", err)
		}
	})
	t.Run("nonce scoped by key", func(t *testing.T) {
		v := NewVerifier(keys)
		a := signed(t, "GET", host, query, nil, map[string]string{HeaderSignatureNonce: "same"}, testID, testSecret)
		b := signed(t, "GET", host, query, nil, map[string]string{HeaderSignatureNonce: "same"}, otherID, otherSec)
		c := signed(t, "GET", host, "SiteId=2", nil, map[string]string{HeaderSignatureNonce: "same"}, testID, testSecret)
		if _, err := v.Verify(a, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(b, nil); err != nil {
			t.Fatalf("another key's request with the same nonce: %v", err)
		}
		if _, err := v.Verify(c, nil); err == nil || err.Code != CodeSignatureNonceUsed {
			t.Fatalf("another request of the same key with the same nonce: %v", err)
		}
	})
}

// TestVerifierNonceCap: a Verifier with a small cap never remembers more nonces than the cap.
func TestVerifierNonceCap(t *testing.T) {
	v := NewVerifier(testKeys(t))
	v.MaxNonces = 10
	for i := 0; i < 50; i++ {
		r := signed(t, "GET", "localhost:1", "SiteId=1", nil, nil, testID, testSecret)
		if _, err := v.Verify(r, nil); err != nil {
			t.Fatal(err)
		}
		if n := v.nonces.len(); n > 10 {
			t.Fatalf("%d nonces remembered", n)
		}
	}
}

// TestSDKCanonicalQuery checks canonicalQuery against the SDK's signature on a range of values:
// signing with the SDK and verifying must agree.
func TestSDKCanonicalQuery(t *testing.T) {
	keys := testKeys(t)
	v := NewVerifier(keys)
	values := []string{" ", "+", "%", "%20", "*", "~", "!'()", "a=b&c=d", "/?#[]@", "é", "日本", "\x7f", "😀", "tab\there", strings.Repeat("x", 4000)}
	for i, val := range values {
		q := url.Values{"TaskName": {val}, "SiteId": {"1"}, "Z.1.Key": {val}}
		r := signed(t, "GET", "localhost:1", q.Encode(), nil, nil, testID, testSecret)
		if _, err := v.Verify(r, nil); err != nil {
			t.Errorf("value %d %q: %v", i, val, err)
		}
	}
}

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

// BenchmarkVerify measures Verify on GET requests signed by the SDK's signing function, each with
// its own nonce (signed in batches outside the timer).
func BenchmarkVerify(b *testing.B) {
	keys := testKeys(b)
	v := NewVerifier(keys)
	query := "SiteId=1234567890123&TaskName=" + url.QueryEscape("access-log-to-http") + "&Method=online"
	const batch = 4096
	reqs := make([]*http.Request, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(reqs) == 0 {
			b.StopTimer()
			for j := 0; j < batch; j++ {
				reqs = append(reqs, signed(b, "GET", "127.0.0.1:8080", query, nil, nil, testID, testSecret))
			}
			b.StartTimer()
		}
		r := reqs[len(reqs)-1]
		reqs = reqs[:len(reqs)-1]
		if _, err := v.Verify(r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrent: the Verifier is used by many goroutines at once; of copies of one signed request
// verified at the same time, exactly one is accepted. (The requests are signed with the SDK's
// signing function and sent with net/http: the SDK's own client has a data race of its own when used
// from several goroutines, in dara.DoRequest, which -race reports.)
func TestConcurrent(t *testing.T) {
	s := startESA(t, testKeys(t))
	u, _ := url.Parse(s.srv.URL)
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				r := signed(t, "GET", u.Host, fmt.Sprintf("SiteId=%d&TaskName=t+%d", g, i), nil, nil, testID, testSecret)
				req, _ := http.NewRequest(r.Method, s.srv.URL+r.URL.RequestURI(), nil)
				req.Header = r.Header
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %s", resp.Status)
					}
					resp.Body.Close()
				}
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	v := NewVerifier(testKeys(t))
	r := signed(t, "GET", "localhost:1", "SiteId=1", nil, nil, testID, testSecret)
	var accepted, replays int
	var mu sync.Mutex
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(r.Clone(r.Context()), nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case err.Code == CodeSignatureNonceUsed:
				replays++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if accepted != 1 || replays != 15 {
		t.Fatalf("%d accepted, %d replays", accepted, replays)
	}
}
