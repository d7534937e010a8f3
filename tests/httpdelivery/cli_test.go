package httpdelivery

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
	"github.com/esa-connect/esa-connect/tests/testutil"
)

// startReceive runs `esa-connect receive` on a free loopback port with extra args and returns its
// address and output file.
func startReceive(t *testing.T, key string, args ...string) (addr, out string, p *testutil.Process) {
	t.Helper()
	addr = testutil.FreeAddr(t)
	out = filepath.Join(t.TempDir(), "received.ndjson")
	p = testutil.StartBinary(t, testutil.RunOptions{Env: []string{"ESA_HTTP_PRIVATE_KEY=" + key}},
		append([]string{"receive", "--listen", addr, "--out", out}, args...)...)
	p.WaitTCP(t, addr)
	return addr, out, p
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// TestReceiveCommand: the receive subcommand verifies signatures, decodes every codec (zstd too), strips the
// body prefix/suffix, splits by the words and appends the records to its file.
func TestReceiveCommand(t *testing.T) {
	addr, out, proc := startReceive(t, "aliyuncdn1234", "--path", "/accesslog/post",
		"--body-prefix", "[", "--body-suffix", "]", "--split-words", `\n`)
	const per = 100
	codecs := []string{"no", "gzip", "zlib", "snappy", "zstd"}
	for i, codec := range codecs {
		p := startPipeline(t, `
esa_http:
  url: http://`+addr+`/accesslog/post
  compression: `+codec+`
  auth: {private_key: aliyuncdn1234, expired_time: 60}
  body_prefix: "["
  body_suffix: "]"
  batching: {count: 50}
`)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		recs := idRecords((i + 1) * per)[i*per:]
		if err := p.send(ctx, pipelinetest.Batch(recs)); err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		cancel()
	}
	// A wrong key is refused with 403 and the reason, and nothing is written.
	bad := startPipeline(t, `
esa_http:
  url: http://`+addr+`/accesslog/post
  auth: {private_key: otherkey12, expired_time: 60}
  body_prefix: "["
  body_suffix: "]"
  max_retry: 0
  batching: {count: 1}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := bad.send(ctx, pipelinetest.Batch(idRecords(1)))
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "signature mismatch") {
		t.Fatalf("wrong key: %v", err)
	}
	if err := proc.Terminate(); err != nil {
		t.Fatal(err)
	}
	res := proc.Wait(t, 20*time.Second)
	if res.ExitCode != 0 {
		t.Fatalf("receive exited %d: %s", res.ExitCode, res.Output())
	}
	if !strings.Contains(res.Stderr, "10 requests, 500 records accepted, 1 rejected") {
		t.Errorf("summary missing: %s", res.Stderr)
	}
	if strings.Contains(res.Output(), "aliyuncdn1234") {
		t.Error("receive printed the private key")
	}
	lines := readLines(t, out)
	if len(lines) != len(codecs)*per {
		t.Fatalf("%d records in the file, want %d", len(lines), len(codecs)*per)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var v struct{ ID string }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		seen[v.ID] = true
	}
	for i := range len(codecs) * per {
		if !seen["r"+itoa(i)] {
			t.Errorf("record r%d missing", i)
		}
	}
}
