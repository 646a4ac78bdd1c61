package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
)

type orderEnv struct {
	t      *testing.T
	d      *dbtest.DB
	srv    *httptest.Server
	reader string // admin key with orders:read
	writer string // admin key with orders:read and orders:write
	other  string // admin key with neither
}

func newOrderEnv(t *testing.T, mutate ...func(*handlers.Config)) *orderEnv {
	t.Helper()
	e, d, _ := newServer(t, append([]func(*handlers.Config){func(c *handlers.Config) { c.Logger = slog.New(slog.DiscardHandler) }}, mutate...)...)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	keys := auth.NewKeys(d.Q)
	mk := func(name string, scopes ...string) string {
		secret, _, err := keys.Create(context.Background(), name, scopes)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	if _, err := orderstest.Seed(context.Background(), d.Store, orderstest.Simple("H", 3, 1250, 5)...); err != nil {
		t.Fatal(err)
	}
	return &orderEnv{t: t, d: d, srv: srv,
		reader: mk("reader", auth.ScopeOrdersRead),
		writer: mk("writer", auth.ScopeOrdersRead, auth.ScopeOrdersWrite),
		other:  mk("catalog", auth.ScopeCatalogWrite),
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (e *orderEnv) do(method, path, token string, headers map[string]string, body string) reply {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}
}

func orderBody(email string, lines ...string) string {
	var ls []string
	for i := 0; i+1 < len(lines); i += 2 {
		ls = append(ls, fmt.Sprintf(`{"sku": %q, "quantity": %s}`, lines[i], lines[i+1]))
	}
	return fmt.Sprintf(`{"email": %q, "lines": [%s], "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Springfield", "country": "US"}}`,
		email, strings.Join(ls, ","))
}

func key(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }

func wantProblem(t *testing.T, r reply, status int, typ, field string) map[string]any {
	t.Helper()
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("status %d (%s), want %d problem: %s", r.status, r.header.Get("Content-Type"), status, r.body)
	}
	m := r.json(t)
	if m["type"] != typ {
		t.Fatalf("type %v, want %s: %s", m["type"], typ, r.body)
	}
	if field != "" && !strings.Contains(string(r.body), fmt.Sprintf(`"field":%q`, field)) {
		t.Fatalf("problem does not name %s: %s", field, r.body)
	}
	return m
}

func TestPlaceOrderHTTP(t *testing.T) {
	t.Parallel()
	e := newOrderEnv(t)
	body := orderBody("ada@example.com", "H-0", "2", "H-1", "1")

	wantProblem(t, e.do("POST", "/v1/orders", "", nil, body), 400, "/problems/invalid", "Idempotency-Key")
	wantProblem(t, e.do("POST", "/v1/orders", "", key(strings.Repeat("k", 256)), body), 400, "/problems/invalid", "Idempotency-Key")
	wantProblem(t, e.do("POST", "/v1/orders", "", key("a"), `{"email":`), 400, "/problems/invalid", "")
	// A body cannot set what the catalog decides.
	wantProblem(t, e.do("POST", "/v1/orders", "", key("a"), strings.Replace(body, `"email"`, `"total": "0.01", "email"`, 1)),
		400, "/problems/invalid", "total")
	wantProblem(t, e.do("POST", "/v1/orders", "", key("a"), orderBody("ada@example.com", "H-0", "1", "NOPE", "1")),
		422, "/problems/unprocessable", "lines[1].sku")

	r := e.do("POST", "/v1/orders", "", key("order-1"), body)
	if r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("place: %d %s", r.status, r.body)
	}
	o := r.json(t)
	id, token := o["id"].(string), o["access_token"].(string)
	if r.header.Get("Location") != "/v1/orders/"+id || token == "" {
		t.Fatalf("Location %q token %q", r.header.Get("Location"), token)
	}
	if sub := o["subtotal"].(map[string]any); sub["amount"] != "37.50" || sub["currency"] != "USD" {
		t.Fatalf("subtotal %v", sub)
	}
	again := e.do("POST", "/v1/orders", "", key("order-1"), body)
	if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.body, r.body) {
		t.Fatalf("replay: %d %q %s", again.status, again.header.Get("Idempotent-Replayed"), again.body)
	}
	wantProblem(t, e.do("POST", "/v1/orders", "", key("order-1"), orderBody("ada@example.com", "H-0", "3")),
		422, "/problems/unprocessable", "Idempotency-Key")

	// Reading: the token or a key with orders:read; anyone else 404.
	for name, tok := range map[string]string{"nobody": "", "a wrong token": "ot_nope", "a key without orders:read": e.other} {
		wantProblem(t, e.do("GET", "/v1/orders/"+id, tok, nil, ""), 404, "/problems/not-found", "")
		_ = name
	}
	wantProblem(t, e.do("GET", "/v1/orders/ord_guessedid", e.reader, nil, ""), 404, "/problems/not-found", "")
	for _, tok := range []string{token, e.reader} {
		g := e.do("GET", "/v1/orders/"+id, tok, nil, "")
		if g.status != 200 || g.json(t)["id"] != id || g.json(t)["access_token"] != nil {
			t.Fatalf("get: %d %s", g.status, g.body)
		}
	}

	// Short stock: 409 naming each short SKU; the failure is replayed as is.
	short := orderBody("ada@example.com", "H-2", "9", "H-0", "1", "H-1", "5")
	s1 := e.do("POST", "/v1/orders", "", key("order-2"), short)
	m := wantProblem(t, s1, 409, "/problems/insufficient-stock", "")
	if fmt.Sprint(m["short"]) != "[map[available:5 requested:9 sku:H-2] map[available:4 requested:5 sku:H-1]]" {
		t.Fatalf("short: %v", m["short"])
	}
	s2 := e.do("POST", "/v1/orders", "", key("order-2"), short)
	if s2.status != 409 || s2.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(s1.body, s2.body) {
		t.Fatalf("replayed failure: %d %s\nfirst %s", s2.status, s2.body, s1.body)
	}

	// The buyer cancels; then staff cannot pay it: 409 naming the state.
	c := e.do("POST", "/v1/orders/"+id+"/cancel", token, nil, "")
	if c.status != 200 || c.json(t)["status"] != "cancelled" || c.json(t)["cancel_reason"] != "customer" {
		t.Fatalf("cancel: %d %s", c.status, c.body)
	}
	// Staff cancelling through the same path cancel as staff.
	other := e.do("POST", "/v1/orders", "", key("order-3"), orderBody("bob@example.com", "H-0", "1"))
	if other.status != 201 {
		t.Fatalf("place: %d %s", other.status, other.body)
	}
	sc := e.do("POST", "/v1/orders/"+other.json(t)["id"].(string)+"/cancel", e.writer, nil, "")
	if sc.status != 200 || sc.json(t)["cancel_reason"] != "admin" {
		t.Fatalf("staff cancel through /v1/orders/{id}/cancel: %d %s, want cancel_reason admin", sc.status, sc.body)
	}
	wantProblem(t, e.do("POST", "/v1/orders/"+id+"/cancel", "", nil, ""), 404, "/problems/not-found", "")
	p := wantProblem(t, e.do("POST", "/v1/admin/orders/"+id+"/pay", e.writer, nil, ""), 409, "/problems/conflict", "")
	if p["current_state"] != "cancelled" {
		t.Fatalf("current_state %v", p["current_state"])
	}
	wantProblem(t, e.do("POST", "/v1/admin/orders/"+id+"/pay", "", nil, ""), 401, "/problems/unauthorized", "")
	wantProblem(t, e.do("POST", "/v1/admin/orders/"+id+"/pay", e.reader, nil, ""), 403, "/problems/forbidden", "")
}

