package translate_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/examples"
	"github.com/esa-connect/esa-connect/plugins"
	"github.com/esa-connect/esa-connect/translate"
)

var update = flag.Bool("update", false, "rewrite the translate/testdata/*.golden.yaml files")

// loadTestTask loads and validates a task definition from testdata.
func loadTestTask(t *testing.T, path string) *config.Task {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	task, err := config.Load(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return task
}

// taskFiles are the task definitions in testdata (not the golden files).
func taskFiles(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range all {
		if !strings.HasSuffix(p, ".golden.yaml") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no task definitions in testdata")
	}
	return out
}

// TestGolden translates every testdata task and compares the result with its golden file; run with
// -update to rewrite the golden files after a deliberate change.
func TestGolden(t *testing.T) {
	for _, path := range taskFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got, err := translate.Task(loadTestTask(t, path))
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".golden.yaml"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./translate -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("translation of %s differs from %s (run with -update if intended):\n--- got\n%s\n--- want\n%s", path, golden, got, want)
			}
		})
	}
}

// TestCoverage checks that the testdata covers every category, source and destination type.
func TestCoverage(t *testing.T) {
	cats, srcs, dests := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, path := range taskFiles(t) {
		task := loadTestTask(t, path)
		cats[task.Category] = true
		s := task.Source.Type
		if s == "" {
			s = "http"
		}
		srcs[s] = true
		dests[task.Destination.Type] = true
	}
	for _, c := range config.Categories() {
		if !cats[c.Name] {
			t.Errorf("no testdata task of category %s", c.Name)
		}
	}
	for _, s := range []string{"http", "file", "stdin", "generate", "kafka", "benthos"} {
		if !srcs[s] {
			t.Errorf("no testdata task with source %s", s)
		}
	}
	for _, d := range []string{"local", "s3", "s3_compatible", "oss", "sls", "http", "kafka"} {
		if !dests[d] {
			t.Errorf("no testdata task with destination %s", d)
		}
	}
}

// lintEnv is an environment with the Benthos components the binary has plus our plugins.
func lintEnv(t *testing.T) *service.Environment {
	t.Helper()
	env := service.NewEnvironment()
	if err := plugins.RegisterAll(env); err != nil {
		t.Fatal(err)
	}
	return env
}

// TestLint builds a stream from every translated config: the Benthos linter checks every component
// name and field against the registered specs, so a field the translator invents or misspells fails.
func TestLint(t *testing.T) {
	env := lintEnv(t)
	for _, path := range taskFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			conf, err := translate.Task(loadTestTask(t, path))
			if err != nil {
				t.Fatal(err)
			}
			LintConfig(t, env, conf)
		})
	}
}

