// Package events is Shelf's change feed: every change a storefront or an
// integration can see is recorded as an event in the transaction of the
// change (the transactional outbox, table events), so a rolled-back change
// leaves no event and a committed one always has its events.
//
// # Rows: one per write
//
// A write's events go into one row (one per PackMax events, for a write of
// more, all with one INSERT): their documents in order, joined by newlines,
// and their count n. So the outbox costs a write about one row, whatever
// the number of its events (an imported product has seven, an order one
// plus one per line). Unpack splits a row back into its events; a row of
// one event, like every row written before rows were packed, holds just
// that event's document (and its type in the type column). A row whose
// text is long (an import batch's) is stored compressed, in data_z, in the
// form of SQL's COMPRESS(); RowText reads either kind. A database that was
// in use before this release gets compressed rows only an hour after its
// upgrade (migrations 00191 and 00192), so that no older instance, which would read
// such a row as empty, is still tailing the table.
//
// # Order: ids in commit order, without gaps
//
// An AUTO_INCREMENT id is taken at INSERT, not at COMMIT: a transaction that
// inserted id 10 may commit after one that inserted id 11, so a reader
// tailing "id > last" could pass 10 for good. The feed's order is therefore
// not the id but seq, assigned after commit by the Sequencer: one sequencer
// at a time (whichever process holds the row lock of the one-row table
// event_sequence; on Galera the write-set conflict on that row does the same,
// and the loser retries) takes the committed rows that have no seq yet
// (seq 0), in id order, and gives a row of n events the next n seqs,
// last+1 .. last+n, storing the row's last one, in one short transaction
// (deadlocks and lock-wait timeouts, and Galera's certification failures,
// retry it whole). The events of a row have the seqs seq-n+1 .. seq, in the
// order the write emitted them.
//
// The guarantee readers get: seq values are consecutive, and a row becomes
// visible with its seq only after every row with a smaller seq is visible
// (sequencer transactions are serial, each starting after the previous
// committed). So a reader that tails "seq > last" in seq order never passes
// an event: a transaction that commits late simply gets a later seq. The
// stream's id (SSE id:, the webhook-id) is the event's seq as a decimal
// string, and a reader resumes after any event, also one in the middle of a
// row. The only gaps are deliberate: Prune deletes rows whose events are
// all older than the retention window, and a reader resuming from before
// them is told so (ErrReset). Prune never deletes an event a webhook still
// has to deliver, nor any later one: it stops below the webhooks' fan-out
// cursor (while a webhook exists) and the oldest delivery still queued, so
// the retained feed stays one run of seq.
//
// # What an event holds
//
// data is exactly the JSON document that is delivered (the SSE data: line,
// the webhook body): "type" first, "occurred_at" and the fields of its type,
// as the API contract lists them. One function per kind of change builds it
// (ProductUpdated, PriceChanged, StockChanged, ...), and Emit records a
// change's events.
package events

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shelfcommerce/shelf/internal/jsonw"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/store"
)

// The event types.
const (
	TypeProductUpdated = "product.updated"
	TypeProductDeleted = "product.deleted"
	TypePriceChanged   = "price.changed"
	TypeStockChanged   = "stock.changed"
	TypeOrderCreated   = "order.created"
	TypeOrderPaid      = "order.paid"
	TypeOrderFulfilled = "order.fulfilled"
	TypeOrderCancelled = "order.cancelled"
	TypeOrderRefunded  = "order.refunded"
)

// Types lists every event type, in the contract's order.
var Types = []string{TypeProductUpdated, TypePriceChanged, TypeStockChanged, TypeProductDeleted,
	TypeOrderCreated, TypeOrderPaid, TypeOrderFulfilled, TypeOrderCancelled, TypeOrderRefunded}

// IsOrder reports whether events of type t describe orders (shown only to
// callers allowed to read orders).
func IsOrder(t string) bool { return strings.HasPrefix(t, "order.") }

