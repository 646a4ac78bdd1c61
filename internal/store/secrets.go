package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/shelfcommerce/shelf/db"
)

// Secrets are the keys every Shelf process on one database shares, so that
// what one instance signs or hashes another accepts: a load balancer may send
// each request of a client to a different one.
type Secrets struct {
	// Cursor signs listing and order cursors (SHELF_CURSOR_SECRET, when
	// set, is used instead).
	Cursor []byte
	// Idempotency keys the hashes of Idempotency-Key scopes and keys and
	// the sealing of stored responses, so that a copy of the table alone
	// does not let anyone test guesses of e-mail addresses or keys.
	Idempotency []byte
}

// Names of the rows in service_secrets.
const (
	secretCursor      = "cursor"
	secretIdempotency = "idempotency"
)

// LoadSecrets reads the service's shared keys, creating each one the first
// time any process asks (concurrent first starts agree on one row).
func (s *Store) LoadSecrets(ctx context.Context) (Secrets, error) {
	var sec Secrets
	var err error
	if sec.Cursor, err = s.secret(ctx, secretCursor); err != nil {
		return sec, err
	}
	if sec.Idempotency, err = s.secret(ctx, secretIdempotency); err != nil {
		return sec, err
	}
	return sec, nil
}

func (s *Store) secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	var key []byte
	err := s.Retry(ctx, func(ctx context.Context) error {
		err := s.Q.InsertSecretIfAbsent(ctx, db.InsertSecretIfAbsentParams{
			Name: name, Secret: fresh, CreatedAt: time.Now().UTC(),
		})
		if err != nil {
			return err
		}
		key, err = s.Q.GetSecret(ctx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the %s key from service_secrets: %w", name, err)
	}
	return key, nil
}
