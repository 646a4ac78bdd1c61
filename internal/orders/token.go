package orders

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newPublicID returns an order id for URLs: 128 random bits, so ids cannot be
// enumerated or guessed ("ord_" + 26 base32 characters).
func newPublicID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "ord_" + idEncoding.EncodeToString(b[:])
}

// accessTokenPrefix tells an order token from an admin key ("shelf_").
const accessTokenPrefix = "ot_"

// newAccessToken returns a buyer's access token (256 random bits) and the
// SHA-256 that is all the database keeps of it.
func newAccessToken() (token string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = accessTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// tokenMatches compares a presented token with the stored hash in constant time.
func tokenMatches(token string, stored []byte) bool {
	if token == "" || len(token) > 128 || len(stored) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(hashToken(token), stored) == 1
}
