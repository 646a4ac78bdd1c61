package events

import (
	"context"
	"testing"
)

// A publish wakes the oldest few waiting streams; a stream whose wait ends
// just as its turn comes hands the turn to the next waiter, so no stream
// is left asleep with events to take.
func TestATurnNotTakenGoesToTheNextWaiter(t *testing.T) {
	h := NewHub(nil, HubConfig{Ring: 64})
	h.ready = true
	var subs []*Subscription
	for range relays + 2 {
		s, err := h.Subscribe(context.Background(), 0, true)
		if err != nil {
			t.Fatal(err)
		}
		if !h.await(s, 0) {
			t.Fatal("a subscription with nothing to take was not queued")
		}
		subs = append(subs, s)
	}
	hasTurn := func(i int) bool {
		select {
		case <-subs[i].turn:
			subs[i].turn <- struct{}{}
			return true
		default:
			return false
		}
	}
	h.publish([]Event{{Seq: 1, Type: TypeStockChanged, Data: []byte(`{}`)}})
	for i := range subs {
		if want := i < relays; hasTurn(i) != want {
			t.Fatalf("after a publish, waiter %d has a turn: %v, want %v", i, !want, want)
		}
	}
	h.leave(subs[0]) // its wait ended as the turn came
	if !hasTurn(relays) {
		t.Fatal("the turn of a stream that stopped waiting did not go to the next waiter")
	}
	if hasTurn(relays + 1) {
		t.Fatal("one turn not taken woke two waiters")
	}
	if h.await(subs[0], 0) {
		t.Fatal("the stream that left was queued again with an event to take")
	}
}
