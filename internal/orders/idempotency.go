package orders

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Idempotency keys follow the IETF idempotency-key draft and Stripe:
//
//   - A request first runs without a claim: its order transaction ends with
//     a plain INSERT of the key's row, already 'done' with the response, so
//     a new key costs one statement and no commit of its own. The
//     duplicate-key error (1062) means "seen": the transaction rolls back
//     (nothing of it was written) and the request takes the claimed path
//     below, which replays, refuses or runs it again. A concurrent request
//     with the same key waits on that INSERT until the first commits or
//     rolls back, so it never makes a second order.
//   - On the claimed path a key is claimed with a plain INSERT, before the
//     order's transaction; the duplicate-key error means "seen". (Looking a
//     key up FOR UPDATE and then inserting deadlocks.) Each of these
//     statements runs under the store's retry policy: on Galera an
//     autocommit INSERT can lose a certification race (1213) like any
//     transaction.
//   - The order, and the response that announces it, commit in ONE
//     transaction, and on the claimed path that transaction only commits
//     while its claim token is still the key's: a claim older than
//     claimLease may be taken over by a retry (its request died, e.g. with
//     the database), and the request it was taken from then cannot commit.
//     So the lease bounds how long a crash keeps a key busy (a few seconds),
//     not correctness.
//   - A request that fails with a client error (409 insufficient stock, 422
//     unknown SKU) stores that response too, and retries get it again; if
//     it cannot be stored (the database is failing), the client is told 503
//     instead, so every definitive answer a client saw is the stored one.
//     A 5xx releases the key: the retry runs afresh.
//   - Keys are scoped, so that one client can never read another's stored
//     response: the admin key's id when an admin key placed the order,
//     otherwise the buyer's e-mail address (see ScopeFor*).
//   - The database keeps neither the key, the scope nor a readable
//     response: scope and key_hash are HMAC-SHA256s under the service's
//     idempotency secret (shared by all instances through the database), and
//     the response (which holds the order's access token) is sealed with
//     AES-GCM under a key derived from that secret and the client's
//     Idempotency-Key, which only the client has.

// ScopeForAPIKey scopes Idempotency-Keys sent with an admin API key.
func ScopeForAPIKey(id uint64) string { return fmt.Sprintf("key:%d", id) }

// ScopeForEmail scopes Idempotency-Keys of anonymous buyers by the order's
// e-mail address, case-folded. The service stores only a keyed hash of it.
func ScopeForEmail(email string) string {
	return "email:" + strings.ToLower(strings.TrimSpace(email))
}

