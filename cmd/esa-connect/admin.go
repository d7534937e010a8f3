package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// adminServer is the HTTP server of `esa-connect run`: /metrics (the task's Prometheus metrics),
// /ready and /ping, plus any endpoint a Benthos component of the task registers (for example an
// http_server input without an address of its own). Benthos's own server would also serve /stats,
// /endpoints and /debug, and it binds after the stream started, so a busy port was only a log line; this
// one binds before the stream is built, so an address that cannot be bound is an error.
type adminServer struct {
	ln    net.Listener
	srv   *http.Server
	debug bool // serve /stats too

	mu       sync.RWMutex
	handlers map[string]http.HandlerFunc
	ready    atomic.Bool
}

// listenAdmin binds addr ("off" or "none": no server, a nil *adminServer whose methods do nothing).
func listenAdmin(addr string, debug bool) (*adminServer, error) {
	if strings.EqualFold(addr, "off") || strings.EqualFold(addr, "none") {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("the metrics server cannot listen on %s: %w (set %s to another host:port, or to off)", addr, err, httpAddressEnv)
	}
	a := &adminServer{ln: ln, debug: debug, handlers: map[string]http.HandlerFunc{}}
	a.handlers["/ping"] = func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("pong")) }
	a.handlers["/ready"] = func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("OK"))
	}
	a.srv = &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

// Addr is the bound address ("" without a server).
func (a *adminServer) Addr() string {
	if a == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// HandleFunc registers an endpoint (service.HTTPMultiplexer); Benthos calls it for /metrics, /stats and
// component endpoints. /stats (a copy of /metrics) is served only in debug mode; an endpoint that is
// already registered keeps its first handler.
func (a *adminServer) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	if a == nil || pattern == "/stats" && !a.debug {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.handlers[pattern]; !ok {
		a.handlers[pattern] = h
	}
}

// ServeHTTP serves the registered endpoints by exact path.
func (a *adminServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.RLock()
	h := a.handlers[r.URL.Path]
	a.mu.RUnlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// SetReady sets what /ready answers.
func (a *adminServer) SetReady(ok bool) {
	if a != nil {
		a.ready.Store(ok)
	}
}

// Close stops the server.
func (a *adminServer) Close() {
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		_ = a.srv.Close()
	}
}
