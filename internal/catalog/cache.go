package catalog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/shelfcommerce/shelf/internal/metrics"
)

// ttlCache is an in-process LRU cache whose entries live at most ttl: when
// full it drops the least recently used entry, never everything. A TTL of
// zero disables it. The now arguments are kept for the callers' clocks;
// entries expire on the cache's own. Lookups are counted as hits and misses
// under the cache's name (shelf_cache_requests_total).
type ttlCache[K comparable, V any] struct {
	ttl          time.Duration
	lru          *expirable.LRU[K, V]
	hits, misses prometheus.Counter
}

func newTTLCache[K comparable, V any](name string, ttl time.Duration, max int) *ttlCache[K, V] {
	c := &ttlCache[K, V]{ttl: ttl,
		hits:   metrics.CacheRequests.WithLabelValues(name, "hit"),
		misses: metrics.CacheRequests.WithLabelValues(name, "miss")}
	if ttl > 0 {
		c.lru = expirable.NewLRU[K, V](max, nil, ttl)
	}
	return c
}

// lookup is a counted read of the LRU.
func (c *ttlCache[K, V]) lookup(k K) (V, bool) {
	v, ok := c.lru.Get(k)
	if ok {
		c.hits.Inc()
	} else {
		c.misses.Inc()
	}
	return v, ok
}

func (c *ttlCache[K, V]) get(k K, _ time.Time) (V, bool) {
	if c.lru == nil {
		var zero V
		return zero, false
	}
	return c.lookup(k)
}

func (c *ttlCache[K, V]) put(k K, v V, _ time.Time) {
	if c.lru != nil {
		c.lru.Add(k, v)
	}
}

func (c *ttlCache[K, V]) forget(k K) {
	if c.lru != nil {
		c.lru.Remove(k)
	}
}

// forgetAll empties the cache.
func (c *ttlCache[K, V]) forgetAll() {
	if c.lru != nil {
		c.lru.Purge()
	}
}

// loadingCache is a ttlCache that loads a missing key once however many
// callers ask at the same time (singleflight), and that never keeps a value
// loaded before the key was forgotten: a write forgets the keys it changed
// once it has committed, and a load that started earlier (and so may have
// read the old row) is handed to its callers but not stored. Callers that
// arrive after the forget start a fresh load instead of joining the old one
// (the flight is keyed by the key and its last forget).
// So once forget has returned, every later get shows the write.
type loadingCache[K comparable, V any] struct {
	*ttlCache[K, V]
	group singleflight.Group

	mu        sync.Mutex
	gen       uint64       // counts forgets
	forgotten map[K]uint64 // key -> gen of its last forget
	floor     uint64       // loads started before this gen are not stored
}

func newLoadingCache[K comparable, V any](name string, ttl time.Duration, max int) *loadingCache[K, V] {
	return &loadingCache[K, V]{ttlCache: newTTLCache[K, V](name, ttl, max), forgotten: map[K]uint64{}}
}

// getOrLoad returns the value of k, loading it with load when needed. load
// runs without the caller's cancellation, so a client that goes away does
// not fail the others waiting for the same load.
func (c *loadingCache[K, V]) getOrLoad(ctx context.Context, k K, now time.Time, load func(context.Context) (V, error)) (V, error) {
	if c.lru == nil {
		return load(ctx)
	}
	if v, ok := c.lookup(k); ok {
		return v, nil
	}
	// A load is shared only by callers that arrive between the same two
	// forgets of k: the flight's key names the last one.
	c.mu.Lock()
	start := c.gen
	flight := fmt.Sprintf("%d/%d/%v", c.floor, c.forgotten[k], k)
	c.mu.Unlock()
	ch := c.group.DoChan(flight, func() (any, error) {
		// A caller that missed the cache just before an earlier load stored
		// its value, and arrives after that load's flight ended, finds the
		// value here instead of loading it again (a forget removes the entry,
		// so what is found is current).
		if v, ok := c.lru.Get(k); ok {
			return v, nil
		}
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		v, err := load(lctx)
		if err != nil {
			return v, err
		}
		c.mu.Lock()
		if g, ok := c.forgotten[k]; (!ok || g <= start) && c.floor <= start {
			c.lru.Add(k, v)
		}
		c.mu.Unlock()
		return v, nil
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(V)
		return v, r.Err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// forget drops k; loads of k in flight will not be stored.
func (c *loadingCache[K, V]) forget(k K) {
	if c.lru == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	if len(c.forgotten) >= 10000 {
		// Bound the bookkeeping: no load that started before now is stored.
		clear(c.forgotten)
		c.floor = c.gen
	}
	c.forgotten[k] = c.gen
	c.lru.Remove(k)
	c.mu.Unlock()
}

// forgetAll empties the cache; loads in flight will not be stored.
func (c *loadingCache[K, V]) forgetAll() {
	if c.lru == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	c.floor = c.gen
	clear(c.forgotten)
	c.lru.Purge()
	c.mu.Unlock()
}
