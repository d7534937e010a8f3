package console

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/klauspost/compress/gzip"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/esa-connect/esa-connect/plugins/s3verified"
	"github.com/esa-connect/esa-connect/tests/servers/s3test"
)

// filterSpec is one condition row of the create flow.
type filterSpec struct{ field, op, value string }

// taskSpec is a task as a user fills the create flow in.
type taskSpec struct {
	name, category, site string
	fields               []string // nil: the default selection (every field)
	up                   string   // a field to move up once in the delivery order
	rate                 string
	filters              []filterSpec
	dest                 string            // ESA's DeliveryType
	params               map[string]string // destination parameter (ESA member, dots for nested) → value
	checks               []string          // bool parameters to switch on
	shots                bool              // a screenshot of every step
}

// signIn signs in through the sign-in page, typing with the keyboard only.
func (b *browser) signIn(id, secret string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base + "/console/"))
	b.wait(`document.activeElement && document.activeElement.id === 'key-id'`)
	b.run(chromedp.KeyEvent(id + "\t" + secret + "\r"))
}

// create fills the four steps of the create flow for spec and clicks Create; it returns when the
// page shows the created task or the refusal.
func (b *browser) create(spec taskSpec) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base + "/console/#/"))
	b.wait(`document.querySelector('#create-task')`)
	b.click("#create-task")
	b.wait(`document.querySelector('#task-name') || document.querySelector('#start-over')`)
	if b.text("#draft-kept") != "" {
		b.click("#start-over")
		b.wait(`document.querySelector('#task-name')`)
	}
	shot := func(name string) {
		if spec.shots {
			b.shot(spec.name + "-" + name)
		}
	}
	b.typeIn("#task-name", spec.name)
	if spec.category != "" && spec.category != "access" {
		b.click("#cat-" + spec.category)
	}
	if spec.site != "" {
		b.typeIn("#site-id", spec.site)
	}
	b.checkLabels("step 1")
	shot("step1")
	b.click("#wizard-next")
	b.wait(`document.querySelector('#field-list')`)
	if spec.fields != nil {
		b.click("#select-none")
		for _, f := range spec.fields {
			b.set("#field-search", f)
			b.click(fmt.Sprintf(`input[data-field=%q]`, f))
		}
		b.set("#field-search", "")
	}
	if spec.up != "" {
		b.click(fmt.Sprintf(`#field-order button[data-key="up:%s"]`, spec.up))
	}
	if spec.rate != "" {
		b.set("#sampling-rate", spec.rate)
	}
	for i, f := range spec.filters {
		b.click("#add-condition")
		b.set(fmt.Sprintf("#cond-field-%d", i), f.field)
		b.set(fmt.Sprintf("#cond-op-%d", i), f.op)
		if f.value != "" {
			b.set(fmt.Sprintf("#cond-value-%d", i), f.value)
		}
	}
	b.checkLabels("step 2")
	shot("step2")
	b.click("#wizard-next")
	b.wait(`document.querySelector('#dest-http')`)
	b.click("#dest-" + spec.dest)
	b.checkLabels("step 3")
	shot("step3")
	b.click("#wizard-next")
	b.wait(`document.querySelector('#params')`)
	for _, c := range spec.checks {
		b.click("#p-" + strings.ReplaceAll(c, ".", "-"))
	}
	keys := make([]string, 0, len(spec.params))
	for k := range spec.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.set("#p-"+strings.ReplaceAll(k, ".", "-"), spec.params[k])
	}
	b.wait(`document.querySelector('#review pre')`)
	for _, k := range []string{"SecretKey", "Password", "StandardAuthParam.PrivateKey"} {
		if v := spec.params[k]; v != "" && strings.Contains(b.text("#review"), v) {
			b.t.Errorf("the review shows the secret %s", k)
		}
	}
	b.checkLabels("step 4")
	shot("step4")
	b.click("#wizard-create")
	b.wait(`document.querySelector('#created') || document.querySelector('#create-error')`)
}

