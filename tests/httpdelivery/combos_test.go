package httpdelivery

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// capture is a Receiver.OnBatch that keeps each request's decoded body and headers.
type capture struct {
	mu      sync.Mutex
	bodies  []string
	headers []http.Header
	queries []string
}

func (c *capture) onBatch(r *http.Request, body []byte, _ [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodies = append(c.bodies, string(body))
	c.headers = append(c.headers, r.Header.Clone())
	c.queries = append(c.queries, r.URL.RawQuery)
	return nil
}

type layout struct {
	name            string
	yaml            string // output fields
	wantBody        string // for the three records below
	wantContentType string
	// The receiver's options for the layout, and the records it writes out ("" = not checked: a
	// textual split by "," also cuts inside JSON records).
	recvPrefix, recvSuffix, recvWords string
	recvNoSplit                       bool
	wantOut                           string
}

// TestByteExactBodies sends three records through every compression × auth × body layout and checks
// the receiver gets exactly the body that docs/destinations.md#http-server describes.
func TestByteExactBodies(t *testing.T) {
	recs := [][]byte{[]byte(`{"id":"a","n":1}`), []byte(`{"id":"b","n":2}`), []byte(`{"id":"c","n":3}`)}
	layouts := []layout{
		{name: "ndjson-default", yaml: ``,
			wantBody: "{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":2}\n{\"id\":\"c\",\"n\":3}\n", wantContentType: "application/x-ndjson", wantOut: "{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":2}\n{\"id\":\"c\",\"n\":3}\n"},
		{name: "json-array", yaml: "body_prefix: \"[\"\nbody_suffix: \"]\"\nsplit_words: \",\"\nlast_split: false\nheaders: {Content-Type: application/json}",
			recvPrefix: "[", recvSuffix: "]", recvWords: ",",
			wantBody: `[{"id":"a","n":1},{"id":"b","n":2},{"id":"c","n":3}]`, wantContentType: "application/json"},
		{name: "split-false", yaml: "body_prefix: \"<<\"\nbody_suffix: \">>\"\nsplit: false\nsplit_words: \"|\"",
			recvPrefix: "<<", recvSuffix: ">>", recvNoSplit: true,
			wantBody: `<<{"id":"a","n":1}{"id":"b","n":2}{"id":"c","n":3}>>`, wantContentType: "application/x-ndjson",
			wantOut: "{\"id\":\"a\",\"n\":1}{\"id\":\"b\",\"n\":2}{\"id\":\"c\",\"n\":3}\n"},
		{name: "words-last-split", yaml: "body_prefix: \"BEGIN\\n\"\nbody_suffix: \"END\\n\"\nsplit_words: \"\\r\\n\"\nlast_split: true",
			recvPrefix: "BEGIN\n", recvSuffix: "END\n", recvWords: "\r\n",
			wantBody: "BEGIN\n{\"id\":\"a\",\"n\":1}\r\n{\"id\":\"b\",\"n\":2}\r\n{\"id\":\"c\",\"n\":3}\r\nEND\n", wantContentType: "application/x-ndjson",
			wantOut: "{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":2}\n{\"id\":\"c\",\"n\":3}\n"},
		{name: "csv", yaml: "format: csv",
			wantBody: "id,n\na,1\nb,2\nc,3\n", wantContentType: "text/csv", wantOut: "id,n\na,1\nb,2\nc,3\n"},
	}
	for _, codec := range []string{"no", "gzip", "zlib", "snappy", "zstd"} {
		for _, auth := range []bool{false, true} {
			for _, l := range layouts {
				name := fmt.Sprintf("%s/auth=%v/%s", codec, auth, l.name)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					cap := &capture{}
					out := &lockedWriter{}
					rc := &httpout.Receiver{BodyPrefix: l.recvPrefix, BodySuffix: l.recvSuffix, SplitWords: l.recvWords,
						NoSplit: l.recvNoSplit, OnBatch: cap.onBatch, Out: out}
					authYAML := ""
					if auth {
						rc.PrivateKey = "aliyuncdn1234"
						authYAML = "auth: {private_key: aliyuncdn1234, expired_time: 60}\n"
					}
					srv := serve(t, rc)
					p := startPipeline(t, fmt.Sprintf(`
esa_http:
  url: %s/accesslog/post
  compression: %s
  %s
  batching: {count: 3, period: 1h}
  task: combos
%s`, srv.URL, codec, strings.ReplaceAll(strings.TrimSpace(authYAML), "\n", "\n  "), indent(l.yaml)))
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := p.send(ctx, pipelinetest.Batch(recs)); err != nil {
						t.Fatalf("delivery failed: %v", err)
					}
					cap.mu.Lock()
					defer cap.mu.Unlock()
					if len(cap.bodies) != 1 {
						t.Fatalf("%d requests, want 1", len(cap.bodies))
					}
					if cap.bodies[0] != l.wantBody {
						t.Errorf("body\n%q\nwant\n%q", cap.bodies[0], l.wantBody)
					}
					h := cap.headers[0]
					if got, want := h.Get("Content-Encoding"), encode.ContentEncoding(codec); got != want {
						t.Errorf("Content-Encoding %q, want %q", got, want)
					}
					if got := h.Get("Content-Type"); got != l.wantContentType {
						t.Errorf("Content-Type %q, want %q", got, l.wantContentType)
					}
					if strings.Contains(cap.queries[0], "auth_key=") != auth {
						t.Errorf("query %q: auth_key presence should be %v", cap.queries[0], auth)
					}
					if l.wantOut != "" && out.String() != l.wantOut {
						t.Errorf("receiver wrote %q, want %q", out.String(), l.wantOut)
					}
				})
			}
		}
	}
}

