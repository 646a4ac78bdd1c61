package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/store"
)

func init() {
	commands["import"] = command{"import a product file (shopify, csv or ndjson) into the catalog", importCmd}
}

const importUsage = `Usage: shelf import FILE --format shopify|csv|ndjson [--dry-run]

Imports FILE ("-" reads stdin) straight into SHELF_MYSQL_DSN with the same writer as
POST /v1/admin/imports, and prints the same JSON report on stdout. Progress (rows written,
rows/s, the share of the file read, ETA) goes to stderr: a bar on a terminal, a plain line
every 5 seconds otherwise.
Exit status: 0 when every row was imported (or was unchanged), 1 when some rows failed
(the report lists them), 2 for bad arguments or a file that cannot be imported at all,
3 when the import could not run or stopped (database unreachable, a write failed): no
report is printed; batches written before the failure stay, and a re-run is safe.`

func importCmd(ctx context.Context, e env, args []string) error {
	if wantsHelp(args) {
		fmt.Fprintln(e.stdout, importUsage)
		return nil
	}
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "", "shopify, csv or ndjson")
	dryRun := fs.Bool("dry-run", false, "report what would happen; write nothing")
	// Accept the file before or after the flags.
	var file string
	rest := args
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") || len(rest) > 0 && rest[0] == "-" {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return &exitError{code: 2, msg: err.Error() + "\n" + importUsage}
	}
	if file == "" && fs.NArg() >= 1 {
		// Flags may also follow FILE (flag stops at the first argument).
		file = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return &exitError{code: 2, msg: err.Error() + "\n" + importUsage}
		}
	}
	if fs.NArg() > 0 || file == "" {
		return &exitError{code: 2, msg: "import needs exactly one FILE\n" + importUsage}
	}
	switch *format {
	case "shopify", "csv", "ndjson":
	default:
		return &exitError{code: 2, msg: "--format must be shopify, csv or ndjson\n" + importUsage}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	var in io.Reader = e.stdin
	var size int64 = -1
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in = f
	}
	st, err := store.Open(ctx, cfg.DSN, cfg.Pool)
	if err != nil {
		return &exitError{code: 3, msg: err.Error()}
	}
	defer st.Close()

	cr := &countingReader{r: in}
	rd, err := importer.NewReader(*format, cr, importer.Options{Currency: cfg.Currency})
	if err != nil {
		return &exitError{code: 3, msg: err.Error()}
	}
	prog := newProgress(e.stderr, "import", "rows", size, cr)
	stop := prog.start()
	rep, err := catalog.Import(ctx, st, rd, catalog.ImportOptions{
		Actor: "cli " + currentUser(e), DryRun: *dryRun,
		Progress: func(n int) { prog.rows.Store(int64(n)) },
		Parsed:   prog.parsed,
	})
	stop(err == nil && rep != nil && rep.Complete)
	var fileErr *catalog.ErrFile
	if errors.As(err, &fileErr) {
		return &exitError{code: 2, msg: "the file cannot be imported: " + fileErr.Error()}
	}
	if err != nil {
		return &exitError{code: 3, msg: err.Error()}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if rep.Failed > 0 || len(rep.Errors) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

func currentUser(e env) string {
	if u := e.getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progress draws a one-line bar on a terminal and prints a plain line every
// few seconds otherwise (a log file wants lines, not carriage returns). It is
// small enough that a library would not earn its place.
//
// The bar counts rows written, not bytes read: the parser runs ahead of the
// writes, so bytes read reach 100% while the last batches are still being
// written. The total is estimated from the rows parsed per byte, and the
// bar stays below 100% (and the ETA above 0) until the import returns.
type progress struct {
	w     io.Writer
	tty   bool
	verb  string // "import", "export"
	unit  string // "rows", "products"
	size  int64  // bytes of the file, 0 when unknown
	bytes *countingReader
	// rows is the work done; total, when known, the work there is (export);
	// parsedRows and parsedBytes estimate it from the file (import).
	rows, total             atomic.Int64
	parsedRows, parsedBytes atomic.Int64
	begin                   time.Time
}

func newProgress(w io.Writer, verb, unit string, size int64, cr *countingReader) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, verb: verb, unit: unit, size: size, bytes: cr, begin: time.Now()}
}

// parsed records that rows were parsed from the file's first bytes read.
func (p *progress) parsed(rows int) {
	p.parsedRows.Store(int64(rows))
	if p.bytes != nil {
		p.parsedBytes.Store(p.bytes.n.Load())
	}
}

// start draws until stop; stop(true) draws the last line at 100%.
func (p *progress) start() (stop func(complete bool)) {
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	done := make(chan bool, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case complete := <-done:
				p.draw(complete)
				if !complete && p.tty {
					fmt.Fprintln(p.w)
				}
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return func(complete bool) { done <- complete; <-finished }
}

// estimate is the total work, or 0 when it is not known yet.
func (p *progress) estimate() float64 {
	if t := p.total.Load(); t > 0 {
		return float64(t)
	}
	rows, read := p.parsedRows.Load(), p.parsedBytes.Load()
	if p.size <= 0 || rows == 0 || read == 0 {
		return 0
	}
	return float64(rows) * float64(p.size) / float64(read)
}

func (p *progress) line(final bool) string {
	el := time.Since(p.begin)
	done := p.rows.Load()
	rate := float64(done) / max(el.Seconds(), 0.001)
	s := fmt.Sprintf("%d %s written  %.0f %s/s  %s", done, p.unit, rate, p.unit, el.Truncate(time.Second))
	if p.size > 0 && p.bytes != nil {
		s += fmt.Sprintf("  %.0f%% of the file read", 100*float64(p.bytes.n.Load())/float64(p.size))
	}
	total := p.estimate()
	if total <= 0 && !final {
		return s
	}
	frac := 1.0
	eta := "0s"
	if !final {
		// Until the work returns it is not done, whatever the estimate says.
		frac = min(float64(done)/total, 0.99)
		eta = "?"
		if left := total - float64(done); done > 0 && left > 0 {
			eta = time.Duration(left / rate * float64(time.Second)).Truncate(time.Second).String()
		}
	}
	s = fmt.Sprintf("%5.1f%%  %s  ETA %s", 100*frac, s, eta)
	if p.tty {
		const width = 30
		n := int(frac * width)
		s = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] " + s
	}
	return s
}

func (p *progress) draw(final bool) {
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r\033[K%s\n", p.line(final))
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", p.line(final))
	default:
		fmt.Fprintf(p.w, "shelf %s: %s\n", p.verb, p.line(final))
	}
}
