package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/tests/testutil"
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

// failingTasks starts serve with args and the sites' tasks "up" (delivering to a sink) and "down"
// (to a server that answers 503 to everything), and returns serve.
func failingTasks(t *testing.T, args []string) *server {
	t.Helper()
	sk := startSink(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "maintenance window", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	s := startServeArgs(t, t.TempDir(), args)
	cl := s.client(t, keyID, keySecret)
	if _, err := cl.CreateSiteDeliveryTask(httpTask("up", "ClientRequestID", sk.URL("up"))); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSiteDeliveryTask(httpTask("down", "ClientRequestID", failing.URL+"/in")); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServeHealth: one /metrics serves every task's series by task; a task whose destination keeps
// failing shows the destination's answer as its error (serve's default --disable-after, 24 h, leaves
// it online); the healthy task of the same site delivers.
func TestServeHealth(t *testing.T) {
	s := failingTasks(t, nil)
	body, _ := records("h", 5)
	code, ans := s.ingest(t, sitePath("access"), body, token)
	if code != 503 || !strings.Contains(ans, "task down") || strings.Contains(ans, "task up") {
		t.Fatalf("ingest with one task failing: %d %s", code, ans)
	}
	if h := s.status(t, "down"); h["status"] != "online" || h["error_message"] == nil ||
		!strings.Contains(h["error_message"].(string), "503") || h["last_complete"] != nil {
		t.Fatalf("status of the failing task: %v", h)
	}
	if h := s.status(t, "up"); h["status"] != "online" || h["last_complete"] == nil || h["error_message"] != nil {
		t.Fatalf("status of the healthy task: %v", h)
	}
	m := s.scrape(t)
	if metric(m, "esa_records_delivered_total", "up") != "5" || metric(m, "esa_records_failed_total", "down") == "" ||
		(metric(m, "esa_records_delivered_total", "down") != "" && metric(m, "esa_records_delivered_total", "down") != "0") {
		t.Fatalf("/metrics lacks the tasks' series:\n%s", grepLines(m, "esa_records_"))
	}
}

// TestServeDisableAfter: a task whose destination delivered nothing for --disable-after while records
// waited is set offline with a reason naming the destination's answer, and counted in
// esa_serve_tasks_disabled_total; the healthy task of the same site stays online.
func TestServeDisableAfter(t *testing.T) {
	s := failingTasks(t, []string{"--disable-after", "3s"})
	body, _ := records("h", 5)
	// The failing task answers 503, whether its delivery failed or it was set offline meanwhile.
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 503 || !strings.Contains(ans, "task down") {
		t.Fatalf("ingest with one task failing: %d %s", code, ans)
	}
	testutil.WaitFor(t, "the failing task set offline", time.Minute, func() bool {
		return s.status(t, "down")["status"] == "offline"
	})
	if h := s.status(t, "down"); !strings.Contains(h["reason"].(string), "no successful delivery for 3s") ||
		!strings.Contains(h["reason"].(string), "maintenance window") {
		t.Fatalf("reason: %v", h)
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
