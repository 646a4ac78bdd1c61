package events

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/store"
)

// SequenceBatch is the most rows one sequencer transaction numbers.
const SequenceBatch = 2000

// Sequence numbers the committed rows that have no seq yet, oldest id
// first, up to SequenceBatch of them, in one short transaction that holds
// the event_sequence row's lock (so one sequencer at a time, whatever the
// number of instances), and returns how many events it numbered: a row of
// n events takes the next n seqs and keeps the last. A transaction that has
// not committed is not seen, and gets later seqs once it has.
func Sequence(ctx context.Context, st *store.Store) (int, error) {
	_, evs, err := sequence(ctx, st, true)
	return evs, err
}

// sequence is Sequence, also returning how many rows it numbered. probe
// looks for rows to number first, outside any transaction: the idle case
// then costs one index lookup and no lock. Without it (more rows are
// likely: the last run numbered some) the numbering transaction starts at
// once.
func sequence(ctx context.Context, st *store.Store, probe bool) (rows, evs int, err error) {
	if probe {
		_, err = st.Q.EventUnsequencedProbe(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, 0, nil
		} else if err != nil {
			return 0, 0, fmt.Errorf("events: look for new events: %w", err)
		}
	}
	// The lock is taken by the transaction's first statement, a locking
	// read, which takes no snapshot; InnoDB takes the snapshot at the first
	// plain read after it, so the rows found are those committed once the
	// lock is held (the previous sequencer's included). The default
	// isolation keeps statement-based binary logs working. A busy run is
	// three round trips: the lock with the read of what to number (and of
	// the table's largest seq) as one query of two statements, the
	// numbering UPDATE that also saves the sequence, and COMMIT (and
	// START TRANSACTION before them).
	err = st.InTx(ctx, func(tx *store.Tx) error {
		rows, evs = 0, 0
		last, pending, head, err := lockAndRead(ctx, tx, SequenceBatch)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		// Rows numbered by other means (tests, repairs) are never numbered again.
		last = max(last, head)
		next := last
		for start := 0; start < len(pending); start += 500 {
			chunk := pending[start:min(start+500, len(pending))]
			var q strings.Builder
			args := make([]any, 0, 3*len(chunk)+1)
			final := start+500 >= len(pending)
			if final {
				// The last chunk saves the sequence too: one statement fewer.
				q.WriteString("UPDATE events e JOIN event_sequence s ON s.id = 1 SET e.seq = CASE e.id")
			} else {
				q.WriteString("UPDATE events e SET e.seq = CASE e.id")
			}
			for _, r := range chunk {
				next += uint64(max(r.n, 1))
				q.WriteString(" WHEN ? THEN ?")
				args = append(args, r.id, next)
			}
			q.WriteString(" END")
			if final {
				q.WriteString(", s.last_seq = ?")
				args = append(args, next)
			}
			q.WriteString(" WHERE e.id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",") + ")")
			for _, r := range chunk {
				args = append(args, r.id)
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return fmt.Errorf("events: number events: %w", err)
			}
		}
		rows, evs = len(pending), int(next-last)
		return nil
	})
	return rows, evs, err
}

// lockAndRead locks the sequencer row and reads what to number (see
// unsequenced) in one round trip: the locking read, then the plain read
// whose snapshot is taken after it, as two statements of one query. A
// database whose sequencer row is missing, and a Galera node (where a
// transaction must not send a statement list: store.Store.Batching), take
// the long way.
func lockAndRead(ctx context.Context, tx *store.Tx, limit int) (last uint64, pending []pendingRow, head uint64, err error) {
	if !tx.Store().Batching() {
		return lockThenRead(ctx, tx, limit)
	}
	rs, err := tx.QueryContext(ctx, lockSequenceRow+";\n"+unsequencedRows, limit)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("events: lock sequence: %w", err)
	}
	defer rs.Close()
	switch {
	case rs.Next():
		if err := rs.Scan(&last); err != nil {
			return 0, nil, 0, fmt.Errorf("events: lock sequence: %w", err)
		}
		if !rs.NextResultSet() {
			err = errors.Join(errors.New("the read returned nothing"), rs.Err())
		} else {
			pending, head, err = scanUnsequenced(rs)
		}
	case rs.Err() != nil:
		return 0, nil, 0, fmt.Errorf("events: lock sequence: %w", rs.Err())
	default: // no sequence row: create it, then lock and read apart
		rs.Close()
		return lockThenRead(ctx, tx, limit)
	}
	if err != nil {
		return 0, nil, 0, fmt.Errorf("events: read new events: %w", err)
	}
	return last, pending, head, nil
}

// lockThenRead is lockAndRead in two round trips, creating the sequencer
// row if it is missing.
func lockThenRead(ctx context.Context, tx *store.Tx, limit int) (last uint64, pending []pendingRow, head uint64, err error) {
	if last, err = lockSequence(ctx, tx); err != nil {
		return 0, nil, 0, err
	}
	if pending, head, err = unsequenced(ctx, tx, limit); err != nil {
		return 0, nil, 0, fmt.Errorf("events: read new events: %w", err)
	}
	return last, pending, head, nil
}

