package serve

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// cliPrivateKey signs the HTTP deliveries of the task created by the CLI: the receiver verifies it, so
// a delivery proves that the CLI sent the real secret (a Get shows it masked).
const cliPrivateKey = "cliKey0123456789"

// cli runs `esa-connect tasks ARGS` against a serve with the test's key pair (or env's).
type cli struct {
	t   *testing.T
	env []string
	all []string // every output, to check that no secret is printed
}

func (s *server) cli(t *testing.T, env ...string) *cli {
	return &cli{t: t, env: append([]string{"ESA_CONNECT_ACCESS_KEY_ID=" + keyID, "ESA_CONNECT_ACCESS_KEY_SECRET=" + keySecret,
		"ESA_CONNECT_INGEST_TOKEN=" + token, "ESA_CONNECT_ENDPOINT=http://" + s.addr}, env...)}
}

func (c *cli) run(args ...string) testutil.Result {
	c.t.Helper()
	res := testutil.RunBinary(c.t, testutil.RunOptions{Env: c.env}, append([]string{"tasks"}, args...)...)
	c.all = append(c.all, res.Output())
	if strings.Contains(res.Output(), "goroutine ") || strings.Contains(res.Output(), "panic") {
		c.t.Fatalf("tasks %v: %s", args, res.Output())
	}
	return res
}

// ok runs and fails the test unless the command exits 0.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	res := c.run(args...)
	if res.ExitCode != 0 {
		c.t.Fatalf("tasks %s: exit %d: %s", strings.Join(args, " "), res.ExitCode, res.Output())
	}
	return res.Stdout
}

// fails runs and fails the test unless the command exits 1; it returns stderr.
func (c *cli) fails(args ...string) string {
	c.t.Helper()
	res := c.run(args...)
	if res.ExitCode != 1 {
		c.t.Fatalf("tasks %s: exit %d, want 1: %s", strings.Join(args, " "), res.ExitCode, res.Output())
	}
	return res.Stderr
}

func str(v any) string { s, _ := v.(string); return s }

func writeTaskFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// listed is the STATUS of each task of a list table.
func listed(t *testing.T, table string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "NAME CATEGORY SITE DESTINATION STATUS" {
		t.Fatalf("list header: %q", table)
	}
	out := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		out[f[0]] = f[1:]
	}
	return out
}

