package kafka

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kgo's codec numbers in a record's attributes.
var codecAttr = map[string]int8{"no": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// outputYAML is a pipeline reading an NDJSON file line by line into esa_kafka with extra output
// fields.
func outputYAML(file string, brokers []string, topic, extra string) string {
	return fmt.Sprintf(`
input:
  file:
    paths: [%q]
    scanner:
      lines: {}
output:
  esa_kafka:
    topic: %s
    brokers: [%s]
    batching: {count: 500, period: 500ms}
%s
`, file, topic, strings.Join(brokers, ", "), indent(extra, "    "))
}

func indent(s, pre string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n")
}

// TestOutputEveryCodec writes records with each codec and reads them back record by record with
// franz-go (checking the batches really were compressed with that codec) and with kcat.
func TestOutputEveryCodec(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(6, "logs-no", "logs-gzip", "logs-snappy", "logs-lz4", "logs-zstd"))
	addrs := c.ListenAddrs()
	recs := accessRecords(3000)
	file := writeNDJSON(t, t.TempDir(), recs)
	for _, cd := range codecs {
		t.Run(cd.esa, func(t *testing.T) {
			topic := "logs-" + cd.esa
			s := buildStream(t, newEnv(t), outputYAML(file, addrs, topic, "compression: "+cd.esa), nil)
			runStream(t, s, 2*time.Minute)

			got := consume(t, addrs, topic, len(recs), 30*time.Second)
			compareMultiset(t, "franz-go read back", values(got), recs)
			partitions := map[int32]int{}
			inCodec := 0
			for _, r := range got {
				partitions[r.Partition]++
				// franz-go sends a batch uncompressed when compressing does not make it smaller (a
				// small batch): such a batch has codec 0; every other must have the chosen codec.
				switch ct := int8(r.Attrs.CompressionType()); ct {
				case codecAttr[cd.esa]:
					inCodec++
				case 0:
				default:
					t.Fatalf("record at %d/%d was in a batch with codec %d, want %d (%s)", r.Partition, r.Offset, ct, codecAttr[cd.esa], cd.esa)
				}
				if r.Key != nil {
					t.Fatalf("record without key_field has key %q", r.Key)
				}
			}
			if inCodec < len(got)*9/10 {
				t.Fatalf("only %d of %d records were in %s batches", inCodec, len(got), cd.esa)
			}
			// LeastBytes (the default) spreads over every partition.
			if len(partitions) != 6 {
				t.Errorf("records landed on %d of 6 partitions: %v", len(partitions), partitions)
			}

			t.Run("kcat reads it", func(t *testing.T) {
				msgs := kcatConsume(t, addrs[0], topic)
				var payloads []string
				for _, m := range msgs {
					if m.Payload != nil {
						payloads = append(payloads, *m.Payload)
					}
				}
				compareMultiset(t, "kcat ("+cd.rdkafka+") read back", payloads, recs)
			})
		})
	}
}

