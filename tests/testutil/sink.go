package testutil

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/httpout"
)

// Sink is an HTTP receiver of deliveries (httpout.Receiver) that keeps the records of each task: a task
// delivers to URL(task), i.e. <server>/t/<task>.
type Sink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]map[string]any
}

// StartSink starts a Sink (closed at the end of the test); with a key ("" for none) every request's
// auth_key is verified.
func StartSink(t testing.TB, key string) *Sink {
	s := &Sink{got: map[string][]map[string]any{}}
	rc := &httpout.Receiver{PrivateKey: key, OnBatch: func(r *http.Request, _ []byte, recs [][]byte) error {
		task := strings.TrimPrefix(r.URL.Path, "/t/")
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, rec := range recs {
			var m map[string]any
			if err := json.Unmarshal(rec, &m); err != nil {
				return err
			}
			s.got[task] = append(s.got[task], m)
		}
		return nil
	}}
	s.srv = httptest.NewServer(rc)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is where task delivers.
func (s *Sink) URL(task string) string { return s.srv.URL + "/t/" + task }

// Records are the records task delivered so far, in arrival order.
func (s *Sink) Records(task string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.got[task]...)
}
