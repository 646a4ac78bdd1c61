package catalog

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shelfcommerce/shelf/internal/metrics"
)

// ttlCache is a small in-process cache whose entries live for a fixed time.
// It bounds staleness, not memory precision: when it holds more than max
// entries it drops the expired ones, and if that is not enough, everything.
// A TTL of zero disables it. Lookups are counted as hits and misses under
// the cache's name (shelf_cache_requests_total).
type ttlCache[K comparable, V any] struct {
	mu           sync.RWMutex
	ttl          time.Duration
	max          int
	m            map[K]ttlEntry[V]
	hits, misses prometheus.Counter
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLCache[K comparable, V any](name string, ttl time.Duration, max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, max: max, m: make(map[K]ttlEntry[V]),
		hits:   metrics.CacheRequests.WithLabelValues(name, "hit"),
		misses: metrics.CacheRequests.WithLabelValues(name, "miss")}
}

func (c *ttlCache[K, V]) counted(hit bool) bool {
	if hit {
		c.hits.Inc()
	} else {
		c.misses.Inc()
	}
	return hit
}

func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	if c.ttl <= 0 {
		var zero V
		return zero, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !c.counted(ok && !now.After(e.exp)) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, v V, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if now.After(e.exp) {
				delete(c.m, key)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[k] = ttlEntry[V]{v: v, exp: now.Add(c.ttl)}
}

// flight is one load of a key in progress.
type flight[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// loadingCache is a ttlCache that loads missing keys once however many
// callers ask at the same time (the others wait for that load), and serves
// an entry for up to one more TTL after it expired while a single
// background load refreshes it. A value is therefore at most about 2×TTL
// plus one load old; callers never all stampede the database when a popular
// entry expires.
type loadingCache[K comparable, V any] struct {
	*ttlCache[K, V]
	fmu      sync.Mutex
	inflight map[K]*flight[V]
}

func newLoadingCache[K comparable, V any](name string, ttl time.Duration, max int) *loadingCache[K, V] {
	return &loadingCache[K, V]{ttlCache: newTTLCache[K, V](name, ttl, max), inflight: map[K]*flight[V]{}}
}

// get returns the value of k, loading it with load when needed. load runs
// without the caller's cancellation, so a client that goes away does not
// fail the other waiters.
func (c *loadingCache[K, V]) getOrLoad(ctx context.Context, k K, now time.Time, load func(context.Context) (V, error)) (V, error) {
	if c.ttl <= 0 {
		return load(ctx)
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if ok && !now.After(e.exp) {
		c.hits.Inc()
		return e.v, nil
	}
	stale := ok && !now.After(e.exp.Add(c.ttl))
	c.counted(stale)
	c.fmu.Lock()
	f, running := c.inflight[k]
	if !running {
		f = &flight[V]{done: make(chan struct{})}
		c.inflight[k] = f
		go func() {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			f.v, f.err = load(lctx)
			if f.err == nil {
				c.put(k, f.v, time.Now())
			}
			c.fmu.Lock()
			delete(c.inflight, k)
			c.fmu.Unlock()
			close(f.done)
		}()
	}
	c.fmu.Unlock()
	if stale {
		return e.v, nil // stale within grace: served while one load refreshes it
	}
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
