package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/esa-connect/esa-connect/tests/servers/s3test"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// TestRunPathStyleSSE: file → processors → S3-compatible store, path style, SSE-S3 required. Every
// PUT must carry x-amz-server-side-encryption: AES256 on the wire (versitygw accepts the header
// without echoing it, so a recording proxy in front of it checks).
func TestRunPathStyleSSE(t *testing.T) {
	srv := s3test.Start(t)
	px := s3test.NewProxy(t, srv)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	in, want := input(t, dir, 5000)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-path", fmt.Sprintf("{type: file, paths: [%q]}", in), "s3_compatible", fmt.Sprintf(`  bucket_path: logs/esa/access
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
  server_side_encryption: AES256
  max_in_flight: 3
  batching: {count: 700}
`, px.URL), token("logs", "esa/access", "e2e-path")))
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv(), Timeout: 3 * time.Minute}, "run", task)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	noSecrets(t, res.Output())
	objs := readObjects(t, admin, "logs", "esa/access/")
	// Batches close when a count of 700 is reached; the file input reads 1,000 records at a time.
	if len(objs) < 2 {
		t.Fatalf("%d objects for %d records in batches of 700", len(objs), len(want))
	}
	checkObjects(t, objs, want, "esa/access", "e2e-path")
	// Every input batch spans a UTC midnight (07:59–08:00 at +08:00): an object is filed under the
	// UTC date of its earliest record even when it holds records of the next day.
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, "esa/access/20261124/") || !strings.Contains(o.Key, "_20261125T") {
			t.Errorf("%s: want the date directory of the first record (20261124) and a last time on the 25th", o.Key)
		}
	}
	puts := 0
	for _, r := range px.Requests() {
		if r.Method == http.MethodPut && !r.Query.Has("partNumber") && strings.HasPrefix(r.Path, "/logs/esa/access/") {
			puts++
			if r.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
				t.Errorf("PUT %s without x-amz-server-side-encryption: AES256", r.Path)
			}
			if strings.HasPrefix(r.Host, "logs.") {
				t.Errorf("PUT %s is virtual-hosted, want path style", r.Path)
			}
		}
	}
	if puts < len(objs) {
		t.Fatalf("saw %d PUTs for %d objects", puts, len(objs))
	}
}

// TestRunVirtualHosted: virtual-hosted style via a loopback host name. The task's endpoint is
// http://s3.esa.test:<port>; esa-connect resolves nothing of it, it goes through HTTP_PROXY (the
// recording proxy), which must see Host: logs.s3.esa.test:<port> and a key path without the bucket.
func TestRunVirtualHosted(t *testing.T) {
	srv := s3test.Start(t)
	px := s3test.NewProxy(t, srv)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	in, want := input(t, dir, 1200)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-vhost", fmt.Sprintf("{type: file, paths: [%q]}", in), "s3", fmt.Sprintf(`  bucket_path: logs/vh
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  server_side_encryption: AES256
`, srv.VirtualHostEndpoint()), token("logs", "vh", "e2e-vhost")))
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv("HTTP_PROXY="+px.URL, "http_proxy="+px.URL), Timeout: 3 * time.Minute}, "run", task)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	objs := readObjects(t, admin, "logs", "vh/")
	checkObjects(t, objs, want, "vh", "e2e-vhost")
	n := 0
	for _, r := range px.Requests() {
		n++
		if r.Host != fmt.Sprintf("logs.%s:%d", s3test.VirtualDomain, srv.Port()) || strings.HasPrefix(r.Path, "/logs") {
			t.Errorf("%s %s%s is not virtual-hosted", r.Method, r.Host, r.Path)
		}
	}
	if n == 0 {
		t.Fatal("no request went through the proxy")
	}
}

// TestRunServerDownAtStart: the server is down when the task starts; esa-connect retries the
// connection and delivers everything once it is up, exiting 0.
func TestRunServerDownAtStart(t *testing.T) {
	srv := s3test.Start(t)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	srv.Stop()
	dir := t.TempDir()
	in, want := input(t, dir, 2000)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-down", fmt.Sprintf("{type: file, paths: [%q]}", in), "s3_compatible", fmt.Sprintf(`  bucket_path: logs/down
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
  batching: {count: 500}
`, srv.URL), token("logs", "down", "e2e-down")))
	p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv()}, "run", task)
	p.WaitOutput(t, "connection refused", 60*time.Second) // it tried and failed
	select {
	case <-p.Done():
		t.Fatalf("exited while the server was down\n%s%s", p.Stdout(), p.Stderr())
	default:
	}
	srv.Restart()
	res := p.Wait(t, 3*time.Minute)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	checkObjects(t, readObjects(t, admin, "logs", "down/"), want, "down", "e2e-down")
}

// TestRunServerRestartMidRun: generated records at a fixed rate; the server is stopped while objects
// are being written and started again a few seconds later. Every generated record is delivered
// (at least once) and the run exits 0.
func TestRunServerRestartMidRun(t *testing.T) {
	srv := s3test.Start(t)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	const count = 12000
	task := writeFile(t, dir, "task.yaml", fmt.Sprintf(`name: e2e-restart
category: access
fields: [EdgeStartTimestamp, ClientRequestID, EdgeResponseStatusCode]
source: {type: generate, count: %d, rate: 3000/s, seed: 7}
destination:
  type: s3_compatible
  bucket_path: logs/restart
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
  batching: {count: 600}
ownership_token: %s
`, count, srv.URL, token("logs", "restart", "e2e-restart")))
	p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv()}, "run", task)
	waitObjects(t, admin, "logs", "restart/", 2, 60*time.Second)
	srv.Stop()
	// The store comes back only once an upload failed while it was down (the fault happened).
	p.WaitOutput(t, "retrying", 2*time.Minute)
	srv.Restart()
	res := p.Wait(t, 3*time.Minute)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, res.Output())
	}
	ids := map[string]int{}
	for _, o := range readObjects(t, admin, "logs", "restart/") {
		for _, r := range o.Records {
			i := strings.Index(string(r), `"ClientRequestID":"`)
			if i < 0 {
				t.Fatalf("record without ClientRequestID: %s", r)
			}
			id := string(r)[i+len(`"ClientRequestID":"`):]
			ids[id[:strings.IndexByte(id, '"')]]++
		}
	}
	if len(ids) != count {
		t.Fatalf("%d distinct records delivered, want %d", len(ids), count)
	}
}