// TestTasksCLI: the whole life of tasks through `esa-connect tasks`, against a real serve, with
// records ingested and delivered to a receiver that verifies the auth key.
func TestTasksCLI(t *testing.T) {
	sk := startAuthSink(t, cliPrivateKey)
	plain := startSink(t)
	s := startServe(t, t.TempDir())
	c := s.cli(t)
	dir := t.TempDir()
	const siteFlag = "--site=7301"

	// Create from a native YAML file: http with auth, a filter, sampling.
	native := writeTaskFile(t, dir, "task.yaml", `
name: cli-http
category: access
site_id: 7301
fields: [EdgeStartTimestamp, ClientRequestID, EdgeResponseStatusCode]
sampling_rate: 50
sample_key: ClientRequestID
filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 201}
destination:
  type: http
  url: `+sk.URL("cli-http")+`
  auth: {private_key: `+cliPrivateKey+`, expired_time: 300}
  max_retry: 2
`)
	if out := c.ok("create", native); !strings.Contains(out, "created task cli-http (site 7301, online)") {
		t.Fatalf("create: %q", out)
	}

	// list shows it; account-level tasks are listed without --site.
	row := listed(t, c.ok("list", siteFlag))["cli-http"]
	if strings.Join(row, " ") != "access 7301 http online" {
		t.Errorf("list row: %v", row)
	}
	var lj struct {
		Tasks      []map[string]any
		TotalCount int
	}
	if err := json.Unmarshal([]byte(c.ok("list", "--site", "7301", "--json")), &lj); err != nil || lj.TotalCount != 1 || lj.Tasks[0]["TaskName"] != "cli-http" {
		t.Errorf("list --json: %v %+v", err, lj)
	}
	if res := c.run("list"); res.ExitCode != 0 || len(listed(t, res.Stdout)) != 0 || !strings.Contains(res.Stderr, "--site") {
		t.Errorf("list without --site: %s", res.Output())
	}

	// get: the task as YAML, with its fields, sampling, filter, masked secret and Health.
	var got map[string]any
	if err := yaml.Unmarshal([]byte(c.ok("get", "cli-http", siteFlag)), &got); err != nil {
		t.Fatal(err)
	}
	health, _ := got["Health"].(map[string]any)
	if got["FieldList"] != "EdgeStartTimestamp,ClientRequestID,EdgeResponseStatusCode" || got["DiscardRate"] != 0.5 ||
		!strings.Contains(str(got["FilterRules"]), `"EdgeResponseStatusCode"`) || got["Status"] != "online" ||
		health["status"] != "online" || health["running"] != true {
		t.Errorf("get: %v", got)
	}
	sinkConfig, _ := got["SinkConfig"].(map[string]any)
	if auth, _ := sinkConfig["StandardAuthParam"].(map[string]any); auth["PrivateKey"] != "******" {
		t.Errorf("get shows the private key as %v", auth["PrivateKey"])
	}
	if res := c.run("get", "cli-http"); res.ExitCode != 1 || !strings.Contains(res.Stderr, "esa-connect tasks: InvalidTaskName.NotFound: ") ||
		!strings.Contains(res.Stderr, "--site") {
		t.Errorf("get of a site task without --site: %s", res.Output())
	}

	// Records arrive filtered and sampled, signed with the real key.
	body, _ := records("a", 300)
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 {
		t.Fatalf("ingest: %d %s", code, ans)
	}
	delivered := sk.Records("cli-http")
	if n := len(delivered); n < 60 || n > 140 { // 200 pass the filter; about half are sampled
		t.Fatalf("delivered %d of the 200 that pass the filter at 50 %%", n)
	}
	for _, r := range delivered {
		if len(r) != 3 || r["EdgeResponseStatusCode"] == float64(200) {
			t.Fatalf("delivered %v", r)
		}
	}
	var st map[string]any
	if err := yaml.Unmarshal([]byte(c.ok("status", "cli-http")), &st); err != nil {
		t.Fatal(err)
	}
	if st["records_in"] != 300 || st["records_delivered"] != len(delivered) ||
		st["records_sampled_out"].(int)+st["records_filtered_out"].(int)+len(delivered) != 300 {
		t.Errorf("status after the ingest: %v", st)
	}

	// Pause: status offline, nothing delivered; resume.
	if out := c.ok("pause", "cli-http", siteFlag); strings.TrimSpace(out) != "task cli-http: offline" {
		t.Errorf("pause: %q", out)
	}
	if h := s.status(t, "cli-http"); h["status"] != "offline" {
		t.Errorf("status after pause: %v", h)
	}
	if !strings.Contains(c.ok("status", "cli-http"), "status: offline") {
		t.Errorf("tasks status after pause")
	}
	body, _ = records("paused", 30)
	if code, _ := s.ingest(t, sitePath("access"), body, token); code != 200 || len(sk.Records("cli-http")) != len(delivered) {
		t.Fatalf("a paused task received records")
	}
	if out := c.ok("resume", siteFlag, "cli-http"); strings.TrimSpace(out) != "task cli-http: online" {
		t.Errorf("resume: %q", out)
	}

	// Update from a file: other fields, no filter, no sampling.
	updated := writeTaskFile(t, dir, "task2.yaml", `
name: cli-http
category: access
site_id: 7301
fields: [ClientRequestID, ClientIP]
destination:
  type: http
  url: `+sk.URL("cli-http")+`
  auth: {private_key: `+cliPrivateKey+`, expired_time: 300}
`)
	if out := c.ok("update", "cli-http", updated); !strings.Contains(out, "updated task cli-http") {
		t.Errorf("update: %q", out)
	}
	body, want := records("u", 20)
	if code, ans := s.ingest(t, sitePath("access"), body, token); code != 200 {
		t.Fatalf("ingest after update: %d %s", code, ans)
	}
	after := sk.Records("cli-http")[len(delivered):]
	if strings.Join(ids(after), ",") != strings.Join(want, ",") {
		t.Fatalf("after the update delivered %v, want all of %v", ids(after), want)
	}
	if len(after[0]) != 2 || after[0]["ClientIP"] == nil {
		t.Errorf("after the update a record is %v", after[0])
	}
	if res := c.run("update", "other-name", updated); res.ExitCode != 1 || !strings.Contains(res.Stderr, "defines task cli-http") {
		t.Errorf("update of another name: %s", res.Output())
	}

	// Import an export (as tasks get prints it, Health included) whose Status is offline.
	export := writeTaskFile(t, dir, "export.yaml", `
TaskName: imported
BusinessType: dcdn_log_access_l1
SiteId: 7301
DataCenter: oversea
DeliveryType: http
DiscardRate: 0
FieldList: ClientRequestID
FilterRules: '[]'
Status: offline
SinkConfig: {DestUrl: "`+plain.URL("imported")+`", StandardAuthOn: false, MaxRetry: 1}
RequestId: 0B7E2F4A-0000-4000-8000-000000000000
Health: {status: online, records_in: 12}
`)
	if out := c.ok("import", export); !strings.Contains(out, "imported task imported (site 7301, offline)") {
		t.Errorf("import: %q", out)
	}
	rows := listed(t, c.ok("list", siteFlag, "--category", "dcdn_log_access_l1"))
	if strings.Join(rows["imported"], " ") != "access 7301 http offline" || strings.Join(rows["cli-http"], " ") != "access 7301 http online" {
		t.Errorf("list after import: %v", rows)
	}
	body, _ = records("i", 5)
	if code, _ := s.ingest(t, sitePath("access"), body, token); code != 200 || len(plain.Records("imported")) != 0 {
		t.Errorf("the imported offline task received records")
	}
	c.ok("resume", "imported", siteFlag)
	if code, _ := s.ingest(t, sitePath("access"), body, token); code != 200 || len(plain.Records("imported")) != 5 {
		t.Errorf("the resumed imported task received %d records", len(plain.Records("imported")))
	}

	// delete: refused without --yes off a terminal; done with it.
	if msg := c.fails("delete", "imported", siteFlag); !strings.Contains(msg, "--yes") {
		t.Errorf("delete without --yes: %s", msg)
	}
	if _, ok := listed(t, c.ok("list", siteFlag))["imported"]; !ok {
		t.Fatal("delete without --yes deleted the task")
	}
	if out := c.ok("delete", "imported", siteFlag, "--yes"); !strings.Contains(out, "deleted task imported") {
		t.Errorf("delete: %q", out)
	}
	if msg := c.fails("get", "imported", siteFlag); !strings.Contains(msg, "esa-connect tasks: InvalidTaskName.NotFound: ") {
		t.Errorf("get after delete: %s", msg)
	}

	// A wrong key: SignatureDoesNotMatch, exit 1, one line of ours.
	wrong := s.cli(t, "ESA_CONNECT_ACCESS_KEY_SECRET=wrong-secret-0123456789")
	if msg := wrong.fails("list", siteFlag); !strings.HasPrefix(msg, "esa-connect tasks: SignatureDoesNotMatch: ") {
		t.Errorf("wrong key: %s", msg)
	}
	if msg := s.cli(t, "ESA_CONNECT_ACCESS_KEY_ID=").fails("list", siteFlag); !strings.Contains(msg, "ESA_CONNECT_ACCESS_KEY_ID is not set") {
		t.Errorf("no key id: %s", msg)
	}

	// An invalid file: every problem with its path, nothing sent.
	bad := writeTaskFile(t, dir, "bad.yaml", `
name: bad
category: access
site_id: 7301
fields: [ClientIP, ClientIPP]
sampling_rate: 150
destination: {type: http, url: "ftp://x"}
`)
	msg := c.fails("create", bad)
	for _, want := range []string{"3 problems", `fields[1]: "ClientIPP"`, "sampling_rate: 150", "destination.url:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal of bad.yaml lacks %q: %s", want, msg)
		}
	}
	// Settings that ESA's parameters cannot carry are named, and nothing is sent either.
	sls := writeTaskFile(t, dir, "sls.yaml", `{name: sls, category: access, site_id: 7301, fields: [ClientIP],
  destination: {type: sls, project: p, logstore: l, region: cn-hangzhou, access_key_id: AKID, access_key_secret: sls-secret}}`)
	msg = c.fails("create", sls)
	if !strings.Contains(msg, "destination.access_key_id, destination.access_key_secret") || strings.Contains(msg, "sls-secret") {
		t.Errorf("the refusal of sls.yaml: %s", msg)
	}
	if rows := listed(t, c.ok("list", siteFlag)); len(rows) != 1 {
		t.Errorf("refused files created tasks: %v", rows)
	}

	for _, out := range c.all {
		if strings.Contains(out, cliPrivateKey) {
			t.Fatalf("a command printed the private key: %s", out)
		}
	}
}
