package sls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/tests/servers/slstest"
)

const (
	testAK     = "LTAItestkey0001"
	testSecret = "test-secret-0001"
)

// serverOutput builds an esa_sls output from YAML through the real spec and constructor, pointed at srv,
// with mock resources whose outcome the test can read.
func serverOutput(t *testing.T, srv *slstest.Server, extra string) (*output, *service.Resources) {
	t.Helper()
	yaml := fmt.Sprintf("project: proj\nlogstore: store\nendpoint: %s\naccess_key_id: %s\naccess_key_secret: %s\ntimeout: 5s\n%s",
		srv.Endpoint, testAK, testSecret, extra)
	conf, err := ConfigSpec().ParseYAML(yaml, service.NewEmptyEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := parseConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	res := service.MockResources()
	o, err := newOutput(c, res)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o, res
}

func TestConnectErrors(t *testing.T) {
	srv := slstest.Start(t, testAK, testSecret)
	srv.AddLogstore("proj", "store")
	srv.AddProject("empty")
	srv.AddKey("LTAItokenkey0002", "token-secret", "sts-token-value")
	srv.AddKey("LTAIwriteonly003", "wo-secret", "")
	srv.DenyRead("LTAIwriteonly003")

	cases := []struct {
		name, extra string
		fatal       bool
		want        string
	}{
		{"ok", "", false, ""},
		{"wrong secret", "access_key_secret: nope\n", true, "access_key_secret is wrong for access_key_id \"LTAI********001\""},
		{"unknown key id", "access_key_id: LTAIunknown9999\n", true, "access_key_id \"LTAI********999\" is not valid"},
		{"missing project", "project: nosuch\n", true, `project "nosuch" does not exist`},
		{"missing logstore", "project: empty\n", true, `logstore "store" does not exist in project "empty"`},
		{"sts token ok", "access_key_id: LTAItokenkey0002\naccess_key_secret: token-secret\nsecurity_token: sts-token-value\n", false, ""},
		{"sts token wrong", "access_key_id: LTAItokenkey0002\naccess_key_secret: token-secret\nsecurity_token: other\n", true, "security_token is invalid or expired"},
		{"write-only credentials", "access_key_id: LTAIwriteonly003\naccess_key_secret: wo-secret\n", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Later keys in the YAML override earlier ones.
			o, res := serverOutput(t, srv, c.extra)
			err := o.Connect(context.Background())
			fatal := outcome.From(res).FatalErr()
			if c.want == "" {
				if err != nil || fatal != nil {
					t.Fatalf("connect: %v (fatal %v)", err, fatal)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("connect error %v, want %q", err, c.want)
			}
			if (fatal != nil) != c.fatal {
				t.Errorf("fatal %v, want fatal=%v", fatal, c.fatal)
			}
			// Neither a secret nor a whole key ID.
			for _, secret := range []string{testSecret, "token-secret", "sts-token-value", "nope", testAK, "LTAIunknown9999", "LTAItokenkey0002"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks %q: %v", secret, err)
				}
			}
		})
	}
}

func TestConnectUnreachableIsNotFatal(t *testing.T) {
	srv := slstest.Start(t, testAK, testSecret)
	srv.Close()
	o, res := serverOutput(t, srv, "timeout: 1s\n")
	err := o.Connect(context.Background())
	if err == nil || outcome.From(res).FatalErr() != nil {
		t.Fatalf("err %v fatal %v: a network error must be returned for Benthos to retry, not be fatal", err, outcome.From(res).FatalErr())
	}
}

// TestRetriesAreOurs checks that the SDK does not retry on its own: with every call failing with 503,
// the server sees exactly 1 + max_retries PutLogs requests.
func TestRetriesAreOurs(t *testing.T) {
	srv := slstest.Start(t, testAK, testSecret)
	srv.AddLogstore("proj", "store")
	srv.SetFaultRate(1, 1, slstest.Fault{Status: 503, Code: "ServerBusy", Message: "busy"})
	o, _ := serverOutput(t, srv, "max_retries: 2\n")
	o.backoff.Initial, o.backoff.Max = time.Millisecond, time.Millisecond
	err := o.WriteBatch(context.Background(), batchOf(`{"a":1}`, `{"a":2}`))
	if err == nil || delivery.IsPermanent(err) || !strings.Contains(err.Error(), "ServerBusy") {
		t.Fatalf("err %v: want a retryable ServerBusy error", err)
	}
	if n := srv.Stats().PutLogsRequests; n != 3 {
		t.Errorf("server saw %d PutLogs requests, want 3 (1 + max_retries)", n)
	}
	if srv.LogCount() != 0 {
		t.Errorf("stored %d logs", srv.LogCount())
	}
}

// TestPermanentErrorNotRetried: a logstore that disappears after connect fails the batch at once with
// SLS's code and message.
func TestPermanentErrorNotRetried(t *testing.T) {
	srv := slstest.Start(t, testAK, testSecret)
	srv.AddLogstore("proj", "store")
	o, _ := serverOutput(t, srv, "logstore: gone\n")
	err := o.WriteBatch(context.Background(), batchOf(`{"a":1}`))
	if err == nil || !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "LogStoreNotExist") || !strings.Contains(err.Error(), "logstore gone does not exist") {
		t.Fatalf("err %v", err)
	}
	if n := srv.Stats().PutLogsRequests; n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// TestPartialFailureNamesFailedRecords: when one of several PutLogs calls of a batch fails, the
// BatchError marks exactly its records, and the others are stored.
func TestPartialFailureNamesFailedRecords(t *testing.T) {
	srv := slstest.Start(t, testAK, testSecret)
	srv.AddLogstore("proj", "store")
	o, _ := serverOutput(t, srv, "max_retries: 0\n")
	recs := make([]string, 5000)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	recs[10] = `not json`
	batch := batchOf(recs...)
	// Fail only the second call: the first succeeds, then every call fails.
	calls := 0
	o.client.SetHTTPClient(newHookClient(o, func() bool { calls++; return calls == 2 }))
	err := o.WriteBatch(context.Background(), batch)
	var berr *service.BatchError
	if err == nil || !asBatchError(err, &berr) {
		t.Fatalf("err %v: want a BatchError", err)
	}
	failed := map[int]bool{}
	berr.WalkMessages(func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed[i] = true
		}
		return true
	})
	if !failed[10] || len(failed) != 1+(5000-1-4096) {
		t.Errorf("%d failed records (record 10 failed: %v)", len(failed), failed[10])
	}
	if n := srv.LogCount(); n != 4096 {
		t.Errorf("stored %d logs, want 4096", n)
	}
}

type hookTransport struct {
	next http.RoundTripper
	fail func() bool
}

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.fail() {
		body := `{"errorCode":"InternalServerError","errorMessage":"injected"}`
		return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
	}
	return h.next.RoundTrip(r)
}

// newHookClient returns an HTTP client like the output's whose requests fail with a 500 when fail
// returns true.
func newHookClient(o *output, fail func() bool) *http.Client {
	return &http.Client{Transport: &hookTransport{next: o.tr, fail: fail}, Timeout: o.c.Timeout}
}

func asBatchError(err error, target **service.BatchError) bool { return errors.As(err, target) }
