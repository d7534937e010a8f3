package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// scrape GETs serve's /metrics with the bearer token.
func (s *server) scrape(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// TestServeHealthAndDisable: one /metrics serves every task's series by task; a task whose destination
// keeps failing shows the destination's answer as its error, and is set offline after --disable-after
// with a reason and esa_serve_tasks_disabled_total; the healthy task of the same site is untouched.
func TestServeHealthAndDisable(t *testing.T) {
	sk := startSink(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "maintenance window", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	s := startServeArgs(t, t.TempDir(), []string{"--disable-after", "3s"})
	cl := s.client(t, keyID, keySecret)
	if _, err := cl.CreateSiteDeliveryTask(httpTask("up", "ClientRequestID", sk.URL("up"))); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSiteDeliveryTask(httpTask("down", "ClientRequestID", failing.URL+"/in")); err != nil {
		t.Fatal(err)
	}
	body, _ := records("h", 5)
	code, ans := s.ingest(t, sitePath("access"), body, token)
	if code != 503 || !strings.Contains(ans, "task down") || strings.Contains(ans, "task up") {
		t.Fatalf("ingest with one task failing: %d %s", code, ans)
	}
	if h := s.status(t, "down"); h["error_message"] == nil || !strings.Contains(h["error_message"].(string), "503") || h["last_complete"] != nil {
		t.Fatalf("status of the failing task: %v", h)
	}
	m := s.scrape(t)
	if metric(m, "esa_records_delivered_total", "up") != "5" || metric(m, "esa_records_failed_total", "down") == "" ||
		(metric(m, "esa_records_delivered_total", "down") != "" && metric(m, "esa_records_delivered_total", "down") != "0") {
		t.Fatalf("/metrics lacks the tasks' series:\n%s", grepLines(m, "esa_records_"))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		h := s.status(t, "down")
		if h["status"] == "offline" {
			if r, _ := h["reason"].(string); !strings.Contains(r, "no successful delivery for 3s") || !strings.Contains(r, "maintenance window") {
				t.Fatalf("reason: %v", h)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing task was not set offline: %v", h)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h := s.status(t, "up"); h["status"] != "online" {
		t.Fatalf("the healthy task: %v", h)
	}
	if m := s.scrape(t); !strings.Contains(m, "esa_serve_tasks_disabled_total 1") {
		t.Fatalf("/metrics: %s", grepLines(m, "esa_serve_"))
	}
}

// metric is the value of the series of name labelled task="task" in a Prometheus text, or "".
func metric(text, name, task string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+"{") && strings.Contains(l, `task="`+task+`"`) {
			return l[strings.LastIndexByte(l, ' ')+1:]
		}
	}
	return ""
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
