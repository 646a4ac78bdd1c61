package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/internal/store"
)

// SequenceBatch is the most events one sequencer transaction numbers.
const SequenceBatch = 2000

// Sequence numbers the committed events that have no seq yet, oldest id
// first, up to SequenceBatch of them, in one short transaction that holds
// the event_sequence row's lock (so one sequencer at a time, whatever the
// number of instances), and returns how many it numbered. A transaction
// that has not committed is not seen, and gets a later seq once it has.
func Sequence(ctx context.Context, st *store.Store) (int, error) {
	// The idle case costs one index lookup and no lock.
	var probe uint64
	err := st.DB.QueryRowContext(ctx, "SELECT id FROM events WHERE seq IS NULL LIMIT 1").Scan(&probe)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("events: look for new events: %w", err)
	}
	n := 0
	// READ COMMITTED: every statement sees what has committed by its start,
	// so the rows found are exactly those visible once the lock is held.
	err = st.InTxOpts(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *store.Tx) error {
		n = 0
		last, err := lockSequence(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT ?", SequenceBatch)
		if err != nil {
			return fmt.Errorf("events: read new events: %w", err)
		}
		var ids []uint64
		for rows.Next() {
			var id uint64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			var q strings.Builder
			args := make([]any, 0, 3*len(chunk))
			q.WriteString("UPDATE events SET seq = CASE id")
			for i, id := range chunk {
				q.WriteString(" WHEN ? THEN ?")
				args = append(args, id, last+uint64(start+i)+1)
			}
			q.WriteString(" END WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",") + ")")
			for _, id := range chunk {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return fmt.Errorf("events: number events: %w", err)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE event_sequence SET last_seq = ? WHERE id = 1", last+uint64(len(ids))); err != nil {
			return fmt.Errorf("events: save sequence: %w", err)
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// lockSequence locks the sequencer row (creating it if it is missing) and
// returns the last seq given: the larger of the row's and the table's, so
// rows numbered by hand (tests, repairs) are never numbered again.
func lockSequence(ctx context.Context, tx *store.Tx) (uint64, error) {
	var last uint64
	err := tx.QueryRowContext(ctx, "SELECT last_seq FROM event_sequence WHERE id = 1 FOR UPDATE").Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, "INSERT IGNORE INTO event_sequence (id, last_seq) VALUES (1, 0)"); err != nil {
			return 0, fmt.Errorf("events: create sequence row: %w", err)
		}
		err = tx.QueryRowContext(ctx, "SELECT last_seq FROM event_sequence WHERE id = 1 FOR UPDATE").Scan(&last)
	}
	if err != nil {
		return 0, fmt.Errorf("events: lock sequence: %w", err)
	}
	var top sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(seq) FROM events").Scan(&top); err != nil {
		return 0, fmt.Errorf("events: read last seq: %w", err)
	}
	return max(last, uint64(top.Int64)), nil
}

// Head is the last seq given (0 when none).
func Head(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (uint64, error) {
	var last, top sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT (SELECT last_seq FROM event_sequence WHERE id = 1), (SELECT MAX(seq) FROM events)").Scan(&last, &top); err != nil {
		return 0, fmt.Errorf("events: read head: %w", err)
	}
	return uint64(max(last.Int64, top.Int64)), nil
}

// Prune deletes sequenced events older than retention, in batches of batch
// rows (each its own statement, so no lock is held long), if no other
// instance has pruned within every; it returns how many it deleted.
func Prune(ctx context.Context, st *store.Store, retention, every time.Duration, batch int) (int64, error) {
	now := time.Now().UTC()
	res, err := st.DB.ExecContext(ctx, "UPDATE event_sequence SET pruned_at = ? WHERE id = 1 AND (pruned_at IS NULL OR pruned_at <= ?)",
		now, now.Add(-every))
	if err != nil {
		return 0, fmt.Errorf("events: claim pruning: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, err // another instance pruned recently
	}
	cutoff := now.Add(-retention)
	var total int64
	for {
		res, err := st.DB.ExecContext(ctx, "DELETE FROM events WHERE seq IS NOT NULL AND created_at < ? ORDER BY seq LIMIT ?", cutoff, batch)
		if err != nil {
			return total, fmt.Errorf("events: prune: %w", err)
		}
		n, _ := res.RowsAffected()
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
	head, err := Head(ctx, st.DB)
	if err != nil {
		return err
	}
	if after > head {
		return ErrReset
	}
	var oldest sql.NullInt64
	if err := st.DB.QueryRowContext(ctx, "SELECT MIN(seq) FROM events").Scan(&oldest); err != nil {
		return fmt.Errorf("events: read oldest: %w", err)
	}
	if !oldest.Valid {
		if after < head {
			return ErrReset // everything after it was pruned
		}
		return nil
	}
	if after+1 < uint64(oldest.Int64) {
		return ErrReset
	}
	return nil
}

// Read returns up to limit events with seq > after, in seq order.
func Read(ctx context.Context, st *store.Store, after uint64, limit int) ([]Event, error) {
	rows, err := st.DB.QueryContext(ctx, "SELECT seq, type, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("events: read: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var seq uint64
		var typ string
		var data []byte
		if err := rows.Scan(&seq, &typ, &data); err != nil {
			return nil, err
		}
		out = append(out, Parse(seq, typ, data))
	}
	return out, rows.Err()
}
