package kafka

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

// e2eRecord is one raw access log record of the end-to-end tests.
type e2eRecord struct {
	ID     string
	TS     string
	IP     string
	Host   string
	Status int
	Bytes  int
}

func (r e2eRecord) raw() string {
	return fmt.Sprintf(`{"ClientRequestID":%q,"EdgeStartTimestamp":%q,"ClientIP":%q,"ClientRequestHost":%q,"EdgeResponseStatusCode":%d,"EdgeResponseBytes":%d,"ClientRequestPath":"/p"}`,
		r.ID, r.TS, r.IP, r.Host, r.Status, r.Bytes)
}

// delivered is the record the task below delivers (fields in task order, catalog types).
func (r e2eRecord) delivered() string {
	return fmt.Sprintf(`{"EdgeStartTimestamp":%q,"ClientRequestID":%q,"ClientIP":%q,"EdgeResponseStatusCode":%d}`, r.TS, r.ID, r.IP, r.Status)
}

func e2eRecords(n int) []e2eRecord {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	out := make([]e2eRecord, n)
	for i := range out {
		out[i] = e2eRecord{
			ID:     fmt.Sprintf("req-%07d", i),
			TS:     base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano),
			IP:     fmt.Sprintf("192.0.2.%d", i%254+1),
			Host:   fmt.Sprintf("s%d.example.com", i%3),
			Status: []int{200, 200, 304, 404, 500, 502, 200}[i%7],
			Bytes:  100 + i%900,
		}
	}
	return out
}

const e2eFields = "[EdgeStartTimestamp, ClientRequestID, ClientIP, EdgeResponseStatusCode]"

// TestTaskFileToKafka runs `esa-connect run task.yaml` (file source → sampling, filter, field
// selection → esa_kafka over SASL/SCRAM with zstd and Murmur2Balancer keyed by ClientRequestID) and
// compares what lands in the topic record by record with an independently built expectation.
func TestTaskFileToKafka(t *testing.T) {
	c := saslCluster(t, kfake.SeedTopics(6, "access"))
	addrs := c.ListenAddrs()
	dir := t.TempDir()
	recs := e2eRecords(5000)
	lines := make([]string, len(recs))
	var want []string
	for i, r := range recs {
		lines[i] = r.raw()
		if r.Status >= 400 {
			want = append(want, r.delivered())
		}
	}
	in := writeNDJSON(t, dir, lines)
	u := saslUsers[2]
	task := fmt.Sprintf(`name: access-to-kafka
category: access
fields: %s
filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 400}
source: {type: file, paths: [%q]}
destination:
  type: kafka
  topic: access
  brokers: [%s]
  compression: zstd
  balancer: kafka.Murmur2Balancer
  key_field: ClientRequestID
  sasl: {mechanism: %s, username: %s, password: %s}
`, e2eFields, in, addrs[0], u.mech, u.user, u.pass)
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(task), 0o600); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Timeout: 3 * time.Minute}, "run", taskPath)
	if res.ExitCode != 0 {
		t.Fatalf("esa-connect run: exit %d\n%s", res.ExitCode, res.Output())
	}
	if strings.Contains(res.Output(), u.pass) {
		t.Fatalf("the output of run contains the SASL password:\n%s", res.Output())
	}
	got := consume(t, addrs, "access", len(want), 30*time.Second, saslClientOpt(u.mech, u.user, u.pass))
	compareMultiset(t, "task file → kafka", values(got), want)
	for _, r := range got {
		var v struct{ ClientRequestID string }
		if err := json.Unmarshal(r.Value, &v); err != nil || string(r.Key) != v.ClientRequestID {
			t.Fatalf("record %s has key %q, want its ClientRequestID", r.Value, r.Key)
		}
	}
}