// Known reports whether t is an event type.
func Known(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Event is one event: as built by a writer (Seq 0), or as read from the feed.
type Event struct {
	Seq  uint64
	Type string
	Data []byte // the JSON document delivered

	// What in-process followers (caches) need, set by the builders and by
	// Parse, so they need not decode Data.
	ProductID uint64
	Slug      string
	// Restock: a stock change that may have moved a variant to or from zero
	// (it can change a listing's in_stock and the facet counts).
	Restock bool

	// sse is AppendSSE's message, built once by the Hub for all streams.
	sse []byte
}

// ID is the stream id of a sequenced event.
func (e *Event) ID() string { return strconv.FormatUint(e.Seq, 10) }

// AppendSSE appends the event as a Server-Sent Events message (id, event
// and data lines, then a blank line) to w. data is JSON from encoding/json,
// which never holds a raw newline, so it is one data line.
func (e *Event) AppendSSE(w []byte) []byte {
	if e.sse != nil {
		return append(w, e.sse...)
	}
	w = strconv.AppendUint(append(w, "id: "...), e.Seq, 10)
	w = append(append(w, "\nevent: "...), e.Type...)
	w = append(append(w, "\ndata: "...), e.Data...)
	return append(w, "\n\n"...)
}

// TimeFormat is how occurred_at is written: RFC 3339, UTC, microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

type header struct {
	Type       string `json:"type"`
	OccurredAt string `json:"occurred_at"`
}

// The builders below write each document by hand, byte for byte what
// encoding/json writes for the contract's fields in this order
// (FuzzBuildersWriteWhatEncodingJSONWrites): an import emits seven events
// per product, and encoding them through reflection cost the importing
// process a third of its CPU.

// begin starts a document: its "type" and "occurred_at" members.
func begin(typ string, at time.Time, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, `{"type":`...)
	b = jsonw.AppendString(b, typ)
	b = append(b, `,"occurred_at":"`...)
	b = at.UTC().AppendFormat(b, TimeFormat)
	return append(b, '"')
}

func appendUint(b []byte, name string, v uint64) []byte {
	return strconv.AppendUint(append(append(append(b, ',', '"'), name...), '"', ':'), v, 10)
}

func appendInt(b []byte, name string, v int64) []byte {
	return strconv.AppendInt(append(append(append(b, ',', '"'), name...), '"', ':'), v, 10)
}

func appendString(b []byte, name, v string) []byte {
	return jsonw.AppendString(append(append(append(b, ',', '"'), name...), '"', ':'), v)
}

// appendSKU writes a variant's SKU, null when it has none.
func appendSKU(b []byte, sku string) []byte {
	if sku == "" {
		return append(b, `,"sku":null`...)
	}
	return appendString(b, "sku", sku)
}

// appendMoney writes an amount (null for none). Only money in an unknown
// currency fails to encode, and the writers refuse those before they get
// here; the event then says what went wrong in place of the amount.
func appendMoney(b []byte, name string, m *money.Money) []byte {
	b = append(append(append(b, ',', '"'), name...), '"', ':')
	if m == nil {
		return append(b, "null"...)
	}
	out, err := m.AppendJSON(b)
	if err != nil {
		return jsonw.AppendString(b, err.Error())
	}
	return out
}

// ProductUpdated: any change to a product (title, status, variants, images,
// categories, ...), its creation included.
func ProductUpdated(at time.Time, productID uint64, slug string) Event {
	return product(TypeProductUpdated, at, productID, slug)
}

// ProductDeleted: the product was archived and is gone from the storefront.
func ProductDeleted(at time.Time, productID uint64, slug string) Event {
	return product(TypeProductDeleted, at, productID, slug)
}

func product(typ string, at time.Time, productID uint64, slug string) Event {
	b := begin(typ, at, 128+len(slug))
	b = appendUint(b, "product_id", productID)
	b = appendString(b, "slug", slug)
	return Event{Type: typ, Data: append(b, '}'), ProductID: productID, Slug: slug}
}

// PriceChanged: a variant's price or compare-at price is new (or the variant is).
func PriceChanged(at time.Time, productID, variantID uint64, sku string, price money.Money, compareAt *money.Money) Event {
	b := begin(TypePriceChanged, at, 256+len(sku))
	b = appendUint(b, "product_id", productID)
	b = appendUint(b, "variant_id", variantID)
	b = appendSKU(b, sku)
	b = appendMoney(b, "price", &price)
	b = appendMoney(b, "compare_at_price", compareAt)
	return Event{Type: TypePriceChanged, Data: append(b, '}'), ProductID: productID}
}

