package s3test

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// Request is what a Proxy saw of one request.
type Request struct {
	Method string
	Host   string // the Host header (virtual-hosted style puts the bucket here)
	Path   string
	Query  url.Values
	Header http.Header
	Status int
}

// Proxy is a recording HTTP proxy in front of a Server: it forwards every request unchanged (Host
// header included, so SigV4 signatures stay valid) and remembers its method, host, path, query,
// headers and response status. It works both as a reverse proxy (use Proxy.URL as the S3 endpoint)
// and as a forward proxy (HTTP_PROXY=Proxy.URL): the latter lets a separate process reach
// <bucket>.s3.esa.test, a name that does not resolve.
type Proxy struct {
	URL  string
	Addr string

	domain    string
	mu        sync.Mutex
	reqs      []Request
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

// SetIntercept installs fn, which sees every request first; when it returns true it has answered the
// request itself (to inject a failure or a response the server cannot give) and the request is not
// forwarded. nil removes it.
func (p *Proxy) SetIntercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.intercept = fn
}

func (p *Proxy) serveHTTP(rp http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		fn := p.intercept
		p.mu.Unlock()
		if fn != nil {
			rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			if fn(rec, r) {
				p.record(r, rec.status)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// NewProxy starts a recording proxy to upstream on a free loopback port; it stops at test cleanup.
func NewProxy(t testing.TB, upstream *Server) *Proxy {
	t.Helper()
	target, _ := url.Parse(upstream.URL)
	p := &Proxy{domain: upstream.opts.VirtualDomain}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = target.Scheme
			r.Out.URL.Host = target.Host
			r.Out.Host = r.In.Host
			r.Out.Header.Del("X-Forwarded-For")
		},
		ModifyResponse: func(resp *http.Response) error {
			p.record(resp.Request, resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.record(r, http.StatusBadGateway)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p.serveHTTP(rp)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	p.Addr = l.Addr().String()
	p.URL = "http://" + p.Addr
	return p
}

func (p *Proxy) record(r *http.Request, status int) {
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, Request{
		Method: r.Method, Host: host, Path: r.URL.Path, Query: r.URL.Query(),
		Header: r.Header.Clone(), Status: status,
	})
}

// Requests returns every request seen so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// Reset forgets the recorded requests.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = nil
}

// VirtualHostEndpoint is http://<virtual domain>:<proxy port>, for virtual-hosted-style clients that
// dial through DialContext.
func (p *Proxy) VirtualHostEndpoint() string {
	_, port, _ := net.SplitHostPort(p.Addr)
	n, _ := strconv.Atoi(port)
	return "http://" + p.domain + ":" + strconv.Itoa(n)
}
