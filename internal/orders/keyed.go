package orders

import (
	"context"
	"crypto/sha256"

	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// SaveAnswer writes a keyed request's answer under its Idempotency-Key as
// a statement of tx, the transaction of the write it answers, so that the
// write and its answer commit together (a duplicate is the in-use 409).
type SaveAnswer func(ctx context.Context, tx *store.Tx, status int, body []byte) error

// Keyed runs a write other than an order once per Idempotency-Key, with
// the rules of an order's key (the top of idempotency.go): a retry with
// the same key and request gets the first answer again (Replayed), with
// another request a 422, and while the first runs a 409. request
// identifies the request: what it does and to what (an endpoint's name
// and its arguments); a key used for one request cannot be used for
// another. run does the write in one transaction and calls save in it,
// last, with the answer it returns; a client error it returns is stored
// as the key's answer too.
func (s *Service) Keyed(ctx context.Context, scope, key string, request []byte,
	run func(ctx context.Context, save SaveAnswer) (status int, body []byte, err error)) (*Placed, error) {
	if !ValidKey(key) {
		return nil, problem.Field(problem.Invalid, "Idempotency-Key", "must be 1 to 255 visible ASCII characters")
	}
	c := s.newClaim(scope, key, hashOf(request))
	replay, _, err := s.acquire(ctx, c, nil)
	if err != nil || replay != nil {
		return replay, err
	}
	status, body, err := run(ctx, func(ctx context.Context, tx *store.Tx, status int, body []byte) error {
		return s.store(ctx, tx.Q, c, status, body, 0)
	})
	if err != nil {
		return nil, s.storeRefusal(ctx, c, err)
	}
	return &Placed{Status: status, Body: body}, nil
}

// hashOf identifies a keyed request; the prefix keeps it apart from every
// order's hash.
func hashOf(request []byte) []byte {
	h := sha256.New()
	h.Write([]byte("shelf/keyed\x00"))
	h.Write(request)
	return h.Sum(nil)
}
