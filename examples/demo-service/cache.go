package main

import (
	"math"
	"sync"
	"time"
)

// The backend's data: each key's value changes on its own schedule, every
// updateMin to updateMax (fixed per key), so that a cached entry older than
// its key's period is likely stale, and a TTL well above the periods serves
// mostly stale data.
const (
	updateMin = 2 * time.Minute
	updateMax = 20 * time.Minute
)

// backend is the data behind the cache: which version of a key's value is
// current at a time. It is a pure function of the seed, so cohorts and
// tests agree on it.
type backend struct {
	seed uint64
}

// schedule returns a key's update period and phase.
func (b backend) schedule(key int) (period, phase float64) {
	h := mix64(uint64(key) ^ mix64(b.seed+0x9e3779b97f4a7c15))
	u := float64(h>>11) / (1 << 53)
	v := float64(mix64(h)>>11) / (1 << 53)
	lo, hi := updateMin.Seconds(), updateMax.Seconds()
	period = lo * math.Pow(hi/lo, u) // log-uniform between lo and hi
	return period, v * period
}

// version is the version of key's value current at t.
func (b backend) version(key int, t time.Time) int64 {
	period, phase := b.schedule(key)
	sec := float64(t.UnixNano()) / 1e9
	return int64(math.Floor((sec + phase) / period))
}

// mix64 is SplitMix64's finalizer: a cheap, well-mixed hash of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// entry is a cached value: when it was fetched and its version then.
type entry struct {
	fetched time.Time
	version int64
}

// cache is a cohort's cache. The TTL is applied when an entry is read, so a
// new TTL takes effect at once on every entry.
type cache struct {
	mu      sync.Mutex
	entries map[int]entry
}

func newCache() *cache { return &cache{entries: make(map[int]entry)} }

// get returns key's entry if it is younger than ttl.
func (c *cache) get(key int, now time.Time, ttl time.Duration) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return entry{}, false
	}
	if now.Sub(e.fetched) >= ttl {
		delete(c.entries, key)
		return entry{}, false
	}
	return e, true
}

func (c *cache) put(key int, e entry) {
	c.mu.Lock()
	c.entries[key] = e
	c.mu.Unlock()
}

// clear drops every entry: a canary that is removed starts cold next time.
func (c *cache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