// StockChanged: a variant's stock moved by delta to available units.
func StockChanged(at time.Time, productID, variantID uint64, sku string, delta, available int64) Event {
	b := begin(TypeStockChanged, at, 192+len(sku))
	b = appendUint(b, "product_id", productID)
	b = appendUint(b, "variant_id", variantID)
	b = appendSKU(b, sku)
	b = appendInt(b, "delta", delta)
	b = appendInt(b, "available", available)
	return Event{Type: TypeStockChanged, Data: append(b, '}'), ProductID: productID,
		Restock: available == 0 || available == delta}
}

// Order is an order event: typ is one of the order.* types.
func Order(typ string, at time.Time, publicID, number, status string) Event {
	b := begin(typ, at, 160)
	b = appendString(b, "order_id", publicID)
	b = appendString(b, "number", number)
	b = appendString(b, "status", status)
	return Event{Type: typ, Data: append(b, '}')}
}

// Parse fills the in-process fields of an event read from the table.
func Parse(seq uint64, typ string, data []byte) Event {
	e := Event{Seq: seq, Type: typ, Data: data}
	if IsOrder(typ) {
		return e
	}
	f, ok := scanFields(data)
	if !ok {
		f = fields{}
		if json.Unmarshal(data, &f) != nil {
			return e
		}
	}
	e.ProductID, e.Slug = f.ProductID, f.Slug
	e.Restock = typ == TypeStockChanged && (f.Available == 0 || f.Available == f.Delta)
	return e
}

// fields are the members of a document Parse needs.
type fields struct {
	ProductID uint64 `json:"product_id"`
	Slug      string `json:"slug"`
	Delta     int64  `json:"delta"`
	Available int64  `json:"available"`
}

// scanFields reads fields from a document as the builders write it without
// decoding it: every instance parses every event it tails. A member name in
// quotes followed by a colon is always a member (inside a string a quote is
// escaped). Anything it is unsure of (a slug with escapes, a number it
// cannot read) reports false, and Parse decodes the document instead.
func scanFields(data []byte) (fields, bool) {
	var f fields
	// number is the digits (and sign) after a member's name, or absent.
	number := func(name string) (digits string, present bool) {
		key := `"` + name + `":`
		i := bytes.Index(data, []byte(key))
		if i < 0 {
			return "", false
		}
		rest := data[i+len(key):]
		j := 0
		for j < len(rest) && (rest[j] == '-' || rest[j] >= '0' && rest[j] <= '9') {
			j++
		}
		return string(rest[:j]), true
	}
	var err error
	if d, ok := number("product_id"); ok {
		if f.ProductID, err = strconv.ParseUint(d, 10, 64); err != nil {
			return f, false
		}
	}
	// An absent delta or available stays zero, as decoding leaves it.
	for _, m := range []struct {
		name string
		v    *int64
	}{{"delta", &f.Delta}, {"available", &f.Available}} {
		if d, ok := number(m.name); ok {
			if *m.v, err = strconv.ParseInt(d, 10, 64); err != nil {
				return f, false
			}
		}
	}
	if i := bytes.Index(data, []byte(`"slug":"`)); i >= 0 {
		rest := data[i+len(`"slug":"`):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
			return f, false
		}
		f.Slug = string(rest[:j])
	} else if bytes.Contains(data, []byte(`"slug":`)) {
		return f, false
	}
	return f, true
}

// PackMax is the most events one row of the table holds: a write of more
// (an import batch) fills several rows, so that no reader ever has to take
// a huge row to get a few of its events.
const PackMax = 256

// rowsPerInsert bounds one INSERT of Emit's rows (PackMax events each) far
// below max_allowed_packet.
const rowsPerInsert = 32

// Emit records evs inside tx, in order: one row per PackMax events, holding
// them packed (see Unpack), all written with one INSERT; once tx has
// committed it hands them to the process's Followers of tx's store (caches
// clear what changed before the write returns; the sequencer is woken).
func Emit(ctx context.Context, tx *store.Tx, at time.Time, evs ...Event) error {
	if len(evs) == 0 || off.Load() {
		return nil
	}
	at = at.UTC()
	for start := 0; start < len(evs); start += PackMax * rowsPerInsert {
		if err := insertRows(ctx, tx, at, evs[start:min(start+PackMax*rowsPerInsert, len(evs))]); err != nil {
			return err
		}
	}
	if st := tx.Store(); st != nil {
		if f := followersOf(st); f != nil {
			tx.AfterCommit(func() { f.committed(evs) })
		}
	}
	return nil
}

