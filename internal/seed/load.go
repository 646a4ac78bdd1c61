package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Options say what to load.
type Options struct {
	Products int    // how many products (drafts and archived included)
	Seed     uint64 // the same seed and size give the same catalog
	Currency string // default USD
	// Chunk is how many products are generated and written at a time.
	Chunk int
	// Workers write chunks concurrently (only without a transaction).
	Workers int
	// RebuildIndexes drops product_listing's secondary indexes before
	// loading and builds them afterwards, which is
	// several times faster for a large load into an empty catalog (the
	// benchmark's). Never use it on a database that serves traffic.
	RebuildIndexes bool
	Progress       io.Writer // nil: quiet

	tx *store.Tx // Demo's transaction, which also records the ledger and events
}

// DemoProducts is the size of `shelf seed`'s catalog.
const DemoProducts = 300

// DemoSeed is the seed of the demo catalog.
const DemoSeed = 20250101

// Result reports a load.
type Result struct {
	Skipped    bool // the catalog was already there
	Categories int
	Products   int
	Variants   int
	Listing    int64
	Took       time.Duration
}

// Demo loads the demo catalog unless it is already there (idempotent: its
// first category's slug is the marker, and the load is one transaction, so
// the marker exists only when everything does). Like an import of new
// products, it records in that transaction the stock ledger and the change
// feed's events: product.updated per product, price.changed and
// stock.changed per variant, so streams, webhooks and other instances'
// caches hear of the catalog.
func Demo(ctx context.Context, st *store.Store) (Result, error) {
	var res Result
	err := st.InTx(ctx, func(tx *store.Tx) error {
		var err error
		// One transaction: InTx reruns all of it after a lost race.
		res, err = load(ctx, tx, tx.Q, Options{Products: DemoProducts, Seed: DemoSeed, Workers: 1, tx: tx}, once)
		return err
	})
	return res, err
}

// Load writes a generated catalog without a transaction, in chunks, for large
// catalogs (the benchmark), and records no events or stock ledger: it is for
// an empty database no instance serves yet. A load cut short leaves a
// partial catalog: start again on an empty database.
func Load(ctx context.Context, st *store.Store, o Options) (Result, error) {
	o.tx = nil
	return load(ctx, st.DB, st.Q, o, st.Retry)
}

// recordChanges writes the stock ledger and the events of generated
// products, with the ledger writer and event builders imports use.
func recordChanges(ctx context.Context, tx *store.Tx, ps []Product, currency string, now time.Time) error {
	var moves []catalog.StockMove
	var evs []events.Event
	for _, p := range ps {
		evs = append(evs, events.ProductUpdated(now, p.ID, p.Slug))
		for _, v := range p.Variants {
			var cmp *money.Money
			if v.CompareAt > 0 {
				cmp = &money.Money{Amount: v.CompareAt, Currency: currency}
			}
			evs = append(evs, events.PriceChanged(now, p.ID, v.ID, v.SKU, money.Money{Amount: v.Price, Currency: currency}, cmp))
			moves = append(moves, catalog.StockMove{VariantID: v.ID, ProductID: p.ID, SKU: v.SKU, Delta: v.OnHand, After: v.OnHand})
		}
	}
	return catalog.RecordStock(ctx, tx, catalog.LedgerEntry{Reason: "seed", Actor: "shelf seed", At: now, Extra: evs}, moves)
}

// retryFunc runs one statement (or idempotent unit, as SyncPages is) again
// after a lost race: the store's retry policy for a load in autocommit (two
// loaders inserting next to each other can collide on gap locks), once for
// a load inside a transaction, which is rerun whole.
type retryFunc func(ctx context.Context, fn func(ctx context.Context) error) error

func once(ctx context.Context, fn func(ctx context.Context) error) error { return fn(ctx) }

