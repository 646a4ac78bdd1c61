package catalog

import (
	"context"
	"database/sql"
	"strings"

	"github.com/shelfcommerce/shelf/internal/store"
)

// parallelWrites writes an import's batches, up to n at once, each in its
// own transaction on its own connection, and hands them back in file order.
// The database does the work of an import and one connection keeps one
// server thread busy; a second batch in flight uses a second one.
//
// The outcome is that of writing the batches one after the other:
//   - A batch that shares a SKU or a handle with a batch in flight waits until
//     that one has committed, so the SKU-owner check sees the earlier product
//     of the file exactly as it would have, and the same rows are refused.
//   - A batch that needs a category path no committed batch had is written
//     alone (nothing else in flight, nothing started until it commits), so two
//     transactions never create the same category.
//   - Batches in flight take their row locks in the one global order of the
//     writer; counters they share are only incremented. A lost lock race
//     reruns the batch (store.InTx), as it did alone.
//
// With n > 1 the transactions run at READ COMMITTED: under REPEATABLE READ
// the writer's locking read of a batch's new slugs takes gap locks, and the
// neighbouring batch's inserts into the same gaps would wait for it (or
// deadlock), serialising the two. Rows that exist are locked the same way at
// both levels.
type parallelWrites struct {
	ctx    context.Context
	st     *store.Store
	n      int
	txOpts *sql.TxOptions
	single *store.Tx // set: every batch goes into this one transaction, in turn
	free   chan *Writer
	flight []*written
	catsOK map[string]bool // category paths that committed batches had
}

// written is one batch on its way through parallelWrites.
type written struct {
	b       batch
	results []ProductResult
	err     error
	keys    map[string]struct{} // SKUs and handles ("\x00" + handle)
	paths   []string
	done    chan struct{}
}

func newParallelWrites(ctx context.Context, st *store.Store, n int, newWriter func() *Writer) *parallelWrites {
	pw := &parallelWrites{ctx: ctx, st: st, n: n, free: make(chan *Writer, n), catsOK: map[string]bool{}}
	for range n {
		pw.free <- newWriter()
	}
	if n > 1 {
		pw.txOpts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return pw
}

// add schedules b and returns the batches now written, in file order (b
// itself when it had to be written before anything else could start).
func (pw *parallelWrites) add(b batch) []*written {
	w := &written{b: b, done: make(chan struct{})}
	if len(b.products) == 0 {
		// Nothing to write: it only has to come after the ones in flight.
		close(w.done)
		return append(pw.drain(), w)
	}
	if pw.n == 1 {
		pw.run(w)
		return []*written{w}
	}
	w.keys = make(map[string]struct{}, len(b.products)*4)
	seen := map[string]bool{}
	alone := false
	for _, p := range b.products {
		w.keys["\x00"+p.Handle] = struct{}{}
		for _, v := range p.Variants {
			if v.SKU != "" {
				w.keys[v.SKU] = struct{}{}
			}
		}
		if len(p.CategoryPath) > 0 {
			k := strings.Join(p.CategoryPath, "\x00")
			if !seen[k] {
				seen[k] = true
				w.paths = append(w.paths, k)
				alone = alone || !pw.catsOK[k]
			}
		}
	}
	var out []*written
	if alone || pw.overlaps(w) {
		out = pw.drain()
	} else if len(pw.flight) == pw.n {
		out = []*written{pw.wait()}
	}
	pw.flight = append(pw.flight, w)
	go pw.run(w)
	if alone {
		out = append(out, pw.drain()...)
	}
	return out
}

// overlaps reports whether w shares a SKU or handle with a batch in flight.
func (pw *parallelWrites) overlaps(w *written) bool {
	for _, f := range pw.flight {
		small, big := w.keys, f.keys
		if len(small) > len(big) {
			small, big = big, small
		}
		for k := range small {
			if _, ok := big[k]; ok {
				return true
			}
		}
	}
	return false
}

// run writes one batch: in the import's one transaction, or in a
// transaction of its own, rerun whole on a lost lock race.
func (pw *parallelWrites) run(w *written) {
	defer close(w.done)
	wr := <-pw.free
	defer func() { pw.free <- wr }()
	if pw.single != nil {
		w.results, w.err = wr.WriteBatch(pw.ctx, pw.single, w.b.products)
		return
	}
	attempt := 0
	w.err = pw.st.InTxOpts(pw.ctx, pw.txOpts, func(tx *store.Tx) error {
		if attempt++; attempt > 1 {
			wr.Forget() // the last attempt's categories were rolled back
		}
		var err error
		w.results, err = wr.WriteBatch(pw.ctx, tx, w.b.products)
		return err
	})
	if w.err != nil {
		wr.Forget()
	}
}

// wait waits for the oldest batch in flight and returns it.
func (pw *parallelWrites) wait() *written {
	w := pw.flight[0]
	pw.flight = pw.flight[1:]
	<-w.done
	if w.err == nil {
		for _, k := range w.paths {
			pw.catsOK[k] = true
		}
	}
	return w
}

// drain waits for every batch in flight and returns them in file order.
func (pw *parallelWrites) drain() []*written {
	var out []*written
	for len(pw.flight) > 0 {
		out = append(out, pw.wait())
	}
	return out
}

// close waits for what is still in flight (an import that returned early),
// so no transaction outlives Import.
func (pw *parallelWrites) close() { pw.drain() }
