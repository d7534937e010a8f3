// Package serve tests `esa-connect serve` end to end: the binary runs as a real process, ESA's official
// Go SDK is the API client (signing every request), records are POSTed to the ingest over real sockets
// and arrive at real HTTP receivers (httpout.Receiver), one path per task.
package serve

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	esa "github.com/alibabacloud-go/esa-20240910/v3/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

const (
	keyID     = "LTAI5tServeTestKey01"
	keySecret = "serve-test-secret-0123456789abcdef"
	token     = "ingest-token-0123456789"
	site      = int64(7301)
)

// sink receives HTTP deliveries: task t delivers to sk.URL(t) (testutil.Sink).
type sink = testutil.Sink

func startSink(t *testing.T) *sink { return testutil.StartSink(t, "") }

// startAuthSink is startSink with every request's auth_key verified with key.
func startAuthSink(t *testing.T, key string) *sink { return testutil.StartSink(t, key) }

// server is a running esa-connect serve.
type server struct {
	p    *testutil.Process
	addr string
	dir  string
}

var listening = regexp.MustCompile(`listening at http://(\S+)`)

func startServe(t testing.TB, dir string, extraEnv ...string) *server {
	t.Helper()
	return startServeArgs(t, dir, nil, extraEnv...)
}

// startServeArgs is startServe with extra command-line arguments.
func startServeArgs(t testing.TB, dir string, args []string, extraEnv ...string) *server {
	t.Helper()
	env := append([]string{"ESA_CONNECT_ACCESS_KEY_ID=" + keyID, "ESA_CONNECT_ACCESS_KEY_SECRET=" + keySecret,
		"ESA_CONNECT_INGEST_TOKEN=" + token}, extraEnv...)
	args = append([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "warn"}, args...)
	p := testutil.StartBinary(t, testutil.RunOptions{Env: env}, args...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := listening.FindStringSubmatch(p.Stdout()); m != nil {
			return &server{p: p, addr: m[1], dir: dir}
		}
		select {
		case <-p.Done():
			t.Fatalf("serve exited: %s%s", p.Stdout(), p.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen: %s%s", p.Stdout(), p.Stderr())
		}
	}
}

func (s *server) client(t testing.TB, id, secret string) *esa.Client {
	t.Helper()
	cl, err := esa.NewClient(&openapiutil.Config{
		AccessKeyId: dara.String(id), AccessKeySecret: dara.String(secret),
		Endpoint: dara.String(s.addr), Protocol: dara.String("HTTP"), RegionId: dara.String("cn-hangzhou"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// sdkCode is the Code of an SDK error ("" for nil).
func sdkCode(err error) string {
	if err == nil {
		return ""
	}
	code, _ := sdkError(err)
	return code
}

// sdkError is the Code and Message of an SDK error.
func sdkError(err error) (code, msg string) {
	if err == nil {
		return "", ""
	}
	var se *tea.SDKError
	if errors.As(err, &se) {
		return tea.StringValue(se.Code), tea.StringValue(se.Message)
	}
	var de *dara.SDKError
	if errors.As(err, &de) {
		return dara.StringValue(de.Code), dara.StringValue(de.Message)
	}
	return "?" + err.Error(), ""
}

func httpTask(name, fields string, dest string) *esa.CreateSiteDeliveryTaskRequest {
	return new(esa.CreateSiteDeliveryTaskRequest).
		SetTaskName(name).SetBusinessType("dcdn_log_access_l1").SetDataCenter("oversea").
		SetDeliveryType("http").SetDiscardRate(0).SetFieldName(fields).SetSiteId(site).
		SetHttpDelivery(new(esa.CreateSiteDeliveryTaskRequestHttpDelivery).SetDestUrl(dest).SetMaxRetry(2))
}

// records is n access records with ids prefix-i.
func records(prefix string, n int) ([]byte, []string) {
	var b bytes.Buffer
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		fmt.Fprintf(&b, `{"EdgeStartTimestamp":"2026-12-06T01:02:03Z","ClientRequestID":%q,"ClientIP":"192.0.2.%d","ClientRequestHost":"example.com","EdgeResponseStatusCode":%d}`+"\n",
			ids[i], i%250, 200+i%3)
	}
	return b.Bytes(), ids
}

// ingest POSTs gzip NDJSON to path with the token and returns the status and answer.
func (s *server) ingest(t *testing.T, path string, body []byte, bearer string) (int, string) {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(body)
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+path, &z)
	req.Header.Set("Content-Encoding", "gzip")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(ans)
}

func sitePath(cat string) string { return fmt.Sprintf("/v1/sites/%d/logs/%s", site, cat) }

// status GETs a task's status.
func (s *server) status(t *testing.T, task string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/v1/tasks/"+task+"/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func ids(recs []map[string]any) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i], _ = r["ClientRequestID"].(string)
	}
	return out
}

// TestServeLifecycle: create → ingest → delivered record by record → pause → nothing → resume →
// update fields → delete, with ESA's SDK as the client.
func TestServeLifecycle(t *testing.T) {
	sk := startSink(t)
	s := startServe(t, t.TempDir())
	cl := s.client(t, keyID, keySecret)

	created, err := cl.CreateSiteDeliveryTask(httpTask("life", "EdgeStartTimestamp,ClientRequestID,ClientIP", sk.URL("life")))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := dara.StringValue(created.Body.TaskName); got != "life" {
		t.Fatalf("create answered TaskName %q", got)
	}

	body, want := records("a", 300)
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 || !strings.Contains(ans, `"accepted":300`) {
		t.Fatalf("ingest: %d %s", code, ans)
	}
	got := sk.Records("life")
	if strings.Join(ids(got), ",") != strings.Join(want, ",") {
		t.Fatalf("delivered %d records, want the 300 sent in order", len(got))
	}
	for i, r := range got {
		if len(r) != 3 || r["ClientIP"] != fmt.Sprintf("192.0.2.%d", i%250) || r["EdgeStartTimestamp"] != "2026-12-06T01:02:03Z" {
			t.Fatalf("record %d delivered as %v, want the 3 task fields", i, r)
		}
	}

	g, err := cl.GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).SetSiteId(site).SetTaskName("life"))
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if f := dara.StringValue(g.Body.FieldList); f != "EdgeStartTimestamp,ClientRequestID,ClientIP" {
		t.Errorf("FieldList %q", f)
	}
	if st := dara.StringValue(g.Body.Status); st != "online" {
		t.Errorf("Status %q", st)
	}
	if h := s.status(t, "life"); h["records_delivered"] != float64(300) || h["last_complete"] == nil || h["error_message"] != nil {
		t.Errorf("status after delivery: %v", h)
	}

	// Pause: the ingest still answers, the task receives nothing.
	if _, err := cl.UpdateSiteDeliveryTaskStatus(new(esa.UpdateSiteDeliveryTaskStatusRequest).SetSiteId(site).SetTaskName("life").SetMethod("offline")); err != nil {
		t.Fatalf("pause: %v", err)
	}
	body, _ = records("paused", 50)
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 {
		t.Fatalf("ingest while paused: %d %s", code, ans)
	}
	if n := len(sk.Records("life")); n != 300 {
		t.Fatalf("a paused task received records: %d", n)
	}
	if h := s.status(t, "life"); h["status"] != "offline" {
		t.Errorf("status while paused: %v", h)
	}

	// Resume and change the fields.
	if _, err := cl.UpdateSiteDeliveryTaskStatus(new(esa.UpdateSiteDeliveryTaskStatusRequest).SetSiteId(site).SetTaskName("life").SetMethod("online")); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if _, err := cl.UpdateSiteDeliveryTask(new(esa.UpdateSiteDeliveryTaskRequest).SetSiteId(site).SetTaskName("life").
		SetFieldName("ClientRequestID,EdgeResponseStatusCode")); err != nil {
		t.Fatalf("update: %v", err)
	}
	body, want = records("b", 20)
	if code, ans := s.ingest(t, sitePath("dcdn_log_access_l1"), body, token); code != 200 {
		t.Fatalf("ingest after update: %d %s", code, ans)
	}
	got = sk.Records("life")[300:]
	if strings.Join(ids(got), ",") != strings.Join(want, ",") {
		t.Fatalf("after resume+update delivered %v, want %v", ids(got), want)
	}
	if _, ok := got[0]["ClientIP"]; ok || got[0]["EdgeResponseStatusCode"] != float64(200) || len(got[0]) != 2 {
		t.Fatalf("after the update a record is %v, want ClientRequestID and EdgeResponseStatusCode", got[0])
	}

	l, err := cl.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(site))
	if err != nil || dara.Int32Value(l.Body.TotalCount) != 1 || len(l.Body.Tasks) != 1 || dara.StringValue(l.Body.Tasks[0].DeliveryType) != "http" {
		t.Fatalf("list: %v %+v", err, l)
	}

	if _, err := cl.DeleteSiteDeliveryTask(new(esa.DeleteSiteDeliveryTaskRequest).SetSiteId(site).SetTaskName("life")); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = cl.GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).SetSiteId(site).SetTaskName("life"))
	if c := sdkCode(err); !strings.Contains(c, "NotFound") {
		t.Fatalf("get after delete: code %q", c)
	}
	body, _ = records("gone", 5)
	if code, _ := s.ingest(t, sitePath("access"), body, token); code != 200 || len(sk.Records("life")) != 320 {
		t.Fatalf("a deleted task received records")
	}

	if err := s.p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if res := s.p.Wait(t, time.Minute); res.ExitCode != 0 {
		t.Fatalf("serve exited %d after SIGTERM: %s", res.ExitCode, res.Output())
	}
}