func (o *Options) defaults() {
	if o.Currency == "" {
		o.Currency = money.DefaultCurrency
	}
	if o.Chunk <= 0 {
		o.Chunk = 5000
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
}

type execQuerier interface {
	db.DBTX
}

func (o *Options) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

func load(ctx context.Context, ex execQuerier, q *db.Queries, o Options, retry retryFunc) (Result, error) {
	o.defaults()
	start := time.Now()
	res := Result{}
	cats := Categories(0)
	if _, err := q.GetCategoryBySlug(ctx, cats[0].Slug); err == nil {
		res.Skipped = true
		return res, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return res, err
	}
	ids, err := q.SeedMaxIDs(ctx)
	if err != nil {
		return res, err
	}
	cats = Categories(uint64(ids.MaxCategory))
	now := time.Now().UTC()
	var catArgs, ancArgs []any
	byID := map[uint64]Category{}
	var leaves []Category
	for _, c := range cats {
		byID[c.ID] = c
		var parent any
		if c.ParentID != 0 {
			parent = c.ParentID
		}
		catArgs = append(catArgs, c.ID, parent, c.Slug, c.Name, c.Position, c.Depth, now, now)
		for a, d := c, 0; ; d++ {
			ancArgs = append(ancArgs, c.ID, a.ID, d)
			if a.ParentID == 0 {
				break
			}
			a = byID[a.ParentID]
		}
		if c.Leaf {
			leaves = append(leaves, c)
		}
	}
	if _, err := store.InsertRows(ctx, ex, "INSERT INTO categories (id, parent_id, slug, name, position, depth, created_at, updated_at)", 8, catArgs, ""); err != nil {
		return res, fmt.Errorf("categories: %w", err)
	}
	if _, err := store.InsertRows(ctx, ex, "INSERT INTO category_ancestors (category_id, ancestor_id, depth)", 3, ancArgs, ""); err != nil {
		return res, fmt.Errorf("category closure: %w", err)
	}
	res.Categories = len(cats)

	if o.RebuildIndexes {
		for _, stmt := range dropIndexes {
			if _, err := ex.ExecContext(ctx, stmt); err != nil {
				return res, fmt.Errorf("%s: %w", stmt, err)
			}
		}
	}
	g := &Generator{Seed: o.Seed, Leaves: leaves, ProductID: uint64(ids.MaxProduct), VariantID: uint64(ids.MaxVariant), Currency: o.Currency}
	imageBase := uint64(ids.MaxImage)
	chunks := make(chan int)
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		defer close(chunks)
		for from := 0; from < o.Products; from += o.Chunk {
			select {
			case chunks <- from:
			case <-ectx.Done():
				return ectx.Err()
			}
		}
		return nil
	})
	variants := make([]int, o.Workers)
	for w := range o.Workers {
		eg.Go(func() error {
			for from := range chunks {
				ps, err := writeChunk(ectx, ex, g, from, min(from+o.Chunk, o.Products), imageBase, o.Currency, now)
				if err != nil {
					return err
				}
				if o.tx != nil {
					if err := recordChanges(ectx, o.tx, ps, o.Currency, now); err != nil {
						return err
					}
				}
				for _, p := range ps {
					variants[w] += len(p.Variants)
				}
				if from/o.Chunk%20 == 0 {
					o.logf("seed: products %d.. written (%s)", from, time.Since(start).Round(time.Second))
				}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return res, err
	}
	res.Products = o.Products
	for _, n := range variants {
		res.Variants += n
	}
	o.logf("seed: %d products, %d variants written (%s); building the listing", res.Products, res.Variants, time.Since(start).Round(time.Second))

	// The read models, from what was written, a range of ids at a time (the
	// workers take disjoint ranges, so they never wait for each other's rows).
	first, last := g.ProductID+1, g.ProductID+uint64(o.Products)
	step := uint64(20000)
	ranges := make(chan uint64)
	lg, lctx := errgroup.WithContext(ctx)
	lg.Go(func() error {
		defer close(ranges)
		for from := first; from <= last; from += step {
			select {
			case ranges <- from:
			case <-lctx.Done():
				return lctx.Err()
			}
		}
		return nil
	})
	listed := make([]int64, o.Workers)
	for w := range o.Workers {
		lg.Go(func() error {
			for from := range ranges {
				to := min(from+step-1, last)
				err := retry(lctx, func(lctx context.Context) error {
					n, err := q.SeedBuildRootListing(lctx, db.SeedBuildRootListingParams{
						VariantsFrom: from, VariantsTo: to, StockFrom: from, StockTo: to, FromID: from, ToID: to})
					listed[w] += n
					return err
				})
				if err != nil {
					return fmt.Errorf("listing: %w", err)
				}
				err = retry(lctx, func(lctx context.Context) error {
					m, err := q.SeedBuildCategoryListing(lctx, db.SeedBuildCategoryListingParams{FromID: from, ToID: to})
					listed[w] += m
					return err
				})
				if err != nil {
					return fmt.Errorf("category listing: %w", err)
				}
				// Pages and search words, a transaction per pagesPerCommit
				// products: each of their many multi-row statements would
				// otherwise be a commit, and a log flush, of its own.
				for start := from; start <= to; start += pagesPerCommit {
					ids := make([]uint64, 0, pagesPerCommit)
					for id := start; id <= min(start+pagesPerCommit-1, to); id++ {
						ids = append(ids, id)
					}
					if err := retry(lctx, func(lctx context.Context) error { return syncPages(lctx, ex, ids) }); err != nil {
						return fmt.Errorf("product pages: %w", err)
					}
				}
			}
			return nil
		})
	}
	if err := lg.Wait(); err != nil {
		return res, err
	}
	for _, n := range listed {
		res.Listing += n
	}
	if o.RebuildIndexes {
		o.logf("seed: listing built (%s); building indexes", time.Since(start).Round(time.Second))
		for _, stmt := range createIndexes {
			if _, err := ex.ExecContext(ctx, stmt); err != nil {
				return res, fmt.Errorf("%s: %w", stmt, err)
			}
		}
	}
	if err := q.SeedRecountCategories(ctx); err != nil {
		return res, fmt.Errorf("category counts: %w", err)
	}
	if err := q.SeedRecountAttributes(ctx); err != nil {
		return res, fmt.Errorf("attribute counts: %w", err)
	}
	if err := catalog.RecountFacets(ctx, ex); err != nil {
		return res, err
	}
	res.Took = time.Since(start)
	o.logf("seed: done in %s", res.Took.Round(time.Second))
	return res, nil
}

// pagesPerCommit is how many products' pages and words a load without a
// transaction writes per commit.
const pagesPerCommit = 2000

// syncPages is catalog.SyncPages for ids in one transaction of its own when
// ex is the pool, in ex's when ex is a transaction (Demo's).
func syncPages(ctx context.Context, ex execQuerier, ids []uint64) error {
	pool, ok := ex.(*sql.DB)
	if !ok {
		return catalog.SyncPages(ctx, ex, ids)
	}
	// READ COMMITTED: two loaders write pages and words of neighbouring id
	// ranges, and under REPEATABLE READ the gap locks of one's upserts block
	// (or deadlock with) the other's inserts next to them; a transaction of
	// 2,000 products' pages is too long to lose and retry.
	tx, err := pool.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := catalog.SyncPages(ctx, tx, ids); err != nil {
		return err
	}
	return tx.Commit()
}

// The secondary indexes a bulk load rebuilds; they must stay exactly what
// migration 00010 creates (TestRebuildIndexesMatchMigrations).
var dropIndexes = []string{
	"ALTER TABLE product_listing DROP INDEX product_listing_price, DROP INDEX product_listing_newest, " +
		"DROP INDEX product_listing_title, DROP INDEX product_listing_brand, DROP INDEX product_listing_product",
}

var createIndexes = []string{
	"ALTER TABLE product_listing ADD KEY product_listing_product (product_id), " +
		"ADD KEY product_listing_price (category_id, price_min, product_id), " +
		"ADD KEY product_listing_newest (category_id, created_at, product_id), " +
		"ADD KEY product_listing_title (category_id, title, product_id), " +
		"ADD KEY product_listing_brand (category_id, brand, price_min, in_stock)",
}

// writeChunk generates products [from, to) and writes them and everything
// that hangs off them. It returns the products.
func writeChunk(ctx context.Context, ex execQuerier, g *Generator, from, to int, imageBase uint64, currency string, now time.Time) ([]Product, error) {
	n := to - from
	prod := make([]any, 0, n*15)
	vars := make([]any, 0, n*3*13)
	inv := make([]any, 0, n*3*4)
	pcs := make([]any, 0, n*3)
	imgs := make([]any, 0, n*2*5)
	attrs := make([]any, 0, n*3*3)
	ps := make([]Product, 0, n)
	for i := from; i < to; i++ {
		p := g.Product(i)
		ps = append(ps, p)
		skus := make([]string, len(p.Variants))
		for k, v := range p.Variants {
			skus[k] = v.SKU
			var cap any
			if v.CompareAt > 0 {
				cap = v.CompareAt
			}
			vars = append(vars, v.ID, p.ID, v.SKU, k, v.Option1, v.Option2, "", v.Price, cap, currency, true, p.CreatedAt, now)
			inv = append(inv, v.ID, p.ID, v.OnHand, now)
		}
		prod = append(prod, p.ID, p.Slug, p.Title, p.Description, p.Brand, p.Type, "", p.Status,
			p.Option1, p.Option2, "", strings.Join(skus, " "), 1, p.CreatedAt, now)
		for k, c := range p.Categories {
			pcs = append(pcs, p.ID, c, k)
		}
		for k, src := range p.Images {
			// Image ids: like variants, a fixed stride per product.
			imgs = append(imgs, imageBase+uint64(i)*3+uint64(k)+1, p.ID, k, src, p.Title)
		}
		for _, a := range p.Attrs {
			attrs = append(attrs, p.ID, a[0], a[1])
		}
	}
	steps := []struct {
		head  string
		width int
		args  []any
	}{
		{"INSERT INTO products (id, slug, title, description, brand, product_type, tags, status, option1_name, option2_name, option3_name, skus, version, created_at, updated_at)", 15, prod},
		{"INSERT INTO variants (id, product_id, sku, position, option1, option2, option3, price, compare_at_price, currency, active, created_at, updated_at)", 13, vars},
		{"INSERT INTO inventory (variant_id, product_id, on_hand, updated_at)", 4, inv},
		{"INSERT INTO product_categories (product_id, category_id, position)", 3, pcs},
		{"INSERT INTO product_images (id, product_id, position, src, alt)", 5, imgs},
		{"INSERT IGNORE INTO product_attributes (product_id, name, value)", 3, attrs},
	}
	for _, s := range steps {
		if len(s.args) == 0 {
			continue
		}
		if _, err := store.InsertRows(ctx, ex, s.head, s.width, s.args, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Fields(s.head)[2], err)
		}
	}
	return ps, nil
}
