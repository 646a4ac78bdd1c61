// Package cursor seals the opaque page cursors Shelf hands out (storefront
// listings; admin order, webhook and delivery lists): the payload a page
// needs to resume, followed by a truncated HMAC-SHA256 of it, in unpadded
// base64url. A cursor that was
// altered, forged or signed with another key does not open, so a client can
// hold a position in a list but never steer the query behind it.
package cursor

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// macLen is how much of the HMAC a cursor carries: 128 bits.
const macLen = 16

// Key signs one kind of cursor.
type Key []byte

// NewKey derives the key of one kind of cursor (purpose, such as
// "shelf/listing-cursor") from secret, so that a cursor of one list never
// opens as another's. An empty secret is replaced by a random one: cursors
// then work only in this process.
func NewKey(secret []byte, purpose string) Key {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret) // crypto/rand.Read never fails (Go 1.24+)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Seal returns the cursor carrying payload.
func (k Key) Seal(payload []byte) string {
	b := make([]byte, len(payload), len(payload)+macLen)
	copy(b, payload)
	return base64.RawURLEncoding.EncodeToString(append(b, k.mac(payload)...))
}

// Why a cursor does not open.
var (
	ErrMalformed = errors.New("cursor: not a cursor")        // not base64url, or too short
	ErrSignature = errors.New("cursor: signature not valid") // altered, forged or another key's
)

// Open returns the payload of a cursor sealed with k, or ErrMalformed or
// ErrSignature.
func (k Key) Open(c string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(c) // one spelling per cursor
	if err != nil || len(b) < macLen {
		return nil, ErrMalformed
	}
	payload, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(k.mac(payload), mac) {
		return nil, ErrSignature
	}
	return payload, nil
}

func (k Key) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}
