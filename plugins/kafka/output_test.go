package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/esa-connect/esa-connect/plugins/outcome"
)

func newTestOutput(t testing.TB, yaml string) (*output, *service.Resources) {
	t.Helper()
	conf, err := OutputSpec().ParseYAML(yaml, service.NewEmptyEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	res := service.MockResources()
	o, _, _, err := outputFromParsed(conf, res)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o, res
}

func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestPartialFailureNacksOnlyFailed makes one of two brokers reject every produce with
// INVALID_RECORD: only the records of partitions led by that broker are reported failed (as
// permanent), the others are written and not reported.
func TestPartialFailureNacksOnlyFailed(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(6, "part"))
	const badNode = 1
	leaders := map[int32]int32{}
	for p := int32(0); p < 6; p++ {
		leaders[p] = c.LeaderFor("part", p)
	}
	var onBad, onGood int
	for _, l := range leaders {
		if l == badNode {
			onBad++
		} else {
			onGood++
		}
	}
	if onBad == 0 || onGood == 0 {
		t.Skipf("kfake placed every leader on one broker (%v); nothing to split", leaders)
	}
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() != badNode {
			return nil, nil, false
		}
		preq := req.(*kmsg.ProduceRequest)
		resp := preq.ResponseKind().(*kmsg.ProduceResponse)
		resp.SetVersion(preq.GetVersion())
		for _, rt := range preq.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	o, _ := newTestOutput(t, fmt.Sprintf(`
topic: part
brokers: [%s]
balancer: RoundRobin
`, c.ListenAddrs()[0]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 60
	batch := make(service.MessageBatch, n)
	for i := range batch {
		batch[i] = service.NewMessage([]byte(fmt.Sprintf(`{"i":%d}`, i)))
	}
	err := o.WriteBatch(ctx, batch)
	var berr *service.BatchError
	if !errors.As(err, &berr) {
		t.Fatalf("want a *service.BatchError for a partial failure, got %v", err)
	}
	failed := map[string]bool{}
	berr.WalkMessages(func(_ int, m *service.Message, err error) bool {
		if err != nil {
			b, _ := m.AsBytes()
			failed[string(b)] = true
			if !delivery.IsPermanent(err) || !errors.Is(err, kerr.InvalidRecord) {
				t.Errorf("failure of %s: want a permanent INVALID_RECORD error, got %v", b, err)
			}
			if !strings.Contains(err.Error(), `esa_kafka: produce to topic "part"`) {
				t.Errorf("error does not name the output and topic: %v", err)
			}
		}
		return true
	})

	// Everything not reported failed is in the topic, only on partitions of the good broker.
	got := consumeRaw(t, c.ListenAddrs()[0], "part", n-len(failed))
	if len(failed) == 0 || len(failed) == n {
		t.Fatalf("%d of %d failed; want a partial failure", len(failed), n)
	}
	if want := n * onBad / 6; len(failed) != want {
		t.Errorf("%d records failed, want %d (round robin over 6 partitions, %d led by the failing broker)", len(failed), want, onBad)
	}
	for _, r := range got {
		if leaders[r.Partition] == badNode {
			t.Errorf("record %s landed on partition %d of the failing broker", r.Value, r.Partition)
		}
		if failed[string(r.Value)] {
			t.Errorf("record %s was both written and reported failed", r.Value)
		}
	}
	if len(got)+len(failed) != n {
		t.Errorf("written %d + failed %d != %d", len(got), len(failed), n)
	}
}

func TestConnectRejectsBadCredentials(t *testing.T) {
	c := newCluster(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", "right-plain-pw"),
		kfake.Superuser("SCRAM-SHA-256", "user256", "right-256-pw"),
		kfake.Superuser("SCRAM-SHA-512", "user512", "right-512-pw"),
		kfake.SeedTopics(1, "secure"))
	for _, m := range []struct{ mech, user string }{
		{"PLAIN", "plainuser"}, {"SCRAM-SHA-256", "user256"}, {"SCRAM-SHA-512", "user512"},
	} {
		t.Run(m.mech, func(t *testing.T) {
			const bad = "Wr0ngSecretPassw0rd"
			o, res := newTestOutput(t, fmt.Sprintf(`
topic: secure
brokers: [%s]
sasl: {mechanism: %s, username: %s, password: %s}
`, c.ListenAddrs()[0], m.mech, m.user, bad))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := o.Connect(ctx)
			if err == nil {
				t.Fatal("Connect with a wrong password succeeded")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			for _, want := range []string{"esa_kafka", c.ListenAddrs()[0], "rejected the SASL " + m.mech, `user "` + m.user + `"`} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, bad) {
				t.Errorf("error prints the password: %q", msg)
			}
			if fe := outcome.From(res).FatalErr(); fe == nil || fe.Error() != msg {
				t.Errorf("outcome fatal error = %v, want the connect error", fe)
			}
		})
	}
	// The right password connects (and is not fatal).
	o, res := newTestOutput(t, fmt.Sprintf(`
topic: secure
brokers: [%s]
sasl: {mechanism: SCRAM-SHA-512, username: user512, password: right-512-pw}
`, c.ListenAddrs()[0]))
	if err := o.Connect(context.Background()); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if outcome.From(res).FatalErr() != nil {
		t.Fatal("right password recorded a fatal error")
	}
}

func TestConnectErrorsAreRetryable(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "exists"))
	o, res := newTestOutput(t, fmt.Sprintf("topic: missing\nbrokers: [%s]\n", c.ListenAddrs()[0]))
	err := o.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), `topic "missing" does not exist`) {
		t.Fatalf("want an error naming the missing topic, got %v", err)
	}
	if outcome.From(res).FatalErr() != nil {
		t.Fatal("a missing topic must not be fatal (it may be created)")
	}
	// Nothing listening: a plain connect error, retried by Benthos.
	o, res = newTestOutput(t, "topic: exists\nbrokers: [127.0.0.1:1]\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Connect(ctx); err == nil || !strings.Contains(err.Error(), "connect to brokers 127.0.0.1:1") {
		t.Fatalf("want a connect error naming the broker, got %v", err)
	}
	if outcome.From(res).FatalErr() != nil {
		t.Fatal("an unreachable broker must not be fatal")
	}
}

