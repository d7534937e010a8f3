package console

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins"
	"github.com/esa-connect/esa-connect/plugins/source"
	"github.com/esa-connect/esa-connect/server/acs3"
	"github.com/esa-connect/esa-connect/server/api"
	"github.com/esa-connect/esa-connect/server/fleet"
	"github.com/esa-connect/esa-connect/server/store"
)

const (
	testKeyID     = "LTAI5tConsoleUnitKey"
	testKeySecret = "console-unit-secret-0123456789"
)

var registerOnce sync.Once

// testServer is a console over a real api.Server (bbolt store, Benthos fleet) on an httptest server.
type testServer struct {
	t    *testing.T
	srv  *httptest.Server
	api  *api.Server
	con  *Console
	keys acs3.Keys
}

func newTestServer(t *testing.T, o Options) *testServer {
	t.Helper()
	registerOnce.Do(func() {
		if err := plugins.RegisterAll(service.GlobalEnvironment()); err != nil {
			t.Fatal(err)
		}
	})
	keys, err := acs3.LoadKeys(func(k string) string {
		return map[string]string{acs3.EnvAccessKeyID: testKeyID, acs3.EnvAccessKeySecret: testKeySecret}[k]
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	a := &api.Server{Store: st, Fleet: fleet.New(service.GlobalEnvironment(), reg, log), Verifier: acs3.NewVerifier(keys),
		Bodies:   source.NewBodyReader("test", source.DefaultMaxBodyBytes, source.DefaultMaxPendingBytes, source.DefaultReadTimeout),
		Registry: reg, Log: log}
	if err := a.Restore(); err != nil {
		t.Fatal(err)
	}
	c := New(a, keys, o)
	mux := http.NewServeMux()
	mux.Handle(Prefix, c)
	mux.Handle("/", a.Handler())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		a.Fleet.StopAll()
		_ = st.Close()
	})
	return &testServer{t: t, srv: hs, api: a, con: c, keys: keys}
}

// client is a browser-like client: a cookie jar, the CSRF token once signed in, and the page's Origin.
type client struct {
	ts   *testServer
	hc   *http.Client
	csrf string
}

func (ts *testServer) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{ts: ts, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request with the page's Origin and CSRF token (when known) and returns the status and body.
func (c *client) do(method, path string, body any, hdr ...string) (int, http.Header, []byte) {
	c.ts.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.ts.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", c.ts.srv.URL)
		if c.csrf != "" {
			req.Header.Set(csrfHeader, c.csrf)
		}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (c *client) signIn() {
	c.ts.t.Helper()
	code, _, b := c.do("POST", "/console/api/signin", signInRequest{AccessKeyID: testKeyID, AccessKeySecret: testKeySecret})
	if code != 200 {
		c.ts.t.Fatalf("sign in: %d %s", code, b)
	}
	code, _, b = c.do("GET", "/console/api/session", nil)
	var s struct {
		CSRF string `json:"csrf_token"`
		Key  string `json:"access_key_id"`
	}
	if code != 200 || json.Unmarshal(b, &s) != nil || len(s.CSRF) < 40 {
		c.ts.t.Fatalf("session: %d %s", code, b)
	}
	c.csrf = s.CSRF
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func httpDraft(name, url string) draft {
	return draft{Name: name, Category: "access", SiteID: "7301", Fields: []string{"EdgeStartTimestamp", "ClientIP"}, SamplingRate: "100",
		DeliveryType: "http", Delivery: map[string]any{"DestUrl": url, "Compress": "no"}}
}

func TestValidateDraft(t *testing.T) {
	ts := newTestServer(t, Options{})
	c := ts.client()
	c.signIn()
	d := httpDraft("web-logs", "http://127.0.0.1:1/in")
	code, _, b := c.do("POST", "/console/api/validate", d)
	v := decodeJSON[validation](t, b)
	if code != 200 || !v.Valid || len(v.Problems) != 0 {
		t.Fatalf("a good draft: %d %s", code, b)
	}
	if !strings.Contains(v.Pipeline, "esa_http") || !strings.Contains(v.YAML, "DestUrl: http://127.0.0.1:1/in") {
		t.Errorf("pipeline or YAML:\n%s\n%s", v.Pipeline, v.YAML)
	}
}