// lockSequenceRow is the sequencer's lock: EventSequenceForUpdate's text,
// for the query that also reads (lockAndRead).
const lockSequenceRow = "SELECT last_seq FROM event_sequence WHERE id = 1 FOR UPDATE"

// lockSequence locks the sequencer row (creating it if it is missing) and
// returns its last seq. The lock is the statement's only read: it takes no
// snapshot (see sequence).
func lockSequence(ctx context.Context, tx *store.Tx) (uint64, error) {
	last, err := tx.Q.EventSequenceForUpdate(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		if err := tx.Q.EventSequenceCreate(ctx); err != nil {
			return 0, fmt.Errorf("events: create sequence row: %w", err)
		}
		last, err = tx.Q.EventSequenceForUpdate(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("events: lock sequence: %w", err)
	}
	return last, nil
}

// unsequencedRows reads, in one statement, the rows that have no seq yet,
// oldest id first, up to a limit, and the largest seq in the table, marked
// by id 0 (ids start at 1). Run after the sequencer's lock, it is the
// transaction's first plain read, so both come from the snapshot taken
// then. (A UNION sqlc cannot parse, so it is written here.)
const unsequencedRows = "(SELECT id, n FROM events WHERE seq = 0 ORDER BY id LIMIT ?)" +
	" UNION ALL (SELECT 0, COALESCE(MAX(seq), 0) FROM events)"

type pendingRow struct{ id, n uint64 }

// unsequenced runs unsequencedRows: the rows to number, by id, and the
// table's largest seq.
func unsequenced(ctx context.Context, tx *store.Tx, limit int) ([]pendingRow, uint64, error) {
	rs, err := tx.QueryContext(ctx, unsequencedRows, limit)
	if err != nil {
		return nil, 0, err
	}
	defer rs.Close()
	return scanUnsequenced(rs)
}

// scanUnsequenced reads the rows of unsequencedRows.
func scanUnsequenced(rs *sql.Rows) ([]pendingRow, uint64, error) {
	var (
		pending []pendingRow
		head    uint64
	)
	for rs.Next() {
		var r pendingRow
		if err := rs.Scan(&r.id, &r.n); err != nil {
			return nil, 0, err
		}
		if r.id == 0 {
			head = r.n
			continue
		}
		pending = append(pending, r)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, err
	}
	slices.SortFunc(pending, func(a, b pendingRow) int { return cmp.Compare(a.id, b.id) })
	return pending, head, nil
}

// Head is the last seq given (0 when none).
func Head(ctx context.Context, st *store.Store) (uint64, error) {
	head, err := st.Q.EventHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("events: read head: %w", err)
	}
	return uint64(head), nil
}