// ValidKey reports whether an Idempotency-Key header value is acceptable:
// 1 to 255 visible ASCII characters (a UUID is typical).
func ValidKey(k string) bool {
	if k == "" || len(k) > maxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// claim is a request's ownership of an idempotency record.
type claim struct {
	scope   string
	keyHash []byte
	sealKey []byte
	token   []byte // tells this claim from a later takeover; nil: not claimed (yet)
	reqHash []byte
}

// errKeySeen is an unclaimed request's news that its key already has a row:
// what it did was rolled back, and it must take the claimed path.
var errKeySeen = errors.New("idempotency key already seen")

func (s *Service) newClaim(scope, key string, reqHash []byte) *claim {
	mac := func(parts ...string) []byte {
		m := hmac.New(sha256.New, s.idemKey)
		for _, p := range parts {
			m.Write([]byte(p))
			m.Write([]byte{0})
		}
		return m.Sum(nil)
	}
	return &claim{
		scope:   "s:" + hex.EncodeToString(mac("shelf/idempotency-scope", scope)[:24]),
		keyHash: mac("shelf/idempotency-key", scope, key),
		sealKey: mac("shelf/idempotency-seal", scope, key),
		reqHash: reqHash,
	}
}

// Placed is the answer to a POST /v1/orders: the status and exact body to
// send, and whether it is a replay of a stored answer.
type Placed struct {
	Status   int
	Body     []byte
	OrderID  string // the order's public id, when one was created
	Replayed bool
}

// acquire claims the key, or returns the stored response of an earlier
// request with it, or the reason it cannot be used now.
func (s *Service) acquire(ctx context.Context, c *claim) (*Placed, error) {
	for range 4 {
		t := s.now()
		c.token = randomBytes(16)
		err := s.st.Retry(ctx, func(ctx context.Context) error {
			return s.st.Q.ClaimIdempotencyKey(ctx, db.ClaimIdempotencyKeyParams{
				Scope: c.scope, KeyHash: c.keyHash, RequestHash: c.reqHash, ClaimToken: c.token,
				ClaimedAt: t, ExpiresAt: t.Add(s.ttl),
			})
		})
		if err == nil {
			return nil, nil
		}
		if !store.IsDuplicate(err) {
			return nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		row, err := s.st.Q.GetIdempotencyKey(ctx, db.GetIdempotencyKeyParams{Scope: c.scope, KeyHash: c.keyHash})
		if errors.Is(err, sql.ErrNoRows) {
			continue // released or swept since our INSERT: claim again
		} else if err != nil {
			return nil, fmt.Errorf("read idempotency key: %w", err)
		}
		if row.ExpiresAt.Before(t) {
			// Expired but not swept yet: it is as good as absent.
			if err := s.st.Retry(ctx, func(ctx context.Context) error {
				_, err := s.st.Q.DeleteExpiredIdempotencyKey(ctx, db.DeleteExpiredIdempotencyKeyParams{
					Scope: c.scope, KeyHash: c.keyHash, ExpiresAt: t,
				})
				return err
			}); err != nil {
				return nil, fmt.Errorf("delete expired idempotency key: %w", err)
			}
			continue
		}
		if !bytes.Equal(row.RequestHash, c.reqHash) {
			return nil, problem.Field(problem.Unprocessable, "Idempotency-Key",
				"was already used with a different request body; use a new key for a new order")
		}
		if row.State == db.IdempotencyKeysStateDone {
			body, err := open(c.sealKey, row.ResponseBody)
			if err != nil {
				return nil, fmt.Errorf("open stored response: %w", err)
			}
			p := &Placed{Status: int(row.ResponseStatus), Body: body, Replayed: true}
			if row.OrderID.Valid {
				p.OrderID = publicIDOf(body)
			}
			return p, nil
		}
		// held is negative when the claim was made after t was read (a
		// concurrent request): the lease then has all of itself left.
		if held := max(t.Sub(row.ClaimedAt), 0); held <= claimLease {
			return nil, errInUse(claimLease - held)
		}
		// Its request died, or will not be able to commit once we hold the
		// claim (see above).
		var n int64
		err = s.st.Retry(ctx, func(ctx context.Context) (err error) {
			n, err = s.st.Q.TakeOverIdempotencyKey(ctx, db.TakeOverIdempotencyKeyParams{
				ClaimToken: c.token, RequestHash: c.reqHash, ClaimedAt: t, ExpiresAt: t.Add(s.ttl),
				Scope: c.scope, KeyHash: c.keyHash, AbandonedClaimToken: row.ClaimToken,
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("take over idempotency key: %w", err)
		}
		if n == 1 {
			return nil, nil
		}
	}
	return nil, errInUse(time.Second)
}

// errInUse is the 409 for a key whose first request is still running; its
// Retry-After is when that request's claim lapses at the latest.
func errInUse(left time.Duration) error {
	return &problem.Error{Kind: problem.IdempotencyInUse, Title: "Idempotency-Key in use",
		Detail:     "a request with this Idempotency-Key is still being processed; retry after it finishes",
		RetryAfter: max(left, time.Second)}
}

// complete stores the response under the claim; with tx it is part of the
// order's transaction. It fails when the claim was taken over meanwhile, or,
// unclaimed, with errKeySeen when the key has a row already.
func (s *Service) complete(ctx context.Context, q *db.Queries, c *claim, status int, body []byte, orderID uint64) error {
	sealed, err := seal(c.sealKey, body)
	if err != nil {
		return err
	}
	if c.token == nil {
		t := s.now()
		err := q.InsertIdempotentResponse(ctx, db.InsertIdempotentResponseParams{
			Scope: c.scope, KeyHash: c.keyHash, RequestHash: c.reqHash, ClaimToken: make([]byte, 16),
			ResponseStatus: int16(status), ResponseBody: sealed,
			OrderID:   sql.NullInt64{Int64: int64(orderID), Valid: orderID != 0},
			ClaimedAt: t, ExpiresAt: t.Add(s.ttl),
		})
		if store.IsDuplicate(err) {
			return errKeySeen
		} else if err != nil {
			return fmt.Errorf("store idempotent response: %w", err)
		}
		return nil
	}
	n, err := q.CompleteIdempotencyKey(ctx, db.CompleteIdempotencyKeyParams{
		ResponseStatus: int16(status), ResponseBody: sealed,
		OrderID: sql.NullInt64{Int64: int64(orderID), Valid: orderID != 0},
		Scope:   c.scope, KeyHash: c.keyHash, ClaimToken: c.token,
	})
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	if n != 1 {
		// Taken over by a retry while this request ran: it answers.
		return errInUse(claimLease)
	}
	return nil
}

// release forgets the claim so that a retry runs afresh (after a 5xx). It
// must run even when the request's context is done.
func (s *Service) release(ctx context.Context, c *claim) {
	if c.token == nil {
		return // nothing was claimed
	}
	ctx, cancel := detached(ctx, 500*time.Millisecond)
	defer cancel()
	if err := s.st.Retry(ctx, func(ctx context.Context) error {
		return s.st.Q.ReleaseIdempotencyKey(ctx, db.ReleaseIdempotencyKeyParams{
			Scope: c.scope, KeyHash: c.keyHash, ClaimToken: c.token,
		})
	}); err != nil {
		// The claim stays "running" until claimLease passes; then a retry
		// takes it over.
		slog.WarnContext(ctx, "release idempotency key", "err", err)
	}
}

// SweepIdempotencyKeys deletes expired keys in batches; it returns how many.
func (s *Service) SweepIdempotencyKeys(ctx context.Context) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.st.Retry(ctx, func(ctx context.Context) (err error) {
			n, err = s.st.Q.SweepIdempotencyKeys(ctx, s.now())
			return err
		})
		total += n
		if err != nil || n < sweepBatchSize {
			return total, err
		}
	}
}

// RunSweeper sweeps expired keys every interval until ctx is done.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration, log *slog.Logger) {
	repeat(ctx, every, log, "sweep idempotency keys", "swept expired idempotency keys", func() (int64, error) {
		return s.SweepIdempotencyKeys(ctx)
	})
}

// repeat runs job now and then every interval until ctx is done, logging a
// failure as a warning and any work done (n > 0) as info.
func repeat(ctx context.Context, every time.Duration, log *slog.Logger, failed, did string, job func() (int64, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := job(); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, failed, "err", err)
		} else if n > 0 {
			log.InfoContext(ctx, did, "n", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// gcm is AES-GCM under key, which seals stored responses.
func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(key, plain []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := randomBytes(aead.NonceSize())
	return aead.Seal(nonce, nonce, plain, nil), nil
}

func open(key, sealed []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("stored response too short")
	}
	ns := aead.NonceSize()
	return aead.Open(nil, sealed[:ns], sealed[ns:], nil)
}
