package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

func init() {
	commands["export"] = command{"write the whole catalog as a file that imports back (shopify, csv or ndjson)", exportCmd}
}

const exportUsage = `Usage: shelf export --format shopify|csv|ndjson [FILE]

Writes the whole catalog from SHELF_MYSQL_DSN (every product, drafts and archived included,
with variants, stock, categories, attributes and images) to FILE, or to standard output
without one, in the same form as GET /v1/admin/exports: ` + "`shelf import FILE --format ...`" + `
takes it back, and reports every product unchanged when nothing changed since. The Shopify
format carries no currency and no attributes beyond the options (a catalog with prices in
another currency than SHELF_CURRENCY is refused in it, exit status 2); csv and ndjson carry all.
FILE is written to a temporary file beside it and renamed when complete, so a failed export
never leaves a partial FILE. Progress goes to stderr when writing to a FILE.
Exit status: 0 when written, 2 for bad arguments or a FILE that cannot be written, 3 when
the database is unreachable or failed midway.`

func exportCmd(ctx context.Context, e env, args []string) error {
	if wantsHelp(args) {
		fmt.Fprintln(e.stdout, exportUsage)
		return nil
	}
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "", "shopify, csv or ndjson")
	var file string
	rest := args
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return &exitError{code: 2, msg: err.Error() + "\n" + exportUsage}
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return &exitError{code: 2, msg: "export takes at most one FILE\n" + exportUsage}
	}
	switch *format {
	case "shopify", "csv", "ndjson":
	default:
		return &exitError{code: 2, msg: "--format must be shopify, csv or ndjson\n" + exportUsage}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DSN, store.PoolConfig{MaxOpen: 2, MaxIdle: 2, MaxLifetime: cfg.Pool.MaxLifetime})
	if err != nil {
		return &exitError{code: 3, msg: err.Error()}
	}
	defer st.Close()

	out := e.stdout
	var tmp *os.File
	if file != "" && file != "-" {
		tmp, err = os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		defer os.Remove(tmp.Name()) // a no-op once renamed
		defer tmp.Close()
		out = tmp
	}
	fw, err := importer.NewWriter(*format, out)
	if err != nil {
		return &exitError{code: 3, msg: err.Error()}
	}
	opts := catalog.ExportOptions{Currency: cfg.Currency}
	stop := func(bool) {}
	if tmp != nil {
		prog := newProgress(e.stderr, "export", "products", 0, nil)
		opts.Progress = func(done, total int) { prog.rows.Store(int64(done)); prog.total.Store(int64(total)) }
		stop = prog.start()
	}
	_, err = catalog.Export(ctx, st, fw, opts)
	stop(err == nil)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &exitError{code: 3, msg: "export interrupted; nothing written"}
		}
		if pe, ok := problem.As(err); ok && problem.Status(pe) < 500 {
			return &exitError{code: 2, msg: "export refused: " + pe.Error() + "; nothing written"}
		}
		return &exitError{code: 3, msg: err.Error()}
	}
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		if err := os.Rename(tmp.Name(), file); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
	}
	return nil
}