// Prune deletes sequenced events older than retention, in batches of batch
// rows (each its own statement, so no lock is held long), if no other
// instance has pruned within every; it returns how many it deleted. An
// event a webhook still has to deliver (not fanned out yet, or queued and
// not yet delivered or given up) is kept however old it is, and so is
// every later one: the feed has no holes but the oldest events.
func Prune(ctx context.Context, st *store.Store, retention, every time.Duration, batch int) (int64, error) {
	now := time.Now().UTC()
	n, err := st.Q.EventClaimPrune(ctx, db.EventClaimPruneParams{
		Now: sql.NullTime{Time: now, Valid: true}, Before: sql.NullTime{Time: now.Add(-every), Valid: true}})
	if err != nil || n == 0 {
		return 0, err // n == 0: another instance pruned recently
	}
	// The webhooks' position only moves forward, so a floor read once
	// holds for every batch.
	floor, err := st.Q.EventPruneFloor(ctx)
	if err != nil {
		return 0, fmt.Errorf("events: read what webhooks still need: %w", err)
	}
	cutoff := now.Add(-retention)
	batch = max(batch, 1)
	var total int64
	for {
		// Each batch looks at the oldest batch rows only (events have no
		// index on age) and deletes the run of them, from the oldest, that
		// is old enough: seq follows age but for the time a write takes to
		// commit, and a row older than a kept one is kept too, so the feed
		// loses only its oldest events, never a hole in the middle.
		upto := uint64(floor)
		if b, err := st.Q.EventPruneBound(ctx, int32(batch-1)); err == nil {
			upto = min(upto, b)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return total, fmt.Errorf("events: prune: %w", err)
		}
		young, err := st.Q.EventFirstYoung(ctx, db.EventFirstYoungParams{Upto: upto, Cutoff: cutoff})
		if err == nil {
			upto = young - 1
		} else if !errors.Is(err, sql.ErrNoRows) {
			return total, fmt.Errorf("events: prune: %w", err)
		}
		n, err := st.Q.EventPrune(ctx, db.EventPruneParams{Floor: upto, CreatedAt: cutoff, Limit: int32(batch)})
		if err != nil {
			return total, fmt.Errorf("events: prune: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(10 * time.Millisecond): // let writers in between batches
		}
	}
}

// ErrReset is returned by Read for a position from before the retention
// window (or after the head): events were lost to it, so the client must
// reload and follow from the head.
var ErrReset = errors.New("events: position outside the retained feed")

// Check tells whether a reader at after can resume with no gap: nil, or
// ErrReset.
func Check(ctx context.Context, st *store.Store, after uint64) error {
	head, err := Head(ctx, st)
	if err != nil {
		return err
	}
	if after > head {
		return ErrReset
	}
	oldest, err := st.Q.EventOldestSeq(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		oldest, err = 0, nil
	}
	if err != nil {
		return fmt.Errorf("events: read oldest: %w", err)
	}
	switch {
	case oldest == 0 && after < head: // everything after it was pruned
		return ErrReset
	case oldest != 0 && after+1 < uint64(oldest):
		return ErrReset
	}
	return nil
}

// Querier is what *sql.DB and a transaction offer to read with.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Read returns up to limit events with seq > after, in seq order.
func Read(ctx context.Context, st *store.Store, after uint64, limit int) ([]Event, error) {
	return ReadWith(ctx, st.DB, after, limit)
}

// rowsAfter reads the rows holding the events after a seq up to upto
// (exclusive) and the first row from upto on, which holds the event upto
// itself: seq is consecutive, so each of the others ends before upto, and
// at most one row more than the events asked for need is read. (A UNION
// sqlc cannot parse, so it is written here; it has no order of its own.)
const rowsAfter = "(SELECT seq, n, type, data, data_z FROM events WHERE seq > ? AND seq < ? ORDER BY seq)" +
	" UNION ALL (SELECT seq, n, type, data, data_z FROM events WHERE seq >= ? ORDER BY seq LIMIT 1)"

// ReadWith is Read on q (a transaction's connection, say).
func ReadWith(ctx context.Context, q Querier, after uint64, limit int) ([]Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	upto := after + uint64(limit)
	rows, err := q.QueryContext(ctx, rowsAfter, after, upto, upto)
	if err != nil {
		return nil, fmt.Errorf("events: read: %w", err)
	}
	defer rows.Close()
	type row struct {
		seq  uint64
		n    int
		typ  string
		data []byte
	}
	var rs []row
	for rows.Next() {
		var r row
		var z []byte
		if err := rows.Scan(&r.seq, &r.n, &r.typ, &r.data, &z); err != nil {
			return nil, fmt.Errorf("events: read: %w", err)
		}
		if r.data, err = RowText(r.data, z); err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: read: %w", err)
	}
	slices.SortFunc(rs, func(a, b row) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Event, 0, min(limit, 64))
	for _, r := range rs {
		first := len(out)
		out = Unpack(out, r.seq, r.n, r.typ, r.data)
		// The first row may begin at or before after: drop what the
		// reader has.
		skip := first
		for skip < len(out) && out[skip].Seq <= after {
			skip++
		}
		out = append(out[:first], out[skip:]...)
		if len(out) >= limit {
			return out[:limit], nil
		}
	}
	return out, nil
}

// Recorded returns the events of the rows after row id afterID, in id
// (write) order, numbered or not, and the last row id: what the writes
// recorded, for tests and tools that look at the outbox itself.
func Recorded(ctx context.Context, q Querier, afterID uint64) ([]Event, uint64, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, seq, n, type, data, data_z FROM events WHERE id > ? ORDER BY id", afterID)
	if err != nil {
		return nil, afterID, fmt.Errorf("events: read rows: %w", err)
	}
	defer rows.Close()
	var out []Event
	last := afterID
	for rows.Next() {
		var seq uint64
		var n int
		var typ string
		var data, z []byte
		if err := rows.Scan(&last, &seq, &n, &typ, &data, &z); err != nil {
			return nil, last, fmt.Errorf("events: read rows: %w", err)
		}
		if data, err = RowText(data, z); err != nil {
			return nil, last, err
		}
		out = Unpack(out, seq, n, typ, data)
	}
	return out, last, rows.Err()
}

// ReadSeqs returns the events of the given seqs that are still kept, by
// seq: one query per row that holds some of them.
func ReadSeqs(ctx context.Context, st *store.Store, seqs []uint64) (map[uint64]Event, error) {
	want := slices.Compact(slices.Sorted(slices.Values(seqs)))
	out := make(map[uint64]Event, len(want))
	for i := 0; i < len(want); {
		r, err := st.Q.EventRowFrom(ctx, want[i])
		if errors.Is(err, sql.ErrNoRows) {
			break // none kept from here on
		} else if err != nil {
			return nil, fmt.Errorf("events: read: %w", err)
		}
		var z []byte
		if r.DataZ.Valid {
			z = []byte(r.DataZ.String)
		}
		text, err := RowText([]byte(r.Data), z)
		if err != nil {
			return nil, err
		}
		evs := Unpack(nil, r.Seq, int(r.N), r.Type, text)
		// The row ends at or after want[i]; the wanted seqs it holds are
		// taken, those before its first were pruned.
		for ; i < len(want) && want[i] <= r.Seq; i++ {
			for _, e := range evs {
				if e.Seq == want[i] {
					out[e.Seq] = e
				}
			}
		}
	}
	return out, nil
}
