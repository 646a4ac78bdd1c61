// Package auth issues and checks admin API keys. A key is 256 random bits,
// shown once at creation; only its SHA-256 is stored (a slow password hash
// would add nothing for a key that cannot be guessed, and would cost every
// admin request), and the stored hash is compared in constant time.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// The scopes an API key can hold.
const (
	ScopeCatalogWrite   = "catalog:write"
	ScopeInventoryWrite = "inventory:write"
	ScopeOrdersRead     = "orders:read"
	ScopeOrdersWrite    = "orders:write"
	ScopeImportsWrite   = "imports:write"
	ScopeWebhooksWrite  = "webhooks:write"
)

// Scopes lists every scope, in the order help texts show them.
var Scopes = []string{ScopeCatalogWrite, ScopeInventoryWrite, ScopeOrdersRead, ScopeOrdersWrite, ScopeImportsWrite, ScopeWebhooksWrite}

// keyPrefix marks Shelf keys, so that secret scanners and people can tell
// what a leaked string is.
const keyPrefix = "shelf_"

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Key is an authenticated API key: who is acting, and what they may do.
type Key struct {
	ID     uint64
	Name   string
	Prefix string
	Scopes []string
}

// Has reports whether the key holds scope.
func (k *Key) Has(scope string) bool { return k != nil && slices.Contains(k.Scopes, scope) }

// Keys creates, lists, revokes and authenticates API keys.
type Keys struct {
	q *db.Queries

	mu      sync.Mutex
	touched map[uint64]time.Time // last_used_at is written at most once a minute per key
	retry   func(ctx context.Context, fn func(context.Context) error) error
}

// NewKeys returns the key service over q.
func NewKeys(q *db.Queries) *Keys {
	return &Keys{q: q, touched: map[uint64]time.Time{},
		retry: func(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }}
}

// WithRetry makes the key service run each of its writes under retry (the
// store's retry policy, store.Store.Retry), as every write path does.
func (k *Keys) WithRetry(retry func(ctx context.Context, fn func(context.Context) error) error) *Keys {
	k.retry = retry
	return k
}

// ErrUnknownKey means the presented secret is no active key.
var ErrUnknownKey = errors.New("unknown or revoked API key")

// Create makes a key and returns its secret, which is never stored.
func (k *Keys) Create(ctx context.Context, name string, scopes []string) (secret string, key Key, err error) {
	var fe problem.Fields
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 191 {
		fe.Add("name", "must be 1 to 191 characters")
	}
	if len(scopes) == 0 {
		fe.Add("scopes", "at least one scope is required: "+strings.Join(Scopes, ", "))
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			fe.Add("scopes", fmt.Sprintf("unknown scope %q (known: %s)", s, strings.Join(Scopes, ", ")))
		}
	}
	if err := fe.Err(); err != nil {
		return "", Key{}, err
	}
	scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Key{}, err
	}
	secret = keyPrefix + enc.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(secret))
	prefix := secret[:len(keyPrefix)+6]
	var id int64
	err = k.retry(ctx, func(ctx context.Context) (err error) {
		id, err = k.q.InsertAPIKey(ctx, db.InsertAPIKeyParams{
			Name: name, Prefix: prefix, KeyHash: sum[:], Scopes: strings.Join(scopes, ","), CreatedAt: time.Now().UTC(),
		})
		return err
	})
	if err != nil {
		return "", Key{}, err
	}
	return secret, Key{ID: uint64(id), Name: name, Prefix: prefix, Scopes: scopes}, nil
}

// Authenticate returns the active key whose secret was presented.
func (k *Keys) Authenticate(ctx context.Context, secret string) (*Key, error) {
	if !strings.HasPrefix(secret, keyPrefix) || len(secret) > 128 {
		return nil, ErrUnknownKey
	}
	sum := sha256.Sum256([]byte(secret))
	row, err := k.q.GetActiveAPIKeyByHash(ctx, sum[:])
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnknownKey
	} else if err != nil {
		return nil, err
	}
	// The index lookup already matched; compare again in constant time so
	// that no code path depends on a variable-time comparison of secrets.
	if subtle.ConstantTimeCompare(row.KeyHash, sum[:]) != 1 {
		return nil, ErrUnknownKey
	}
	k.touch(ctx, row.ID)
	return &Key{ID: row.ID, Name: row.Name, Prefix: row.Prefix, Scopes: strings.Split(row.Scopes, ",")}, nil
}

func (k *Keys) touch(ctx context.Context, id uint64) {
	now := time.Now().UTC()
	k.mu.Lock()
	last, ok := k.touched[id]
	if ok && now.Sub(last) < time.Minute {
		k.mu.Unlock()
		return
	}
	k.touched[id] = now
	k.mu.Unlock()
	_ = k.retry(ctx, func(ctx context.Context) error {
		return k.q.TouchAPIKey(ctx, db.TouchAPIKeyParams{LastUsedAt: sql.NullTime{Time: now, Valid: true}, ID: id})
	})
}

// List returns every key, revoked ones included, without secrets.
func (k *Keys) List(ctx context.Context) ([]db.ApiKey, error) { return k.q.ListAPIKeys(ctx) }

// Revoke revokes the key with this id or name; it reports how many it revoked.
func (k *Keys) Revoke(ctx context.Context, idOrName string) (int64, error) {
	// Only an all-digit argument is an id: Sscan would read "7-ci" as 7 and
	// revoke somebody else's key.
	id, err := strconv.ParseUint(idOrName, 10, 64)
	if err != nil {
		id = 0 // no key has id 0
	}
	var n int64
	err = k.retry(ctx, func(ctx context.Context) (err error) {
		n, err = k.q.RevokeAPIKey(ctx, db.RevokeAPIKeyParams{
			RevokedAt: sql.NullTime{Time: time.Now().UTC(), Valid: true}, ID: id, Name: idOrName,
		})
		return err
	})
	return n, err
}
