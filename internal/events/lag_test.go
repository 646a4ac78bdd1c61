package events

import (
	"encoding/json"
	"testing"
	"time"
)

// The feed's lag is the age of the newest event the hub hands to streams.
func TestLagIsTheAgeOfTheEvent(t *testing.T) {
	data, _ := json.Marshal(head("stock.changed", time.Now().Add(-3*time.Second)))
	if lag := lagOf(Event{Data: data}); lag < 3 || lag > 3600 {
		t.Errorf("lag of an event 3 s old = %v s", lag)
	}
	if lag := lagOf(Event{Data: []byte(`{"type":"x"}`)}); lag != 0 {
		t.Errorf("lag of an event without occurred_at = %v", lag)
	}
}
