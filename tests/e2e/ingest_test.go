package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestHTTPIngestMetricsAndDrain runs a task with the default HTTP ingest source: edge nodes POST NDJSON
// (plain and gzip), each request is answered 200 only after its records were written, with the count
// of accepted and rejected lines; the rejected line goes to the dead letter; the Prometheus /metrics
// endpoint counts them by task, and SIGTERM ends the run cleanly.
func TestHTTPIngestMetricsAndDrain(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	ingest, admin := testutil.FreeAddr(t), testutil.FreeAddr(t)
	task := fmt.Sprintf(`name: ingest
category: access
fields: [ClientRequestID, EdgeResponseStatusCode]
filters: [{field: EdgeResponseStatusCode, op: ge, value: 400}]
source: {type: http, address: %q}
destination: {type: local, path: %q, batching: {count: 4, period: 1h}}
dead_letter: {type: local, path: dead}
`, ingest, out)
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: append(append([]string{}, env...), "ESA_HTTP_ADDRESS="+admin)}, "run", taskPath)
	p.WaitTCP(t, ingest)
	p.WaitTCP(t, admin)

	var body strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&body, "{\"ClientRequestID\":\"r%d\",\"EdgeResponseStatusCode\":%d}\n", i, 200+100*(i%4))
	}
	body.WriteString("not json\n")
	post := func(data []byte, gz bool) (int, string) {
		req, err := http.NewRequest(http.MethodPost, "http://"+ingest+"/v1/logs", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(data)
			_ = zw.Close()
			req.Body = io.NopCloser(&b)
			req.ContentLength = int64(b.Len())
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(answer)
	}
	const answer = `{"accepted":10,"rejected":1,"rejected_lines":[{"line":11,"reason":"malformed","error":`
	// 10 records, 4 with status ≥ 400 (200+100·(i%4) ≥ 400 for i = 2, 3, 6, 7): they fill a batch of
	// 4, so the request is answered once that object is written.
	if code, got := post([]byte(body.String()), false); code != http.StatusOK || !strings.HasPrefix(got, answer) {
		t.Fatalf("plain POST: %d %s, want 200 %s…", code, got, answer)
	}
	if n := len(allLines(readObjects(t, out))); n != 4 {
		t.Fatalf("after a 200, %d records are written, want 4", n)
	}
	// The same again gzip-compressed: another 4.
	if code, got := post([]byte(body.String()), true); code != http.StatusOK || !strings.HasPrefix(got, answer) {
		t.Fatalf("gzip POST: %d %s, want 200 %s…", code, got, answer)
	}
	if n := len(allLines(readObjects(t, out))); n != 8 {
		t.Fatalf("%d records written, want 8", n)
	}

	metrics := scrape(t, "http://"+admin+"/metrics")
	for name, want := range map[string]float64{
		"esa_records_in_total":           22,
		"esa_records_filtered_out_total": 12,
		"esa_records_invalid_total":      2,
		"esa_records_delivered_total":    8,
	} {
		if got := metricSum(metrics, name, "ingest"); got != want {
			t.Errorf("%s{task=ingest} = %v, want %v\n%s", name, got, want, grepMetrics(metrics, "esa_"))
		}
	}

	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	res := p.Wait(t, time.Minute)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", res.ExitCode, res.Output())
	}
	if want := "22 in, 0 sampled out, 12 filtered out, 2 invalid, 8 delivered, 2 dead-lettered, 0 not delivered"; !strings.Contains(res.Stdout, want) {
		t.Errorf("summary line lacks %q:\n%s", want, res.Stdout)
	}
	if got := readLinesFile(t, filepath.Join(dir, "dead", "ingest.dead-letter.ndjson")); len(got) != 2 || got[0] != "not json" || got[1] != "not json" {
		t.Errorf("dead letter holds %q, want the two rejected lines", got)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, b)
	}
	return string(b)
}

// metricSum adds up every sample of a metric whose labels include task="<task>".
func metricSum(text, name, task string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\{([^}]*)\} ([0-9.e+-]+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if !strings.Contains(m[1], `task="`+task+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func grepMetrics(text, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
