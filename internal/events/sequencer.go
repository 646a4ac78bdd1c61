package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
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
	_, err := st.Q.EventUnsequencedProbe(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("events: look for new events: %w", err)
	}
	n := 0
	// The lock is taken by the transaction's first statement, a locking
	// read, which takes no snapshot; InnoDB takes the snapshot at the first
	// plain read after it, so the rows found are those committed once the
	// lock is held (the previous sequencer's included). The default
	// isolation keeps statement-based binary logs working.
	err = st.InTx(ctx, func(tx *store.Tx) error {
		n = 0
		last, err := lockSequence(ctx, tx)
		if err != nil {
			return err
		}
		ids, err := tx.Q.EventUnsequenced(ctx, SequenceBatch)
		if err != nil {
			return fmt.Errorf("events: read new events: %w", err)
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
		if err := tx.Q.EventSaveSequence(ctx, last+uint64(len(ids))); err != nil {
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
	head, err := tx.Q.EventHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("events: read last seq: %w", err)
	}
	return max(last, uint64(head)), nil
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
	var total int64
	for {
		n, err := st.Q.EventPrune(ctx, db.EventPruneParams{Floor: sql.NullInt64{Int64: floor, Valid: true}, CreatedAt: cutoff, Limit: int32(batch)})
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

// Read returns up to limit events with seq > after, in seq order.
func Read(ctx context.Context, st *store.Store, after uint64, limit int) ([]Event, error) {
	rows, err := st.Q.EventsAfter(ctx, db.EventsAfterParams{Seq: sql.NullInt64{Int64: int64(after), Valid: true}, Limit: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("events: read: %w", err)
	}
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		out = append(out, Parse(uint64(r.Seq.Int64), r.Type, []byte(r.Data)))
	}
	return out, nil
}
