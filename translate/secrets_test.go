package translate_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/translate"
)

// outputField translates task and returns the value of key in the config of its output component.

// stdin is the source of the tasks built here (Load would give the http source).
var stdin = config.Source{Type: "stdin"}

func outputField(t *testing.T, task *config.Task, component, key string) (any, []byte) {
	t.Helper()
	conf, err := translate.Task(task)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Output map[string]any `yaml:"output"`
	}
	if err := yaml.Unmarshal(conf, &doc); err != nil {
		t.Fatalf("%v\n%s", err, conf)
	}
	comp, ok := doc.Output[component].(map[string]any)
	if !ok {
		t.Fatalf("no %s output in\n%s", component, conf)
	}
	return comp[key], conf
}

// TestURLSecrets: the user info and the token-like query values of every URL a task carries become
// references, named after the field and the part, whose values are the parts as written.
func TestURLSecrets(t *testing.T) {
	httpTask := func(u string) *config.Task {
		return &config.Task{Name: "t", Category: "access", Fields: []string{"ClientIP"}, Source: stdin,
			Destination: config.Destination{Type: "http", HTTP: &config.HTTPDestination{URL: u}}}
	}
	cases := []struct {
		name      string
		task      *config.Task
		component string
		key       string
		want      string
		secrets   map[string]string
	}{
		{"plain URL", httpTask("https://logs.example.com/in?tenant=t1"), "esa_http", "url",
			"https://logs.example.com/in?tenant=t1", map[string]string{}},
		{"user and password", httpTask("https://uploader:pw-1f2e@logs.example.com/in"), "esa_http", "url",
			"https://${ESA_T_URL_USER}:${ESA_T_URL_PASSWORD}@logs.example.com/in",
			map[string]string{"ESA_T_URL_USER": "uploader", "ESA_T_URL_PASSWORD": "pw-1f2e"}},
		{"token as user name", httpTask("https://tok-9a8b@logs.example.com"), "esa_http", "url",
			"https://${ESA_T_URL_USER}@logs.example.com", map[string]string{"ESA_T_URL_USER": "tok-9a8b"}},
		{"password only", httpTask("https://:pw-1f2e@logs.example.com"), "esa_http", "url",
			"https://:${ESA_T_URL_PASSWORD}@logs.example.com", map[string]string{"ESA_T_URL_PASSWORD": "pw-1f2e"}},
		{"'@' in the password", httpTask("https://u-3c:p@ss-7d@logs.example.com/x@y"), "esa_http", "url",
			"https://${ESA_T_URL_USER}:${ESA_T_URL_PASSWORD}@logs.example.com/x@y",
			map[string]string{"ESA_T_URL_USER": "u-3c", "ESA_T_URL_PASSWORD": "p@ss-7d"}},
		{"query", httpTask("https://h.example.com/in?token=a-1&page=2&flag&api_key=&Token=b-2&token=c-3&%73ig=d-4#sig=frag"),
			"esa_http", "url",
			"https://h.example.com/in?token=${ESA_T_URL_QUERY_TOKEN}&page=2&flag&api_key=&Token=${ESA_T_URL_QUERY_TOKEN_2}&token=${ESA_T_URL_QUERY_TOKEN_3}&%73ig=${ESA_T_URL_QUERY_SIG}#sig=frag",
			map[string]string{"ESA_T_URL_QUERY_TOKEN": "a-1", "ESA_T_URL_QUERY_TOKEN_2": "b-2", "ESA_T_URL_QUERY_TOKEN_3": "c-3", "ESA_T_URL_QUERY_SIG": "d-4"}},
		{"references pass through", httpTask("https://${U}:${P}@h.example.com/in?token=${T}"), "esa_http", "url",
			"https://${U}:${P}@h.example.com/in?token=${T}", map[string]string{}},
		{"oss endpoint", &config.Task{Name: "t", Category: "access", Fields: []string{"ClientIP"}, Source: stdin,
			Destination: config.Destination{Type: "oss", OSS: &config.OSSDestination{Bucket: "b", Region: "cn-hangzhou",
				Endpoint: "https://ak-5e:pw-6f@oss-cn-hangzhou.aliyuncs.com"}}}, "esa_oss", "endpoint",
			"https://${ESA_T_ENDPOINT_USER}:${ESA_T_ENDPOINT_PASSWORD}@oss-cn-hangzhou.aliyuncs.com",
			map[string]string{"ESA_T_ENDPOINT_USER": "ak-5e", "ESA_T_ENDPOINT_PASSWORD": "pw-6f"}},
		{"sls endpoint host:port", &config.Task{Name: "t", Category: "access", Fields: []string{"ClientIP"}, Source: stdin,
			Destination: config.Destination{Type: "sls", SLS: &config.SLSDestination{Project: "p", Logstore: "l",
				Endpoint: "ak-5e:pw-6f@127.0.0.1:8080"}}}, "esa_sls", "endpoint",
			"${ESA_T_ENDPOINT_USER}:${ESA_T_ENDPOINT_PASSWORD}@127.0.0.1:8080",
			map[string]string{"ESA_T_ENDPOINT_USER": "ak-5e", "ESA_T_ENDPOINT_PASSWORD": "pw-6f"}},
		{"s3 endpoint query", &config.Task{Name: "t", Category: "access", Fields: []string{"ClientIP"}, Source: stdin,
			Destination: config.Destination{Type: "s3_compatible", S3: &config.S3Destination{BucketPath: "b", Region: "r",
				Endpoint: "http://127.0.0.1:9000?X-Amz-Security-Token=st-8a"}}}, "esa_s3_verified", "endpoint",
			"http://127.0.0.1:9000?X-Amz-Security-Token=${ESA_T_ENDPOINT_QUERY_X_AMZ_SECURITY_TOKEN}",
			map[string]string{"ESA_T_ENDPOINT_QUERY_X_AMZ_SECURITY_TOKEN": "st-8a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, conf := outputField(t, c.task, c.component, c.key)
			if got != c.want {
				t.Errorf("%s = %v, want %s", c.key, got, c.want)
			}
			secrets := translate.Secrets(c.task)
			if !reflect.DeepEqual(secrets, c.secrets) {
				t.Errorf("Secrets = %v, want %v", secrets, c.secrets)
			}
			for name, v := range c.secrets {
				if bytes.Contains(conf, []byte(v)) {
					t.Errorf("the value of %s appears in the config", name)
				}
				if !bytes.Contains(conf, []byte("#   "+name+" (")) {
					t.Errorf("the header comment does not list %s", name)
				}
			}
		})
	}
}

