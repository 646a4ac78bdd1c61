package orders

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/metrics"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/rules"
	"github.com/shelfcommerce/shelf/internal/store"
)

// PlaceInput is what a buyer sends: never a price, a total or a status.
type PlaceInput struct {
	Email           string      `json:"email"`
	Lines           []LineInput `json:"lines"`
	ShippingAddress Address     `json:"shipping_address"`
}

// LineInput is one line of an order request.
type LineInput struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Address is a shipping address, stored with the order as sent (trimmed).
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
	Phone      string `json:"phone"`
}

// PlaceParams is a request to place an order under an Idempotency-Key.
type PlaceParams struct {
	Scope string // from ScopeForAPIKey or ScopeForEmail
	Key   string // the Idempotency-Key header
	Input PlaceInput
}

// Short is a line the stock cannot cover, in the insufficient-stock problem.
type Short struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Available int64  `json:"available"`
}

// Normalize trims the input and checks everything that needs no database:
// the e-mail address, 1 to l.Lines lines, quantities 1 to l.LineUnits and
// at most l.Units in all (zero fields: DefaultLimits), no
// SKU twice (merge the quantities instead: two lines of one SKU would take
// its stock twice under one guard), and the address. It reports every bad
// field at once as a 422.
func (in PlaceInput) Normalize(l Limits) (PlaceInput, error) {
	l = l.orDefault()
	var fe problem.Fields
	out := PlaceInput{Email: strings.TrimSpace(in.Email)}
	if a, err := mail.ParseAddress(out.Email); err != nil || a.Address != out.Email || len(out.Email) > maxEmailLen {
		fe.Add("email", "must be a plain e-mail address such as buyer@example.com")
	}
	switch {
	case len(in.Lines) == 0:
		fe.Add("lines", "must have at least one line")
	case len(in.Lines) > l.Lines:
		fe.Add("lines", fmt.Sprintf("must have at most %d lines", l.Lines))
	}
	seen := make(map[string]int, len(in.Lines))
	units := 0
	for i, ln := range in.Lines {
		if i >= l.Lines {
			break
		}
		sku := strings.TrimSpace(ln.SKU)
		field := fmt.Sprintf("lines[%d]", i)
		switch {
		case sku == "":
			fe.Add(field+".sku", "is required")
		case len(sku) > maxSKULen:
			fe.Add(field+".sku", fmt.Sprintf("must be at most %d characters", maxSKULen))
		default:
			if j, dup := seen[sku]; dup {
				fe.Add(field+".sku", fmt.Sprintf("repeats the SKU of lines[%d]; send one line per SKU with the total quantity", j))
			} else {
				seen[sku] = i
			}
		}
		if ln.Quantity < 1 || ln.Quantity > l.LineUnits {
			fe.Add(field+".quantity", fmt.Sprintf("must be a whole number from 1 to %d", l.LineUnits))
		} else if units += ln.Quantity; units > l.Units {
			fe.Add(field+".quantity", fmt.Sprintf("brings the order to %d units; one order may have at most %d", units, l.Units))
		}
		out.Lines = append(out.Lines, LineInput{SKU: sku, Quantity: ln.Quantity})
	}
	a := in.ShippingAddress
	out.ShippingAddress = Address{
		Name: strings.TrimSpace(a.Name), Line1: strings.TrimSpace(a.Line1), Line2: strings.TrimSpace(a.Line2),
		City: strings.TrimSpace(a.City), Region: strings.TrimSpace(a.Region),
		PostalCode: strings.TrimSpace(a.PostalCode), Country: strings.ToUpper(strings.TrimSpace(a.Country)),
		Phone: strings.TrimSpace(a.Phone),
	}
	a = out.ShippingAddress
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"name", a.Name, true}, {"line1", a.Line1, true}, {"line2", a.Line2, false}, {"city", a.City, true},
		{"region", a.Region, false}, {"postal_code", a.PostalCode, false}, {"phone", a.Phone, false},
	} {
		if f.required && f.value == "" {
			fe.Add("shipping_address."+f.name, "is required")
		} else if len(f.value) > maxFieldLen {
			fe.Add("shipping_address."+f.name, fmt.Sprintf("must be at most %d characters", maxFieldLen))
		} else if msg := rules.Text(f.value); msg != "" {
			fe.Add("shipping_address."+f.name, msg)
		}
	}
	if len(a.Country) != 2 || strings.Trim(a.Country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		fe.Add("shipping_address.country", "must be an ISO 3166-1 alpha-2 code such as US")
	}
	return out, fe.Err()
}

// hash identifies a request for its Idempotency-Key: the normalised input,
// so that whitespace or key order in the JSON do not count as a change.
func (in PlaceInput) hash() []byte {
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return sum[:]
}