func TestAdminOrdersHTTP(t *testing.T) {
	t.Parallel()
	e := newOrderEnv(t)
	var ids []string
	for i := range 5 {
		r := e.do("POST", "/v1/orders", "", key(fmt.Sprint("k", i)), orderBody(fmt.Sprintf("b%d@example.com", i%2), "H-0", "1"))
		if r.status != 201 {
			t.Fatalf("place: %d %s", r.status, r.body)
		}
		ids = append(ids, r.json(t)["id"].(string))
	}
	for _, a := range []string{"pay", "fulfill", "refund"} {
		if r := e.do("POST", "/v1/admin/orders/"+ids[0]+"/"+a, e.writer, nil, ""); r.status != 200 {
			t.Fatalf("%s: %d %s", a, r.status, r.body)
		}
	}
	wantProblem(t, e.do("GET", "/v1/admin/orders", "", nil, ""), 401, "/problems/unauthorized", "")
	wantProblem(t, e.do("GET", "/v1/admin/orders", e.other, nil, ""), 403, "/problems/forbidden", "")
	for q, field := range map[string]string{
		"stauts=paid": "stauts", "limit=0": "limit", "limit=101": "limit", "status=shipped": "status",
		"created_after=yesterday": "created_after", "cursor=forged": "cursor", "limit=": "limit", "cursor=": "cursor",
	} {
		wantProblem(t, e.do("GET", "/v1/admin/orders?"+q, e.reader, nil, ""), 400, "/problems/invalid", field)
	}

	var seen []string
	path := "/v1/admin/orders?limit=2"
	for range 10 {
		r := e.do("GET", path, e.reader, nil, "")
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		_ = json.Unmarshal(r.body, &page)
		for _, it := range page.Items {
			seen = append(seen, it.ID)
		}
		if page.NextCursor == nil {
			break
		}
		path = "/v1/admin/orders?limit=2&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	if fmt.Sprint(seen) != fmt.Sprint([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}) {
		t.Fatalf("paged %v, want newest first %v", seen, ids)
	}
	r := e.do("GET", "/v1/admin/orders?status=refunded&email=b0@example.com", e.reader, nil, "")
	if items := r.json(t)["items"].([]any); r.status != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != ids[0] {
		t.Fatalf("filtered: %d %s", r.status, r.body)
	}
}