func waitObjects(t *testing.T, c *s3.Client, bucket, prefix string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		if err == nil && len(out.Contents) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d objects under %s after %s", n, prefix, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunWrongCredentials: a wrong secret key stops the run with exit 1 and an error that names the
// destination and the credential, without printing the secret.
func TestRunWrongCredentials(t *testing.T) {
	srv := s3test.Start(t)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	in, _ := input(t, dir, 10)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-creds", fmt.Sprintf("{type: file, paths: [%q]}", in), "s3_compatible", fmt.Sprintf(`  bucket_path: logs/creds
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_WRONG_SECRET}
  force_path_style: true
`, srv.URL), token("logs", "creds", "e2e-creds")))
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv("E2E_WRONG_SECRET=definitely-wrong-secret"), Timeout: 2 * time.Minute}, "run", task)
	if res.ExitCode == 0 {
		t.Fatalf("exit 0 with a wrong secret\n%s", res.Output())
	}
	// The key ID is masked (config.MaskKeyID): s3test.AccessKey is "esatestroot".
	if !strings.Contains(res.Stderr, "esa_s3_verified") || !strings.Contains(res.Stderr, `secret_access_key does not match access_key_id "esat****oot"`) {
		t.Fatalf("unclear error:\n%s", res.Output())
	}
	for _, secret := range []string{"definitely-wrong-secret", s3test.AccessKey} {
		if strings.Contains(res.Output(), secret) {
			t.Fatalf("%q was printed:\n%s", secret, res.Output())
		}
	}
	noSecrets(t, res.Output())
	if objs := readObjects(t, admin, "logs", "creds/"); len(objs) != 0 {
		t.Fatalf("%d objects delivered with wrong credentials", len(objs))
	}
}

// TestOwnership: without a token the run refuses to deliver and names the challenge object; `verify`
// writes it and prints where it is; a token for another bucket, path or task is refused; the
// challenge's content delivers. The secret is never printed.
func TestOwnership(t *testing.T) {
	srv := s3test.Start(t)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	createBucket(t, admin, "other")
	dir := t.TempDir()
	in, want := input(t, dir, 300)
	dest := fmt.Sprintf(`  bucket_path: logs/own/
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
`, srv.URL)
	source := fmt.Sprintf("{type: file, paths: [%q]}", in)
	const challenge = "s3://logs/own/esa-ownership-e2e-own.txt"
	run := func(tok string) testutil.Result {
		task := writeFile(t, dir, "task.yaml", taskYAML("e2e-own", source, "s3_compatible", dest, tok))
		res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv(), Timeout: 2 * time.Minute}, "run", task)
		noSecrets(t, res.Output())
		return res
	}

	// Missing token.
	res := run("")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, challenge) || !strings.Contains(res.Stderr, "ownership_token") {
		t.Fatalf("missing token: exit %d\n%s", res.ExitCode, res.Output())
	}
	if objs := readObjects(t, admin, "logs", "own/"); len(objs) != 0 {
		t.Fatal("delivered without ownership")
	}

	// verify writes a fresh challenge and prints where it is.
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-own", source, "s3_compatible", dest, ""))
	vres := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv(), Timeout: time.Minute}, "verify", task)
	if vres.ExitCode != 0 || !strings.Contains(vres.Stdout, challenge) {
		t.Fatalf("verify: exit %d\n%s", vres.ExitCode, vres.Output())
	}
	noSecrets(t, vres.Output())
	g, err := admin.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("own/esa-ownership-e2e-own.txt")})
	if err != nil {
		t.Fatal(err)
	}
	buf := new(strings.Builder)
	_, _ = fmt.Fprint(buf, readAll(t, g))
	tok := strings.TrimSpace(buf.String())
	if strings.Contains(vres.Output(), tok) {
		t.Fatal("verify printed the token instead of making the user read it from the bucket")
	}
	// verify without the secret fails clearly.
	nres := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Env: append(baseEnv(), "ESA_OWNERSHIP_SECRET="), Timeout: time.Minute}, "verify", task)
	if nres.ExitCode == 0 || !strings.Contains(nres.Output(), "ESA_OWNERSHIP_SECRET") {
		t.Fatalf("verify without a secret: exit %d\n%s", nres.ExitCode, nres.Output())
	}

	// Wrong tokens: another bucket, another path, another task.
	for name, bad := range map[string]string{
		"other bucket": token("other", "own", "e2e-own"),
		"other path":   token("logs", "own/x", "e2e-own"),
		"other task":   token("logs", "own", "another-task"),
	} {
		res := run(bad)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, challenge) || !strings.Contains(res.Stderr, "does not verify") {
			t.Fatalf("%s: exit %d\n%s", name, res.ExitCode, res.Output())
		}
	}
	if objs := readObjects(t, admin, "logs", "own/"); len(objs) != 0 {
		t.Fatal("delivered with a wrong token")
	}

	// The challenge's content delivers.
	res = run(tok)
	if res.ExitCode != 0 {
		t.Fatalf("right token: exit %d\n%s", res.ExitCode, res.Output())
	}
	checkObjects(t, readObjects(t, admin, "logs", "own/"), want, "own", "e2e-own")
}

func readAll(t *testing.T, g *s3.GetObjectOutput) string {
	t.Helper()
	defer g.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := g.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestRunShutdownFlushes: records sit in a partial batch (default object batching: 100,000 records,
// 64 MiB, 60 s); SIGTERM makes esa-connect upload that batch before exiting, and the HTTP ingest
// request, which waits for delivery, gets 200.
func TestRunShutdownFlushes(t *testing.T) {
	srv := s3test.Start(t)
	admin := adminClient(t, srv, "")
	createBucket(t, admin, "logs")
	dir := t.TempDir()
	in, want := input(t, dir, 900) // fewer than one input batch: stays in order in one object
	body, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	addr := testutil.FreeAddr(t)
	task := writeFile(t, dir, "task.yaml", taskYAML("e2e-flush", fmt.Sprintf("{type: http, address: %q, path: /v1/logs}", addr), "s3_compatible", fmt.Sprintf(`  bucket_path: logs/flush
  region: us-east-1
  endpoint: %s
  access_key_id: ${E2E_S3_KEY}
  secret_access_key: ${E2E_S3_SECRET}
  force_path_style: true
`, srv.URL), token("logs", "flush", "e2e-flush")))
	p := testutil.StartBinary(t, testutil.RunOptions{Dir: dir, Env: baseEnv("ESA_HTTP_ADDRESS=127.0.0.1:0")}, "run", task)
	p.WaitTCP(t, addr)
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	sent := make(chan struct{})
	go func() {
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write(body)
			close(sent)
			_ = pw.Close()
		}()
		resp, err := http.Post("http://"+addr+"/v1/logs", "application/x-ndjson", pr)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	<-sent
	time.Sleep(time.Second) // let the server take the request in; no object can be due for 60 s
	if objs := readObjects(t, admin, "logs", "flush/"); len(objs) != 0 {
		t.Fatalf("%d objects before the shutdown: the batch was not partial", len(objs))
	}
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	res := p.Wait(t, time.Minute)
	r := <-done
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("ingest request: %d %v\n%s", r.status, r.err, res.Output())
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", res.ExitCode, res.Output())
	}
	checkObjects(t, readObjects(t, admin, "logs", "flush/"), want, "flush", "e2e-flush")
}