func TestOutputConfigErrors(t *testing.T) {
	cases := map[string]string{
		"topic: t\nbrokers: []\n":                                                        "at least one broker",
		"topic: t\nbrokers: [nohostport]\n":                                              "want host:port",
		"topic: ' '\nbrokers: [a:1]\n":                                                   "topic: required",
		"topic: t\nbrokers: [a:1]\nbalancer: Random\n":                                   "unknown balancer",
		"topic: t\nbrokers: [a:1]\nsasl: {mechanism: PLAIN}\n":                           "sasl.username",
		"topic: t\nbrokers: [a:1]\ntls: {enabled: true, ca_file: /nonexistent/ca.pem}\n": "tls.ca_file",
	}
	brokers51 := make([]string, 51)
	for i := range brokers51 {
		brokers51[i] = fmt.Sprintf("b%d:9092", i)
	}
	cases["topic: t\nbrokers: ["+strings.Join(brokers51, ",")+"]\n"] = "at most 50"
	for yaml, want := range cases {
		conf, err := OutputSpec().ParseYAML(yaml, service.NewEmptyEnvironment())
		if err == nil {
			_, _, _, err = outputFromParsed(conf, service.MockResources())
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want it to mention %q", yaml, err, want)
		}
	}
	// kafka.-prefixed balancers, the "none" alias and 50 brokers are fine.
	brokers50 := strings.Join(brokers51[:50], ",")
	conf, err := OutputSpec().ParseYAML("topic: t\nbrokers: ["+brokers50+"]\nbalancer: kafka.CRC32Balancer\ncompression: none\n", service.NewEmptyEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	o, policy, inFlight, err := outputFromParsed(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	if o.balancer != BalancerCRC32 || len(o.conn.brokers) != 50 || inFlight != 16 {
		t.Errorf("balancer %q, %d brokers, max_in_flight %d", o.balancer, len(o.conn.brokers), inFlight)
	}
	if policy.Count != 1000 || policy.ByteSize != 5<<20 || policy.Period != "5s" {
		t.Errorf("default batch policy %+v, want the defaults 1000 / 5 MiB / 5s (the translator's)", policy)
	}
}

// TestNewOutputRetry: retry.max_elapsed replaces delivery_timeout (and bounds records in flight),
// max_backoff caps the client's backoff; the client buffers at least 10,000 records.
func TestNewOutputRetry(t *testing.T) {
	c := OutputConfig{Topic: "t", Balancer: BalancerLeastBytes, DeliveryTimeout: 30 * time.Second, MaxInFlight: 1}
	o := newOutput(c, service.MockResources())
	if o.deliveryTimeout != 30*time.Second || o.maxElapsed || o.maxBackoff != 0 || o.maxBuffered != 10000 {
		t.Errorf("without retry: delivery timeout %s, max elapsed %v, max backoff %s, max buffered %d",
			o.deliveryTimeout, o.maxElapsed, o.maxBackoff, o.maxBuffered)
	}
	c.Retry = delivery.RetryPolicy{MaxElapsed: 5 * time.Second, MaxBackoff: 2 * time.Second}
	c.MaxBuffered = 16 * 1000
	o = newOutput(c, service.MockResources())
	if o.deliveryTimeout != 5*time.Second || !o.maxElapsed || o.maxBackoff != 2*time.Second || o.maxBuffered != 16000 {
		t.Errorf("with retry: delivery timeout %s, max elapsed %v, max backoff %s, max buffered %d",
			o.deliveryTimeout, o.maxElapsed, o.maxBackoff, o.maxBuffered)
	}
}

func TestKeyOf(t *testing.T) {
	cases := []struct {
		rec  string
		want []byte
	}{
		{`{"k":"abc","x":1}`, []byte("abc")},
		{`{"x":1,"k":"a\"b"}`, []byte(`a"b`)},
		{`{"k":""}`, []byte{}},
		{`{"k":404}`, []byte("404")},
		{`{"k":true}`, []byte("true")},
		{`{"k":{"a":1}}`, []byte(`{"a":1}`)},
		{`{"k":null}`, nil},
		{`{"other":"v"}`, nil},
		{`not json`, nil},
	}
	for _, c := range cases {
		got := keyOf([]byte(c.rec), "k")
		if (got == nil) != (c.want == nil) || string(got) != string(c.want) {
			t.Errorf("keyOf(%s) = %q (nil %v), want %q (nil %v)", c.rec, got, got == nil, c.want, c.want == nil)
		}
	}
}

func consumeRaw(t *testing.T, addr, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		out = append(out, fs.Records()...)
		if len(out) >= want && fs.NumRecords() == 0 {
			break
		}
	}
	return out
}

// BenchmarkWriteBatch measures the output alone: batches of 1,000 access-like records keyed by
// request ID (Murmur2Balancer) to a kfake broker that acknowledges without storing.
func BenchmarkWriteBatch(b *testing.B) {
	batch := make(service.MessageBatch, 1000)
	for i := range batch {
		batch[i] = service.NewMessage([]byte(fmt.Sprintf(`{"EdgeStartTimestamp":"2026-03-01T12:00:%02d.%06dZ","ClientRequestID":"%016x","ClientIP":"198.51.100.%d","ClientRequestHost":"www.example.com","ClientRequestPath":"/static/app-%d.js","EdgeResponseStatusCode":200,"EdgeResponseBytes":%d}`,
			i%60, i, uint64(i)*0x9e3779b97f4a7c15, i%250, i%50, 1000+i)))
	}
	for _, codec := range []string{"no", "gzip", "snappy", "lz4", "zstd"} {
		b.Run(codec, func(b *testing.B) {
			c := newCluster(b, kfake.BlackholeProduce(), kfake.SeedTopics(12, "bench"))
			o, _ := newTestOutput(b, fmt.Sprintf("topic: bench\nbrokers: [%s]\ncompression: %s\nbalancer: Murmur2Balancer\nkey_field: ClientRequestID\n",
				c.ListenAddrs()[0], codec))
			ctx := context.Background()
			if err := o.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for n < b.N {
				if err := o.WriteBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
				n += len(batch)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