// Place places an order exactly once per Idempotency-Key: see the rules at
// the top of idempotency.go. A fresh client error is returned as an error
// (and stored for replays); a replay, failed or not, comes back as Placed.
func (s *Service) Place(ctx context.Context, p PlaceParams) (*Placed, error) {
	placed, err := s.placeOnce(ctx, p)
	metrics.OrdersPlaced.WithLabelValues(placeOutcome(placed, err)).Inc()
	return placed, err
}

// placeOutcome is the shelf_orders_placed_total label of one Place: a
// problem kind (a bounded set) for a refusal, "error" for anything else.
func placeOutcome(p *Placed, err error) string {
	if err != nil {
		if pe, ok := problem.As(err); ok {
			return string(pe.Kind)
		}
		return "error"
	}
	if p != nil && p.Replayed {
		return "replayed"
	}
	return "placed"
}

func (s *Service) placeOnce(ctx context.Context, p PlaceParams) (*Placed, error) {
	in, err := p.Input.Normalize(s.limits)
	if err != nil {
		return nil, err
	}
	if !ValidKey(p.Key) {
		return nil, problem.Field(problem.Invalid, "Idempotency-Key", "must be 1 to 255 visible ASCII characters")
	}
	c := s.newClaim(p.Scope, p.Key, in.hash())
	skus := make([]string, len(in.Lines))
	for i, l := range in.Lines {
		skus[i] = l.SKU
	}
	replay, variants, err := s.acquire(ctx, c, skus)
	if err != nil || replay != nil {
		return replay, err
	}
	var placed *Placed
	err = s.withAnonKeyFreed(ctx, c, func() (err error) {
		placed, err = s.place(ctx, in, c, variants)
		return err
	})
	if err == nil {
		return placed, nil
	}
	return nil, s.storeRefusal(ctx, c, err)
}

// withAnonKeyFreed runs write (a write of c's key record), and once more
// when it met a record of c's anonymous key under another e-mail address
// that had expired (not swept yet): the key is free again then.
func (s *Service) withAnonKeyFreed(ctx context.Context, c *claim, write func() error) error {
	err := write()
	if err != errKeyUsedElsewhere {
		return err
	}
	if freed, ferr := s.freeExpiredAnon(ctx, c); ferr != nil {
		return ferr
	} else if freed {
		return write()
	}
	return err
}

