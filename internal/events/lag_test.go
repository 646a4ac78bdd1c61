package events

import (
	"testing"
	"time"
)

// The feed's lag is the age of the newest event the hub hands to streams.
func TestLagIsTheAgeOfTheEvent(t *testing.T) {
	e := StockChanged(time.Now().Add(-3*time.Second), 1, 2, "S", -1, 4)
	if lag := lagOf(e); lag < 3 || lag > 3600 {
		t.Errorf("lag of an event 3 s old = %v s", lag)
	}
	if lag := lagOf(Event{Data: []byte(`{"type":"x"}`)}); lag != 0 {
		t.Errorf("lag of an event without occurred_at = %v", lag)
	}
}
