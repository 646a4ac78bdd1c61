package orders

import (
	"math"
	"testing"
)

func TestFormatAmount(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{0, "USD", "0.00"},
		{5, "USD", "0.05"},
		{99, "USD", "0.99"},
		{19900, "USD", "199.00"},
		{-150, "EUR", "-1.50"},
		{1500, "JPY", "1500"},
		{1, "KWD", "0.001"},
		{123456, "KWD", "123.456"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
		{math.MaxInt64, "USD", "92233720368547758.07"},
	} {
		if got := formatAmount(c.minor, c.currency); got != c.want {
			t.Errorf("formatAmount(%d, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
	}
}