// TestBalancersAgainstLibrdkafka routes the same keys with esa_kafka and with librdkafka's
// partitioners (kcat) and compares the partition of every key: Murmur2Balancer = murmur2_random,
// CRC32Balancer = consistent_random, Hash = fnv1a for the keys whose FNV-1a hash is below 2^31
// (librdkafka takes the hash unsigned, Sarama/kafka-go signed; for the others the partitions are
// reference vectors computed by hand). It also checks the examples of docs/destinations.md#kafka end
// to end.
func TestBalancersAgainstLibrdkafka(t *testing.T) {
	const n = 12
	c := newCluster(t, kfake.DefaultNumPartitions(n), kfake.AllowAutoTopicCreation(),
		kfake.SeedTopics(n, "murmur-esa", "murmur-rd", "crc-esa", "crc-rd", "hash-esa", "hash-rd", "lb", "rr"))
	addrs := c.ListenAddrs()

	keys := []string{"21", "foobar", "abc", "a-little-bit-long-string", "hejsan", "123456789"}
	for i := 0; i < 300; i++ {
		keys = append(keys, fmt.Sprintf("203.0.113.%d", i), fmt.Sprintf("req-%08x", i*2654435761))
	}
	for i := 0; i < 12; i++ {
		keys = append(keys, fmt.Sprintf("host-%d", i))
	}
	var recs []string
	var kcatIn bytes.Buffer
	for i, k := range keys {
		recs = append(recs, fmt.Sprintf(`{"k":%q,"seq":%d}`, k, i))
		fmt.Fprintf(&kcatIn, "%s\t{\"seq\":%d}\n", k, i)
	}
	file := writeNDJSON(t, t.TempDir(), recs)

	// Hand-computed: partition on 12 of the Java vectors and of FNV-1a hashes with the top bit set.
	murmurVectors := map[string]int32{"21": 0, "abc": 3, "foobar": 6}
	hashVectors := map[string]int32{"host-0": 2, "host-1": 3, "host-2": 0, "host-3": 1, "host-4": 10, "host-5": 11,
		"host-6": 8, "host-7": 9, "host-8": 10, "host-9": 11, "host-10": 1, "host-11": 0}

	cases := []struct {
		balancer, esaTopic, rdTopic, rdPartitioner string
		vectors                                    map[string]int32
	}{
		{"kafka.Murmur2Balancer", "murmur-esa", "murmur-rd", "murmur2_random", murmurVectors},
		{"CRC32Balancer", "crc-esa", "crc-rd", "consistent_random", map[string]int32{"hejsan": int32(0xd077037e % n), "123456789": int32(0xcbf43926 % n)}},
		{"Hash", "hash-esa", "hash-rd", "fnv1a", hashVectors},
	}
	for _, cs := range cases {
		t.Run(cs.balancer, func(t *testing.T) {
			s := buildStream(t, newEnv(t), outputYAML(file, addrs, cs.esaTopic, "balancer: "+cs.balancer+"\nkey_field: k"), nil)
			runStream(t, s, 2*time.Minute)
			got := consume(t, addrs, cs.esaTopic, len(keys), 30*time.Second)
			if len(got) != len(keys) {
				t.Fatalf("read %d records, want %d", len(got), len(keys))
			}
			esa := map[string]int32{}
			for _, r := range got {
				if prev, ok := esa[string(r.Key)]; ok && prev != r.Partition {
					t.Fatalf("key %q on partitions %d and %d", r.Key, prev, r.Partition)
				}
				esa[string(r.Key)] = r.Partition
			}
			for k, want := range cs.vectors {
				if esa[k] != want {
					t.Errorf("key %q on partition %d, reference vector says %d", k, esa[k], want)
				}
			}

			t.Run("same partitions as librdkafka", func(t *testing.T) {
				runKcat(t, kcatIn.Bytes(), "-P", "-b", addrs[0], "-t", cs.rdTopic, "-K", "\t", "-X", "partitioner="+cs.rdPartitioner)
				msgs := kcatConsume(t, addrs[0], cs.rdTopic)
				if len(msgs) != len(keys) {
					t.Fatalf("kcat wrote %d records, want %d", len(msgs), len(keys))
				}
				compared := 0
				for _, m := range msgs {
					k := *m.Key
					if cs.balancer == "Hash" {
						h := fnv.New32a()
						h.Write([]byte(k))
						if h.Sum32() >= 1<<31 {
							continue // librdkafka's unsigned modulo differs here: checked by hashVectors
						}
					}
					compared++
					if esa[k] != m.Partition {
						t.Errorf("key %q: esa_kafka partition %d, librdkafka %s partition %d", k, esa[k], cs.rdPartitioner, m.Partition)
					}
				}
				if compared < 100 {
					t.Fatalf("only %d keys compared", compared)
				}
			})
		})
	}

	// LeastBytes and RoundRobin: equal-size records spread exactly evenly.
	var even []string
	for i := 0; i < 1200; i++ {
		even = append(even, fmt.Sprintf(`{"seq":%06d}`, i))
	}
	evenFile := writeNDJSON(t, t.TempDir(), even)
	for _, cs := range []struct{ balancer, topic string }{{"LeastBytes", "lb"}, {"RoundRobin", "rr"}} {
		t.Run(cs.balancer, func(t *testing.T) {
			// One batch in flight keeps the records in file order through the partitioner.
			s := buildStream(t, newEnv(t), outputYAML(evenFile, addrs, cs.topic, "balancer: "+cs.balancer+"\nmax_in_flight: 1"), nil)
			runStream(t, s, 2*time.Minute)
			got := consume(t, addrs, cs.topic, len(even), 30*time.Second)
			compareMultiset(t, cs.balancer, values(got), even)
			per := map[int32]int{}
			for _, r := range got {
				per[r.Partition]++
			}
			for p := int32(0); p < n; p++ {
				if per[p] != 100 {
					t.Fatalf("%s: partition %d got %d of 1200 records, want 100 (%v)", cs.balancer, p, per[p], per)
				}
			}
		})
	}
}

