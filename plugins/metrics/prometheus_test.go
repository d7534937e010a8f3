package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/local"
	"github.com/esa-connect/esa-connect/plugins/source"
)

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"esa_records_in_total": "esa_records_in_total",
		"input.received":       "input_received",
		"9lives":               "_lives",
		"a-b:c":                "a_b:c",
		"":                     "_",
	} {
		if got := sanitize(in, true); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sanitize("a:b", false); got != "a_b" {
		t.Errorf("label sanitize = %q", got)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	return string(b)
}

// TestScrape runs a stream that writes 25 records with esa_local (which counts esa_* metrics labelled by
// task), scrapes /metrics on Benthos's HTTP server over a real socket and checks the metric lines.
func TestScrape(t *testing.T) {
	for _, histogram := range []bool{false, true} {
		t.Run(fmt.Sprintf("histogram=%v", histogram), func(t *testing.T) {
			env := service.GlobalEnvironment().With("inproc", "none")
			if err := Register(env); err != nil {
				t.Fatal(err)
			}
			if err := local.Register(env); err != nil {
				t.Fatal(err)
			}
			if err := source.Register(env); err != nil {
				t.Fatal(err)
			}
			addr, ingest := freeAddr(t), freeAddr(t)
			sb := env.NewStreamBuilder()
			if err := sb.SetYAML(fmt.Sprintf(`
logger:
  level: warn
http:
  enabled: true
  address: %s
metrics:
  prometheus:
    use_histogram_timing: %v
input:
  esa_http_server:
    address: %s
output:
  esa_local:
    path: %q
    task: t1
    batching:
      count: 25
`, addr, histogram, ingest, t.TempDir())); err != nil {
				t.Fatal(err)
			}
			s, err := sb.Build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			t.Cleanup(func() {
				_ = s.StopWithin(10 * time.Second)
				cancel()
				<-done
			})
			var body strings.Builder
			for i := 0; i < 25; i++ {
				fmt.Fprintf(&body, "{\"n\":%d}\n", i)
			}
			// The ingest endpoint answers 200 once the records were written.
			deadline := time.Now().Add(time.Minute)
			for {
				resp, err := http.Post("http://"+ingest+"/v1/logs", "application/x-ndjson", strings.NewReader(body.String()))
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Fatalf("ingest: %d", resp.StatusCode)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ingest endpoint never came up: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			metrics := scrape(t, "http://"+addr+"/metrics")
			for _, re := range []string{
				// Benthos adds the component's label and path to the labels a component declares.
				`(?m)^esa_records_delivered_total\{label="",path="root.output",task="t1"\} 25$`,
				`(?m)^# TYPE esa_records_delivered_total counter$`,
				`(?m)^esa_bytes_compressed_total\{label="",path="root.output",task="t1"\} [1-9][0-9]*$`,
				`(?m)^esa_batch_latency_ns_count\{label="",path="root.output",task="t1"\} 1$`,
				// Benthos's own metrics with their labels.
				`(?m)^output_sent\{label="",path="root.output"\} 25$`,
			} {
				if !regexp.MustCompile(re).MatchString(metrics) {
					t.Errorf("no line matching %s in:\n%s", re, metrics)
				}
			}
			typ := "summary"
			if histogram {
				typ = "histogram"
				if !regexp.MustCompile(`(?m)^esa_batch_latency_ns_bucket\{label="",path="root.output",task="t1",le="\+Inf"\} 1$`).MatchString(metrics) {
					t.Errorf("no +Inf bucket in:\n%s", metrics)
				}
			}
			if !strings.Contains(metrics, "# TYPE esa_batch_latency_ns "+typ) {
				t.Errorf("esa_batch_latency_ns is not a %s", typ)
			}
		})
	}
}

// TestExporterDirect exercises gauges, re-registration of the same vector and a conflicting name.
func TestExporterDirect(t *testing.T) {
	env := service.NewEmptyEnvironment()
	if err := Register(env); err != nil {
		t.Fatal(err)
	}
	conf, err := ConfigSpec().ParseYAML("prefix: x_\nadd_go_metrics: true\n", env)
	if err != nil {
		t.Fatal(err)
	}
	e, err := fromParsed(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := e.NewGaugeCtor("in_flight", "task")
	g("a").Set(7)
	g("b").Set(3)
	// The same counter declared twice (two components) shares one series.
	e.NewCounterCtor("hits", "task")("a").Incr(2)
	e.NewCounterCtor("hits", "task")("a").Incr(3)
	e.NewCounterCtor("hits", "task")("a").Incr(-1) // ignored: counters never go down
	// A gauge reusing a counter's name is not exported, and does not panic.
	e.NewGaugeCtor("hits", "task")("a").Set(100)
	// Wrong label count: ignored.
	e.NewCounterCtor("hits", "task")("a", "b").Incr(100)

	srv := &http.Server{Handler: e.HandlerFunc()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	metrics := scrape(t, "http://"+ln.Addr().String()+"/metrics")
	for _, want := range []string{`x_in_flight{task="a"} 7`, `x_in_flight{task="b"} 3`, `x_hits{task="a"} 5`, "go_goroutines "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("missing %q in:\n%s", want, metrics)
		}
	}
}

func TestBadBuckets(t *testing.T) {
	conf, err := ConfigSpec().ParseYAML("use_histogram_timing: true\nhistogram_buckets: [3, 2]\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromParsed(conf, nil); err == nil {
		t.Fatal("decreasing buckets accepted")
	}
}