// TestServeRefusals: wrong signatures and keys, invalid definitions (every problem with its ESA
// parameter), a duplicate name, and an ingest without the token.
func TestServeRefusals(t *testing.T) {
	sk := startSink(t)
	s := startServe(t, t.TempDir())

	_, err := s.client(t, keyID, "wrong-secret-0123456789").ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(site))
	if c := sdkCode(err); c != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: code %q", c)
	}
	_, err = s.client(t, "LTAI5tUnknownKey0000", keySecret).ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(site))
	if c := sdkCode(err); c != "InvalidAccessKeyId.NotFound" {
		t.Errorf("unknown key: code %q", c)
	}

	cl := s.client(t, keyID, keySecret)
	bad := httpTask("bad", "ClientIP,ClientIPP", "ftp://x").SetDiscardRate(1.5)
	_, err = cl.CreateSiteDeliveryTask(bad)
	code, msg := sdkError(err)
	if code != "InvalidParameter" {
		t.Fatalf("invalid task: %v", err)
	}
	for _, want := range []string{"DiscardRate", "FieldName", "ClientIPP", "HttpDelivery.DestUrl"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not name %s: %s", want, msg)
		}
	}
	l, err := cl.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(site))
	if err != nil || dara.Int32Value(l.Body.TotalCount) != 0 {
		t.Fatalf("a refused task was created: %v %v", err, l)
	}

	if _, err := cl.CreateSiteDeliveryTask(httpTask("dup", "ClientIP", sk.URL("dup"))); err != nil {
		t.Fatal(err)
	}
	_, err = cl.CreateSiteDeliveryTask(httpTask("dup", "ClientRequestID", sk.URL("dup")))
	if c := sdkCode(err); !strings.Contains(c, "Duplicate") {
		t.Errorf("duplicate name: code %q", c)
	}

	body, _ := records("x", 3)
	if code, _ := s.ingest(t, sitePath("access"), body, ""); code != 401 {
		t.Errorf("ingest without a token: %d", code)
	}
	if code, _ := s.ingest(t, sitePath("access"), body, "wrong-token-0123456789"); code != 401 {
		t.Errorf("ingest with a wrong token: %d", code)
	}
	if code, _ := s.ingest(t, "/v1/sites/7301/logs/nosuch", body, token); code != 404 {
		t.Errorf("ingest of an unknown category: %d", code)
	}
	if len(sk.Records("dup")) != 0 {
		t.Errorf("refused requests delivered records")
	}

	// Without a token, serve refuses a non-loopback address.
	res := testutil.RunBinary(t, testutil.RunOptions{Env: []string{"ESA_CONNECT_ACCESS_KEY_ID=" + keyID, "ESA_CONNECT_ACCESS_KEY_SECRET=" + keySecret, "ESA_CONNECT_INGEST_TOKEN="}},
		"serve", "--data", t.TempDir(), "--listen", "0.0.0.0:0")
	if res.ExitCode == 0 || !strings.Contains(res.Output(), "ESA_CONNECT_INGEST_TOKEN") {
		t.Errorf("serve on 0.0.0.0 without a token: exit %d: %s", res.ExitCode, res.Output())
	}
}

