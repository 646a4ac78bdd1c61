package catalog

import "time"

// SetClock replaces the storefront's clock, for tests that act at a given
// step of a request (each step reads the clock).
func SetClock(s *Storefront, now func() time.Time) { s.now = now }