// TestHeaderAndQuerySecrets: token-like header and query names (config.IsSecretName) get references
// named HEADER_<NAME> and QUERY_<NAME>; other values stay as written.
func TestHeaderAndQuerySecrets(t *testing.T) {
	task := &config.Task{Name: "edge-logs", Category: "access", Fields: []string{"ClientIP"}, Source: stdin,
		Destination: config.Destination{Type: "http", HTTP: &config.HTTPDestination{URL: "https://h.example.com/in",
			Headers: map[string]string{"Authorization": "Basic dXA6cHc=", "Proxy-Authorization": "Bearer px-1",
				"Set-Cookie": "sid=c-2", "x-apikey": "k-3", "X-Source": "esa", "Content-Type": "text/plain"},
			Query: map[string]string{"Signature": "s-4", "passwd": "p-5", "tenant": "t1", "empty_token": ""}}}}
	headers, conf := outputField(t, task, "esa_http", "headers")
	wantHeaders := map[string]any{
		"Authorization":       "${ESA_EDGE_LOGS_HEADER_AUTHORIZATION}",
		"Proxy-Authorization": "${ESA_EDGE_LOGS_HEADER_PROXY_AUTHORIZATION}",
		"Set-Cookie":          "${ESA_EDGE_LOGS_HEADER_SET_COOKIE}",
		"x-apikey":            "${ESA_EDGE_LOGS_HEADER_X_APIKEY}",
		"X-Source":            "esa",
		"Content-Type":        "text/plain",
	}
	if !reflect.DeepEqual(headers, wantHeaders) {
		t.Errorf("headers = %v, want %v", headers, wantHeaders)
	}
	query, _ := outputField(t, task, "esa_http", "query")
	wantQuery := map[string]any{
		"Signature":   "${ESA_EDGE_LOGS_QUERY_SIGNATURE}",
		"passwd":      "${ESA_EDGE_LOGS_QUERY_PASSWD}",
		"tenant":      "t1",
		"empty_token": "",
	}
	if !reflect.DeepEqual(query, wantQuery) {
		t.Errorf("query = %v, want %v", query, wantQuery)
	}
	wantSecrets := map[string]string{
		"ESA_EDGE_LOGS_HEADER_AUTHORIZATION":       "Basic dXA6cHc=",
		"ESA_EDGE_LOGS_HEADER_PROXY_AUTHORIZATION": "Bearer px-1",
		"ESA_EDGE_LOGS_HEADER_SET_COOKIE":          "sid=c-2",
		"ESA_EDGE_LOGS_HEADER_X_APIKEY":            "k-3",
		"ESA_EDGE_LOGS_QUERY_SIGNATURE":            "s-4",
		"ESA_EDGE_LOGS_QUERY_PASSWD":               "p-5",
	}
	if got := translate.Secrets(task); !reflect.DeepEqual(got, wantSecrets) {
		t.Errorf("Secrets = %v, want %v", got, wantSecrets)
	}
	for _, v := range wantSecrets {
		if bytes.Contains(conf, []byte(v)) {
			t.Errorf("%q appears in the config", v)
		}
	}
}

