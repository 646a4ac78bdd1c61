package orders

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// Filter narrows the staff's order list. Zero fields do not filter.
type Filter struct {
	Status        Status
	Email         string
	CreatedAfter  time.Time // exclusive
	CreatedBefore time.Time // exclusive
}

// Page is one page of orders, newest first.
type Page struct {
	Items      []*Order `json:"items"`
	NextCursor *string  `json:"next_cursor"`
}

// List returns up to limit orders matching f, after the position cursor
// names (empty: from the newest). Paging is keyset on (created_at, id), so it
// never skips or repeats an order while the data is unchanged.
func (s *Service) List(ctx context.Context, f Filter, cursor string, limit int) (*Page, error) {
	p := db.ListOrdersParams{Limit: int32(limit + 1)}
	if f.Status != "" {
		p.Status = db.NullOrdersStatus{OrdersStatus: db.OrdersStatus(f.Status), Valid: true}
	}
	if f.Email != "" {
		p.Email = sql.NullString{String: f.Email, Valid: true}
	}
	if !f.CreatedAfter.IsZero() {
		p.CreatedAfter = sql.NullTime{Time: f.CreatedAfter.UTC(), Valid: true}
	}
	if !f.CreatedBefore.IsZero() {
		p.CreatedBefore = sql.NullTime{Time: f.CreatedBefore.UTC(), Valid: true}
	}
	if cursor != "" {
		at, id, err := s.decodeCursor(cursor, f)
		if err != nil {
			return nil, err
		}
		p.SeekAt = sql.NullTime{Time: at, Valid: true}
		p.SeekID = sql.NullInt64{Int64: int64(id), Valid: true}
	}
	rows, err := s.st.Q.ListOrders(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	page := &Page{Items: make([]*Order, 0, min(len(rows), limit))}
	if len(rows) > limit {
		last := rows[limit-1]
		c := s.encodeCursor(last.CreatedAt, last.ID, f)
		page.NextCursor = &c
		rows = rows[:limit]
	}
	if len(rows) == 0 {
		return page, nil
	}
	ids := make([]uint64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	lines, err := s.st.Q.OrderLinesOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list order lines: %w", err)
	}
	byOrder := make(map[uint64][]db.OrderLine, len(rows))
	for _, l := range lines {
		byOrder[l.OrderID] = append(byOrder[l.OrderID], l)
	}
	for _, r := range rows {
		page.Items = append(page.Items, newOrder(r, byOrder[r.ID]))
	}
	return page, nil
}

// A cursor is created_at (µs) and id of the last order shown, and a
// fingerprint of the filters it was made for, signed with HMAC-SHA256 so
// that a forged, altered or foreign cursor is refused (400), never obeyed.
const (
	cursorPayload = 8 + 8 + 8
	cursorMAC     = 16
)

func cursorKey(secret []byte) []byte {
	if len(secret) == 0 {
		secret = randomBytes(32)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("shelf/orders-cursor"))
	return m.Sum(nil)
}

func filterPrint(f Filter) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", f.Status, f.Email,
		f.CreatedAfter.UnixMicro(), f.CreatedBefore.UnixMicro()))
	return h[:8]
}

func (s *Service) encodeCursor(at time.Time, id uint64, f Filter) string {
	b := make([]byte, cursorPayload, cursorPayload+cursorMAC)
	binary.BigEndian.PutUint64(b[0:], uint64(at.UnixMicro()))
	binary.BigEndian.PutUint64(b[8:], id)
	copy(b[16:], filterPrint(f))
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write(b)
	b = append(b, m.Sum(nil)[:cursorMAC]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Service) decodeCursor(c string, f Filter) (time.Time, uint64, error) {
	bad := problem.Field(problem.Invalid, "cursor", "is not a cursor this service issued for these filters (altered, signed with a key since changed, or made for other filters); start again without it")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != cursorPayload+cursorMAC {
		return time.Time{}, 0, bad
	}
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write(b[:cursorPayload])
	if !hmac.Equal(m.Sum(nil)[:cursorMAC], b[cursorPayload:]) || !hmac.Equal(b[16:24], filterPrint(f)) {
		return time.Time{}, 0, bad
	}
	at := time.UnixMicro(int64(binary.BigEndian.Uint64(b[0:]))).UTC()
	return at, binary.BigEndian.Uint64(b[8:]), nil
}
