package orders

import (
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/money"
)

// Order is an order as the API shows it. It is built from database rows in
// one place (newOrder) and never carries the access token's hash.
type Order struct {
	ID              string          `json:"id"`
	Number          string          `json:"number"`
	Status          Status          `json:"status"`
	Email           string          `json:"email"`
	Currency        string          `json:"currency"`
	Lines           []Line          `json:"lines"`
	ItemCount       int32           `json:"item_count"`
	Subtotal        money.Money     `json:"subtotal"`
	Total           money.Money     `json:"total"`
	ShippingAddress json.RawMessage `json:"shipping_address"`
	Version         uint64          `json:"version"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	PaidAt          *time.Time      `json:"paid_at"`
	FulfilledAt     *time.Time      `json:"fulfilled_at"`
	CancelledAt     *time.Time      `json:"cancelled_at"`
	RefundedAt      *time.Time      `json:"refunded_at"`
	// CancelReason is set on every cancelled order: "customer", "admin" or
	// "expired" (unpaid past the pending-order TTL); null otherwise.
	CancelReason *CancelReason `json:"cancel_reason"`
	// AccessToken is set only in the response that created the order (and
	// its idempotent replays): it is the buyer's key to the order.
	AccessToken string `json:"access_token,omitempty"`
}

// Line is one order line as sold.
type Line struct {
	SKU          string      `json:"sku"`
	Title        string      `json:"title"`
	VariantTitle string      `json:"variant_title"`
	Quantity     int32       `json:"quantity"`
	UnitPrice    money.Money `json:"unit_price"`
	LineTotal    money.Money `json:"line_total"`
}

// orderNumber renders the human order number; it is the row id, which is
// never used to look an order up from outside.
func orderNumber(id uint64) string { return strconv.FormatUint(id, 10) }

func newOrder(o db.Order, lines []db.OrderLine) *Order {
	v := &Order{
		ID:              o.PublicID,
		Number:          orderNumber(o.ID),
		Status:          Status(o.Status),
		Email:           o.Email,
		Currency:        o.Currency,
		Lines:           make([]Line, 0, len(lines)),
		ItemCount:       o.ItemCount,
		Subtotal:        money.Money{Amount: o.Subtotal, Currency: o.Currency},
		Total:           money.Money{Amount: o.Total, Currency: o.Currency},
		ShippingAddress: json.RawMessage(o.ShippingAddress),
		Version:         o.Version,
		CreatedAt:       o.CreatedAt.UTC(),
		UpdatedAt:       o.UpdatedAt.UTC(),
		PaidAt:          nullTime(o.PaidAt),
		FulfilledAt:     nullTime(o.FulfilledAt),
		CancelledAt:     nullTime(o.CancelledAt),
		RefundedAt:      nullTime(o.RefundedAt),
	}
	if o.CancelReason.Valid {
		r := CancelReason(o.CancelReason.OrdersCancelReason)
		v.CancelReason = &r
	}
	for _, l := range lines {
		v.Lines = append(v.Lines, Line{
			SKU: l.Sku, Title: l.Title, VariantTitle: l.VariantTitle, Quantity: l.Quantity,
			UnitPrice: money.Money{Amount: l.UnitPrice, Currency: o.Currency}, LineTotal: money.Money{Amount: l.LineTotal, Currency: o.Currency},
		})
	}
	return v
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// variantTitle is "Red / XL" from a variant's option values.
func variantTitle(opts ...string) string {
	var parts []string
	for _, o := range opts {
		if o != "" {
			parts = append(parts, o)
		}
	}
	return strings.Join(parts, " / ")
}