// TestServeSurvivesSIGKILL: a task whose Create was answered exists after SIGKILL right after it; a
// paused task stays paused; the online one receives records after the restart.
func TestServeSurvivesSIGKILL(t *testing.T) {
	sk := startSink(t)
	dir := t.TempDir()
	s := startServe(t, dir)
	cl := s.client(t, keyID, keySecret)
	for _, name := range []string{"kept", "paused"} {
		if _, err := cl.CreateSiteDeliveryTask(httpTask(name, "ClientRequestID", sk.URL(name))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.UpdateSiteDeliveryTaskStatus(new(esa.UpdateSiteDeliveryTaskStatusRequest).SetSiteId(site).SetTaskName("paused").SetMethod("offline")); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSiteDeliveryTask(httpTask("last", "ClientRequestID", sk.URL("last"))); err != nil {
		t.Fatal(err)
	}
	if err := s.p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.p.Wait(t, 30*time.Second)

	s = startServe(t, dir)
	cl = s.client(t, keyID, keySecret)
	l, err := cl.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(site))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, task := range l.Body.Tasks {
		status[dara.StringValue(task.TaskName)] = dara.StringValue(task.Status)
	}
	if status["kept"] != "online" || status["paused"] != "offline" || status["last"] != "online" || len(status) != 3 {
		t.Fatalf("after SIGKILL and restart: %v", status)
	}
	body, want := records("r", 10)
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 {
		t.Fatalf("ingest after restart: %d %s", code, ans)
	}
	for _, name := range []string{"kept", "last"} {
		if got := ids(sk.Records(name)); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s received %v after the restart", name, got)
		}
	}
	if n := len(sk.Records("paused")); n != 0 {
		t.Errorf("the paused task received %d records after the restart", n)
	}
	if st, err := os.Stat(filepath.Join(dir, "serve.db")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("database file: %v %v", err, st)
	}
}

