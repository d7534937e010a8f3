package kafka

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The balancer names ESA uses (those of github.com/segmentio/kafka-go). A "kafka." prefix, as in ESA's
// SDK example (kafka.LeastBytes), is accepted by ParseBalancer.
const (
	BalancerLeastBytes = "LeastBytes"
	BalancerHash       = "Hash"
	BalancerRoundRobin = "RoundRobin"
	BalancerCRC32      = "CRC32Balancer"
	BalancerMurmur2    = "Murmur2Balancer"
)

// BalancerNames lists the canonical balancer names.
var BalancerNames = []string{BalancerLeastBytes, BalancerHash, BalancerRoundRobin, BalancerCRC32, BalancerMurmur2}

// ParseBalancer returns the canonical name of a balancer given as in ESA's KafkaDelivery: one of
// BalancerNames, case-insensitively, optionally prefixed with "kafka.". The aliases "CRC32" and
// "Murmur2" are accepted too. An empty name is LeastBytes, ESA's default.
func ParseBalancer(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return BalancerLeastBytes, nil
	}
	if len(n) > 6 && strings.EqualFold(n[:6], "kafka.") {
		n = n[6:]
	}
	switch strings.ToLower(n) {
	case "leastbytes":
		return BalancerLeastBytes, nil
	case "hash":
		return BalancerHash, nil
	case "roundrobin":
		return BalancerRoundRobin, nil
	case "crc32balancer", "crc32":
		return BalancerCRC32, nil
	case "murmur2balancer", "murmur2":
		return BalancerMurmur2, nil
	}
	return "", fmt.Errorf("unknown balancer %q: want one of %s (a \"kafka.\" prefix is allowed)", name, strings.Join(BalancerNames, ", "))
}

// NewPartitioner returns the franz-go partitioner for a balancer name (see ParseBalancer). The
// semantics are those of segmentio/kafka-go's balancers of the same names:
//
//   - LeastBytes: the partition that has been sent the fewest bytes (key + value) so far by this
//     producer; ties go to the lowest partition, so records spread over every partition.
//   - RoundRobin: partitions in turn, one record each.
//   - Hash: FNV-1a 32 of the key; partition = int32(hash) % n, negated when negative (as Sarama).
//     A record without a key (nil, i.e. key_field missing or null) goes round robin, as kafka-go.
//   - CRC32Balancer: CRC-32 (IEEE) of the key % n, as librdkafka's "consistent_random"
//     partitioner; a nil or empty key picks a random partition, as kafka-go.
//   - Murmur2Balancer: (murmur2(key) & 0x7fffffff) % n, the Java client's default partitioner for
//     keyed records; a nil key picks a random partition, as kafka-go (librdkafka "murmur2_random").
//     An empty, non-nil key is hashed.
//
// Keyed records of the hash balancers always map to the same partition (the record waits if that
// partition is unavailable); keyless records and the other balancers choose among the partitions
// that can currently be written to.
func NewPartitioner(name string) (kgo.Partitioner, error) {
	canonical, err := ParseBalancer(name)
	if err != nil {
		return nil, err
	}
	return partitioner{name: canonical}, nil
}

type partitioner struct{ name string }

// ForTopic implements kgo.Partitioner. franz-go uses one topic partitioner for one record at a
// time, so the per-topic state needs no lock.
func (p partitioner) ForTopic(string) kgo.TopicPartitioner {
	switch p.name {
	case BalancerHash:
		return &hashPartitioner{}
	case BalancerRoundRobin:
		return &roundRobin{}
	case BalancerCRC32:
		return crc32Partitioner{}
	case BalancerMurmur2:
		return murmur2Partitioner{}
	default:
		return &leastBytes{}
	}
}

// FNV1a32 returns the 32-bit FNV-1a hash of b.
func FNV1a32(b []byte) uint32 {
	const (
		offset32 = 0x811c9dc5
		prime32  = 0x01000193
	)
	h := uint32(offset32)
	for _, c := range b {
		h ^= uint32(c)
		h *= prime32
	}
	return h
}

// Murmur2 returns the 32-bit MurmurHash2 of b exactly as the Java Kafka client's Utils.murmur2
// (seed 0x9747b28c), as a signed int like Java's.
func Murmur2(b []byte) int32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(b)
	h := uint32(seed) ^ uint32(n)
	i := 0
	for ; i+4 <= n; i += 4 {
		k := uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch n - i {
	case 3:
		h ^= uint32(b[i+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[i+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[i])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// CRC32 returns the CRC-32 (IEEE polynomial, as zlib and librdkafka) of b.
func CRC32(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// HashPartition is the Hash balancer's partition for key among n partitions.
func HashPartition(key []byte, n int) int {
	p := int32(FNV1a32(key)) % int32(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

// CRC32Partition is the CRC32Balancer's partition for a non-empty key among n partitions.
func CRC32Partition(key []byte, n int) int { return int(CRC32(key) % uint32(n)) }

// Murmur2Partition is the Murmur2Balancer's partition for a non-nil key among n partitions.
func Murmur2Partition(key []byte, n int) int {
	return int((uint32(Murmur2(key)) & 0x7fffffff) % uint32(n))
}

// roundRobin hands out partitions in turn.
type roundRobin struct{ next uint32 }

func (*roundRobin) RequiresConsistency(*kgo.Record) bool { return false }

func (rr *roundRobin) Partition(_ *kgo.Record, n int) int {
	p := int(rr.next % uint32(n))
	rr.next++
	return p
}

// leastBytes sends each record to the partition that has received the fewest bytes.
type leastBytes struct{ sent []uint64 }

func (*leastBytes) RequiresConsistency(*kgo.Record) bool { return false }

func (lb *leastBytes) Partition(r *kgo.Record, n int) int {
	if len(lb.sent) != n {
		// The set of partitions changed: start counting afresh, as kafka-go does.
		lb.sent = make([]uint64, n)
	}
	best := 0
	for i := 1; i < n; i++ {
		if lb.sent[i] < lb.sent[best] {
			best = i
		}
	}
	lb.sent[best] += uint64(len(r.Key)) + uint64(len(r.Value))
	return best
}

// hashPartitioner is the FNV-1a Hash balancer; keyless records go round robin.
type hashPartitioner struct{ rr roundRobin }

func (*hashPartitioner) RequiresConsistency(r *kgo.Record) bool { return r.Key != nil }

func (h *hashPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Key == nil {
		return h.rr.Partition(r, n)
	}
	return HashPartition(r.Key, n)
}

// crc32Partitioner is the CRC32Balancer; nil and empty keys go to a random partition.
type crc32Partitioner struct{}

func (crc32Partitioner) RequiresConsistency(r *kgo.Record) bool { return len(r.Key) > 0 }

func (crc32Partitioner) Partition(r *kgo.Record, n int) int {
	if len(r.Key) == 0 {
		return rand.IntN(n)
	}
	return CRC32Partition(r.Key, n)
}

// murmur2Partitioner is the Murmur2Balancer; nil keys go to a random partition.
type murmur2Partitioner struct{}

func (murmur2Partitioner) RequiresConsistency(r *kgo.Record) bool { return r.Key != nil }

func (murmur2Partitioner) Partition(r *kgo.Record, n int) int {
	if r.Key == nil {
		return rand.IntN(n)
	}
	return Murmur2Partition(r.Key, n)
}