// eventsTable is the events rows Emit writes (the sequencer numbers them later).
var eventsTable = store.NewTable("events", []string{"type", "n", "data", "data_z", "created_at"}, "data_z")

// compressMin is the shortest row text stored compressed: an import
// batch's rows (PackMax events, some 30 KB) are, an order's (a few hundred
// bytes) or an admin edit's are not, and read as they are in SQL.
const compressMin = 4096

// insertRows writes evs as rows of up to PackMax events, plain new rows
// (eventsTable.Insert: LOAD DATA for many, an INSERT for a few).
func insertRows(ctx context.Context, tx *store.Tx, at time.Time, evs []Event) error {
	args := make([]any, 0, 5*(len(evs)/PackMax+1))
	for start := 0; start < len(evs); start += PackMax {
		chunk := evs[start:min(start+PackMax, len(evs))]
		typ := "" // a row of several events: each document names its type
		if len(chunk) == 1 {
			typ = chunk[0].Type
		}
		size := len(chunk) - 1
		for i := range chunk {
			size += len(chunk[i].Data)
		}
		var lit strings.Builder // its String is the bytes written, not a copy
		lit.Grow(size)
		for i := range chunk {
			if i > 0 {
				lit.WriteByte('\n')
			}
			lit.Write(chunk[i].Data)
		}
		if lit.Len() >= compressMin && compressing(ctx, tx) {
			args = append(args, typ, len(chunk), "", compress(lit.String()), at)
		} else {
			args = append(args, typ, len(chunk), lit.String(), []byte(nil), at)
		}
	}
	if err := eventsTable.Insert(ctx, tx, args); err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	return nil
}

// compressGate is one store's answer to "may long rows be stored
// compressed yet?" (event_sequence.compress_rows_from, see migrations
// 00191 and 00192): once yes, for good; while no, asked again after a minute.
type compressGate struct {
	yes   atomic.Bool
	mu    sync.Mutex
	asked time.Time
}

var compressGates sync.Map // *store.Store -> *compressGate

// compressing reports whether a long row written in tx may be stored
// compressed: every instance that could read it then understands
// compressed rows. A failed look-up writes the row as text.
func compressing(ctx context.Context, tx *store.Tx) bool {
	g, _ := compressGates.LoadOrStore(tx.Store(), &compressGate{})
	gate := g.(*compressGate)
	if gate.yes.Load() {
		return true
	}
	gate.mu.Lock()
	defer gate.mu.Unlock()
	if gate.asked.IsZero() || time.Since(gate.asked) >= time.Minute {
		gate.asked = time.Now()
		if compressFromPassed(ctx, tx) {
			gate.yes.Store(true)
		}
	}
	return gate.yes.Load()
}

// compressFromPassed reads whether compress_rows_from has passed, by the
// database's clock (the one that set it).
func compressFromPassed(ctx context.Context, tx *store.Tx) bool {
	allowed, err := tx.Q.EventCompressedRowsAllowed(ctx)
	return err == nil && allowed == 1
}

// zlibWriters are reused: a writer's state is some hundreds of KB.
var zlibWriters = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed)
	return w
}}

// compress is text in the form of MySQL's COMPRESS(), which UNCOMPRESS()
// reads: its length as four bytes, low byte first, then a zlib stream (at
// the fastest level: about 700 MB/s here, and twentyfold smaller for a
// row of events).
func compress(text string) []byte {
	var buf bytes.Buffer
	buf.Grow(len(text)/8 + 64)
	buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(text))))
	w := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(w)
	w.Reset(&buf)
	_, _ = io.WriteString(w, text) // a bytes.Buffer does not fail
	_ = w.Close()
	return buf.Bytes()
}

// maxRowText is the most text a row holds (data is a MEDIUMTEXT).
const maxRowText = 1<<24 - 1