// TestSecretNameClashes: a variable that the task references itself is never reused for a literal
// secret; when the task references it after translate chose it, translation fails and says why.
func TestSecretNameClashes(t *testing.T) {
	task := func(u string, headers, query map[string]string) *config.Task {
		return &config.Task{Name: "t", Category: "access", Fields: []string{"ClientIP"}, Source: stdin,
			Destination: config.Destination{Type: "http", HTTP: &config.HTTPDestination{URL: u, Headers: headers, Query: query}}}
	}
	// The URL comes first: its reference is seen before the header's literal, which takes _2.
	ok := task("https://h.example.com/?token=${ESA_T_HEADER_X_TOKEN}", map[string]string{"X-Token": "lit-1"}, nil)
	headers, _ := outputField(t, ok, "esa_http", "headers")
	if want := map[string]any{"X-Token": "${ESA_T_HEADER_X_TOKEN_2}"}; !reflect.DeepEqual(headers, want) {
		t.Errorf("headers = %v, want %v", headers, want)
	}
	if got, want := translate.Secrets(ok), map[string]string{"ESA_T_HEADER_X_TOKEN_2": "lit-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Secrets = %v, want %v", got, want)
	}
	// The query map comes after the headers.
	clash := task("https://h.example.com/", map[string]string{"X-Token": "lit-1"}, map[string]string{"token": "${ESA_T_HEADER_X_TOKEN}"})
	_, err := translate.Task(clash)
	const want = `translate: task "t": ${ESA_T_HEADER_X_TOKEN} at destination.query.token is the variable that stands for the literal secret at destination.headers.X-Token; give that secret as a reference too, or rename the variable`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "lit-1") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

// TestUnwritableSecret: a secret that no YAML style can carry through Benthos's textual substitution
// (a leading space with both quote characters) fails the translation, naming the field, not the value.
func TestUnwritableSecret(t *testing.T) {
	task := &config.Task{Name: "t", Category: "access", Fields: []string{"ClientIP"}, Source: stdin,
		Destination: config.Destination{Type: "http", HTTP: &config.HTTPDestination{URL: "https://h.example.com/",
			Headers: map[string]string{"X-Token": ` a'b"c`}}}}
	_, err := translate.Task(task)
	const want = `translate: task "t": the secret at destination.headers.X-Token cannot be written as an environment reference that reads back unchanged (it has a line break, or a leading space and both quote characters); give it as a ${VAR} reference`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if translate.Secrets(task) != nil {
		t.Error("Secrets of an untranslatable task is not nil")
	}
}

