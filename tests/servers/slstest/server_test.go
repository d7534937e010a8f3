package slstest

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"
	"google.golang.org/protobuf/encoding/protowire"
)

// logGroupBytes encodes a LogGroup with protowire (independently of the server's decoder).
func logGroupBytes(topic string, logs ...[]string) []byte {
	var g []byte
	for _, kvs := range logs {
		var l []byte
		l = protowire.AppendTag(l, 1, protowire.VarintType)
		l = protowire.AppendVarint(l, 1767323045)
		for i := 0; i+1 < len(kvs); i += 2 {
			var c []byte
			c = protowire.AppendTag(c, 1, protowire.BytesType)
			c = protowire.AppendString(c, kvs[i])
			c = protowire.AppendTag(c, 2, protowire.BytesType)
			c = protowire.AppendString(c, kvs[i+1])
			l = protowire.AppendTag(l, 2, protowire.BytesType)
			l = protowire.AppendBytes(l, c)
		}
		l = protowire.AppendTag(l, 4, protowire.Fixed32Type)
		l = protowire.AppendFixed32(l, 42)
		g = protowire.AppendTag(g, 1, protowire.BytesType)
		g = protowire.AppendBytes(g, l)
	}
	g = protowire.AppendTag(g, 3, protowire.BytesType)
	return protowire.AppendString(g, topic)
}

// signedPut builds a PutLogs request signed by hand as the SLS API reference describes (signature v1).
func signedPut(t *testing.T, s *Server, project, ak, secret string, raw []byte, mutate func(r *http.Request)) *http.Request {
	return signedPutTo(t, s, project, "store", ak, secret, raw, mutate)
}

func signedPutTo(t *testing.T, s *Server, project, logstore, ak, secret string, raw []byte, mutate func(r *http.Request)) *http.Request {
	t.Helper()
	body := make([]byte, lz4.CompressBlockBound(len(raw)))
	n, err := lz4.CompressBlock(raw, body, nil)
	if err != nil || n == 0 {
		t.Fatalf("lz4: %v (%d)", err, n)
	}
	body = body[:n]
	r, _ := http.NewRequest("POST", "http://"+s.Endpoint+"/logstores/"+logstore+"/shards/lb", bytes.NewReader(body))
	r.Host = project + "." + s.Endpoint
	sum := md5.Sum(body)
	date := time.Now().UTC().Format(http.TimeFormat)
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("Content-MD5", strings.ToUpper(hex.EncodeToString(sum[:])))
	r.Header.Set("Date", date)
	r.Header.Set("x-log-apiversion", "0.6.0")
	r.Header.Set("x-log-bodyrawsize", strconv.Itoa(len(raw)))
	r.Header.Set("x-log-compresstype", "lz4")
	r.Header.Set("x-log-signaturemethod", "hmac-sha1")
	toSign := "POST\n" + r.Header.Get("Content-MD5") + "\napplication/x-protobuf\n" + date + "\n" +
		"x-log-apiversion:0.6.0\nx-log-bodyrawsize:" + strconv.Itoa(len(raw)) + "\nx-log-compresstype:lz4\nx-log-signaturemethod:hmac-sha1\n" +
		"/logstores/" + logstore + "/shards/lb"
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(toSign))
	r.Header.Set("Authorization", "LOG "+ak+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	if mutate != nil {
		mutate(r)
	}
	return r
}

func do(t *testing.T, r *http.Request) (int, map[string]string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e map[string]string
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e
}

func TestPutLogsProtocol(t *testing.T) {
	s := Start(t, "ak1", "sk1")
	s.AddLogstore("proj", "store")
	raw := logGroupBytes("tp", []string{"a", "1", "b", "x y"}, []string{"c", "é"})

	if code, e := do(t, signedPut(t, s, "proj", "ak1", "sk1", raw, nil)); code != 200 {
		t.Fatalf("valid request: %d %v", code, e)
	}
	logs := s.Logs("proj", "store")
	if len(logs) != 2 || logs[0].Topic != "tp" || logs[0].Time != 1767323045 || logs[0].TimeNs != 42 || !logs[0].HasTimeNs ||
		len(logs[0].Contents) != 2 || logs[0].Contents[1] != (Content{"b", "x y"}) || logs[1].Contents[0] != (Content{"c", "é"}) {
		t.Fatalf("stored %+v", logs)
	}

	cases := []struct {
		name   string
		ak, sk string
		proj   string
		mutate func(r *http.Request)
		status int
		code   string
	}{
		{"wrong secret", "ak1", "other", "proj", nil, 401, "SignatureNotMatch"},
		{"unknown key", "ak9", "sk1", "proj", nil, 401, "Unauthorized"},
		{"missing project", "ak1", "sk1", "nope", nil, 404, "ProjectNotExist"},
		{"bad md5", "ak1", "sk1", "proj", func(r *http.Request) { r.Header.Set("Content-MD5", "00") }, 400, "InvalidContentMD5"},
		{"no api version", "ak1", "sk1", "proj", func(r *http.Request) { r.Header.Del("x-log-apiversion") }, 400, "MissingAPIVersion"},
		{"stale date", "ak1", "sk1", "proj", func(r *http.Request) {
			r.Header.Set("Date", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
		}, 400, "RequestTimeExpired"},
		{"raw size mismatch", "ak1", "sk1", "proj", func(r *http.Request) { r.Header.Set("x-log-bodyrawsize", "5") }, 401, "SignatureNotMatch"},
	}
	for _, c := range cases {
		code, e := do(t, signedPut(t, s, c.proj, c.ak, c.sk, raw, c.mutate))
		if code != c.status || e["errorCode"] != c.code || e["errorMessage"] == "" {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, e, c.status, c.code)
		}
	}
	if code, e := do(t, signedPutTo(t, s, "proj", "gone", "ak1", "sk1", raw, nil)); code != 404 || e["errorCode"] != "LogStoreNotExist" {
		t.Errorf("missing logstore: %d %v", code, e)
	}
	if n := len(s.Logs("proj", "store")); n != 2 {
		t.Errorf("rejected requests stored logs: %d", n)
	}
}

func TestFaultRate(t *testing.T) {
	s := Start(t, "ak1", "sk1")
	s.AddLogstore("proj", "store")
	s.SetFaultRate(0.3, 3)
	raw := logGroupBytes("", []string{"k", "v"})
	fails := 0
	for i := 0; i < 200; i++ {
		code, e := do(t, signedPut(t, s, "proj", "ak1", "sk1", raw, nil))
		if code != 200 {
			fails++
			if e["errorCode"] == "" || (code != 403 && code != 429 && code < 500) {
				t.Fatalf("fault %d %v", code, e)
			}
		}
	}
	if fails < 30 || fails > 90 {
		t.Errorf("%d of 200 requests failed, want about 60", fails)
	}
	if got := s.LogCount(); got != 200-fails {
		t.Errorf("stored %d, want %d", got, 200-fails)
	}
}
