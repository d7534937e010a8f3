package serve

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestServeTap: a tap of a running task streams the records it delivers (its fields only), requires
// the bearer token, and `esa-connect tap` prints them.
func TestServeTap(t *testing.T) {
	sk := startSink(t)
	s := startServe(t, t.TempDir())
	cl := s.client(t, keyID, keySecret)
	if _, err := cl.CreateSiteDeliveryTask(httpTask("tapped", "ClientRequestID,EdgeResponseStatusCode", sk.URL("tapped"))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.addr + "/v1/tasks/tapped/tap")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a tap without the token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/v1/tasks/tapped/tap?limit=20", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("tap: %v %v", err, resp)
	}
	defer resp.Body.Close()
	body, want := records("tap", 20)
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 {
		t.Fatalf("ingest: %d %s", code, ans)
	}
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("tap line %q: %v", sc.Text(), err)
		}
		if d, ok := r["tap_dropped"]; ok {
			if d != float64(0) {
				t.Errorf("the tap lost %v records", d)
			}
			continue
		}
		if len(r) != 2 {
			t.Errorf("tapped record %v: want the task's 2 fields", r)
		}
		got = append(got, r["ClientRequestID"].(string))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the tap saw %v, want %v", got, want)
	}
	if n := len(sk.Records("tapped")); n != 20 {
		t.Fatalf("the destination received %d records, want 20: the tap must not take them", n)
	}

	// The CLI: keep sending until it has printed its 3 records and exited.
	p := testutil.StartBinary(t, testutil.RunOptions{Env: []string{"ESA_CONNECT_INGEST_TOKEN=" + token}},
		"tap", "--endpoint", s.addr, "--limit", "3", "tapped")
	deadline := time.Now().Add(time.Minute)
	for done := false; !done; {
		select {
		case <-p.Done():
			done = true
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("esa-connect tap did not end: %s%s", p.Stdout(), p.Stderr())
			}
			body, _ := records("cli", 5)
			s.ingest(t, sitePath("access"), body, token)
		}
	}
	res := p.Wait(t, time.Second)
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || len(lines) != 3 || !strings.Contains(lines[0], `"ClientRequestID":"cli-`) {
		t.Fatalf("esa-connect tap: exit %d, %q\n%s", res.ExitCode, lines, res.Stderr)
	}
}