// TestConcurrentRetriesOfOneKeyMakeOneOrder: 50 copies of one request with
// one Idempotency-Key, at once, through the real router: one order; every
// answer is that order's 201 body or a 409 "in progress".
func TestConcurrentRetriesOfOneKeyMakeOneOrder(t *testing.T) {
	t.Parallel()
	e := newOrderEnv(t)
	body := orderBody("ada@example.com", "H-0", "1", "H-1", "2")
	var wg sync.WaitGroup
	replies := make([]reply, 50)
	start := make(chan struct{})
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			replies[i] = e.do("POST", "/v1/orders", "", key("same-key"), body)
		}()
	}
	close(start)
	wg.Wait()
	var created []byte
	inProgress := 0
	for _, r := range replies {
		switch r.status {
		case 201:
			if created == nil {
				created = r.body
			} else if !bytes.Equal(created, r.body) {
				t.Fatalf("two different 201 bodies:\n%s\n%s", created, r.body)
			}
		case 409:
			wantProblem(t, r, 409, "/problems/idempotency-key-in-use", "")
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 10 {
				t.Fatalf("in-use 409 with Retry-After %q, want 1 to 10 seconds", r.header.Get("Retry-After"))
			}
			inProgress++
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	final := e.do("POST", "/v1/orders", "", key("same-key"), body)
	if final.status != 201 || (created != nil && !bytes.Equal(final.body, created)) {
		t.Fatalf("final retry: %d %s", final.status, final.body)
	}
	var n int
	_ = e.d.DB.QueryRow("SELECT COUNT(*) FROM orders").Scan(&n)
	if n != 1 {
		t.Fatalf("%d orders from one key", n)
	}
	if h0, _ := orderstest.OnHand(context.Background(), e.d.Store, "H-0"); h0 != 4 {
		t.Fatalf("H-0 on hand %d, want 4", h0)
	}
	t.Logf("%d answered 201, %d answered 409 in progress", len(replies)-inProgress, inProgress)
}

// A variant whose options make a variant title longer than 255 characters
// (the catalog takes options of up to 255 each) can be ordered, and its
// line keeps the whole title.
func TestAVariantWithLongOptionsCanBeOrdered(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "ops", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	a, b := strings.Repeat("a", 150), strings.Repeat("b", 150)
	rec := send(t, e, key, "PUT", "/v1/admin/products/longopt",
		`{"title":"Long","status":"active","variants":[{"sku":"LONG-1","price":"1.00","on_hand":5,"options":{"Size":"`+a+`","Color":"`+b+`"}}]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("put: %d %s", rec.Code, rec.Body)
	}
	rec = send(t, e, "", "POST", "/v1/orders", orderBody("x@example.com", "LONG-1", "1"), "Idempotency-Key", "long-1")
	if rec.Code != http.StatusCreated {
		t.Fatalf("order: %d %s", rec.Code, rec.Body)
	}
	var o struct {
		Lines []struct {
			VariantTitle string `json:"variant_title"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil || len(o.Lines) != 1 {
		t.Fatalf("order body %s: %v", rec.Body, err)
	}
	if want := a + " / " + b; o.Lines[0].VariantTitle != want && o.Lines[0].VariantTitle != b+" / "+a {
		t.Fatalf("variant_title %q (%d characters), want the two options joined", o.Lines[0].VariantTitle, len(o.Lines[0].VariantTitle))
	}
}

// Every error in a body names its field by the same path, the one a form
// maps back to its input: lines[0].quantity whether the value is of the
// wrong type, out of range or the key unknown.
func TestBodyErrorsNameTheFieldByItsPath(t *testing.T) {
	t.Parallel()
	e := newOrderEnv(t)
	good := orderBody("ada@example.com", "H-0", "1", "H-1", "1")
	invalid, unprocessable := "/problems/invalid", "/problems/unprocessable"
	for i, tc := range []struct {
		from, to, field string
		status          int
		typ             string
	}{
		{`"quantity": 1}]`, `"quantity": "1"}]`, "lines[1].quantity", 400, invalid},
		{`"quantity": 1}]`, `"quantity": 0}]`, "lines[1].quantity", 422, unprocessable},
		{`"quantity": 1}]`, `"quantity": 1, "colour": "red"}]`, "lines[1].colour", 400, invalid},
		{`"city": "Springfield"`, `"city": "Springfield", "nmae": "Ada"`, "shipping_address.nmae", 400, invalid},
		{`"city": "Springfield"`, `"city": 7`, "shipping_address.city", 400, invalid},
		{`"quantity": 1}]`, `"Quantity": 1}]`, "lines[1].Quantity", 400, invalid},
	} {
		body := strings.Replace(good, tc.from, tc.to, 1)
		if body == good {
			t.Fatalf("%s: nothing replaced", tc.field)
		}
		wantProblem(t, e.do("POST", "/v1/orders", "", key(fmt.Sprintf("path-%d", i)), body), tc.status, tc.typ, tc.field)
	}
}