// TestTaskGenerateToKafka: generated access records (esa_generate) → processors → esa_kafka; every
// record arrives, each with exactly the task's fields in task order.
func TestTaskGenerateToKafka(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(4, "generated"))
	addrs := c.ListenAddrs()
	dir := t.TempDir()
	const n = 20000
	task := fmt.Sprintf(`name: generated-to-kafka
category: access
fields: [ClientRequestID, EdgeStartTimestamp, ClientIP, ClientRequestHost, EdgeResponseStatusCode, EdgeResponseBytes]
source: {type: generate, count: %d, seed: 7}
destination: {type: kafka, topic: generated, brokers: [%s], compression: lz4, balancer: RoundRobin}
`, n, addrs[0])
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(task), 0o600); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Timeout: 3 * time.Minute}, "run", taskPath)
	if res.ExitCode != 0 {
		t.Fatalf("esa-connect run: exit %d\n%s", res.ExitCode, res.Output())
	}
	got := consume(t, addrs, "generated", n, 30*time.Second)
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
	order := []string{"ClientRequestID", "EdgeStartTimestamp", "ClientIP", "ClientRequestHost", "EdgeResponseStatusCode", "EdgeResponseBytes"}
	ids := map[string]bool{}
	for _, r := range got {
		keys, id := jsonKeys(t, r.Value)
		if strings.Join(keys, ",") != strings.Join(order, ",") {
			t.Fatalf("record %s: keys %v, want %v", r.Value, keys, order)
		}
		ids[id] = true
	}
	if len(ids) < n*99/100 {
		t.Errorf("only %d distinct ClientRequestIDs in %d records", len(ids), n)
	}
}

// jsonKeys returns the top-level keys of a JSON object in order, and its ClientRequestID.
func jsonKeys(t testing.TB, b []byte) ([]string, string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("record %s is not a JSON object", b)
	}
	var keys []string
	id := ""
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("record %s: %v", b, err)
		}
		k := tok.(string)
		keys = append(keys, k)
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("record %s: %v", b, err)
		}
		if k == "ClientRequestID" {
			id, _ = v.(string)
		}
	}
	return keys, id
}

// TestTaskWrongPassword: `esa-connect run` with a password the brokers reject exits 1 with an error
// naming the destination and the user, without printing the password.
func TestTaskWrongPassword(t *testing.T) {
	c := saslCluster(t, kfake.SeedTopics(1, "access"))
	dir := t.TempDir()
	in := writeNDJSON(t, dir, []string{e2eRecords(1)[0].raw()})
	const bad = "N0t-The-Password-7"
	task := fmt.Sprintf(`name: wrong-password
category: access
fields: %s
source: {type: file, paths: [%q]}
destination:
  type: kafka
  topic: access
  brokers: [%s]
  sasl: {mechanism: PLAIN, username: plain-user, password: %s}
`, e2eFields, in, c.ListenAddrs()[0], bad)
	taskPath := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(taskPath, []byte(task), 0o600); err != nil {
		t.Fatal(err)
	}
	res := testutil.RunBinary(t, testutil.RunOptions{Dir: dir, Timeout: 2 * time.Minute}, "run", taskPath)
	if res.ExitCode != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.ExitCode, res.Output())
	}
	want := `esa_kafka: Kafka brokers ` + c.ListenAddrs()[0] + ` rejected the SASL PLAIN username/password for user "plain-user"`
	if !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr does not carry the credential error %q:\n%s", want, res.Stderr)
	}
	if strings.Contains(res.Output(), bad) {
		t.Errorf("the output contains the password:\n%s", res.Output())
	}
}

