package acs3

import (
	"crypto/sha256"
	"sync"
)

// DefaultMaxNonces is the default cap on the nonces a Verifier remembers.
const DefaultMaxNonces = 1_000_000

// nonceKey identifies a nonce of an AccessKey: the first 128 bits of SHA-256(id NUL nonce). A fixed
// size keeps an entry small whatever the length of the nonce a client sends; two different nonces
// collide with negligible probability (and a collision only refuses a request, it never accepts
// one).
type nonceKey [16]byte

func makeNonceKey(id, nonce string) nonceKey {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(nonce))
	var sum [sha256.Size]byte
	var k nonceKey
	copy(k[:], h.Sum(sum[:0]))
	return k
}

// nonceEntry is a remembered nonce and when it may be forgotten (Unix nanoseconds).
type nonceEntry struct {
	key    nonceKey
	expiry int64
}

// nonceCache remembers the nonces of accepted requests until their request could no longer be
// accepted: a set for lookups and a ring of the same nonces in the order they were accepted, which
// is the order of their expiry, for forgetting them. A nonce is in the set if and only if it is in
// the ring.
//
// Memory: the ring takes 24 bytes a slot and grows by doubling up to the cap; the set about 20 to 40
// bytes a nonce depending on how full its table is. Measured at the default cap of 1,000,000: about
// 60 MB (TestNonceCacheMemory). Both are given back once every nonce has expired.
type nonceCache struct {
	mu   sync.Mutex
	seen map[nonceKey]struct{}
	ring []nonceEntry // ring[head], ring[head+1], … (mod len(ring)), n of them, oldest first
	head int
	n    int
	// evicted counts nonces forgotten before their expiry because the cache was full.
	evicted uint64
}

// use reports whether the nonce key is remembered, and if it is not, remembers it until expiry
// (Unix nanoseconds). Nonces whose expiry is not after now are forgotten first; if the cache still
// holds max nonces, the oldest are evicted to make room, so it never holds more than max.
func (c *nonceCache) use(key nonceKey, now, expiry int64, max int) (used bool) {
	if max < 1 {
		max = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.n > 0 && c.ring[c.head].expiry <= now {
		c.dropOldest()
	}
	if _, ok := c.seen[key]; ok {
		return true
	}
	for c.n >= max {
		c.dropOldest()
		c.evicted++
	}
	if c.n == len(c.ring) {
		c.grow(max)
	}
	if c.seen == nil {
		c.seen = make(map[nonceKey]struct{})
	}
	c.seen[key] = struct{}{}
	c.ring[(c.head+c.n)%len(c.ring)] = nonceEntry{key: key, expiry: expiry}
	c.n++
	return false
}

// grow doubles the ring, up to max slots.
func (c *nonceCache) grow(max int) {
	size := 2 * len(c.ring)
	if size < 64 {
		size = 64
	}
	if size > max {
		size = max
	}
	if size <= c.n {
		size = c.n + 1
	}
	ring := make([]nonceEntry, size)
	for i := 0; i < c.n; i++ {
		ring[i] = c.ring[(c.head+i)%len(c.ring)]
	}
	c.ring, c.head = ring, 0
}

// dropOldest forgets the oldest nonce. Once none is left, a large ring and set are released, so
// that the memory of a burst is given back.
func (c *nonceCache) dropOldest() {
	delete(c.seen, c.ring[c.head].key)
	c.ring[c.head] = nonceEntry{}
	c.head = (c.head + 1) % len(c.ring)
	c.n--
	if c.n == 0 && len(c.ring) > 4096 {
		c.ring, c.head, c.seen = nil, 0, nil
	}
}

// len returns the number of nonces remembered.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