// TestConsoleSignIn: every page sends a stranger to the sign-in page; a wrong key pair is refused with
// a message; the right one opens the console; signing out ends the session. Keyboard only.
func TestConsoleSignIn(t *testing.T) {
	s := startServe(t)
	b := newBrowser(t, s.base, 1280, 800)
	b.run(chromedp.Navigate(s.base + "/console/#/create"))
	b.wait(`location.pathname === '/console/signin' && document.querySelector('#key-id')`)
	b.checkLabels("sign-in")
	b.shot("signin")

	b.signIn(keyID, "not-the-secret")
	b.waitText("#signin-error", "Wrong AccessKey ID or secret")
	b.wait(`document.activeElement && document.activeElement.id === 'key-secret'`)
	b.shot("signin-refused")
	if b.text("body") == "" || strings.Contains(b.text("body"), keySecret) {
		t.Fatal("the page shows the secret")
	}

	b.signIn(keyID, keySecret)
	b.waitText("#task-table", "No delivery tasks yet")
	b.waitText("#user-key", "LTAI")
	if got := b.text("#user-key"); strings.Contains(got, keyID) {
		t.Errorf("the header shows the whole AccessKey ID: %s", got)
	}
	b.shot("tasks-empty")

	b.click("#signout")
	b.wait(`location.pathname === '/console/signin'`)
	b.run(chromedp.Navigate(s.base + "/console/"))
	b.wait(`location.pathname === '/console/signin' && document.querySelector('#key-id')`)

	b.resize(420, 800)
	b.shot("signin-narrow")
	if o := b.overflow(); len(o) > 0 {
		t.Errorf("the sign-in page does not fit 420 px: %v", o)
	}
}

