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
//   - A key's record is written once, with its answer: for a placed order
//     as the last INSERT of the order's own transaction, so an order and
//     the response that announces it commit together, in one commit.
//   - Before that transaction, the key is probed with a locking read that
//     never waits (SELECT ... FOR UPDATE NOWAIT, autocommit). A record that
//     a running order has inserted but not committed is locked, so the
//     probe fails at once: a retry sent while the first request runs gets
//     the 409 idempotency-key-in-use, and never waits for it to finish. A
//     committed record answers (a replay, or 422 for another body); none
//     means the key is new.
//   - Two requests with one key that both find none (sent within the same
//     moment) run side by side; the second one's INSERT of the key meets
//     the first one's and fails (1062) once the first has committed, and
//     its transaction, order and all, rolls back: it answers the 409 too.
//   - A request that fails with a client error (409 insufficient stock, 422
//     unknown SKU) stores that response too (an INSERT of its own, after its
//     transaction rolled back), and retries get it again; if it cannot be
//     stored (the database is failing), the client is told 503 instead, so
//     every definitive answer a client saw is the stored one. A 5xx stores
//     nothing: the retry runs afresh. A request that dies (with its process
//     or its connection) leaves nothing behind either: its transaction
//     rolls back when the database drops the connection.
//   - A "running" record committed on its own is a claim an earlier version
//     of the service made before its order: it answers 409 for claimLease
//     and is then dropped as abandoned (its request, if still alive, can no
//     longer complete it and rolls back).
//   - Each of these statements runs under the store's retry policy: on
//     Galera an autocommit INSERT can lose a certification race (1213) like
//     any transaction.
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
	return emailScope + strings.ToLower(strings.TrimSpace(email))
}

const emailScope = "email:"

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

// claim is a request's use of an Idempotency-Key: what its record is
// looked up by, and sealed and stored under.
type claim struct {
	scope   string
	keyHash []byte
	sealKey []byte
	reqHash []byte
	// anonHash is the key's hash without its scope, for an anonymous
	// buyer's key (nil for an API key's): unique among stored records, so
	// that the key used again under another e-mail address is a 422.
	anonHash []byte
}

func (s *Service) newClaim(scope, key string, reqHash []byte) *claim {
	mac := func(parts ...string) []byte {
		m := hmac.New(sha256.New, s.idemKey)
		for _, p := range parts {
			m.Write([]byte(p))
			m.Write([]byte{0})
		}
		return m.Sum(nil)
	}
	c := &claim{
		scope:   "s:" + hex.EncodeToString(mac("shelf/idempotency-scope", scope)[:24]),
		keyHash: mac("shelf/idempotency-key", scope, key),
		sealKey: mac("shelf/idempotency-seal", scope, key),
		reqHash: reqHash,
	}
	if strings.HasPrefix(scope, emailScope) {
		c.anonHash = mac("shelf/idempotency-anonymous-key", key)
	}
	return c
}

// Placed is the answer to a POST /v1/orders: the status and exact body to
// send, and whether it is a replay of a stored answer.
type Placed struct {
	Status   int
	Body     []byte
	OrderID  string // the order's public id, when one was created
	Replayed bool
}

// acquire looks the key up without waiting (see the top of this file) and
// reads the variants the order names, in one statement: it returns the
// stored response of an earlier request with the key, or the reason the
// key cannot be used now, or, when the key is new, the variants.
func (s *Service) acquire(ctx context.Context, c *claim, skus []string) (*Placed, []variantRow, error) {
	for range 4 {
		t := s.now()
		var (
			row      *db.IdempotencyKey
			variants []variantRow
		)
		err := s.st.Retry(ctx, func(ctx context.Context) (err error) {
			row, variants, err = s.lookup(ctx, c, skus)
			if store.IsLockedNow(err) {
				// Its request is running (or another is reading it this
				// instant): not a race to retry.
				return errInUse(time.Second)
			}
			return err
		})
		if problem.Is(err, problem.IdempotencyInUse) {
			return nil, nil, err
		} else if err != nil {
			return nil, nil, fmt.Errorf("read idempotency key and variants: %w", err)
		}
		if row == nil {
			return nil, variants, nil
		}
		if row.ExpiresAt.Before(t) {
			// Expired but not swept yet: it is as good as absent.
			if err := s.st.Retry(ctx, func(ctx context.Context) error {
				_, err := s.st.Q.DeleteExpiredIdempotencyKey(ctx, db.DeleteExpiredIdempotencyKeyParams{
					Scope: c.scope, KeyHash: c.keyHash, ExpiresAt: t,
				})
				return err
			}); err != nil {
				return nil, nil, fmt.Errorf("delete expired idempotency key: %w", err)
			}
			continue
		}
		if !bytes.Equal(row.RequestHash, c.reqHash) {
			return nil, nil, errKeyUsedElsewhere
		}
		if row.State == db.IdempotencyKeysStateDone {
			p, err := c.replay(row)
			return p, nil, err
		}
		// An earlier version's claim. held is negative when it was made
		// after t was read: the lease then has all of itself left.
		if held := max(t.Sub(row.ClaimedAt), 0); held <= claimLease {
			return nil, nil, errInUse(claimLease - held)
		}
		if err := s.st.Retry(ctx, func(ctx context.Context) error {
			_, err := s.st.Q.DropAbandonedIdempotencyKey(ctx, db.DropAbandonedIdempotencyKeyParams{
				Scope: c.scope, KeyHash: c.keyHash, ClaimToken: row.ClaimToken,
			})
			return err
		}); err != nil {
			return nil, nil, fmt.Errorf("drop abandoned idempotency key: %w", err)
		}
	}
	return nil, nil, errInUse(time.Second)
}

