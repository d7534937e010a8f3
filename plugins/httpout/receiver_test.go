package httpout_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/authkey"
	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/httpout"
)

func post(t *testing.T, url, contentEncoding string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentEncoding != "" {
		req.Header.Set("Content-Encoding", contentEncoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestReceiverDecodesEveryEncoding(t *testing.T) {
	plain := []byte("[{\"a\":1},{\"a\":2},{\"a\":3}]")
	for _, codec := range []string{"no", "gzip", "zlib", "snappy", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			out := &lockedBuf{}
			rc := &httpout.Receiver{BodyPrefix: "[", BodySuffix: "]", SplitWords: ",", Out: out}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			body, err := encode.Compress(codec, nil, plain)
			if err != nil {
				t.Fatal(err)
			}
			code, msg := post(t, srv.URL+"/in", encode.ContentEncoding(codec), body)
			if code != 200 {
				t.Fatalf("%d %s", code, msg)
			}
			if got := out.String(); got != "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n" {
				t.Fatalf("records %q", got)
			}
			if s := rc.Stats(); s.Requests != 1 || s.Records != 3 || s.Rejected != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestReceiverRejects(t *testing.T) {
	now := time.Unix(1512057000, 0)
	rc := &httpout.Receiver{PrivateKey: "aliyuncdn1234", Path: "/accesslog/post", BodyPrefix: "<", BodySuffix: ">",
		Now: func() time.Time { return now }}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	good := "?auth_key=" + authkey.Sign("/accesslog/post", 1512057900, "0", "aliyuncdn1234")
	expired := "?auth_key=" + authkey.Sign("/accesslog/post", 1512056999, "0", "aliyuncdn1234")
	wrong := "?auth_key=" + authkey.Sign("/accesslog/post", 1512057900, "0", "aliyuncdn9999")
	cases := []struct {
		name, url, enc, body string
		code                 int
		msg                  string
	}{
		{"ok", "/accesslog/post" + good, "", "<{}>", 200, "ok 1 records"},
		{"no key", "/accesslog/post", "", "<{}>", 403, "auth_key missing"},
		{"expired", "/accesslog/post" + expired, "", "<{}>", 403, "expired"},
		{"wrong key", "/accesslog/post" + wrong, "", "<{}>", 403, "signature mismatch"},
		{"malformed", "/accesslog/post?auth_key=abc", "", "<{}>", 403, "malformed"},
		{"other path", "/other" + good, "", "<{}>", 404, "not served"},
		{"unknown encoding", "/accesslog/post" + good, "br", "<{}>", 415, "unsupported Content-Encoding"},
		{"corrupt gzip", "/accesslog/post" + good, "gzip", "not gzip", 400, "gzip body"},
		{"corrupt snappy", "/accesslog/post" + good, "snappy", "\xff\xff\xff\xff\xff", 400, "snappy"},
		{"corrupt zstd", "/accesslog/post" + good, "zstd", "not zstd", 400, "zstd body"},
		{"missing prefix", "/accesslog/post" + good, "", "{}>", 400, "prefix"},
		{"missing suffix", "/accesslog/post" + good, "", "<{}", 400, "suffix"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, msg := post(t, srv.URL+c.url, c.enc, []byte(c.body))
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Fatalf("got %d %q, want %d %q", code, msg, c.code, c.msg)
			}
			if strings.Contains(msg, "aliyuncdn1234") {
				t.Fatalf("response leaks the key: %s", msg)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/accesslog/post" + good)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d", resp.StatusCode)
	}
}

func TestReceiverSplitModes(t *testing.T) {
	cases := []struct {
		name    string
		noSplit bool
		words   string
		body    string
		want    string
	}{
		{"newline with last", false, "", "a\nb\n", "a\nb\n"},
		{"newline without last", false, "", "a\nb", "a\nb\n"},
		{"no split", true, "", "{}{}", "{}{}\n"},
		{"words", false, "||", "a||b||c", "a\nb\nc\n"},
		{"empty", false, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := &lockedBuf{}
			rc := &httpout.Receiver{NoSplit: c.noSplit, SplitWords: c.words, Out: out}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			if code, msg := post(t, srv.URL, "", []byte(c.body)); code != 200 {
				t.Fatalf("%d %s", code, msg)
			}
			if out.String() != c.want {
				t.Fatalf("got %q want %q", out.String(), c.want)
			}
		})
	}
}

// TestReceiverZstdBounded: a zstd body that decodes to more than MaxBodyBytes is refused (413), and a
// body of several frames decodes whole.
func TestReceiverZstdBounded(t *testing.T) {
	rc := &httpout.Receiver{MaxBodyBytes: 4096}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	big, err := encode.Compress(encode.CodecZstd, nil, bytes.Repeat([]byte("{\"a\":1}\n"), 1000))
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := post(t, srv.URL, "zstd", big); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("8,000 bytes in 4,096: %d %s", code, msg)
	}
	one, _ := encode.Compress(encode.CodecZstd, nil, []byte("{\"a\":1}\n{\"a\":2}\n"))
	two, _ := encode.Compress(encode.CodecZstd, one, []byte("{\"a\":3}\n"))
	if code, msg := post(t, srv.URL, "zstd", two); code != 200 || !strings.Contains(msg, "ok 3 records") {
		t.Fatalf("two frames: %d %s", code, msg)
	}
}
