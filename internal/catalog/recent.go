package catalog

import (
	"sync"
	"time"

	"github.com/shelfcommerce/shelf/internal/store"
)

// DefaultReadLag is StorefrontConfig.ReadLag when none is configured.
const DefaultReadLag = 5 * time.Second

// recentChanges remembers what the change feed (this instance's writes and
// every other's) changed within the read node's lag, so that a load of it
// reads the primary: the read node (SHELF_MYSQL_READ_DSN) may not have
// applied the change yet, and a page loaded from it after the cache was
// cleared would be stored stale for the whole TTL. Everything else, most of
// the reads, still goes to the read node.
type recentChanges struct {
	lag time.Duration

	mu       sync.Mutex
	products map[uint64]time.Time // product id -> when its page last changed
	listings time.Time            // when a listing or facet count last could have
	sweepAt  int                  // prune products once it holds this many
}

func newRecentChanges(lag time.Duration) *recentChanges {
	return &recentChanges{lag: lag, products: map[uint64]time.Time{}, sweepAt: 4096}
}

// note records that the products' pages, and the listings when listings is
// true, changed at now. The storefront calls it before clearing its caches.
func (r *recentChanges) note(now time.Time, products []uint64, listings bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range products {
		r.products[id] = now
	}
	if listings {
		r.listings = now
	}
	if len(r.products) >= r.sweepAt {
		for id, at := range r.products {
			if now.Sub(at) >= r.lag {
				delete(r.products, id)
			}
		}
		r.sweepAt = max(4096, 2*len(r.products))
	}
}

// product reports whether the product's page changed within the lag.
func (r *recentChanges) product(id uint64, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.products[id]
	return ok && now.Sub(at) < r.lag
}

// listing reports whether a listing changed within the lag.
func (r *recentChanges) listing(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.listings.IsZero() && now.Sub(r.listings) < r.lag
}

// reader is the store a read should use: the primary when what it reads
// changed within the read node's lag, or while the read node is down (see
// store.Store.Watch), else the read node.
func (s *Storefront) reader(changed bool) *store.Store {
	if s.cfg.Primary != nil && (changed || s.st.Down()) {
		return s.cfg.Primary
	}
	return s.st
}
