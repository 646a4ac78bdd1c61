// Package orderstest seeds products, variants and stock for tests and
// benchmarks of orders, with plain SQL and catalog.SyncListing, so that they
// depend on nothing but the schema (not on the catalog's writers).
package orderstest

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Product is a product to seed. Status defaults to "active".
type Product struct {
	Slug     string
	Title    string
	Status   string
	Variants []Variant
}

// Variant is a variant to seed. Currency defaults to money.DefaultCurrency; Inactive variants
// cannot be sold.
type Variant struct {
	SKU      string
	Price    int64
	Currency string
	OnHand   int64
	Option1  string
	Inactive bool
}

// Seeded maps each seeded SKU to its variant and product ids.
type Seeded struct {
	VariantID map[string]uint64
	ProductID map[string]uint64
}

// Seed inserts the products with explicit ids after the current maximum, in
// batches, and brings their listing rows up to date.
func Seed(ctx context.Context, st *store.Store, products ...Product) (*Seeded, error) {
	var maxProduct, maxVariant sql.NullInt64
	if err := st.DB.QueryRowContext(ctx, "SELECT MAX(id) FROM products").Scan(&maxProduct); err != nil {
		return nil, err
	}
	if err := st.DB.QueryRowContext(ctx, "SELECT MAX(id) FROM variants").Scan(&maxVariant); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	out := &Seeded{VariantID: map[string]uint64{}, ProductID: map[string]uint64{}}
	var pArgs, vArgs, iArgs []any
	var productIDs []uint64
	pid, vid := uint64(maxProduct.Int64), uint64(maxVariant.Int64)
	for _, p := range products {
		pid++
		status := p.Status
		if status == "" {
			status = "active"
		}
		title := p.Title
		if title == "" {
			title = p.Slug
		}
		pArgs = append(pArgs, pid, p.Slug, title, "", "", "", status, "", now, now)
		productIDs = append(productIDs, pid)
		for i, v := range p.Variants {
			vid++
			cur := v.Currency
			if cur == "" {
				cur = money.DefaultCurrency
			}
			vArgs = append(vArgs, vid, pid, v.SKU, i, v.Option1, v.Price, cur, !v.Inactive, now, now)
			iArgs = append(iArgs, vid, pid, v.OnHand, now)
			out.VariantID[v.SKU] = vid
			out.ProductID[v.SKU] = pid
		}
	}
	err := st.InTx(ctx, func(tx *store.Tx) error {
		if _, err := store.InsertRows(ctx, tx,
			"INSERT INTO products (id, slug, title, description, brand, tags, status, skus, created_at, updated_at)",
			10, pArgs, ""); err != nil {
			return fmt.Errorf("seed products: %w", err)
		}
		if _, err := store.InsertRows(ctx, tx,
			"INSERT INTO variants (id, product_id, sku, position, option1, price, currency, active, created_at, updated_at)",
			10, vArgs, ""); err != nil {
			return fmt.Errorf("seed variants: %w", err)
		}
		if _, err := store.InsertRows(ctx, tx,
			"INSERT INTO inventory (variant_id, product_id, on_hand, updated_at)", 4, iArgs, ""); err != nil {
			return fmt.Errorf("seed inventory: %w", err)
		}
		for start := 0; start < len(productIDs); start += 1000 {
			if err := catalog.SyncListing(ctx, tx, productIDs[start:min(start+1000, len(productIDs))]); err != nil {
				return fmt.Errorf("seed listing: %w", err)
			}
		}
		return nil
	})
	return out, err
}

// Simple returns one active product per SKU, each with the given stock and
// price: the common case in tests.
func Simple(prefix string, n int, price, onHand int64) []Product {
	ps := make([]Product, n)
	for i := range ps {
		sku := fmt.Sprintf("%s-%d", prefix, i)
		ps[i] = Product{Slug: sku, Variants: []Variant{{SKU: sku, Price: price, OnHand: onHand}}}
	}
	return ps
}

// OnHand returns a SKU's stock.
func OnHand(ctx context.Context, st *store.Store, sku string) (int64, error) {
	var n int64
	err := st.DB.QueryRowContext(ctx,
		"SELECT i.on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = ?", sku).Scan(&n)
	return n, err
}
