package kafka

import (
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Reference vectors. Murmur2 hashes are Apache Kafka's own (clients UtilsTest.testMurmur2) plus the
// empty key; the partition vectors for Murmur2, Hash and CRC32 are the examples of
// docs/destinations.md#kafka; the others were computed by hand from the published hash values (and
// cross-checked with Python's zlib.crc32 and a separate FNV-1a loop). None is computed by the code
// under test.

func TestMurmur2JavaVectors(t *testing.T) {
	cases := []struct {
		key  string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
		{"", 275646681},
	}
	for _, c := range cases {
		if got := Murmur2([]byte(c.key)); got != c.want {
			t.Errorf("Murmur2(%q) = %d, want %d", c.key, got, c.want)
		}
	}
}

func TestMurmur2PartitionVectors(t *testing.T) {
	cases := []struct {
		key  string
		n    int
		want int
	}{
		{"", 1000, 681},
		{"a", 1000, 524},
		{"abc", 1000, 107},
		{"123456789", 1000, 566},
		// (-790332482 & 0x7fffffff) = 1357151166; % 50 = 16.
		{"foobar", 50, 16},
		// (-973932308 & 0x7fffffff) = 1173551340; % 12 = 0.
		{"21", 12, 0},
		// 479470107 % 12 = 3.
		{"abc", 12, 3},
	}
	for _, c := range cases {
		if got := Murmur2Partition([]byte(c.key), c.n); got != c.want {
			t.Errorf("Murmur2Partition(%q, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
		tp := mustPartitioner(t, BalancerMurmur2)
		r := &kgo.Record{Key: []byte(c.key)}
		if !tp.RequiresConsistency(r) {
			t.Errorf("Murmur2Balancer: a keyed record (%q) must require consistency", c.key)
		}
		if got := tp.Partition(r, c.n); got != c.want {
			t.Errorf("Murmur2Balancer partition of %q on %d = %d, want %d", c.key, c.n, got, c.want)
		}
	}
}

func TestFNV1aVectors(t *testing.T) {
	cases := []struct {
		key  string
		want uint32
	}{
		{"", 0x811c9dc5},
		{"a", 0xe40c292c},
		{"foobar", 0xbf9cf968},
		{"blah", 0x7dca5122},
		{"boop", 0xcc949b89},
		{"20", 0x8df2997f},
	}
	for _, c := range cases {
		if got := FNV1a32([]byte(c.key)); got != c.want {
			t.Errorf("FNV1a32(%q) = %#x, want %#x", c.key, got, c.want)
		}
	}
	// And against the standard library's independent implementation on random keys.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		key := make([]byte, rng.IntN(64))
		for j := range key {
			key[j] = byte(rng.UintN(256))
		}
		h := fnv.New32a()
		h.Write(key)
		if got, want := FNV1a32(key), h.Sum32(); got != want {
			t.Fatalf("FNV1a32(%x) = %#x, hash/fnv says %#x", key, got, want)
		}
	}
}

func TestHashPartitionVectors(t *testing.T) {
	cases := []struct {
		key  string
		n    int
		want int
	}{
		{"blah", 3, 1},
		{"boop", 3, 2},
		{"20", 16, 1},
		// 0xe40c292c as int32 is -468965076; % 7 = -6 → 6 (an unsigned modulo would give 5).
		{"a", 7, 6},
		// 0xbf9cf968 as int32 is -1080231576; % 10 = -6 → 6 (unsigned: 0).
		{"foobar", 10, 6},
		{"", 5, 0},
		{"ClientIP", 12, 7},
	}
	for _, c := range cases {
		if got := HashPartition([]byte(c.key), c.n); got != c.want {
			t.Errorf("HashPartition(%q, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
		tp := mustPartitioner(t, BalancerHash)
		if got := tp.Partition(&kgo.Record{Key: []byte(c.key)}, c.n); got != c.want {
			t.Errorf("Hash balancer partition of %q on %d = %d, want %d", c.key, c.n, got, c.want)
		}
	}
}

func TestCRC32Vectors(t *testing.T) {
	cases := []struct {
		key  string
		want uint32
	}{
		{"hejsan", 0xd077037e},
		{"123456789", 0xcbf43926}, // the CRC-32/ISO-HDLC check value
		{"The quick brown fox jumps over the lazy dog", 0x414fa339},
		{"", 0},
	}
	for _, c := range cases {
		if got := CRC32([]byte(c.key)); got != c.want {
			t.Errorf("CRC32(%q) = %#x, want %#x", c.key, got, c.want)
		}
	}
	parts := []struct {
		key  string
		n    int
		want int
	}{
		{"hejsan", 17, 14},
		// 0xcbf43926 = 3421780262; % 10 = 2; % 7 = 3421780262 - 7*488825751 = 5.
		{"123456789", 10, 2},
		{"123456789", 7, 5},
	}
	for _, c := range parts {
		tp := mustPartitioner(t, BalancerCRC32)
		r := &kgo.Record{Key: []byte(c.key)}
		if !tp.RequiresConsistency(r) {
			t.Errorf("CRC32Balancer: keyed record must require consistency")
		}
		if got := tp.Partition(r, c.n); got != c.want {
			t.Errorf("CRC32Balancer partition of %q on %d = %d, want %d", c.key, c.n, got, c.want)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	tp := mustPartitioner(t, BalancerRoundRobin)
	want := []int{0, 1, 2, 3, 0, 1, 2, 3, 0}
	for i, w := range want {
		if got := tp.Partition(&kgo.Record{Key: []byte("same key")}, 4); got != w {
			t.Fatalf("record %d: partition %d, want %d", i, got, w)
		}
	}
}

func TestLeastBytes(t *testing.T) {
	tp := mustPartitioner(t, BalancerLeastBytes)
	// Sizes key+value: 10, 5, 1 fill partitions 0, 1, 2; then partition 2 (1 byte) is the least
	// loaded twice in a row, then partition 1 (5 bytes).
	steps := []struct {
		key, value string
		want       int
	}{
		{"", "0123456789", 0},
		{"k", "abcd", 1},
		{"", "x", 2},
		{"", "y", 2},              // p2 has 1 byte
		{"", "01234567890123", 2}, // p2 has 2 bytes
		{"", "z", 1},              // bytes now 10, 5, 16
	}
	for i, s := range steps {
		r := &kgo.Record{Value: []byte(s.value)}
		if s.key != "" {
			r.Key = []byte(s.key)
		}
		if tp.RequiresConsistency(r) {
			t.Fatalf("LeastBytes must not require consistency")
		}
		if got := tp.Partition(r, 3); got != s.want {
			t.Fatalf("step %d: partition %d, want %d", i, got, s.want)
		}
	}
	// Equal records spread exactly evenly over every partition.
	tp = mustPartitioner(t, BalancerLeastBytes)
	counts := make([]int, 12)
	for i := 0; i < 1200; i++ {
		counts[tp.Partition(&kgo.Record{Value: []byte("0123456789")}, 12)]++
	}
	for p, c := range counts {
		if c != 100 {
			t.Fatalf("partition %d got %d records, want 100 (%v)", p, c, counts)
		}
	}
}

func TestKeylessRecords(t *testing.T) {
	// Hash: nil key → round robin (kafka-go). An empty, non-nil key is hashed.
	tp := mustPartitioner(t, BalancerHash)
	r := &kgo.Record{Value: []byte("v")}
	if tp.RequiresConsistency(r) {
		t.Fatal("Hash: a keyless record must not require consistency")
	}
	for i, w := range []int{0, 1, 2, 0, 1} {
		if got := tp.Partition(r, 3); got != w {
			t.Fatalf("Hash keyless record %d: partition %d, want %d", i, got, w)
		}
	}
	if !tp.RequiresConsistency(&kgo.Record{Key: []byte{}}) {
		t.Fatal("Hash: an empty non-nil key is a key")
	}
	// CRC32: nil and empty keys → random (kafka-go / librdkafka consistent_random).
	// Murmur2: nil key → random; empty key is hashed ("" → 681 of 1000 above).
	for _, c := range []struct {
		name string
		key  []byte
	}{{BalancerCRC32, nil}, {BalancerCRC32, []byte{}}, {BalancerMurmur2, nil}} {
		tp := mustPartitioner(t, c.name)
		r := &kgo.Record{Key: c.key, Value: []byte("v")}
		if tp.RequiresConsistency(r) {
			t.Fatalf("%s: keyless record must not require consistency", c.name)
		}
		seen := map[int]int{}
		for i := 0; i < 2000; i++ {
			p := tp.Partition(r, 4)
			if p < 0 || p >= 4 {
				t.Fatalf("%s: partition %d out of range", c.name, p)
			}
			seen[p]++
		}
		// 2000 uniform draws over 4 partitions: each gets 500 ± a few dozen; < 300 would be a
		// 13-sigma event.
		for p := 0; p < 4; p++ {
			if seen[p] < 300 {
				t.Fatalf("%s keyless records: partition %d got %d of 2000 (%v)", c.name, p, seen[p], seen)
			}
		}
	}
	if !mustPartitioner(t, BalancerMurmur2).RequiresConsistency(&kgo.Record{Key: []byte{}}) {
		t.Fatal("Murmur2: an empty non-nil key is a key")
	}
}

func TestParseBalancer(t *testing.T) {
	cases := map[string]string{
		"":                      BalancerLeastBytes,
		"LeastBytes":            BalancerLeastBytes,
		"kafka.LeastBytes":      BalancerLeastBytes,
		"kafka.Hash":            BalancerHash,
		"hash":                  BalancerHash,
		"RoundRobin":            BalancerRoundRobin,
		"kafka.RoundRobin":      BalancerRoundRobin,
		"CRC32Balancer":         BalancerCRC32,
		"kafka.CRC32Balancer":   BalancerCRC32,
		"Murmur2Balancer":       BalancerMurmur2,
		"kafka.Murmur2Balancer": BalancerMurmur2,
		"murmur2":               BalancerMurmur2,
	}
	for in, want := range cases {
		got, err := ParseBalancer(in)
		if err != nil || got != want {
			t.Errorf("ParseBalancer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"Random", "kafka.", "LeastByte", "sarama.Hash"} {
		if _, err := ParseBalancer(bad); err == nil {
			t.Errorf("ParseBalancer(%q): want an error", bad)
		}
	}
}

func mustPartitioner(t *testing.T, name string) kgo.TopicPartitioner {
	t.Helper()
	p, err := NewPartitioner(name)
	if err != nil {
		t.Fatal(err)
	}
	return p.ForTopic("topic")
}

func BenchmarkPartitioners(b *testing.B) {
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte("client-" + string(rune('a'+i%26)) + "-request-id-0123456789")
	}
	for _, name := range BalancerNames {
		b.Run(name, func(b *testing.B) {
			p, _ := NewPartitioner(name)
			tp := p.ForTopic("t")
			r := &kgo.Record{Value: make([]byte, 300)}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r.Key = keys[i&1023]
				_ = tp.Partition(r, 12)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