// freeExpiredAnon deletes an expired record of c's anonymous key, stored
// under another e-mail address, and reports whether there was one.
func (s *Service) freeExpiredAnon(ctx context.Context, c *claim) (bool, error) {
	var n int64
	err := s.st.Retry(ctx, func(ctx context.Context) (err error) {
		n, err = s.st.Q.DeleteExpiredAnonIdempotencyKey(ctx, db.DeleteExpiredAnonIdempotencyKeyParams{
			AnonKeyHash: sql.NullString{String: string(c.anonHash), Valid: true}, ExpiresAt: s.now()})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("free an expired idempotency key: %w", err)
	}
	return n > 0, nil
}

// storeRefusal stores the client error err of a keyed request that ran
// (like Stripe: the outcome of a request that ran is part of the key), so
// that a retry gets it again, and returns the error to answer with.
func (s *Service) storeRefusal(ctx context.Context, c *claim, err error) error {
	status, body := s.render(ctx, err)
	if status < 400 || status >= 500 || problem.Is(err, problem.IdempotencyInUse) || err == errKeyUsedElsewhere {
		return err
	}
	ctx, cancel := detached(ctx, time.Second)
	defer cancel()
	if serr := s.withAnonKeyFreed(ctx, c, func() error {
		return s.st.Retry(ctx, func(ctx context.Context) error { return s.store(ctx, s.st.Q, c, status, body, 0) })
	}); serr != nil {
		if problem.Is(serr, problem.IdempotencyInUse) || serr == errKeyUsedElsewhere {
			return serr // another request with the key answered first
		}
		// Unstored, the answer would not be the key's: a retry could get
		// another. Tell the client to retry instead.
		return fmt.Errorf("%w: store the answer %d: %w", store.ErrUnavailable, status, serr)
	}
	return err
}

// statusCreated is the HTTP status stored with a placed order's response,
// which its Idempotency-Key replays as it was first sent.
const statusCreated = 201

// place runs the order's one transaction over the variants acquire read:
// take the stock of every line under its guard in variant id order, write
// the order, its lines, its ledger rows and its events, and last its
// Idempotency-Key with the response, and commit them together.
func (s *Service) place(ctx context.Context, in PlaceInput, c *claim, variants []variantRow) (*Placed, error) {
	bySKU := make(map[string]*variantRow, len(variants))
	for i := range variants {
		bySKU[variants[i].SKU] = &variants[i]
	}
	lines, currency, err := priceLines(in.Lines, bySKU)
	if err != nil {
		return nil, err
	}
	address, _ := json.Marshal(in.ShippingAddress)
	var placed *Placed
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		t := s.now()

		// Take stock in one global order (variant id), so that two
		// multi-line orders never wait for each other in a cycle.
		byVariant := slices.Clone(lines)
		slices.SortFunc(byVariant, func(a, b *pricedLine) int { return cmp.Compare(a.variant.ID, b.variant.ID) })
		var short []*pricedLine
		var soldOut []uint64
		moves := make([]catalog.StockMove, 0, len(byVariant))
		for _, l := range byVariant {
			after, taken, err := takeStock(ctx, tx, l, t)
			if err != nil {
				return err
			}
			if !taken {
				short = append(short, l)
				continue
			}
			if after == 0 {
				// Only a variant that just sold out can change a listing's in_stock.
				soldOut = append(soldOut, l.variant.ProductID)
			}
			moves = append(moves, catalog.StockMove{VariantID: l.variant.ID, ProductID: l.variant.ProductID, SKU: l.sku,
				Delta: -int64(l.quantity), After: after})
		}
		if len(short) > 0 {
			ids := make([]uint64, 0, len(short))
			for _, l := range short {
				ids = append(ids, l.variant.ID)
			}
			onHand, err := onHandOf(ctx, tx, ids)
			if err != nil {
				return err
			}
			return insufficient(in.Lines, short, onHand)
		}

		var subtotal int64
		var items int32
		for _, l := range lines {
			subtotal += l.total
			items += int32(l.quantity)
		}
		publicID := newPublicID()
		token, tokenHash := newAccessToken()
		id, err := tx.Q.InsertOrder(ctx, db.InsertOrderParams{
			PublicID: publicID, Email: in.Email, Currency: currency, Subtotal: subtotal, Total: subtotal,
			ItemCount: items, ShippingAddress: string(address), AccessTokenHash: tokenHash, CreatedAt: t, UpdatedAt: t,
		})
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		orderID := uint64(id)
		// The order's other rows are its transaction's last writes, none
		// read back: they go to the server together, in one round trip
		// (store.Tx.Defer).
		tx.Defer()
		lineRows := make([]db.OrderLine, len(lines))
		lineArgs := make([]any, 0, len(lines)*10)
		for i, l := range lines {
			lineRows[i] = db.OrderLine{
				OrderID: orderID, LineNo: int32(i + 1), VariantID: l.variant.ID, ProductID: l.variant.ProductID,
				Sku: l.sku, Title: l.variant.Title, VariantTitle: l.variantTitle,
				UnitPrice: l.variant.Price, Quantity: int32(l.quantity), LineTotal: l.total,
			}
			r := lineRows[i]
			lineArgs = append(lineArgs, r.OrderID, r.LineNo, r.VariantID, r.ProductID, r.Sku, r.Title, r.VariantTitle,
				r.UnitPrice, r.Quantity, r.LineTotal)
		}
		if _, err := store.InsertRows(ctx, tx,
			"INSERT INTO order_lines (order_id, line_no, variant_id, product_id, sku, title, variant_title, unit_price, quantity, line_total)",
			10, lineArgs, ""); err != nil {
			return fmt.Errorf("insert order lines: %w", err)
		}
		// The ledger and every event of the order (order.created, one
		// stock.changed per line) in two statements, each stock level the
		// one its guarded UPDATE reported.
		created := events.Order(events.TypeOrderCreated, t, publicID, orderNumber(orderID), string(db.OrdersStatusPending))
		if err := catalog.RecordStock(ctx, tx, catalog.LedgerEntry{Reason: "order", OrderID: orderID, Actor: "order " + publicID,
			At: t, Extra: []events.Event{created}}, moves); err != nil {
			return err
		}

		o := db.Order{
			ID: orderID, PublicID: publicID, Email: in.Email, Status: db.OrdersStatusPending, Currency: currency,
			Subtotal: subtotal, Total: subtotal, ItemCount: items, ShippingAddress: string(address),
			Version: 1, CreatedAt: t, UpdatedAt: t,
		}
		view := newOrder(o, lineRows)
		view.AccessToken = token
		body, err := json.Marshal(view)
		if err != nil {
			return err
		}
		if err := s.store(ctx, tx.Later(), c, statusCreated, body, orderID); err != nil {
			return err
		}
		// Of the queued rows only the key's can be a duplicate.
		if err := tx.Flush(ctx); store.IsDuplicate(err) {
			return keyStoreErr(err)
		} else if err != nil {
			return fmt.Errorf("write the order's rows: %w", err)
		}
		if err := catalog.SyncListing(ctx, tx, soldOut); err != nil {
			return fmt.Errorf("sync listing: %w", err)
		}
		placed = &Placed{Status: statusCreated, Body: body, OrderID: publicID}
		return nil
	})
	return placed, err
}