// TestExamples validates, translates and lints every example task, and checks that there is one per
// destination type besides the quickstart.
func TestExamples(t *testing.T) {
	env := lintEnv(t)
	entries, err := examples.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	dests := map[string]bool{}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			data, err := examples.FS.ReadFile(e.Name())
			if err != nil {
				t.Fatal(err)
			}
			task, err := config.Load(data)
			if err != nil {
				t.Fatalf("examples/%s: %v", e.Name(), err)
			}
			dests[task.Destination.Type] = true
			if name := strings.TrimSuffix(e.Name(), ".yaml"); name != "quickstart" && name != task.Destination.Type {
				t.Errorf("examples/%s has destination %s; name it after its destination type", e.Name(), task.Destination.Type)
			}
			conf, err := translate.Task(task)
			if err != nil {
				t.Fatal(err)
			}
			if len(translate.Secrets(task)) != 0 {
				t.Errorf("examples/%s gives secrets literally; use ${ENV} references", e.Name())
			}
			LintConfig(t, env, conf)
		})
	}
	for _, d := range []string{"local", "s3", "s3_compatible", "oss", "sls", "http", "kafka"} {
		if !dests[d] {
			t.Errorf("no example task for destination %s", d)
		}
	}
	if !bytes.Equal(examples.Quickstart, mustRead(t, "../examples/quickstart.yaml")) {
		t.Error("examples.Quickstart is not examples/quickstart.yaml")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// LintConfig fails t when conf does not lint cleanly on env.
func LintConfig(t *testing.T, env *service.Environment, conf []byte) {
	t.Helper()
	b := env.NewStreamBuilder()
	if err := b.SetYAML(string(conf)); err != nil {
		t.Fatalf("lint: %v\n%s", err, conf)
	}
}

// TestSecretsNeverLiteral checks that literal secrets become ${ESA_<TASK>_<FIELD>} references whose
// values Secrets returns, and that ${VAR} references pass through.
func TestSecretsNeverLiteral(t *testing.T) {
	cases := []struct {
		file    string
		secrets map[string]string // literal secrets and the variable that must stand for them
		refs    []string          // references that must pass through
	}{
		{"s3_compatible_literal.yaml", map[string]string{
			"ESA_WAF_TO_MINIO_ACCESS_KEY_ID":     "minioadmin",
			"ESA_WAF_TO_MINIO_SECRET_ACCESS_KEY": "literal-secret-value",
		}, nil},
		{"oss_kafka_source.yaml", map[string]string{
			"ESA_L4_TO_OSS_SOURCE_SASL_PASSWORD": "source-password-literal",
		}, []string{"${ALIBABA_CLOUD_ACCESS_KEY_ID}", "${ALIBABA_CLOUD_ACCESS_KEY_SECRET}"}},
		{"sls_http_source.yaml", map[string]string{
			"ESA_DNS_TO_SLS_ACCESS_KEY_ID":     "LTAIexampleid",
			"ESA_DNS_TO_SLS_ACCESS_KEY_SECRET": "sls-secret-literal",
		}, []string{"${STS_TOKEN}"}},
		{"http_default_source.yaml", map[string]string{
			"ESA_ER_TO_HTTP_AUTH_PRIVATE_KEY":     "aliyuncdn1234",
			"ESA_ER_TO_HTTP_HEADER_AUTHORIZATION": "Bearer x",
		}, nil},
		// URL parts are the text of the URL, percent-encoded as written.
		{"http_secrets.yaml", map[string]string{
			"ESA_HTTP_SECRETS_URL_USER":            "uploader-4c1",
			"ESA_HTTP_SECRETS_URL_PASSWORD":        "p%40ss%3Aw0rd",
			"ESA_HTTP_SECRETS_URL_QUERY_TOKEN":     "tok%2Fen-9f3",
			"ESA_HTTP_SECRETS_URL_QUERY_SIG":       "sig-77ab",
			"ESA_HTTP_SECRETS_HEADER_X_API_KEY":    "a: b #c",
			"ESA_HTTP_SECRETS_HEADER_X_API_KEY_2":  "second-key-8d2",
			"ESA_HTTP_SECRETS_HEADER_COOKIE":       `session="q"; x='y'`,
			"ESA_HTTP_SECRETS_HEADER_X_AUTH_TOKEN": "!tag",
			"ESA_HTTP_SECRETS_HEADER_X_SESSION":    "*alias",
			"ESA_HTTP_SECRETS_HEADER_X_SECRET":     "null",
			"ESA_HTTP_SECRETS_QUERY_ACCESS_TOKEN":  " lead'",
			"ESA_HTTP_SECRETS_QUERY_SIGN":          `"dq"\`,
		}, []string{"Bearer ${TRACE_TOKEN}", "#   TRACE_TOKEN (destination.headers.X-Token-Trace)"}},
		{"http_ingest_secure.yaml", map[string]string{
			"ESA_SECURE_INGEST_SOURCE_AUTH_BEARER_TOKEN": "literal-ingest-token-0123456789",
		}, nil},
		{"kafka_benthos_source.yaml", map[string]string{}, []string{"${KAFKA_PASSWORD}"}},
		{"s3_file_deadletter.yaml", map[string]string{}, []string{"${AWS_ACCESS_KEY_ID}", "${AWS_SECRET_ACCESS_KEY}"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			task := loadTestTask(t, filepath.Join("testdata", c.file))
			conf, err := translate.Task(task)
			if err != nil {
				t.Fatal(err)
			}
			got := translate.Secrets(task)
			if len(got) != len(c.secrets) {
				t.Errorf("Secrets = %v, want the variables %v", keys(got), keys(c.secrets))
			}
			for name, value := range c.secrets {
				if got[name] != value {
					t.Errorf("Secrets()[%s] = %q, want %q", name, got[name], value)
				}
				if bytes.Contains(conf, []byte(value)) {
					t.Errorf("the literal secret of %s appears in the config", name)
				}
				if !bytes.Contains(conf, []byte("${"+name+"}")) {
					t.Errorf("the config does not reference ${%s}", name)
				}
				if !bytes.Contains(conf, []byte("#   "+name+" (")) {
					t.Errorf("the header comment does not list %s", name)
				}
			}
			for _, ref := range c.refs {
				if !bytes.Contains(conf, []byte(ref)) {
					t.Errorf("reference %s did not pass through", ref)
				}
			}
		})
	}
}

// TestStructure checks the parts of the translation that the golden files could get wrong silently:
// processor order, the filter omitted without filters, and dead-letter routing.
func TestStructure(t *testing.T) {
	type doc struct {
		Input    map[string]any `yaml:"input"`
		Pipeline struct {
			Processors []map[string]map[string]any `yaml:"processors"`
		} `yaml:"pipeline"`
		Output          map[string]any   `yaml:"output"`
		OutputResources []map[string]any `yaml:"output_resources"`
	}
	parse := func(t *testing.T, file string) doc {
		conf, err := translate.Task(loadTestTask(t, filepath.Join("testdata", file)))
		if err != nil {
			t.Fatal(err)
		}
		var d doc
		if err := yaml.Unmarshal(conf, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	procNames := func(d doc) string {
		var names []string
		for _, p := range d.Pipeline.Processors {
			for k := range p {
				names = append(names, k)
			}
		}
		return strings.Join(names, ",")
	}

	// An esa_* input samples and filters (its select field); only esa_fields is a processor.
	d := parse(t, "local_generate.yaml")
	if got := procNames(d); got != "esa_fields" {
		t.Errorf("processors = %s", got)
	}
	sel, _ := d.Input["esa_generate"].(map[string]any)["select"].(map[string]any)
	if sel["rate"] != 50 || sel["category"] != "access" || len(sel["conditions"].([]any)) != 2 || sel["route_invalid"] != false {
		t.Errorf("esa_generate.select = %v", sel)
	}
	if got := d.Pipeline.Processors[0]["esa_fields"]["route_invalid"]; got != false {
		t.Errorf("route_invalid without dead_letter = %v", got)
	}
	if _, ok := d.Output["esa_local"]; !ok {
		t.Errorf("output = %v, want esa_local", d.Output)
	}
	if d.OutputResources != nil {
		t.Errorf("output_resources without dead_letter: %v", d.OutputResources)
	}
	// Parquet columns are optional: esa_fields writes null, not the placeholders, for them only.
	if got := d.Pipeline.Processors[0]["esa_fields"]["missing_as_null"]; got != nil {
		t.Errorf("missing_as_null for ndjson = %v, want unset", got)
	}
	if got := parse(t, "local_parquet.yaml").Pipeline.Processors[0]["esa_fields"]["missing_as_null"]; got != true {
		t.Errorf("missing_as_null for parquet = %v, want true", got)
	}
	// A benthos source goes through the processors.
	if got := procNames(parse(t, "kafka_benthos_source.yaml")); got != "esa_sample,esa_filter,esa_fields" && got != "esa_sample,esa_fields" {
		t.Errorf("processors of a benthos source = %s", got)
	}

	d = parse(t, "s3_file_deadletter.yaml")
	if got := procNames(d); got != "esa_fields" {
		t.Errorf("processors = %s", got)
	}
	sel, _ = d.Input["esa_file"].(map[string]any)["select"].(map[string]any)
	if sel["conditions"] != nil || sel["route_invalid"] != true {
		t.Errorf("esa_file.select without filters, with dead_letter = %v", sel)
	}
	for _, p := range d.Pipeline.Processors {
		for name, conf := range p {
			if conf["route_invalid"] != true {
				t.Errorf("%s.route_invalid with dead_letter = %v", name, conf["route_invalid"])
			}
		}
	}
	sw, ok := d.Output["switch"].(map[string]any)
	if !ok {
		t.Fatalf("output with dead_letter = %v, want a switch", d.Output)
	}
	cases := sw["cases"].([]any)
	first := cases[0].(map[string]any)
	if first["check"] != "errored()" || first["output"].(map[string]any)["resource"] != "dead_letter" {
		t.Errorf("first switch case = %v", first)
	}
	// No fallback: a transient failure must fail the batch (and be redelivered), never reach the dead
	// letter. Every destination but local hands it what it refused for good (a remote object store
	// the records of a refused object).
	dest := cases[1].(map[string]any)["output"].(map[string]any)
	s3, ok := dest["esa_s3_verified"].(map[string]any)
	if !ok || dest["fallback"] != nil {
		t.Fatalf("second switch case = %v, want esa_s3_verified", dest)
	}
	if s3["dead_letter"] != translate.DeadLetterResource {
		t.Errorf("esa_s3_verified.dead_letter = %v, want %q", s3["dead_letter"], translate.DeadLetterResource)
	}
	httpDest := parse(t, "http_default_source.yaml").Output["switch"].(map[string]any)["cases"].([]any)[1].(map[string]any)["output"].(map[string]any)
	if h := httpDest["esa_http"].(map[string]any); h["dead_letter"] != translate.DeadLetterResource {
		t.Errorf("esa_http.dead_letter = %v, want %q", h["dead_letter"], translate.DeadLetterResource)
	}
	if d.OutputResources[0]["label"] != translate.DeadLetterResource {
		t.Errorf("dead_letter resource label = %v", d.OutputResources[0]["label"])
	}
	dl := d.OutputResources[0]["esa_dead_letter"].(map[string]any)
	if dl["path"] != "./dead/"+translate.DeadLetterFile("access-to-s3") || dl["task"] != "access-to-s3" {
		t.Errorf("dead_letter resource = %v", d.OutputResources[0])
	}
}

// TestDeterministic checks that translating the same task twice gives the same bytes.
func TestDeterministic(t *testing.T) {
	for _, path := range taskFiles(t) {
		a, err := translate.Task(loadTestTask(t, path))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := translate.Task(loadTestTask(t, path))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two translations differ", path)
		}
	}
}

func TestSecretVar(t *testing.T) {
	for _, c := range []struct{ task, field, want string }{
		{"access-to-s3", "sasl.password", "ESA_ACCESS_TO_S3_SASL_PASSWORD"},
		{"edge-logs", "header_X-Api-Key", "ESA_EDGE_LOGS_HEADER_X_API_KEY"},
		{"edge-logs", "url_query_access_token", "ESA_EDGE_LOGS_URL_QUERY_ACCESS_TOKEN"},
	} {
		if got := translate.SecretVar(c.task, c.field); got != c.want {
			t.Errorf("SecretVar(%q, %q) = %s, want %s", c.task, c.field, got, c.want)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestMemoryLimit: at the default settings every destination gets the 80 MiB floor; larger batches
// or more batches in flight raise it.
func TestMemoryLimit(t *testing.T) {
	for _, f := range taskFiles(t) {
		task := loadTestTask(t, f)
		if got := translate.MemoryLimit(task); got < 80<<20 {
			t.Errorf("%s: %d, below the floor", f, got)
		}
	}
	task := loadTestTask(t, filepath.Join("testdata", "local_generate.yaml"))
	if got := translate.MemoryLimit(task); got != 80<<20 {
		t.Errorf("defaults: %d MiB, want 80", got>>20)
	}
	task.Destination.Local.Batching = &config.Batching{Count: 2_000_000}
	if got := translate.MemoryLimit(task); got <= 400<<20 {
		t.Errorf("2M-record objects: %d MiB, want more (their acknowledgements wait in memory)", got>>20)
	}
	// Partitions hold no more records, with the time field delivered or not (bundles either way).
	part := translate.MemoryLimit(loadTestTask(t, filepath.Join("testdata", "local_partitioned.yaml")))
	if part != 80<<20 {
		t.Errorf("partitions: %d MiB, want 80", part>>20)
	}
	if got := translate.MemoryLimit(loadTestTask(t, filepath.Join("testdata", "oss_partition_no_time.yaml"))); got != part {
		t.Errorf("partitions without the time field: %d MiB, want %d", got>>20, part>>20)
	}
	// zstd's best level holds its encoder's 35 MiB.
	best := loadTestTask(t, filepath.Join("testdata", "local_partitioned.yaml"))
	best.Destination.Local.CompressionLevel = 19
	if got := translate.MemoryLimit(best); got < part+25<<20 {
		t.Errorf("zstd level 19: %d MiB, want 25 more than %d", got>>20, part>>20)
	}
	// A disk buffer keeps records for their first delivery and batches on their way to disk.
	buffered := loadTestTask(t, filepath.Join("testdata", "local_generate.yaml"))
	buffered.Buffer = &config.Buffer{Type: "disk", Path: "buf"}
	// The defaults: one object's 100,000 acknowledgements of 200 bytes, then the buffer's memory.
	want := int64(40<<20) + (100_000*200+config.DiskBufferHotBytes+config.DiskBufferCommitBytes)*3/2
	if got := translate.MemoryLimit(buffered); got != want {
		t.Errorf("disk buffer: %d MiB, want %d", got>>20, want>>20)
	}
}
