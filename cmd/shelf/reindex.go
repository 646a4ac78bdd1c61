package main

import (
	"context"
	"fmt"
	"time"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

func init() {
	commands["reindex"] = command{"render every product page and its search words again (migrate up does it once when it adds search words)", reindexCmd}
}

// reindexCmd fills the storefront's read models that a migration cannot:
// the product pages and search words, rendered in Go.
func reindexCmd(ctx context.Context, e env, args []string) error {
	if wantsHelp(args) || len(args) > 0 {
		fmt.Fprintln(e.stdout, "Usage: shelf reindex\n\nRenders every product's page and search words again from the catalog, 2,000 products a\ntransaction. `shelf migrate up` runs it once itself when it adds search_words (00140); run it\nby hand to repair the read models. Safe while serving (searches follow the new word index\nwithin 10 seconds of its end).")
		if len(args) > 0 && !wantsHelp(args) {
			return &exitError{code: 2}
		}
		return nil
	}
	n, took, err := reindex(ctx, e)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "shelf: reindexed %d products in %s\n", n, took)
	return nil
}

// reindex renders every product's page and words again and says how many
// and how long it took.
func reindex(ctx context.Context, e env) (int, time.Duration, error) {
	st, err := openCommandStore(ctx, e)
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	start := time.Now()
	n, err := catalog.Reindex(ctx, st)
	return n, time.Since(start).Round(time.Millisecond), err
}

// reindexAfterUpgrade is reindex run by the migrate up that created
// search_words; it says nothing about a catalog with no products.
func reindexAfterUpgrade(ctx context.Context, e env) error {
	n, took, err := reindex(ctx, e)
	if err != nil {
		return fmt.Errorf("fill search words: %w (run `shelf reindex`)", err)
	}
	if n > 0 {
		fmt.Fprintf(e.stdout, "shelf: indexed the words of %d products in %s\n", n, took)
	}
	return nil
}