// TestOutputSASL delivers with every SASL mechanism (and every codec over SCRAM-SHA-512), reads it
// back with franz-go and with kcat over SASL.
func TestOutputSASL(t *testing.T) {
	c := saslCluster(t, kfake.SeedTopics(3, "sasl-PLAIN", "sasl-SCRAM-SHA-256", "sasl-SCRAM-SHA-512"))
	addrs := c.ListenAddrs()
	recs := accessRecords(500)
	file := writeNDJSON(t, t.TempDir(), recs)
	for i, u := range saslUsers {
		t.Run(u.mech, func(t *testing.T) {
			topic := "sasl-" + u.mech
			cd := codecs[(i+1)%len(codecs)]
			extra := fmt.Sprintf("compression: %s\nsasl:\n  mechanism: %s\n  username: %s\n  password: %s", cd.esa, u.mech, u.user, u.pass)
			logs := &logBuffer{}
			s := buildStream(t, newEnv(t), outputYAML(file, addrs, topic, extra), logs)
			runStream(t, s, 2*time.Minute)
			if strings.Contains(logs.String(), u.pass) {
				t.Fatalf("the logs contain the SASL password:\n%s", logs)
			}
			got := consume(t, addrs, topic, len(recs), 30*time.Second, saslClientOpt(u.mech, u.user, u.pass))
			compareMultiset(t, "franz-go read back", values(got), recs)

			t.Run("kcat reads it over SASL", func(t *testing.T) {
				msgs := kcatConsume(t, addrs[0], topic, kcatSASLArgs(u.mech, u.user, u.pass)...)
				var payloads []string
				for _, m := range msgs {
					payloads = append(payloads, *m.Payload)
				}
				compareMultiset(t, "kcat read back", payloads, recs)
			})
		})
	}
}

// TestOutputWrongPassword: a rejected password stops the stream's output with a clear error that
// names the brokers, the mechanism and the user, and never the password.
func TestOutputWrongPassword(t *testing.T) {
	c := saslCluster(t, kfake.SeedTopics(1, "secure"))
	addrs := c.ListenAddrs()
	file := writeNDJSON(t, t.TempDir(), accessRecords(10))
	const bad = "Definitely-Wrong-Pw-42"
	logs := &logBuffer{}
	s := buildStream(t, newEnv(t), outputYAML(file, addrs, "secure",
		"sasl: {mechanism: SCRAM-SHA-256, username: scram256-user, password: "+bad+"}"), logs)
	done := make(chan error, 1)
	go func() { done <- s.Run(t.Context()) }()
	deadline := time.Now().Add(30 * time.Second)
	want := `rejected the SASL SCRAM-SHA-256 username/password for user \"scram256-user\"`
	for !strings.Contains(logs.String(), "rejected the SASL") {
		if time.Now().After(deadline) {
			t.Fatalf("no credential error logged within 30s:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = s.StopWithin(10 * time.Second)
	<-done
	out := logs.String()
	if !strings.Contains(out, want) || !strings.Contains(out, addrs[0]) {
		t.Errorf("credential error does not name the brokers and user:\n%s", out)
	}
	if strings.Contains(out, bad) {
		t.Errorf("logs contain the password:\n%s", out)
	}
}
