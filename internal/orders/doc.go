// Package orders places orders and moves them through their life: stock is
// taken atomically with guarded UPDATEs (never oversold, all lines or none),
// an Idempotency-Key makes a retried POST return the first answer instead of
// a second order (Keyed gives other writes the same rules: a stock
// adjustment's delta), and one state machine (state.go) decides every status
// change. Buyers reach their order with a random access token that is stored
// only as a SHA-256 hash.
package orders
