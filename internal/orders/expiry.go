package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/store"
)

// expiryBatch is how many orders one sweep pass lists; each is expired in
// its own short transaction, so a sweep never holds many stock rows at once
// and buyers placing orders meanwhile wait for one order's lines at most.
const expiryBatch = 50

// ExpirePending cancels, as "expired", every order still pending that was
// placed at or before now minus the pending-order TTL, and returns its stock
// through the same move as a cancel (ledger rows, listing, events). It works
// in batches of expiryBatch until none is left and reports how many orders
// it expired. Several instances may run it at once: each order is claimed
// with FOR UPDATE SKIP LOCKED, so every order is expired once, by whichever
// instance claims it first. A TTL of 0 expires nothing.
func (s *Service) ExpirePending(ctx context.Context, now time.Time) (int, error) {
	if s.pendingTTL <= 0 {
		return 0, nil
	}
	cutoff := now.UTC().Truncate(time.Microsecond).Add(-s.pendingTTL)
	total := 0
	for {
		ids, err := s.st.Q.PendingOrdersCreatedBefore(ctx, db.PendingOrdersCreatedBeforeParams{
			// created_at < cutoff+1µs: an order exactly TTL old has expired.
			Cutoff: cutoff.Add(time.Microsecond), Limit: expiryBatch,
		})
		if err != nil {
			return total, fmt.Errorf("list expired orders: %w", err)
		}
		expired := 0
		for _, id := range ids {
			ok, err := s.expireOne(ctx, id, cutoff.Add(time.Microsecond), now)
			if err != nil {
				return total, err
			}
			if ok {
				expired++
			}
		}
		total += expired
		// A short batch was the last one; a batch of which nothing could be
		// claimed is being expired by another instance.
		if len(ids) < expiryBatch || expired == 0 {
			return total, nil
		}
	}
}

// expireOne expires one order if it is still pending, old enough and not
// locked by anyone else; it reports whether it did.
func (s *Service) expireOne(ctx context.Context, publicID string, cutoff, now time.Time) (bool, error) {
	done := false
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		done = false
		o, err := tx.Q.LockPendingOrderCreatedBefore(ctx, db.LockPendingOrderCreatedBeforeParams{PublicID: publicID, Cutoff: cutoff})
		if errors.Is(err, sql.ErrNoRows) {
			return nil // paid, cancelled or being moved meanwhile
		} else if err != nil {
			return fmt.Errorf("claim order %s: %w", publicID, err)
		}
		if _, err := s.move(ctx, tx, o, Expire, expiryActor, now.UTC().Truncate(time.Microsecond)); err != nil {
			return err
		}
		done = true
		return nil
	})
	return done, err
}

// RunExpirer expires pending orders every interval until ctx is done.
func (s *Service) RunExpirer(ctx context.Context, every time.Duration, log *slog.Logger) {
	if s.pendingTTL <= 0 {
		return
	}
	repeat(ctx, every, log, "expire pending orders", "expired pending orders", func() (int64, error) {
		n, err := s.ExpirePending(ctx, s.now())
		return int64(n), err
	})
}
