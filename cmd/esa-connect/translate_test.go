package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runTranslate runs the translate subcommand on path and returns its stdout, its stderr and whether
// it succeeded.
func runTranslate(t *testing.T, path string) (stdout, stderr string, ok bool) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &cli.App{Name: "esa-connect", Writer: &out, ErrWriter: &errOut, Commands: []*cli.Command{translateCommand()},
		ExitErrHandler: func(*cli.Context, error) {}}
	err := app.Run([]string{"esa-connect", "translate", path})
	return out.String(), errOut.String(), err == nil
}

// TestTranslatePrintsNoSecret runs `esa-connect translate` on a task that writes every kind of
// secret literally: the printed config holds references in their place and none of the values, and
// an invalid task's problems do not quote them either.
func TestTranslatePrintsNoSecret(t *testing.T) {
	secrets := []string{"pw-3b7c", "tok-81f0", "aliyuncdn1234", "Bearer bt-55aa", "ck-9e1d", "sg-0c2f", "sasl-pw-77"}
	task := `name: cli-secrets
category: access
fields: [ClientIP]
source:
  type: kafka
  brokers: [127.0.0.1:9092]
  topics: [esa-raw]
  group: g
  sasl: {mechanism: PLAIN, username: reader, password: sasl-pw-77}
destination:
  type: http
  url: https://uploader:pw-3b7c@logs.example.com/in?token=tok-81f0&tenant=t1
  auth: {private_key: aliyuncdn1234, expired_time: 300}
  headers: {Authorization: Bearer bt-55aa, Cookie: sid=ck-9e1d, X-Source: esa}
  query: {sig: sg-0c2f}
`
	path := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(path, []byte(task), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, ok := runTranslate(t, path)
	if !ok {
		t.Fatalf("translate failed:\n%s", stderr)
	}
	out := stdout + stderr
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("translate printed %q:\n%s", s, out)
		}
	}
	for _, want := range []string{
		"url: https://${ESA_CLI_SECRETS_URL_USER}:${ESA_CLI_SECRETS_URL_PASSWORD}@logs.example.com/in?token=${ESA_CLI_SECRETS_URL_QUERY_TOKEN}&tenant=t1\n",
		"Authorization: ${ESA_CLI_SECRETS_HEADER_AUTHORIZATION}\n",
		"Cookie: ${ESA_CLI_SECRETS_HEADER_COOKIE}\n",
		"X-Source: esa\n",
		"sig: ${ESA_CLI_SECRETS_QUERY_SIG}\n",
		"private_key: ${ESA_CLI_SECRETS_AUTH_PRIVATE_KEY}\n",
		"password: ${ESA_CLI_SECRETS_SOURCE_SASL_PASSWORD}\n",
		"#   ESA_CLI_SECRETS_URL_PASSWORD (destination.url password)\n",
		"#   ESA_CLI_SECRETS_HEADER_AUTHORIZATION (destination.headers.Authorization)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the config lacks %q:\n%s", want, out)
		}
	}

	// An invalid task: the problems are listed without the endpoint's credentials.
	bad := `name: cli-secrets
category: access
fields: [ClientIP]
destination:
  type: s3_compatible
  bucket_path: logs
  region: us-east-1
  endpoint: https://ak:pw-3b7c@minio.example.com:9000/?token=tok-81f0
`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, ok = runTranslate(t, path)
	if ok {
		t.Fatalf("translate succeeded on an invalid task:\n%s", stdout)
	}
	const want = `destination.endpoint: "https://minio.example.com:9000/?REDACTED": give the endpoint without bucket, path, query or credentials`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	for _, s := range []string{"pw-3b7c", "tok-81f0"} {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("translate printed %q:\n%s%s", s, stdout, stderr)
		}
	}
}