// TestScaleOutTwoProcesses: two `esa-connect run` processes in one consumer group read a
// 12-partition topic into local directories; one is killed with SIGKILL mid-run. Every record is
// delivered at least once (duplicates are counted), and the survivor takes over the partitions:
// every record produced after the kill is in the survivor's output.
func TestScaleOutTwoProcesses(t *testing.T) {
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := newCluster(t, kfake.Ports(port), kfake.SeedTopics(12, "scale"))
	_ = c
	dir := t.TempDir()
	bin := testutil.Binary(t) // build before the clock matters

	outs := []string{filepath.Join(dir, "out1"), filepath.Join(dir, "out2")}
	var procs []*testutil.Process
	for i, out := range outs {
		task := fmt.Sprintf(`name: scale-out
category: access
fields: %s
source: {type: kafka, brokers: [%s], topics: [scale], group: esa-scale}
destination: {type: local, path: %q, batching: {count: 500, period: 300ms}}
`, e2eFields, addr, out)
		p := filepath.Join(dir, fmt.Sprintf("task%d.yaml", i+1))
		if err := os.WriteFile(p, []byte(task), 0o600); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, testutil.Start(t, testutil.RunOptions{Dir: dir}, bin, "run", "--log-level", "warn", p))
	}

	recs := e2eRecords(60000)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("scale"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceRange := func(from, to int) {
		batch := make([]*kgo.Record, 0, to-from)
		for i := from; i < to; i++ {
			batch = append(batch, &kgo.Record{Value: []byte(recs[i].raw()), Partition: int32(i % 12)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			t.Errorf("produce: %v", err)
		}
	}

	// Produce steadily until both processes have written objects.
	next := 0
	for len(objectLines(t, outs[0])) == 0 || len(objectLines(t, outs[1])) == 0 {
		if next >= 20000 {
			t.Fatalf("both processes should have delivered after %d records\np1: %s\np2: %s", next,
				procs[0].Stderr(), procs[1].Stderr())
		}
		produceRange(next, next+500)
		next += 500
		time.Sleep(100 * time.Millisecond)
	}
	beforeKill1 := len(objectLines(t, outs[0]))
	if err := procs[0].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-procs[0].Done()
	killedAt := next
	for next < len(recs) {
		produceRange(next, min(next+2000, len(recs)))
		next += 2000
		time.Sleep(50 * time.Millisecond)
	}

	// Wait until every record is in one of the outputs.
	deadline := time.Now().Add(3 * time.Minute)
	var counts map[string]int
	var survivor map[string]int
	for {
		counts = map[string]int{}
		survivor = map[string]int{}
		for i, out := range outs {
			for _, l := range objectLines(t, out) {
				counts[l]++
				if i == 1 {
					survivor[l]++
				}
			}
		}
		missing := 0
		for _, r := range recs {
			if counts[r.delivered()] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records never delivered\nsurvivor stderr:\n%s", missing, len(recs), procs[1].Stderr())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := procs[1].Terminate(); err != nil {
		t.Fatal(err)
	}
	res := procs[1].Wait(t, time.Minute)
	if res.ExitCode != 0 {
		t.Errorf("survivor exited %d after SIGTERM\n%s", res.ExitCode, res.Output())
	}

	total, dups := 0, 0
	for _, n := range counts {
		total += n
		dups += n - 1
	}
	if total-dups != len(recs) {
		t.Fatalf("delivered %d distinct records, want %d (unexpected records?)", total-dups, len(recs))
	}
	lost := 0
	for _, r := range recs[killedAt:] {
		if survivor[r.delivered()] == 0 {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d records produced after the kill are not in the survivor's output", lost)
	}
	t.Logf("scale-out: %d records, %d deliveries, %d duplicates; process 1 wrote %d before SIGKILL, the survivor %d in all (%d produced after the kill)",
		len(recs), total, dups, beforeKill1, len(survivor), len(recs)-killedAt)
}

// objectLines reads every record line of the esa_local objects (*.log.gz) under dir.
func objectLines(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log.gz") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Errorf("object %s: %v", p, err)
			return nil
		}
		data, err := io.ReadAll(zr)
		if err != nil {
			t.Errorf("object %s: %v", p, err)
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			if l := sc.Text(); l != "" {
				out = append(out, l)
			}
		}
		return nil
	})
	return out
}
