package handlers

import (
	"fmt"
	"testing"
	"time"
)

// A flood of distinct addresses (IPv6 gives anyone millions) must not grow
// the limiter's memory past its bound.
func TestLimiterStoreIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(30, func() time.Time { return now })
	for i := range maxTrackedClients + 20_000 {
		l.take(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := len(l.clients); n > maxTrackedClients {
		t.Fatalf("%d buckets held, bound is %d", n, maxTrackedClients)
	}
	// One /64 is one client: rotating the low bits does not buy more orders.
	for i := range 31 {
		ok, _ := l.take(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		if i == 30 && ok {
			t.Fatal("31st order from one IPv6 /64 in a minute allowed")
		}
	}
	// Buckets idle long enough to be full again are forgotten.
	now = now.Add(5 * time.Minute)
	l.take("192.0.2.1")
	if n := len(l.clients); n != 1 {
		t.Fatalf("%d buckets after every other went idle, want 1", n)
	}
}
