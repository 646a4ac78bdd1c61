package orders

import (
	"context"
	"testing"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/problem"
)

func TestOrderCapsAreConfigurable(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{Limits: Limits{Lines: 2, LineUnits: 5, Units: 8}})
	seed(t, d, orderstest.Simple("L", 3, 100, 100)...)
	cases := []struct {
		name  string
		in    PlaceInput
		field string
	}{
		{"too many lines", input("a@example.com", line("L-0", 1), line("L-1", 1), line("L-2", 1)), "lines"},
		{"too many units on a line", input("a@example.com", line("L-0", 6)), "lines[0].quantity"},
		{"too many units in the order", input("a@example.com", line("L-0", 5), line("L-1", 4)), "lines[1].quantity"},
	}
	for _, c := range cases {
		_, err := s.Place(context.Background(), PlaceParams{Scope: "t", Key: newKey(), Input: c.in})
		pe, ok := problem.As(err)
		if !ok || pe.Kind != problem.Unprocessable || len(pe.Errors) == 0 || pe.Errors[0].Field != c.field {
			t.Errorf("%s: %v, want 422 naming %s", c.name, err, c.field)
		}
	}
	placeOK(t, s, input("a@example.com", line("L-0", 5), line("L-1", 3)))
	for _, sku := range []string{"L-0", "L-1", "L-2"} {
		if got, want := onHand(t, d, sku), map[string]int64{"L-0": 95, "L-1": 97, "L-2": 100}[sku]; got != want {
			t.Errorf("%s on hand %d, want %d: refused orders must take nothing", sku, got, want)
		}
	}
}