// TestServeFanOut: 50 tasks on one site, each with its own sampling-free selection of fields; 20
// clients ingest at once; every task receives every record exactly as the others.
func TestServeFanOut(t *testing.T) {
	sk := startSink(t)
	s := startServe(t, t.TempDir())
	cl := s.client(t, keyID, keySecret)
	const tasks, clients, perClient = 50, 20, 200
	for i := range tasks {
		name := fmt.Sprintf("fan%02d", i)
		if _, err := cl.CreateSiteDeliveryTask(httpTask(name, "ClientRequestID", sk.URL(name))); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	// A task of another site receives nothing.
	other := httpTask("other-site", "ClientRequestID", sk.URL("other-site")).SetSiteId(site + 1)
	if _, err := cl.CreateSiteDeliveryTask(other); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	want := map[string]bool{}
	var mu sync.Mutex
	for c := range clients {
		body, ids := records(fmt.Sprintf("c%d", c), perClient)
		mu.Lock()
		for _, id := range ids {
			want[id] = true
		}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 {
				t.Errorf("client %d: %d %s", c, code, ans)
			}
		}()
	}
	wg.Wait()
	for i := range tasks {
		name := fmt.Sprintf("fan%02d", i)
		got := ids(sk.Records(name))
		seen := map[string]bool{}
		for _, id := range got {
			seen[id] = true
		}
		if len(seen) != len(want) {
			t.Errorf("%s received %d distinct records of %d", name, len(seen), len(want))
		}
	}
	if n := len(sk.Records("other-site")); n != 0 {
		t.Errorf("a task of another site received %d records", n)
	}
}

// TestServeCustomLog: a site's custom log fields (CreateSiteCustomLog) are delivered by its access-log
// tasks, and GetSiteCustomLog returns them; an invalid header name is refused with the parameter.
func TestServeCustomLog(t *testing.T) {
	sk := startSink(t)
	s := startServe(t, t.TempDir())
	cl := s.client(t, keyID, keySecret)
	if _, err := cl.CreateSiteDeliveryTask(httpTask("custom", "ClientRequestID", sk.URL("custom"))); err != nil {
		t.Fatal(err)
	}
	g, err := cl.GetSiteCustomLog(new(esa.GetSiteCustomLogRequest).SetSiteId(site))
	if err != nil || dara.BoolValue(g.Body.IsExist) {
		t.Fatalf("custom log before creation: %v %v", err, g)
	}
	_, err = cl.CreateSiteCustomLog(new(esa.CreateSiteCustomLogRequest).SetSiteId(site).
		SetRequestHeaders([]*string{dara.String("bad;header")}))
	if c, msg := sdkError(err); c != "InvalidParameter" || !strings.Contains(msg, "RequestHeaders") {
		t.Fatalf("an invalid header name: %q %s", c, msg)
	}
	if _, err := cl.CreateSiteCustomLog(new(esa.CreateSiteCustomLogRequest).SetSiteId(site).
		SetRequestHeaders([]*string{dara.String("x-trace-id")}).SetCookies([]*string{dara.String("session")})); err != nil {
		t.Fatalf("create custom log: %v", err)
	}
	g, err = cl.GetSiteCustomLog(new(esa.GetSiteCustomLogRequest).SetSiteId(site))
	if err != nil || !dara.BoolValue(g.Body.IsExist) || len(g.Body.LogCustomField.RequestHeaders) != 1 ||
		dara.StringValue(g.Body.LogCustomField.RequestHeaders[0]) != "x-trace-id" {
		t.Fatalf("get custom log: %v %+v", err, g)
	}
	rec := `{"EdgeStartTimestamp":"2026-12-06T01:02:03Z","ClientRequestID":"c-1","RequestHeaders":{"X-Trace-Id":"t-42","Accept":"*/*"},"Cookie":"session=s-9; other=1"}` + "\n"
	if code, ans := s.ingest(t, sitePath("access"), []byte(rec), token); code != 200 {
		t.Fatalf("ingest: %d %s", code, ans)
	}
	got := sk.Records("custom")
	if len(got) != 1 {
		t.Fatalf("received %d records", len(got))
	}
	cf, _ := json.Marshal(got[0]["CustomFields"])
	if !strings.Contains(string(cf), `"t-42"`) {
		t.Fatalf("the record has no custom request header: %v", got[0])
	}
}
