package main

import (
	"context"
	"fmt"
	"time"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

func init() {
	commands["reindex"] = command{"render every product page and its search words again (after upgrading past migration 00140)", reindexCmd}
}

// reindexCmd fills the storefront's read models that a migration cannot:
// the product pages and search words, rendered in Go.
func reindexCmd(ctx context.Context, e env, args []string) error {
	if wantsHelp(args) || len(args) > 0 {
		fmt.Fprintln(e.stdout, "Usage: shelf reindex\n\nRenders every product's page and search words again from the catalog, 2,000 products a\ntransaction. Run it once after `shelf migrate up` adds search_words (00140) to a catalog with\nproducts: until then, searches find none of them. Safe while serving.")
		if len(args) > 0 && !wantsHelp(args) {
			return &exitError{code: 2}
		}
		return nil
	}
	st, err := openCommandStore(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	n, err := catalog.Reindex(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "shelf: reindexed %d products in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}
