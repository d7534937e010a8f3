package acs3

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestNonceCacheCap: the cache never holds more than its cap, evicts the oldest first, and forgets a
// nonce once its time is over.
func TestNonceCacheCap(t *testing.T) {
	var c nonceCache
	const max = 1000
	now := int64(1_000_000)
	window := int64(time.Hour)
	for i := 0; i < 10*max; i++ {
		if c.use(makeNonceKey("id", fmt.Sprint(i)), now, now+window, max) {
			t.Fatalf("nonce %d reported used", i)
		}
		if n := c.len(); n > max {
			t.Fatalf("after %d nonces the cache holds %d > %d", i+1, n, max)
		}
		if len(c.seen) != c.n || c.n > len(c.ring) || len(c.ring) > max {
			t.Fatalf("set %d, ring %d of %d slots", len(c.seen), c.n, len(c.ring))
		}
	}
	if c.evicted != 9*max {
		t.Errorf("evicted %d", c.evicted)
	}
	// The newest max nonces are remembered, the older ones were evicted.
	if !c.use(makeNonceKey("id", fmt.Sprint(10*max-1)), now, now+window, max) {
		t.Error("the newest nonce is forgotten")
	}
	if c.use(makeNonceKey("id", "0"), now, now+window, max) {
		t.Error("the oldest nonce is still remembered")
	}
	if !c.use(makeNonceKey("id", "0"), now, now+window, max) {
		t.Error("a nonce used again is not reported")
	}

	// Once their time is over every nonce is forgotten, and the memory is given back.
	later := now + window
	if c.use(makeNonceKey("id", "0"), later, later+window, max) {
		t.Error("an expired nonce is still remembered")
	}
	if n := c.len(); n != 1 {
		t.Errorf("%d nonces remembered after expiry", n)
	}

	// A burst's memory is given back once it has expired.
	var big nonceCache
	for i := 0; i < 10_000; i++ {
		big.use(makeNonceKey("id", fmt.Sprint(i)), now, now+window, DefaultMaxNonces)
	}
	if len(big.ring) < 10_000 {
		t.Fatalf("ring of %d slots for 10,000 nonces", len(big.ring))
	}
	big.use(makeNonceKey("id", "after"), later, later+window, DefaultMaxNonces)
	if big.len() != 1 || len(big.seen) != 1 || len(big.ring) > 64 {
		t.Errorf("after the burst expired: %d nonces, ring of %d slots", big.len(), len(big.ring))
	}
}

// TestNonceCacheClockBack: with a clock that goes back, a nonce is remembered longer than its
// expiry (until the ones accepted before it have expired), never shorter, and the cap still holds.
func TestNonceCacheClockBack(t *testing.T) {
	var c nonceCache
	k := makeNonceKey("id", "n")
	c.use(makeNonceKey("id", "first"), 100, 1000, 10)
	c.use(k, 100, 200, 10)
	// At 300 k has expired but sits behind "first" (expiry 1000).
	if !c.use(k, 300, 400, 10) {
		t.Fatal("a nonce behind a later expiry is forgotten")
	}
	if c.use(k, 1000, 1100, 10) {
		t.Fatal("a nonce is remembered after every earlier one expired")
	}
	for i := 0; i < 100; i++ {
		c.use(makeNonceKey("id", fmt.Sprint(i)), 360, 460, 10)
		if c.len() > 10 || len(c.seen) != c.n {
			t.Fatalf("cache holds %d (set %d)", c.n, len(c.seen))
		}
	}
}

// TestNonceCacheMemory measures the memory of a full cache at the default cap, which the package
// documentation states. It takes a few seconds, so it runs only without -short.
func TestNonceCacheMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var c nonceCache
	for i := 0; i < DefaultMaxNonces+DefaultMaxNonces/2; i++ {
		c.use(makeNonceKey("LTAI5tTestAccessKeyId01", fmt.Sprintf("%032x", i)), 1, 1<<62, DefaultMaxNonces)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perNonce := float64(after.HeapAlloc-before.HeapAlloc) / float64(c.len())
	t.Logf("%d nonces: %.0f MB, %.0f bytes a nonce", c.len(), float64(after.HeapAlloc-before.HeapAlloc)/1e6, perNonce)
	if c.len() != DefaultMaxNonces {
		t.Errorf("%d nonces remembered", c.len())
	}
	if perNonce > 75 {
		t.Errorf("%.0f bytes a nonce, the documentation says about 60", perNonce)
	}
	runtime.KeepAlive(&c)
}
