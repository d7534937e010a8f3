// Package sls_test runs esa_sls end to end against the protocol-level SLS test server
// (tests/servers/slstest): real pipelines (esa_file / esa_generate → esa_sls) through Benthos stream
// builders and through `esa-connect run task.yaml`, reading back every stored log and comparing it with
// the input record by record.
package sls_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/sls"
	"github.com/esa-connect/esa-connect/plugins/source"
	"github.com/esa-connect/esa-connect/tests/servers/slstest"
)

const (
	testAK     = "LTAIe2etestkey01"
	testSecret = "e2e-secret-value-01"
)

// newEnv returns a Benthos environment with the pure components, the esa-connect inputs and esa_sls.
func newEnv(t testing.TB) *service.Environment {
	t.Helper()
	env := service.NewEnvironment()
	for _, reg := range []func(*service.Environment) error{source.Register, sls.Register} {
		if err := reg(env); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// runStream builds a stream from a full Benthos config and runs it until its input ends.
func runStream(t testing.TB, env *service.Environment, yaml string, timeout time.Duration) {
	t.Helper()
	b := env.NewStreamBuilder()
	if err := b.SetYAML(yaml); err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	st, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := st.Run(ctx); err != nil {
		t.Fatalf("stream: %v", err)
	}
}

// toSLS is a Benthos config from input (the YAML under `input:`, indented by two spaces) to esa_sls on
// srv: project proj, logstore store, the test credentials, and the esa_sls fields of extra (indented
// by four spaces).
func toSLS(srv *slstest.Server, logLevel, input, extra string) string {
	return fmt.Sprintf(`
logger: {level: %s}
input:
%s
output:
  esa_sls:
    project: proj
    logstore: store
    endpoint: %s
    access_key_id: %s
    access_key_secret: %s
%s`, logLevel, input, srv.Endpoint, testAK, testSecret, extra)
}

// fileInput is the esa_file input of path, for toSLS.
func fileInput(path string) string {
	return fmt.Sprintf("  esa_file:\n    paths: [%s]", path)
}

// startServer starts an SLS test server with project "proj" and logstore "store".
func startServer(t testing.TB) *slstest.Server {
	srv := slstest.Start(t, testAK, testSecret)
	srv.AddLogstore("proj", "store")
	return srv
}

// writeNDJSON writes records to a file in a temp dir and returns its path.
func writeNDJSON(t testing.TB, recs [][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range recs {
		buf.Write(r)
		buf.WriteByte('\n')
	}
	p := filepath.Join(t.TempDir(), "in.ndjson")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// expected is what one record must become in SLS.
type expected struct {
	contents []slstest.Content
	sec, ns  uint32
	hasNs    bool
}

// expect computes the SLS log of a record independently of esa_sls: encoding/json reads the members in
// order; strings are decoded, every other value keeps its exact JSON text; the time comes from
// timeField.
func expect(t testing.TB, rec []byte, timeField string) expected {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("record %s: not an object", rec)
	}
	var e expected
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		val := string(raw)
		if len(raw) > 0 && raw[0] == '"' {
			if err := json.Unmarshal(raw, &val); err != nil {
				t.Fatal(err)
			}
			if key == timeField {
				ts, err := time.Parse(time.RFC3339Nano, val)
				if err != nil {
					t.Fatalf("time %q: %v", val, err)
				}
				e.sec, e.ns, e.hasNs = uint32(ts.Unix()), uint32(ts.Nanosecond()), ts.Nanosecond() != 0
			}
		}
		e.contents = append(e.contents, slstest.Content{Key: key, Value: val})
	}
	return e
}

// compareLog reports how a stored log differs from the expectation ("" when equal).
func compareLog(l slstest.Log, e expected, topic, src string) string {
	if l.Topic != topic || l.Source != src {
		return fmt.Sprintf("topic/source %q/%q, want %q/%q", l.Topic, l.Source, topic, src)
	}
	if l.Time != e.sec || l.HasTimeNs != e.hasNs || l.TimeNs != e.ns {
		return fmt.Sprintf("time %d.%09d (ns set %v), want %d.%09d (ns set %v)", l.Time, l.TimeNs, l.HasTimeNs, e.sec, e.ns, e.hasNs)
	}
	if len(l.Contents) != len(e.contents) {
		return fmt.Sprintf("%d contents, want %d", len(l.Contents), len(e.contents))
	}
	for i := range e.contents {
		if l.Contents[i] != e.contents[i] {
			return fmt.Sprintf("content %d: %q=%q, want %q=%q", i, l.Contents[i].Key, l.Contents[i].Value, e.contents[i].Key, e.contents[i].Value)
		}
	}
	return ""
}
