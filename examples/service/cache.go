package main

import (
	"crypto/sha256"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// coldCache simulates what makes a fresh Pod slow: each key costs some CPU
// work the first time it is used, then is cheap. With keys > 0, requests
// without a key of their own go round the keys, so the first keys requests
// are slow until the cache is warm: what a warm-up hook is for.
type coldCache struct {
	keys    int
	cost    time.Duration
	next    atomic.Uint64
	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	once  sync.Once
	value [32]byte
}

func newColdCache(keys int, cost time.Duration) *coldCache {
	return &coldCache{keys: keys, cost: cost, entries: map[string]*cacheEntry{}}
}

// enabled reports whether the cache simulation is on.
func (c *coldCache) enabled() bool { return c.keys > 0 }

// nextKey returns the key for a request that named none.
func (c *coldCache) nextKey() string {
	return "k" + strconv.FormatUint(c.next.Add(1)%uint64(c.keys), 10)
}

// get returns the value for key, filling it on first use; hit is false for
// the request that filled it and for those that waited for the fill.
func (c *coldCache) get(key string) (value [32]byte, hit bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &cacheEntry{}
		c.entries[key] = e
	}
	c.mu.Unlock()
	hit = true
	e.once.Do(func() {
		hit = false
		e.value = burn(key, c.cost)
	})
	return e.value, hit
}

// warmKeys returns how many keys are filled.
func (c *coldCache) warmKeys() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// burn hashes for about d of CPU time, like a cold JIT or a cache fill.
func burn(key string, d time.Duration) [32]byte {
	sum := sha256.Sum256([]byte(key))
	for start := time.Now(); time.Since(start) < d; {
		for range 64 {
			sum = sha256.Sum256(sum[:])
		}
	}
	return sum
}
