// Package kafka holds the integration tests of the esa_kafka output and input against a real
// Kafka-protocol broker (franz-go's kfake, in process, on loopback) and an independent client
// (Debian's kcat, built on librdkafka).
package kafka

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/esa-connect/esa-connect/plugins/kafka"
)

// codecs are the compression names of ESA's KafkaDelivery and the kcat/librdkafka name of each.
var codecs = []struct{ esa, rdkafka string }{
	{"no", "none"}, {"gzip", "gzip"}, {"snappy", "snappy"}, {"lz4", "lz4"}, {"zstd", "zstd"},
}

// SASL users of saslCluster, one per mechanism.
var saslUsers = []struct{ mech, user, pass string }{
	{"PLAIN", "plain-user", "plain-Secret-1"},
	{"SCRAM-SHA-256", "scram256-user", "scram256-Secret-2"},
	{"SCRAM-SHA-512", "scram512-user", "scram512-Secret-3"},
}

// newCluster starts a kfake cluster on loopback and closes it at cleanup.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// saslCluster starts a cluster requiring SASL with the saslUsers, and makes it usable by
// librdkafka: kfake advertises SaslHandshake only from v1, and librdkafka refuses SASL unless the
// broker lists v0 too; the ApiVersions answer is rewritten to list v0-v1 (kfake still serves v1,
// which is what both clients send).
func saslCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	return saslClusterWith(t, nil, opts...)
}

// saslClusterWith is saslCluster with extra options for the client that reads the ApiVersions
// answer (TLS, for a TLS cluster).
func saslClusterWith(t testing.TB, clientOpts []kgo.Opt, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	all := []kfake.Opt{kfake.EnableSASL()}
	for _, u := range saslUsers {
		all = append(all, kfake.Superuser(u.mech, u.user, u.pass))
	}
	c := newCluster(t, append(all, opts...)...)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.SASL(plain.Auth{User: saslUsers[0].user, Pass: saslUsers[0].pass}.AsMechanism())}, clientOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	c.ControlKey(kmsg.ApiVersions.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := *base
		resp.ApiKeys = slices.Clone(base.ApiKeys)
		for i := range resp.ApiKeys {
			if resp.ApiKeys[i].ApiKey == kmsg.SASLHandshake.Int16() {
				resp.ApiKeys[i].MinVersion = 0
			}
		}
		resp.SetVersion(req.GetVersion())
		return &resp, nil, true
	})
	return c
}

// saslClientOpt is the franz-go SASL option for a mechanism.
func saslClientOpt(mech, user, pass string) kgo.Opt {
	switch mech {
	case "PLAIN":
		return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())
	case "SCRAM-SHA-256":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
	default:
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
	}
}

// newEnv returns a Benthos environment with the standard components and esa_kafka.
func newEnv(t testing.TB) *service.Environment {
	t.Helper()
	env := service.NewEnvironment()
	if err := kafka.Register(env); err != nil {
		t.Fatal(err)
	}
	return env
}

// logBuffer collects a stream's logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// buildStream builds a stream from a full Benthos YAML config.
func buildStream(t testing.TB, env *service.Environment, yaml string, logs *logBuffer) *service.Stream {
	t.Helper()
	b := env.NewStreamBuilder()
	if logs != nil {
		b.SetLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	} else {
		b.SetLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}
	if err := b.SetYAML(yaml); err != nil {
		t.Fatalf("stream config: %v\n%s", err, yaml)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatalf("build stream: %v", err)
	}
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runStream runs a stream whose input ends, failing the test if it does not finish within timeout.
func runStream(t testing.TB, s *service.Stream, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("stream: %v", err)
	}
}

// writeNDJSON writes records, one per line, to a new file in dir.
func writeNDJSON(t testing.TB, dir string, recs []string) string {
	t.Helper()
	p := filepath.Join(dir, "records.ndjson")
	if err := os.WriteFile(p, []byte(strings.Join(recs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// accessRecords makes n distinct access-log-like JSON records (key field "ClientIP" repeats).
func accessRecords(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"seq":%d,"ClientIP":"10.%d.%d.%d","ClientRequestHost":"site%d.example.com","ClientRequestPath":"/static/app-%d.js","EdgeResponseStatusCode":%d,"EdgeResponseBytes":%d}`,
			i, i%7, (i/7)%250, i%250, i%5, i%97, []int{200, 200, 200, 304, 404, 502}[i%6], 1000+i%4096)
	}
	return out
}

// consume reads topic from the beginning with a plain (group-less) franz-go consumer until at least
// want records arrived and then nothing more for a second, or until timeout.
func consume(t testing.TB, addrs []string, topic string, want int, timeout time.Duration, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		out = append(out, fs.Records()...)
		if len(out) >= want && fs.NumRecords() == 0 {
			return out
		}
	}
	t.Logf("consume %s: %d records after %s (wanted %d)", topic, len(out), timeout, want)
	return out
}

// produce writes values to topic with a plain franz-go producer (keys optional).
func produce(t testing.TB, addrs []string, topic string, values []string, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// compareMultiset checks that got holds exactly want (order ignored) and reports the differences.
func compareMultiset(t testing.TB, what string, got, want []string) {
	t.Helper()
	g := slices.Clone(got)
	w := slices.Clone(want)
	sort.Strings(g)
	sort.Strings(w)
	if slices.Equal(g, w) {
		return
	}
	counts := map[string]int{}
	for _, s := range w {
		counts[s]++
	}
	for _, s := range g {
		counts[s]--
	}
	var missing, extra []string
	for s, n := range counts {
		for ; n > 0; n-- {
			missing = append(missing, s)
		}
		for ; n < 0; n++ {
			extra = append(extra, s)
		}
	}
	t.Fatalf("%s: got %d records, want %d; %d missing (first: %.200v), %d unexpected or duplicated (first: %.200v)",
		what, len(got), len(want), len(missing), first(missing), len(extra), first(extra))
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func values(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// kcat returns the path of Debian's kcat. When it is missing the calling (sub)test is skipped with
// a loud message - except in CI, where the Taskfile test task installs it and it must run.
func kcat(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err == nil {
		return p
	}
	msg := "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n" +
		"!!! kcat (Debian package kcat, librdkafka) is NOT INSTALLED: the kcat cross-checks are SKIPPED.\n" +
		"!!! Install it with: apt-get update && apt-get install -y kcat   (go tool task test does it as root)\n" +
		"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	fmt.Fprintln(os.Stderr, msg)
	if os.Getenv("CI") != "" {
		t.Fatal("kcat is required in CI (the Taskfile test task installs it)" + msg)
	}
	t.Skip(msg)
	return ""
}

// kcatSASLArgs are the librdkafka settings for a saslUsers entry.
func kcatSASLArgs(mech, user, pass string) []string {
	return []string{"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=" + mech,
		"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}
}

// runKcat runs kcat with args and stdin, failing the test on a non-zero exit.
func runKcat(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat(t), args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr: %s", strings.Join(redactArgs(args), " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if strings.HasPrefix(a, "sasl.password=") {
			out[i] = "sasl.password=[redacted]"
		}
	}
	return out
}

// kcatMessage is one message of kcat -J output.
type kcatMessage struct {
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
}

// kcatConsume reads every message of topic with kcat (librdkafka) and returns them.
func kcatConsume(t testing.TB, broker, topic string, extra ...string) []kcatMessage {
	t.Helper()
	args := append([]string{"-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q", "-J"}, extra...)
	out := runKcat(t, nil, args...)
	var msgs []kcatMessage
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m kcatMessage
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("kcat output line %q: %v", line, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}