// TestConsoleEveryDestination creates one task of every destination type through the four steps,
// against real destinations: an HTTP receiver, kfake, versitygw (AWS S3 and S3-compatible, with the
// ownership step), a directory. SLS and OSS: ESA's SlsDelivery and OssDelivery have no member for an
// endpoint or credentials, so the tasks cannot point at tests/servers/slstest or osstest; serve runs
// without Alibaba Cloud credentials and the page shows Create's refusal next to the destination.
// Then records POSTed to the ingest are delivered and the list shows the health; pause and delete.
func TestConsoleEveryDestination(t *testing.T) {
	sk := startSink(t)
	kc, err := kfake.NewCluster(kfake.SeedTopics(1, "esa-logs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	s3srv := s3test.Start(t)
	admin, err := s3verified.NewClient(context.Background(), s3verified.Config{BucketPath: "logs", Endpoint: s3srv.URL,
		ForcePathStyle: true, Region: "us-east-1", AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(t.TempDir(), "out")

	s := startServe(t)
	b := newBrowser(t, s.base, 1280, 800)
	b.signIn(keyID, keySecret)
	b.waitText("#task-table", "No delivery tasks yet")

	siteID := fmt.Sprint(site)
	// HTTP, every step on screen: three fields in a chosen order, a filter, the receiver.
	b.create(taskSpec{name: "web-http", site: siteID, fields: []string{"ClientRequestID", "ClientIP", "EdgeResponseStatusCode"},
		up: "EdgeResponseStatusCode", filters: []filterSpec{{"EdgeResponseStatusCode", "equals", "200"}},
		dest: "http", params: map[string]string{"DestUrl": sk.URL("web-http")}, shots: true})
	b.waitText("#created", "Task web-http created")
	b.shot("web-http-created")

	b.create(taskSpec{name: "web-kafka", site: siteID, fields: []string{"EdgeStartTimestamp", "ClientRequestID"}, dest: "kafka",
		params: map[string]string{"Brokers": strings.Join(kc.ListenAddrs(), "\n"), "Topic": "esa-logs", "Compress": "lz4"}, shots: true})
	b.waitText("#created", "Task web-kafka created")

	b.create(taskSpec{name: "web-local", site: siteID, fields: []string{"ClientRequestID"}, rate: "100", dest: "local",
		params: map[string]string{"Path": outDir}})
	b.waitText("#created", "Task web-local created")

	// S3-compatible: Create writes the challenge; its content, pasted in, verifies the bucket.
	b.create(taskSpec{name: "web-s3", site: siteID, fields: []string{"EdgeStartTimestamp", "ClientRequestID"}, dest: "aws3cmpt",
		params: map[string]string{"BucketPath": "logs/esa", "Endpoint": s3srv.URL, "Region": "us-east-1",
			"AccessKey": s3test.AccessKey, "SecretKey": s3test.SecretKey}, shots: true})
	b.waitText("#created", "pending verification")
	b.waitText("#challenge-path", "s3://logs/esa/esa-ownership-web-s3.txt")
	b.shot("web-s3-challenge")
	b.set("#ownership input", "v1.1.forged.AAAA")
	b.click("#verify-ownership")
	b.waitText("#ownership .error", "ownership token")
	b.shot("web-s3-wrong-token")
	b.set("#ownership input", challenge(t, admin, "esa/esa-ownership-web-s3.txt"))
	b.click("#verify-ownership")
	b.waitText("#ownership", "Ownership verified")
	b.waitText("#created-state", "online")
	b.shot("web-s3-verified")
	if strings.Contains(b.text("body"), s3test.SecretKey) {
		t.Error("the page shows the S3 secret key")
	}

	// AWS S3 (here versitygw too, through ESA's Endpoint member): left waiting for its token.
	b.create(taskSpec{name: "web-aws3", site: siteID, fields: []string{"ClientRequestID"}, dest: "aws3",
		params: map[string]string{"BucketPath": "logs/aws", "Endpoint": s3srv.URL, "Region": "us-east-1",
			"AccessKey": s3test.AccessKey, "SecretKey": s3test.SecretKey}, checks: []string{"ServerSideEncryption"}})
	b.waitText("#challenge-path", "s3://logs/aws/esa-ownership-web-aws3.txt")

	// SLS and OSS: created as ESA's parameters allow; serve has no Alibaba Cloud keys, so Create
	// refuses them and the page says why, beside the destination.
	b.create(taskSpec{name: "web-sls", site: siteID, fields: []string{"ClientRequestID"}, dest: "sls",
		params: map[string]string{"SLSProject": "esa-project", "SLSLogStore": "access", "SLSRegion": "cn-hangzhou"}, shots: true})
	b.waitText("#create-error", "ALIBABA_CLOUD_ACCESS_KEY_ID")
	b.shot("web-sls-refused")
	b.create(taskSpec{name: "web-oss", site: siteID, fields: []string{"ClientRequestID"}, dest: "oss",
		params: map[string]string{"BucketName": "esa-bucket", "Region": "cn-hangzhou", "PrefixPath": "esa/access"}})
	b.waitText("#create-error", "ALIBABA_CLOUD_ACCESS_KEY_ID")
	b.shot("web-oss-refused")

	// Records: POSTed to the ingest, delivered by every online task.
	body, ids := records("c", 60)
	if code, ans := s.ingest(t, "access", body); code != 200 {
		t.Fatalf("ingest: %d %s", code, ans)
	}
	got := sk.Records("web-http")
	if len(got) != 20 {
		t.Fatalf("the HTTP receiver got %d records, want the 20 with status 200", len(got))
	}
	for _, r := range got {
		if len(r) != 3 || r["EdgeResponseStatusCode"] != float64(200) || r["ClientIP"] == nil {
			t.Fatalf("record %v: want ClientRequestID, EdgeResponseStatusCode, ClientIP", r)
		}
	}
	if n := len(consumeKafka(t, kc.ListenAddrs(), "esa-logs", 60)); n != 60 {
		t.Errorf("kafka holds %d records, want 60", n)
	}
	if got := bucketIDs(t, admin, "esa/"); strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("the S3-compatible bucket holds %d records, want the 60 sent", len(got))
	}

	b.run(chromedp.Navigate(s.base + "/console/#/"))
	b.wait(`document.querySelector('#task-table table')`)
	b.waitText(`tr[data-task="web-http"] [data-count="delivered"]`, "20")
	b.waitText(`tr[data-task="web-http"] .health-cell`, "Last delivery")
	b.waitText(`tr[data-task="web-kafka"] [data-count="delivered"]`, "60")
	b.waitText(`tr[data-task="web-aws3"]`, "pending verification")
	for _, name := range []string{"web-http", "web-kafka", "web-local", "web-s3", "web-aws3"} {
		if !strings.Contains(b.text("#task-table"), name) {
			t.Errorf("the list lacks %s", name)
		}
	}
	if strings.Contains(b.text("#task-table"), "web-sls") || strings.Contains(b.text("#task-table"), "web-oss") {
		t.Error("a refused task is listed")
	}
	b.checkLabels("task list")
	b.shot("tasks")

	// Pause: the status changes; records sent now are not delivered to the paused task.
	b.click(`button[data-key="pause:web-http"]`)
	b.waitText(`tr[data-task="web-http"]`, "offline")
	b.waitText(`tr[data-task="web-http"] button[data-key="resume:web-http"]`, "Resume")
	b.shot("tasks-paused")
	b.wait(`document.querySelector('#toast').hidden`)
	b.view("tasks-1280x800") // docs/console.png
	if code, _ := s.ingest(t, "access", body); code != 200 {
		t.Fatalf("ingest while paused: %d", code)
	}
	if n := len(sk.Records("web-http")); n != 20 {
		t.Errorf("a paused task received records: %d", n)
	}
	// The local task wrote every record of both requests.
	b.waitText(`tr[data-task="web-local"] [data-count="delivered"]`, "120")
	if n := localRecords(t, outDir); n != 120 {
		t.Errorf("the local directory holds %d records, want 120", n)
	}

	// Delete, with its confirmation.
	b.click(`button[data-key="delete:web-local"]`)
	b.wait(`document.querySelector('dialog[open]')`)
	b.wait(`document.activeElement && document.activeElement.textContent === 'Cancel'`)
	b.shot("delete-confirm")
	b.click("#confirm-delete")
	b.wait(`!document.querySelector('tr[data-task="web-local"]')`)
	b.shot("tasks-after-delete")

	// The same at a narrow width.
	b.resize(420, 900)
	b.run(chromedp.Navigate(s.base + "/console/#/"))
	b.wait(`document.querySelector('#task-table table')`)
	b.shot("tasks-narrow")
	if o := b.overflow(); len(o) > 0 {
		t.Errorf("the task list does not fit 420 px: %v", o)
	}
}

// challenge reads the ownership challenge object (the token).
func challenge(t *testing.T, c *s3.Client, key string) string {
	t.Helper()
	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	b, _ := io.ReadAll(obj.Body)
	return strings.TrimSpace(string(b))
}

// bucketIDs returns the ClientRequestID of every record of the objects under prefix of bucket logs.
func bucketIDs(t *testing.T, c *s3.Client, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range l.Contents {
		if strings.Contains(aws.ToString(o.Key), "esa-ownership-") {
			continue
		}
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ndjsonIDs(t, g.Body)...)
		g.Body.Close()
	}
	return ids
}

func ndjsonIDs(t *testing.T, r io.Reader) []string {
	t.Helper()
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(zr)
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if i := strings.Index(line, `"ClientRequestID":"`); i >= 0 {
			rest := line[i+len(`"ClientRequestID":"`):]
			ids = append(ids, rest[:strings.IndexByte(rest, '"')])
		}
	}
	return ids
}

// localRecords counts the records of the gzip NDJSON objects under dir.
func localRecords(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".gz") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n += len(ndjsonIDs(t, f))
		return nil
	})
	return n
}

