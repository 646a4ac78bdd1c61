package catalog

import (
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/migrations"
)

// The backfill of listing_facet_counts bands prices with the floors the
// write path uses, and every bucket edge of every known currency is one of
// them (else a band would straddle two buckets and its count could not be
// placed).
func TestPriceBandsMatchBackfill(t *testing.T) {
	sql, err := migrations.FS.ReadFile("00171_backfill_listing_facet_counts.sql")
	if err != nil {
		t.Fatal(err)
	}
	var floors []int64
	for _, m := range regexp.MustCompile(`THEN '(\d+)'|ELSE '(\d+)'`).FindAllStringSubmatch(string(sql), -1) {
		n, _ := strconv.ParseInt(m[1]+m[2], 10, 64)
		floors = append(floors, n)
	}
	slices.Sort(floors)
	if !slices.Equal(floors, priceBands) {
		t.Fatalf("migration 00171 bands at %v, the write path at %v", floors, priceBands)
	}
	for _, cur := range []string{"USD", "JPY", "KWD", "EUR", "KRW", "BHD"} {
		exp, _ := money.Exponent(cur)
		for _, e := range priceEdges {
			if edge := e * pow10(exp); !slices.Contains(priceBands, edge) {
				t.Errorf("%s bucket edge %d is not a band floor", cur, edge)
			}
		}
	}
	for _, c := range []struct{ amount, band int64 }{{0, 0}, {9, 0}, {10, 10}, {2499, 1000}, {2500, 2500}, {99999999, 1000000}} {
		if got := priceBand(c.amount); got != c.band {
			t.Errorf("priceBand(%d) = %d, want %d", c.amount, got, c.band)
		}
	}
}
