package serve

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	esa "github.com/alibabacloud-go/esa-20240910/v3/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/esa-connect/esa-connect/plugins/s3verified"
	"github.com/esa-connect/esa-connect/tests/servers/s3test"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

const ownershipSecret = "serve-ownership-secret-0123456789abcdef"

func s3Task(name, endpoint, secretKey string) *esa.CreateSiteDeliveryTaskRequest {
	return new(esa.CreateSiteDeliveryTaskRequest).
		SetTaskName(name).SetBusinessType("access").SetSiteId(site).SetDeliveryType("aws3cmpt").
		SetFieldName("EdgeStartTimestamp,ClientRequestID").SetDiscardRate(0).
		SetS3Delivery(new(esa.CreateSiteDeliveryTaskRequestS3Delivery).SetBucketPath("logs/esa").
			SetEndpoint(endpoint).SetRegion("us-east-1").SetAccessKey(s3test.AccessKey).SetSecretKey(secretKey).SetS3Cmpt(true))
}

// post sends a JSON body with the bearer token and returns the status and answer.
func (s *server) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeS3Ownership: an S3-compatible task follows ESA's console: Create writes the challenge
// object and the task waits offline (pending_verification, naming the object); a wrong token is
// refused; the challenge's content puts it online and records arrive in the bucket. Credentials the
// store rejects fail the Create and nothing is created.
func TestServeS3Ownership(t *testing.T) {
	srv := s3test.Start(t)
	admin, err := s3verified.NewClient(context.Background(), s3verified.Config{BucketPath: "logs", Endpoint: srv.URL,
		ForcePathStyle: true, Region: "us-east-1", AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, t.TempDir(), "ESA_OWNERSHIP_SECRET="+ownershipSecret)
	cl := s.client(t, keyID, keySecret)

	_, err = cl.CreateSiteDeliveryTask(s3Task("badkey", srv.URL, "not-the-secret-key"))
	if c, msg := sdkError(err); c != "InvalidDestination" || !strings.Contains(msg, "esa-ownership-badkey.txt") {
		t.Fatalf("wrong S3 secret key: %q %s", c, msg)
	}
	if strings.Contains(err.Error(), "not-the-secret-key") {
		t.Fatalf("the refusal shows the secret: %v", err)
	}

	created, err := cl.CreateSiteDeliveryTask(s3Task("own", srv.URL, s3test.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	if st := dara.StringValue(created.Body.TaskName); st != "own" {
		t.Fatalf("create answered %v", created.Body)
	}
	h := s.status(t, "own")
	if h["status"] != "pending_verification" || !strings.Contains(h["reason"].(string), "s3://logs/esa/esa-ownership-own.txt") {
		t.Fatalf("status after create: %v", h)
	}
	body, want := records("s3", 100)
	if code, _ := s.ingest(t, sitePath("access"), body, token); code != 200 {
		t.Fatalf("ingest: %d", code)
	}

	if code, ans := s.post(t, "/v1/tasks/own/verify", `{"token":"v1.1.x.AAAA"}`); code != 400 {
		t.Fatalf("a wrong token: %d %s", code, ans)
	}
	obj, err := admin.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("esa/esa-ownership-own.txt")})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	// esa-connect tasks verify calls the native endpoint with the bearer token.
	res := testutil.RunBinary(t, testutil.RunOptions{Env: []string{"ESA_CONNECT_INGEST_TOKEN=" + token}},
		"tasks", "verify", "--endpoint", s.addr, "--json", "own", strings.TrimSpace(string(tok)))
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"status": "online"`) {
		t.Fatalf("tasks verify: exit %d\n%s", res.ExitCode, res.Output())
	}
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 {
		t.Fatalf("ingest after verification: %d %s", code, ans)
	}
	got := readBucket(t, admin, "logs", "esa/")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the bucket holds %d records, want the %d sent after verification", len(got), len(want))
	}
	g, err := cl.GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).SetSiteId(site).SetTaskName("own"))
	if err != nil || dara.StringValue(g.Body.Status) != "online" {
		t.Fatalf("get after verification: %v %v", err, g)
	}
	if sc, _ := json.Marshal(g.Body.SinkConfig); strings.Contains(string(sc), s3test.SecretKey) {
		t.Fatalf("Get shows the secret key: %s", sc)
	}
}

// readBucket returns the ClientRequestID of every record of the objects under prefix.
func readBucket(t *testing.T, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range l.Contents {
		if strings.Contains(aws.ToString(o.Key), "esa-ownership-") {
			continue
		}
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(g.Body)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(zr)
		g.Body.Close()
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var r struct{ ClientRequestID string }
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %v", aws.ToString(o.Key), err)
			}
			ids = append(ids, r.ClientRequestID)
		}
	}
	return ids
}

// TestServeLocalCheck: a destination directory that cannot be created fails the Create with the
// reason, and nothing is created.
func TestServeLocalCheck(t *testing.T) {
	s := startServe(t, t.TempDir())
	cl := s.client(t, keyID, keySecret)
	file := filepath.Join(t.TempDir(), "file")
	if code, _ := s.post(t, "/nothing", ""); code != 404 {
		t.Fatalf("unknown endpoint: %d", code)
	}
	writeFile(t, file)
	req := new(esa.CreateSiteDeliveryTaskRequest).SetTaskName("local").SetBusinessType("access").SetSiteId(site).
		SetDeliveryType("local").SetFieldName("ClientRequestID").SetDiscardRate(0)
	_, err := createWithSink(cl, req, map[string]any{"Path": filepath.Join(file, "sub")})
	if c, msg := sdkError(err); c != "InvalidDestination" || !strings.Contains(msg, "cannot write") {
		t.Fatalf("an unwritable directory: %q %s", c, msg)
	}
	l, err := cl.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(site))
	if err != nil || dara.Int32Value(l.Body.TotalCount) != 0 {
		t.Fatalf("a refused task exists: %v %v", err, l)
	}
	// Within a second the same name can be created with a good directory.
	if _, err := createWithSink(cl, req, map[string]any{"Path": t.TempDir()}); err != nil {
		t.Fatalf("create with a writable directory: %v", err)
	}
}

// createWithSink sends CreateSiteDeliveryTask with req's parameters plus a SinkConfig (which the SDK's
// typed request has no member for) through the SDK's generic CallApi: signed as the typed call is.
func createWithSink(cl *esa.Client, req *esa.CreateSiteDeliveryTaskRequest, sink map[string]any) (map[string]any, error) {
	return createWith(cl, req, map[string]any{"SinkConfig": sink})
}

// createWith sends CreateSiteDeliveryTask with req's parameters plus extra parameters (objects as JSON
// strings, as ESA's form parameters carry them) through the SDK's generic CallApi.
func createWith(cl *esa.Client, req *esa.CreateSiteDeliveryTaskRequest, extra map[string]any) (map[string]any, error) {
	body := map[string]any{"TaskName": req.TaskName, "BusinessType": req.BusinessType, "SiteId": req.SiteId,
		"DeliveryType": req.DeliveryType, "FieldName": req.FieldName, "DiscardRate": req.DiscardRate}
	if req.HttpDelivery != nil {
		hd, _ := json.Marshal(req.HttpDelivery)
		body["HttpDelivery"] = string(hd)
	}
	for k, v := range extra {
		b, _ := json.Marshal(v)
		body[k] = string(b)
	}
	params := &openapiutil.Params{
		Action: dara.String("CreateSiteDeliveryTask"), Version: dara.String("2024-09-10"), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json"),
	}
	return cl.CallApi(params, &openapiutil.OpenApiRequest{Body: openapiutil.ParseToMap(body)}, &dara.RuntimeOptions{})
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// callAction sends any action with text parameters through the SDK's generic CallApi (POST form).
func callAction(cl *esa.Client, action string, body map[string]any) (map[string]any, error) {
	params := &openapiutil.Params{
		Action: dara.String(action), Version: dara.String("2024-09-10"), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json"),
	}
	return cl.CallApi(params, &openapiutil.OpenApiRequest{Body: openapiutil.ParseToMap(body)}, &dara.RuntimeOptions{})
}

// TestServeUpdateDestinationAndStatus: an Update can move a task to another destination type (the old
// destination's parameters go); a Create with Status offline creates the task paused.
func TestServeUpdateDestinationAndStatus(t *testing.T) {
	sk := startSink(t)
	s := startServe(t, t.TempDir())
	cl := s.client(t, keyID, keySecret)
	if _, err := cl.CreateSiteDeliveryTask(httpTask("move", "ClientRequestID", sk.URL("move"))); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sink, _ := json.Marshal(map[string]string{"Path": dir})
	if _, err := callAction(cl, "UpdateSiteDeliveryTask", map[string]any{"SiteId": site, "TaskName": "move",
		"DeliveryType": "local", "SinkConfig": string(sink)}); err != nil {
		t.Fatalf("update to local: %v", err)
	}
	body, _ := records("moved", 10)
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 {
		t.Fatalf("ingest: %d %s", code, ans)
	}
	if n := len(sk.Records("move")); n != 0 {
		t.Fatalf("the old destination received %d records after the update", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "move_*.log.gz"))
	if len(files) == 0 {
		t.Fatalf("no object under %s after the update", dir)
	}
	g, err := cl.GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).SetSiteId(site).SetTaskName("move"))
	if err != nil || dara.StringValue(g.Body.DeliveryType) != "local" {
		t.Fatalf("get after the update: %v %v", err, g)
	}

	_, err = callAction(cl, "CreateSiteDeliveryTask", map[string]any{"SiteId": site, "TaskName": "paused2",
		"BusinessType": "access", "FieldName": "ClientRequestID", "DeliveryType": "http", "Status": "offline",
		"HttpDelivery": `{"DestUrl":"` + sk.URL("paused2") + `"}`})
	if err != nil {
		t.Fatal(err)
	}
	if h := s.status(t, "paused2"); h["status"] != "offline" || h["running"] != false {
		t.Fatalf("a task created with Status offline: %v", h)
	}
	if code, _ := s.ingest(t, sitePath("access"), body, token); code != 200 || len(sk.Records("paused2")) != 0 {
		t.Fatalf("a task created offline received records")
	}
}
