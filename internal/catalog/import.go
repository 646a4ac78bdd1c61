package catalog

import (
	"context"
	"encoding/csv"
	"errors"
	"io"

	"github.com/shelfcommerce/shelf/internal/metrics"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// ImportError is one entry of an import report's errors.
type ImportError struct {
	Line    int    `json:"line"`
	SKU     string `json:"sku,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// MaxReportErrors caps the errors an import report lists, so a file where
// every row is wrong cannot make the report (held in memory) grow without
// bound; the counts stay exact and ErrorsTruncated says some were left out.
const MaxReportErrors = 1000

// ImportReport counts products by outcome. A product whose bad rows were left
// out but whose other rows were written counts as created or updated, and its
// bad rows are in Errors; Failed counts products of which nothing was written.
type ImportReport struct {
	Created         int           `json:"created"`
	Updated         int           `json:"updated"`
	Unchanged       int           `json:"unchanged"`
	Failed          int           `json:"failed"`
	Rows            int           `json:"rows"` // variant rows read (written or not)
	DryRun          bool          `json:"dry_run"`
	Complete        bool          `json:"complete"` // false when a file error stopped the import midway
	Errors          []ImportError `json:"errors"`
	ErrorsTruncated bool          `json:"errors_truncated,omitempty"`
}

func (r *ImportReport) addError(e RowError) {
	if len(r.Errors) >= MaxReportErrors {
		r.ErrorsTruncated = true
		return
	}
	msg := e.Message
	if e.Variant > 0 {
		msg = "variant " + itoa(e.Variant) + ": " + msg
	}
	r.Errors = append(r.Errors, ImportError{Line: e.Line, SKU: e.SKU, Field: e.Field, Message: msg})
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	return string(b[i:])
}

// ImportOptions configure Import.
type ImportOptions struct {
	Actor string // who imports, for the stock ledger
	// DryRun runs the whole import in one transaction and rolls it back, so
	// the report is exactly what a real run would say and nothing is written.
	DryRun bool
	// Atomic runs the whole import in one transaction and commits it only if
	// the file was read to the end: for bodies whose size is not known in
	// advance, so that a body cut off by the size limit writes nothing.
	Atomic bool
	// NoStock refuses every stock value in the file as a row error (the
	// variant is not written): for an importer without inventory:write.
	NoStock bool
	// BatchRows is about how many variant rows go in one transaction (default 2000).
	BatchRows int
	// Stop, when closed, ends the import after the batch being written: the
	// report so far comes back with Complete false. An import in one
	// transaction (DryRun, Atomic) returns ErrStopped instead.
	Stop <-chan struct{}
	// Progress, if set, is called after each batch is written with the rows
	// written (or found unchanged) so far.
	Progress func(rows int)
	// Parsed, if set, is called as each batch leaves the parser with the rows
	// parsed so far; the parser runs up to two batches ahead of the batches
	// being written.
	Parsed func(rows int)
	// Writers is how many batches are written at once, each in its own
	// transaction on its own connection (default 2; always 1 with DryRun or
	// Atomic). See parallelWrites for what keeps the outcome that of writing
	// them one after the other.
	Writers int
}

// batch is a run of the file's products as the parser hands them on.
type batch struct {
	products []*ProductInput
	rejected []*ProductError
	rows     int
	err      error // terminal: io.EOF, *FileError or a read error
}

// badRows counts the variant rows that errs are about and that are not among
// the written variants: each once, however many of its fields are wrong. A
// row is a line (csv, shopify) or a line's variant (ndjson: Variant > 0); a
// product-wide error (Variant 0) on a line whose variants are counted by
// index, or on a written variant's line, is not a row of its own.
func badRows(written []VariantInput, errs []RowError) int {
	type row struct{ line, variant int }
	seen := map[row]bool{}
	indexed := map[int]bool{} // lines with ndjson variant errors
	for _, e := range errs {
		if e.Variant > 0 {
			indexed[e.Line] = true
		}
	}
	for _, v := range written {
		seen[row{v.Line, 0}] = true
	}
	n := 0
	for _, e := range errs {
		r := row{e.Line, e.Variant}
		if seen[r] || (e.Variant == 0 && indexed[e.Line]) {
			continue
		}
		seen[r] = true
		n++
	}
	return n
}

// ErrStopped is returned when Stop ended an import that commits only at its
// end: nothing was written.
var ErrStopped = errors.New("the import was stopped before its end: nothing was written")

// ErrFile wraps a problem with the file found before anything was written
// (not CSV, a required column missing): a 400 naming the line.
type ErrFile struct{ *FileError }

// Problem is the 400 that answers it.
func (e *ErrFile) Problem() *problem.Error {
	return &problem.Error{Kind: problem.Invalid, Detail: "the file cannot be imported: " + e.Error(),
		Extra: map[string]any{"line": e.Line}}
}

// Import reads a file through rd (internal/importer's NewReader gives one
// for each format) and writes it batch by batch, each batch in its own
// transaction (retried whole on a lost lock race), as it is read: memory stays
// bounded by one batch, and a crash midway leaves whole committed batches
// that a re-run reports as unchanged. It returns the report; its error is a
// database failure, a read error of the body (e.g. *http.MaxBytesError), or
// *ErrFile when the file is unusable before any write.
func Import(ctx context.Context, st *store.Store, rd ProductReader, opts ImportOptions) (*ImportReport, error) {
	if opts.BatchRows <= 0 {
		opts.BatchRows = 2000
	}
	rep := &ImportReport{DryRun: opts.DryRun, Errors: []ImportError{}}

	// Parse on one goroutine and write on this one, so reading the file and
	// waiting for the database overlap.
	ch := make(chan batch, 2)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ch)
		var b batch
		parsed := 0
		for {
			p, err := rd.Next()
			var pe *ProductError
			switch {
			case err == nil:
				if opts.NoStock {
					refuseStock(p)
				}
				b.products = append(b.products, p)
				b.rows += len(p.Variants) + badRows(p.Variants, p.Errors)
			case errors.As(err, &pe):
				b.rejected = append(b.rejected, pe)
				b.rows += max(1, badRows(nil, pe.Errors))
			default:
				b.err = err
				select {
				case ch <- b:
				case <-ctx.Done():
				}
				return
			}
			if b.rows >= opts.BatchRows {
				if parsed += b.rows; opts.Parsed != nil {
					opts.Parsed(parsed)
				}
				select {
				case ch <- b:
				case <-ctx.Done():
					return
				}
				b = batch{}
			}
		}
	}()

	var single *store.Tx
	var finish func(commit bool) error
	var err error
	if opts.DryRun || opts.Atomic {
		single, err = st.Begin(ctx, nil)
		if err != nil {
			return nil, err
		}
		// The transaction waits for the upload, at the client's pace.
		if err := single.Patient(ctx); err != nil {
			_ = single.Rollback()
			return nil, err
		}
		finish = func(commit bool) error {
			if commit {
				return single.Commit()
			}
			return single.Rollback()
		}
		defer func() { _ = finish(false) }()
	}
	writers := opts.Writers
	if writers <= 0 {
		writers = 2
	}
	if single != nil {
		writers = 1 // one transaction: one connection
	}
	pw := newParallelWrites(ctx, st, writers, func() *Writer {
		return &Writer{Actor: opts.Actor, Reason: "import", DryRun: opts.DryRun}
	})
	defer pw.close()
	if single != nil {
		pw.single = single
	}

	wrote := false
	var rows rowTally
	last := 0 // line of the last product written
	// take adds one written batch (in file order) to the report. It returns
	// done with the import's result when the import ends with this batch.
	take := func(w *written) (done bool, r *ImportReport, err error) {
		b := w.b
		if len(b.products) == 0 {
			rows[Failed] += b.rows
		}
		for _, pe := range b.rejected {
			rep.Failed++
			for _, e := range pe.Errors {
				rep.addError(e)
			}
		}
		rep.Rows += b.rows
		if len(b.products) > 0 {
			if w.err != nil {
				// Batches written alongside this one may have committed.
				var later []*written
				for _, l := range pw.drain() {
					if l.err == nil {
						later = append(later, l)
					}
				}
				if single == nil && (wrote || len(later) > 0) && ctx.Err() == nil {
					// Earlier batches are committed: say so, and where it
					// stopped; the later ones that committed count too.
					rep.Rows -= b.rows
					for _, l := range later {
						countBatch(rep, &rows, l, &last)
					}
					rep.addError(RowError{Line: b.products[0].Line, Message: "the database failed at the product on this line; what the report counts was written: run the import again to finish"})
					return true, rep, w.err
				}
				return true, nil, w.err
			}
			wrote = true
			countResults(rep, &rows, w, &last)
		}
		if single == nil {
			rows.count() // this batch is committed
		}
		if opts.Progress != nil {
			opts.Progress(rep.Rows)
		}
		if b.err != nil && b.err != io.EOF {
			var fe *FileError
			var pe *csv.ParseError
			if errors.As(b.err, &fe) && (fe.Err == nil || errors.As(fe.Err, &pe)) {
				if !wrote && rep.Created+rep.Updated+rep.Unchanged+rep.Failed == 0 {
					return true, nil, &ErrFile{fe}
				}
				// The file broke midway: what came before it is imported
				// (whole products only), and the report says where it stopped.
				rep.addError(RowError{Line: fe.Line, Message: fe.Message})
				if single != nil && opts.Atomic && !opts.DryRun {
					return true, nil, &ErrFile{fe}
				}
				return true, rep, nil
			}
			return true, nil, b.err // the body could not be read (too large, client gone)
		}
		return false, nil, nil
	}
	for {
		var b batch
		ok := true
		select {
		case b, ok = <-ch:
		case <-opts.Stop:
			if single != nil {
				return nil, ErrStopped // nothing is committed before the end
			}
			// The batches in flight are written; the report says where it stopped.
			for _, w := range pw.drain() {
				if done, r, err := take(w); done {
					return r, err
				}
			}
			rep.addError(RowError{Line: last, Message: "the server stopped after the product on this line; what the report counts was written: run the import again to finish"})
			return rep, nil
		}
		if !ok {
			break
		}
		for _, w := range pw.add(b) {
			if done, r, err := take(w); done {
				return r, err
			}
		}
	}
	for _, w := range pw.drain() {
		if done, r, err := take(w); done {
			return r, err
		}
	}
	rep.Complete = true
	if single != nil && !opts.DryRun {
		if err := finish(true); err != nil {
			return nil, err
		}
	}
	if !opts.DryRun {
		rows.count()
	}
	return rep, nil
}

// countResults adds a committed batch's product outcomes to the report and
// the row tally, and moves last to its last product's line.
func countResults(rep *ImportReport, rows *rowTally, w *written, last *int) {
	*last = w.b.products[len(w.b.products)-1].Line
	rows.add(w.b.products, w.results, w.b.rows)
	for _, r := range w.results {
		switch r.Outcome {
		case Created:
			rep.Created++
		case Updated:
			rep.Updated++
		case Unchanged:
			rep.Unchanged++
		case Failed:
			rep.Failed++
		}
		for _, e := range r.Errors {
			rep.addError(e)
		}
	}
}

// countBatch is countResults for a whole committed batch written after the
// one that failed: its rejected products and rows count too.
func countBatch(rep *ImportReport, rows *rowTally, w *written, last *int) {
	for _, pe := range w.b.rejected {
		rep.Failed++
		for _, e := range pe.Errors {
			rep.addError(e)
		}
	}
	rep.Rows += w.b.rows
	if len(w.b.products) > 0 {
		countResults(rep, rows, w, last)
	}
	rows.count()
}

// rowTally counts an import's variant rows by the outcome of their product
// until they are committed, for shelf_import_rows_total.
type rowTally [Failed + 1]int

// add tallies one written batch of rows variant rows: a product's variants
// that were written under its outcome, every other row as failed.
func (t *rowTally) add(products []*ProductInput, results []ProductResult, rows int) {
	for i, r := range results {
		if r.Outcome == Failed || i >= len(products) {
			continue
		}
		n := max(0, len(products[i].Variants)-len(r.Errors))
		t[r.Outcome] += n
		rows -= n
	}
	t[Failed] += max(0, rows)
}

// count adds the tally to the metric and starts over.
func (t *rowTally) count() {
	for o, n := range t {
		if n > 0 {
			metrics.ImportRows.WithLabelValues(Outcome(o).String()).Add(float64(n))
		}
	}
	*t = rowTally{}
}