// Replay returns the stored answer of an earlier request with p's
// Idempotency-Key and the same body, or nil when there is none to give
// (the key is new, expired, in use by a running request, or was used with
// another body): one read of the key's record, no claim, no variants.
// It is for a request refused before it could run (a rate limit): a
// retry of an order that was placed gets its answer, never a refusal.
func (s *Service) Replay(ctx context.Context, p PlaceParams) (*Placed, error) {
	in, err := p.Input.Normalize(s.limits)
	if err != nil || !ValidKey(p.Key) {
		return nil, nil // such a request never stored an answer
	}
	c := s.newClaim(p.Scope, p.Key, in.hash())
	var row *db.IdempotencyKey
	err = s.st.Retry(ctx, func(ctx context.Context) (err error) {
		row, _, err = s.lookup(ctx, c, nil)
		return err
	})
	switch {
	case store.IsLockedNow(err):
		return nil, nil // its request is running
	case err != nil:
		return nil, fmt.Errorf("read idempotency key: %w", err)
	case row == nil || row.ExpiresAt.Before(s.now()) || !bytes.Equal(row.RequestHash, c.reqHash) ||
		row.State != db.IdempotencyKeysStateDone:
		return nil, nil
	}
	return c.replay(row)
}

// replay is the stored answer of the key's record row (state done).
func (c *claim) replay(row *db.IdempotencyKey) (*Placed, error) {
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

// variantRow is a variant an order names, with what its product adds, as
// lookup reads it.
type variantRow struct {
	ID, ProductID                    uint64
	SKU                              string
	Price                            int64
	Currency                         string
	Active                           bool
	Option1, Option2, Option3, Title string
	ProductStatus                    db.ProductsStatus
}

// lookupSQL is lookup's statement without the SKUs' placeholders: a UNION
// ALL of the key's record, read with a lock and NOWAIT (autocommit, so the
// lock ends with the statement; in MySQL and MariaDB a locking clause binds
// to its parenthesised query block only), and of the variants, a plain read
// that takes no lock and waits for none. The part column tells the rows
// apart; the NULLs pad each branch to the other's columns.
const lookupSQL = keySQL + `
UNION ALL
(SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, v.id, v.product_id, v.sku, v.price,
        v.currency, v.active, v.option1, v.option2, v.option3, p.title, p.status
 FROM variants v JOIN products p ON p.id = v.product_id
 WHERE v.sku IN (`

// keySQL is lookupSQL's first branch, and the whole lookup of a keyed
// request that names no SKUs (Keyed).
const keySQL = `(SELECT 1 AS part, k.request_hash, k.state, k.claim_token, k.response_status, k.response_body,
        k.order_id, k.claimed_at, k.expires_at, NULL AS id, NULL AS product_id, NULL AS sku, NULL AS price,
        NULL AS currency, NULL AS active, NULL AS option1, NULL AS option2, NULL AS option3, NULL AS title,
        NULL AS product_status
 FROM idempotency_keys k WHERE k.scope = ? AND k.key_hash = ?
 FOR UPDATE NOWAIT)`

// lookup runs lookupSQL: the key's record (nil: none) and the variants of
// skus (keySQL alone when there are none). It is a round trip fewer for every order than a probe of the key
// followed by a read of the variants inside the order's transaction; the
// read is the same (a consistent read either way, no fresher inside).
func (s *Service) lookup(ctx context.Context, c *claim, skus []string) (*db.IdempotencyKey, []variantRow, error) {
	q := make([]byte, 0, len(lookupSQL)+3*len(skus)+2)
	args := make([]any, 0, 2+len(skus))
	args = append(args, c.scope, c.keyHash)
	if len(skus) == 0 {
		q = append(q, keySQL...)
	} else {
		q = append(q, lookupSQL...)
		for i, sku := range skus {
			if i > 0 {
				q = append(q, ", "...)
			}
			q = append(q, '?')
			args = append(args, sku)
		}
		q = append(q, "))"...)
	}
	query := s.st.DB.QueryContext
	if len(skus) <= store.FewRows {
		query = s.st.QueryPrepared
	}
	rows, err := query(ctx, string(q), args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		rec      *db.IdempotencyKey
		variants = make([]variantRow, 0, len(skus))
	)
	for rows.Next() {
		var (
			part                             int
			k                                db.IdempotencyKey
			state                            sql.NullString
			status                           sql.NullInt16
			claimedAt, expiresAt             sql.NullTime
			id, productID                    sql.Null[uint64]
			price                            sql.NullInt64
			sku, currency, o1, o2, o3, title sql.NullString
			productStatus                    sql.NullString
			active                           sql.NullBool
		)
		if err := rows.Scan(&part, &k.RequestHash, &state, &k.ClaimToken, &status, &k.ResponseBody,
			&k.OrderID, &claimedAt, &expiresAt, &id, &productID, &sku, &price,
			&currency, &active, &o1, &o2, &o3, &title, &productStatus); err != nil {
			return nil, nil, err
		}
		if part == 1 {
			k.State, k.ResponseStatus = db.IdempotencyKeysState(state.String), status.Int16
			k.ClaimedAt, k.ExpiresAt = claimedAt.Time, expiresAt.Time
			rec = &k
			continue
		}
		variants = append(variants, variantRow{
			ID: id.V, ProductID: productID.V, SKU: sku.String, Price: price.Int64, Currency: currency.String,
			Active: active.Bool, Option1: o1.String, Option2: o2.String, Option3: o3.String,
			Title: title.String, ProductStatus: db.ProductsStatus(productStatus.String),
		})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return rec, variants, nil
}

// errInUse is the 409 for a key whose first request is still running; its
// Retry-After is when that request will have answered (or its claim lapsed).
func errInUse(left time.Duration) error {
	return &problem.Error{Kind: problem.IdempotencyInUse, Title: "Idempotency-Key in use",
		Detail:     "a request with this Idempotency-Key is still being processed; retry after it finishes",
		RetryAfter: max(left, time.Second)}
}

// store writes the key's record with its answer; with a transaction's
// queries it is part of that transaction. It fails with the in-use 409
// when another request with the key has stored its answer first.
func (s *Service) store(ctx context.Context, q *db.Queries, c *claim, status int, body []byte, orderID uint64) error {
	sealed, err := seal(c.sealKey, body)
	if err != nil {
		return err
	}
	t := s.now()
	err = q.StoreIdempotentResponse(ctx, db.StoreIdempotentResponseParams{
		Scope: c.scope, KeyHash: c.keyHash, RequestHash: c.reqHash, ClaimToken: noClaimToken,
		ResponseStatus: int16(status), ResponseBody: sealed,
		OrderID:   sql.NullInt64{Int64: int64(orderID), Valid: orderID != 0},
		ClaimedAt: t, ExpiresAt: t.Add(s.ttl),
		AnonKeyHash: sql.NullString{String: string(c.anonHash), Valid: c.anonHash != nil},
	})
	return keyStoreErr(err)
}

// errKeyUsedElsewhere is the 422 for an anonymous key already stored under
// another e-mail address: a request with another body. It is not stored
// under the new address (the key's record is the first request's).
var errKeyUsedElsewhere = problem.Field(problem.Unprocessable, "Idempotency-Key",
	"was already used with a different request; use a new key for a new request")

// keyStoreErr is what an error of the key's INSERT means: another request
// with the key answered first (a 409), the key is another request's (a
// 422), or the database failed.
func keyStoreErr(err error) error {
	if store.IsDuplicate(err) && strings.Contains(err.Error(), "idempotency_keys_anon_key") {
		return errKeyUsedElsewhere
	} else if store.IsDuplicate(err) {
		return errInUse(time.Second)
	} else if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// noClaimToken fills claim_token in a record written with its answer: only
// an earlier version's "running" claims use it.
var noClaimToken = make([]byte, 16)

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