func indent(y string) string {
	if y == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(y, "\n", "\n  ")
}

type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestReceiverRejectsBadSignatures: a receiver that checks signatures answers 403 for expired and
// wrong ones, and the output fails the batch at once with an error that says why, without the key.
func TestReceiverRejectsBadSignatures(t *testing.T) {
	cases := []struct {
		name      string
		recvKey   string
		recvClock time.Duration
		outAuth   string
		want      string
	}{
		{"expired", "aliyuncdn1234", time.Hour, "auth: {private_key: aliyuncdn1234, expired_time: 60}", "auth_key expired"},
		{"wrong key", "aliyuncdn1234", 0, "auth: {private_key: wrongkey99, expired_time: 60}", "auth_key signature mismatch"},
		{"wrong signed path", "aliyuncdn1234", 0, "auth: {private_key: aliyuncdn1234, expired_time: 60, url_path: /other}", "auth_key signature mismatch"},
		{"unsigned", "aliyuncdn1234", 0, "", "auth_key missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rc := &httpout.Receiver{PrivateKey: c.recvKey, Now: func() time.Time { return time.Now().Add(c.recvClock) }}
			srv := serve(t, rc)
			p := startPipeline(t, fmt.Sprintf(`
esa_http:
  url: %s/accesslog/post
  %s
  max_retry: 3
  backoff: {initial_interval: 1ms, max_interval: 2ms}
  batching: {count: 1}
`, srv.URL, c.outAuth))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := p.send(ctx, pipelinetest.Batch(idRecords(1)))
			if err == nil {
				t.Fatal("batch acknowledged although the receiver rejected it")
			}
			msg := err.Error()
			for _, want := range []string{"esa_http", "403 Forbidden", c.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			for _, secret := range []string{"aliyuncdn1234", "wrongkey99", "auth_key="} {
				if strings.Contains(msg, secret) {
					t.Errorf("error leaks %q: %s", secret, msg)
				}
			}
			if !delivery.IsPermanent(err) {
				t.Errorf("a 403 must fail the batch permanently (so the input counts it undelivered): %v", err)
			}
			if s := rc.Stats(); s.Rejected != 1 || s.Records != 0 {
				t.Errorf("403 must not be retried: receiver stats %+v", s)
			}
		})
	}
}

// TestCompressionLevels: esa_http honours compression_level. The same records sent at gzip level 1 and
// 9 (and zstd 1 and 19) give different bodies, the faster level's larger, and every body decodes with
// an independent reader (Go's compress/gzip; the zstd command when installed) to the same records,
// which the Receiver accepts.
func TestCompressionLevels(t *testing.T) {
	var recs [][]byte
	for i := range 2000 {
		recs = append(recs, fmt.Appendf(nil, `{"id":"r%d","host":"h%d.example.com","path":"/p/%d","status":%d,"ua":"Mozilla/5.0 (%d)"}`,
			i, i%13, i*7919%5000, 200+i%5*100, i%17))
	}
	want := string(bytes.Join(recs, []byte("\n"))) + "\n"
	raw := map[string][]byte{}
	for _, c := range []struct {
		codec string
		level int
	}{{"gzip", 1}, {"gzip", 9}, {"zstd", 1}, {"zstd", 19}} {
		name := fmt.Sprintf("%s-%d", c.codec, c.level)
		var mu sync.Mutex
		var bodies [][]byte
		var encodings []string
		rc := &httpout.Receiver{}
		// The raw body is kept before the Receiver decodes it.
		srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, b)
			encodings = append(encodings, r.Header.Get("Content-Encoding"))
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
			rc.ServeHTTP(w, r)
		}))
		p := startPipeline(t, fmt.Sprintf(`
esa_http:
  url: %s/in
  compression: %s
  compression_level: %d
  batching: {count: 2000, period: 1h}
`, srv.URL, c.codec, c.level))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := p.send(ctx, pipelinetest.Batch(recs)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cancel()
		mu.Lock()
		if len(bodies) != 1 || encodings[0] != c.codec {
			t.Fatalf("%s: %d requests, Content-Encoding %v", name, len(bodies), encodings)
		}
		raw[name] = bodies[0]
		mu.Unlock()
		var got []byte
		if c.codec == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw[name]))
			if err != nil {
				t.Fatal(err)
			}
			got, _ = io.ReadAll(zr)
		} else {
			got = unzstd(t, name, raw[name])
		}
		if string(got) != want {
			t.Fatalf("%s: decodes to %d bytes, want the %d sent", name, len(got), len(want))
		}
		if s := rc.Stats(); s.Records != 2000 || s.Rejected != 0 {
			t.Fatalf("%s: receiver %+v", name, s)
		}
	}
	for _, pair := range [][2]string{{"gzip-1", "gzip-9"}, {"zstd-1", "zstd-19"}} {
		a, b := raw[pair[0]], raw[pair[1]]
		if bytes.Equal(a, b) || len(a) <= len(b) {
			t.Errorf("%s: %d bytes, %s: %d bytes: the level is not honoured", pair[0], len(a), pair[1], len(b))
		}
	}
}

// unzstd decodes a zstd body (testutil.Unzstd).
func unzstd(t *testing.T, name string, raw []byte) []byte { return testutil.Unzstd(t, name, raw) }