// RowText is the text of a row of the table: data, or, for a row stored
// compressed (z not NULL), z uncompressed.
func RowText(data, z []byte) ([]byte, error) {
	if z == nil {
		return data, nil
	}
	if len(z) < 4 {
		return nil, errors.New("events: a compressed row is too short")
	}
	size := binary.LittleEndian.Uint32(z)
	if size > maxRowText {
		return nil, fmt.Errorf("events: a compressed row claims %d bytes", size)
	}
	r, err := zlib.NewReader(bytes.NewReader(z[4:]))
	if err != nil {
		return nil, fmt.Errorf("events: a compressed row: %w", err)
	}
	out := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := io.Copy(out, io.LimitReader(r, int64(size)+1)); err != nil {
		return nil, fmt.Errorf("events: a compressed row: %w", err)
	}
	if out.Len() != int(size) {
		return nil, fmt.Errorf("events: a compressed row holds %d bytes, not %d", out.Len(), size)
	}
	return out.Bytes(), nil
}

// Unpack returns the events of one row of the table: n events, the last of
// them with seq last (0 for a row not numbered yet: then every Seq is 0).
// A row of one event (every row written before rows were packed, too)
// holds its document as data and its type as typ. A row of several holds
// their documents joined by newlines, which no document contains (JSON
// from encoding/json escapes them), and each document's first member is
// its "type".
func Unpack(dst []Event, last uint64, n int, typ string, data []byte) []Event {
	if n <= 1 {
		return append(dst, Parse(last, typ, data))
	}
	first := uint64(0)
	if last != 0 {
		first = last + 1 - uint64(n)
	}
	for i := 0; len(data) > 0 && i < n; i++ {
		doc := data
		if j := bytes.IndexByte(data, '\n'); j >= 0 {
			doc, data = data[:j:j], data[j+1:]
		} else {
			data = nil
		}
		seq := uint64(0)
		if last != 0 {
			seq = first + uint64(i)
		}
		dst = append(dst, Parse(seq, docType(doc), doc))
	}
	return dst
}

// docType is the "type" of an event document: its first member, as the
// builders write it; any other document is decoded to find it.
func docType(doc []byte) string {
	const prefix = `{"type":"`
	if bytes.HasPrefix(doc, []byte(prefix)) {
		if j := bytes.IndexByte(doc[len(prefix):], '"'); j >= 0 {
			return string(doc[len(prefix) : len(prefix)+j])
		}
	}
	var h header
	_ = json.Unmarshal(doc, &h)
	return h.Type
}

var off atomic.Bool

// SwitchOffForBenchmark makes Emit record nothing (true) or record again
// (false) in this process, so a benchmark can measure what the outbox costs
// writers in the same run. Nothing else may call it: without events the
// feed, webhooks and other instances' caches miss changes.
func SwitchOffForBenchmark(o bool) { off.Store(o) }

// Followers are the in-process listeners of one store's events: they hear
// of a committed write's events at once (before the write returns) and, from
// the Hub's tail, of every instance's events.
type Followers struct {
	mu  sync.RWMutex
	fns []func(evs []Event)
}

var (
	followersMu sync.Mutex
	followers   = map[*store.Store]*Followers{}
)

// FollowersOf returns (creating) the followers of st's events in this process.
func FollowersOf(st *store.Store) *Followers {
	followersMu.Lock()
	defer followersMu.Unlock()
	f := followers[st]
	if f == nil {
		f = &Followers{}
		followers[st] = f
	}
	return f
}

func followersOf(st *store.Store) *Followers {
	followersMu.Lock()
	defer followersMu.Unlock()
	return followers[st]
}

// Forget drops st's followers (when st is closed).
func Forget(st *store.Store) {
	followersMu.Lock()
	delete(followers, st)
	followersMu.Unlock()
	compressGates.Delete(st)
}

// Add registers fn to hear of this process's committed events.
func (f *Followers) Add(fn func(evs []Event)) {
	f.mu.Lock()
	f.fns = append(f.fns, fn)
	f.mu.Unlock()
}

func (f *Followers) committed(evs []Event) {
	f.mu.RLock()
	fns := f.fns
	f.mu.RUnlock()
	for _, fn := range fns {
		fn(evs)
	}
}