// takeStock takes a line's units under the guard and returns the level it
// left (the guarded UPDATE reports it), or taken false when the stock is
// short. The units taken are never more than were on hand: either some are
// left, or exactly the last ones went.
func takeStock(ctx context.Context, tx *store.Tx, l *pricedLine, t time.Time) (after int64, taken bool, err error) {
	res, err := tx.Q.TakeStock(ctx, db.TakeStockParams{Quantity: int64(l.quantity), UpdatedAt: t, VariantID: l.variant.ID})
	if err != nil {
		return 0, false, fmt.Errorf("take stock: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, fmt.Errorf("take stock: %w", err)
	} else if n == 1 {
		after, err := res.LastInsertId()
		if err != nil || after <= 0 {
			return 0, false, fmt.Errorf("take stock: level after the change %d (%v)", after, err)
		}
		return after, true, nil
	}
	n, err := tx.Q.TakeLastStock(ctx, db.TakeLastStockParams{UpdatedAt: t, VariantID: l.variant.ID, Quantity: int64(l.quantity)})
	if err != nil {
		return 0, false, fmt.Errorf("take stock: %w", err)
	}
	return 0, n == 1, nil
}

// pricedLine is a requested line matched to its variant and priced.
type pricedLine struct {
	sku          string
	quantity     int
	variant      *variantRow
	variantTitle string
	total        int64
}

// priceLines matches lines to variants, refuses what cannot be sold (422
// naming each bad line) and prices each line from the catalog.
func priceLines(in []LineInput, bySKU map[string]*variantRow) ([]*pricedLine, string, error) {
	var fe problem.Fields
	lines := make([]*pricedLine, 0, len(in))
	currency := ""
	var subtotal int64
	for i, l := range in {
		field := fmt.Sprintf("lines[%d].sku", i)
		v, ok := bySKU[l.SKU]
		// A SKU that is not for sale (draft or archived product, hidden
		// variant) answers exactly as one that does not exist, so an
		// anonymous buyer cannot learn of unreleased products.
		if !ok || v.ProductStatus != db.ProductsStatusActive || !v.Active {
			fe.Add(field, fmt.Sprintf("unknown SKU %q", l.SKU))
			continue
		}
		if currency == "" {
			currency = v.Currency
		} else if v.Currency != currency {
			fe.Add(field, fmt.Sprintf("SKU %q is priced in %s, the rest of the order in %s", l.SKU, v.Currency, currency))
			continue
		}
		if v.Price > math.MaxInt64/int64(l.Quantity) || subtotal > math.MaxInt64-v.Price*int64(l.Quantity) {
			fe.Add(fmt.Sprintf("lines[%d].quantity", i), "makes the order total too large")
			continue
		}
		total := v.Price * int64(l.Quantity)
		subtotal += total
		lines = append(lines, &pricedLine{
			sku: l.SKU, quantity: l.Quantity, variant: v, total: total,
			variantTitle: variantTitle(v.Option1, v.Option2, v.Option3),
		})
	}
	return lines, currency, fe.Err()
}

// insufficient is the 409 for an order the stock cannot cover: every short
// SKU with what is available, in request order.
func insufficient(req []LineInput, short []*pricedLine, onHand map[uint64]int64) error {
	pos := make(map[string]int, len(req))
	for i, l := range req {
		pos[l.SKU] = i
	}
	slices.SortFunc(short, func(a, b *pricedLine) int { return cmp.Compare(pos[a.sku], pos[b.sku]) })
	list := make([]Short, len(short))
	skus := make([]string, len(short))
	for i, l := range short {
		list[i] = Short{SKU: l.sku, Requested: l.quantity, Available: max(onHand[l.variant.ID], 0)}
		skus[i] = l.sku
	}
	return &problem.Error{
		Kind:   problem.InsufficientStock,
		Title:  "Insufficient stock",
		Detail: fmt.Sprintf("not enough stock for %s; nothing was reserved", strings.Join(skus, ", ")),
		Extra:  map[string]any{"short": list},
	}
}

// onHandOf reads the stock of the given variants, by variant id.
func onHandOf(ctx context.Context, tx *store.Tx, variantIDs []uint64) (map[uint64]int64, error) {
	stock, err := tx.Q.StockOf(ctx, variantIDs)
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	onHand := make(map[uint64]int64, len(stock))
	for _, r := range stock {
		onHand[r.VariantID] = r.OnHand
	}
	return onHand, nil
}

// publicIDOf reads the order id from a stored 201 body.
func publicIDOf(body []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &v)
	return v.ID
}