// TestHTTPSecretsReachTheServer builds and runs the stream of the translated http_secrets task, with
// the variables of Secrets set, against a test server: the request carries exactly the credentials
// the task wrote literally (URL user info as basic auth, headers, query parameters).
func TestHTTPSecretsReachTheServer(t *testing.T) {
	var (
		mu  sync.Mutex
		got *http.Request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if got == nil {
			got = r.Clone(context.Background())
		}
		mu.Unlock()
	}))
	defer srv.Close()

	task := loadTestTask(t, filepath.Join("testdata", "http_secrets.yaml"))
	h := task.Destination.HTTP
	h.URL = strings.Replace(h.URL, "https://", "http://", 1)
	h.URL = strings.Replace(h.URL, "logs.example.com", strings.TrimPrefix(srv.URL, "http://"), 1)
	// A value that needs the literal block style: ": ", " #", both quote characters and a backslash.
	h.Headers["X-Signature"] = `x: 'b' "c" \d #e`
	conf, err := translate.Task(task)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(conf, []byte("X-Signature: |-\n")) {
		t.Errorf("X-Signature is not a literal block:\n%s", conf)
	}
	env := translate.Secrets(task)
	env["TRACE_TOKEN"] = "trace-5b"
	b := lintEnv(t).NewStreamBuilder()
	b.SetEnvVarLookupFunc(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	b.SetHTTPMux(http.NewServeMux()) // no metrics server on a fixed port
	b.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := b.SetYAML(string(conf)); err != nil {
		t.Fatalf("%v\n%s", err, conf)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := stream.Run(ctx); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	r := got
	mu.Unlock()
	if r == nil {
		t.Fatal("no request arrived")
	}
	if r.URL.Path != "/in" {
		t.Errorf("path %q", r.URL.Path)
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != "uploader-4c1" || pass != "p@ss:w0rd" {
		t.Errorf("basic auth %q, %q, %v; want the URL's user info", user, pass, ok)
	}
	wantQuery := url.Values{
		"token": {"tok/en-9f3"}, "tenant": {"t2"}, "sig": {"sig-77ab"},
		"access_token": {" lead'"}, "sign": {`"dq"\`},
	}
	if q := r.URL.Query(); !reflect.DeepEqual(q, wantQuery) {
		t.Errorf("query %v, want %v", q, wantQuery)
	}
	for name, want := range map[string]string{
		"X-Api-Key": "a: b #c", "X_Api_Key": "second-key-8d2", "Cookie": `session="q"; x='y'`,
		"X-Auth-Token": "!tag", "X-Session": "*alias", "X-Secret": "null", "X-Token-Trace": "Bearer trace-5b",
		"X-Source": "esa", "X-Signature": `x: 'b' "c" \d #e`,
	} {
		if v := r.Header.Values(name); len(v) != 1 || v[0] != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
}

// A literal hash key of a privacy transform is a secret: the config refers to a variable.
func TestHashKeyIsASecret(t *testing.T) {
	task, err := config.Load([]byte(`name: priv
category: access
fields: [ClientRequestUserAgent]
destination: {type: local, path: out}
transforms: [{field: ClientRequestUserAgent, hash: {key: "0123456789abcdef-literal"}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := translate.Task(task)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(conf), "0123456789abcdef-literal") {
		t.Fatalf("the key is in the config:\n%s", conf)
	}
	if v := translate.Secrets(task)["ESA_PRIV_HASH_KEY_CLIENTREQUESTUSERAGENT"]; v != "0123456789abcdef-literal" {
		t.Fatalf("secrets: %v", translate.Secrets(task))
	}
}
