package catalog

import (
	"testing"
	"time"
)

// A change sends the reads of what it changed to the primary for the read
// node's lag and no longer; the bookkeeping forgets old changes as it grows.
func TestRecentChangesLastTheReadLag(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newRecentChanges(5 * time.Second)
	r.note(t0, []uint64{7}, false)
	if !r.product(7, t0.Add(4*time.Second)) || r.product(8, t0) || r.listing(t0) {
		t.Fatal("a stock change: only its product is recent")
	}
	if r.product(7, t0.Add(5*time.Second)) {
		t.Fatal("product 7 still recent after the lag")
	}
	r.note(t0.Add(time.Second), []uint64{8}, true)
	if !r.listing(t0.Add(5*time.Second)) || r.listing(t0.Add(6*time.Second)) {
		t.Fatal("listings are recent for the lag after a listing change, and no longer")
	}
	later := t0.Add(time.Minute)
	for id := range uint64(5000) {
		r.note(later, []uint64{100 + id}, false)
	}
	if len(r.products) > 5001 || !r.product(100, later) {
		t.Fatalf("%d products kept; old ones should be pruned, recent ones kept", len(r.products))
	}
	if _, ok := r.products[7]; ok {
		t.Fatal("product 7, changed a minute ago, is still kept")
	}
}