// consumeKafka reads topic from the start until want records arrived (or 20 s).
func consumeKafka(t *testing.T, addrs []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && len(out) < want {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		out = append(out, cl.PollFetches(ctx).Records()...)
		cancel()
	}
	return out
}

// TestConsoleKeyboard: the create flow's first step is done with the keyboard alone: the name field
// has the focus, Tab reaches the categories, the arrow keys choose one, Tab the site, Enter on Next.
func TestConsoleKeyboard(t *testing.T) {
	s := startServe(t)
	b := newBrowser(t, s.base, 1280, 800)
	b.signIn(keyID, keySecret)
	b.wait(`document.querySelector('#create-task')`)
	b.click("#create-task")
	b.wait(`document.activeElement && document.activeElement.id === 'task-name'`)
	b.run(chromedp.KeyEvent("by-keyboard\t"))
	b.wait(`document.activeElement && document.activeElement.id === 'cat-access'`)
	b.run(chromedp.KeyEvent(kb.ArrowRight))
	b.wait(`document.activeElement && document.activeElement.id === 'cat-firewall' && document.activeElement.checked`)
	b.run(chromedp.KeyEvent("\t7301\t\t\t"))
	b.wait(`document.activeElement && document.activeElement.id === 'wizard-next'`)
	b.shot("step1-keyboard")
	b.run(chromedp.KeyEvent("\r"))
	b.wait(`document.querySelector('#field-list')`)
	b.waitText("#field-list", "ManagedRuleType") // a field of the firewall log
	b.wait(`document.activeElement && document.activeElement.id === 'field-search'`)
	b.shot("step2-keyboard")
}
