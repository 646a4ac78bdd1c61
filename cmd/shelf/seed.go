package main

import (
	"context"
	"fmt"

	"github.com/shelfcommerce/shelf/internal/seed"
)

func init() {
	commands["seed"] = command{"load the demo catalog (idempotent)", seedCmd}
}

// seedCmd loads a few hundred generated products over a three-level category
// tree, in one transaction; run again, it finds them and does nothing.
func seedCmd(ctx context.Context, e env, args []string) error {
	if wantsHelp(args) || len(args) > 0 {
		fmt.Fprintf(e.stdout, "Usage: shelf seed\n\nLoads the demo catalog (%d products, 126 categories) unless it is already there.\n", seed.DemoProducts)
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
	res, err := seed.Demo(ctx, st)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if res.Skipped {
		fmt.Fprintln(e.stdout, "shelf: the demo catalog is already loaded; nothing to do")
		return nil
	}
	fmt.Fprintf(e.stdout, "shelf: loaded %d categories, %d products, %d variants in %s\n",
		res.Categories, res.Products, res.Variants, res.Took.Round(1e6))
	return nil
}
