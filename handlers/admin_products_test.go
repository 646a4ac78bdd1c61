package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/catalog"
)

func send(t *testing.T, e http.Handler, key, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(e, req)
}

type adminProduct struct {
	ID       uint64
	Slug     string
	Title    string
	Status   string
	Version  uint64
	Category string
	Variants []struct {
		ID      uint64
		SKU     *string
		Options map[string]string
		Price   struct{ Amount, Currency string }
		OnHand  int64 `json:"on_hand"`
	}
}

func decodeProduct(t *testing.T, rec *httptest.ResponseRecorder) adminProduct {
	t.Helper()
	var p adminProduct
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return p
}

const teeJSON = `{"slug":"tee","title":"Tee","brand":"Acme","category":"Apparel > Shirts",
 "variants":[{"sku":"TEE-S","price":{"amount":"19.99","currency":"USD"},"on_hand":4,"options":{"Size":"S"}},
             {"sku":"TEE-M","price":"21.50","options":{"Size":"M"}}]}`

func TestAdminProductLifecycle(t *testing.T) {
	t.Parallel()
	e, d, logs := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)

	rec := send(t, e, key, "POST", "/v1/admin/products", teeJSON)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	p := decodeProduct(t, rec)
	if loc := rec.Header().Get("Location"); loc != "/v1/admin/products/"+itoa(p.ID) {
		t.Errorf("Location %q", loc)
	}
	if len(p.Variants) != 2 || p.Variants[0].Price.Amount != "19.99" || p.Variants[0].OnHand != 4 || p.Category != "Apparel > Shirts" {
		t.Errorf("created %+v", p)
	}
	if !strings.Contains(logs.String(), `"api_key":"editor"`) {
		t.Error("admin write not logged with the key name")
	}
	// POST again: the slug is taken.
	if rec := send(t, e, key, "POST", "/v1/admin/products", teeJSON); rec.Code != http.StatusConflict {
		t.Errorf("second create: %d", rec.Code)
	}
	// PUT the same content: idempotent, nothing moves.
	rec = send(t, e, key, "PUT", "/v1/admin/products/tee", teeJSON)
	if rec.Code != http.StatusOK || decodeProduct(t, rec).Version != p.Version {
		t.Errorf("idempotent PUT: %d %s", rec.Code, rec.Body)
	}
	// PUT creates too.
	if rec := send(t, e, key, "PUT", "/v1/admin/products/mug", `{"title":"Mug","variants":[{"sku":"MUG","price":"9"}]}`); rec.Code != http.StatusCreated {
		t.Errorf("PUT create: %d %s", rec.Code, rec.Body)
	}
	// Computed and unknown fields are refused.
	for _, body := range []string{
		`{"title":"T","version":9,"variants":[{"price":"1"}]}`,
		`{"title":"T","variants":[{"price":"1","id":4}]}`,
		`{"title":"T","price_min":"1.00","variants":[{"price":"1"}]}`,
	} {
		rec := send(t, e, key, "PUT", "/v1/admin/products/x", body)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", body, rec.Code)
		}
	}
	// Validation names fields.
	rec = send(t, e, key, "PUT", "/v1/admin/products/bad", `{"title":"","variants":[{"price":"1"}]}`)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"title"`) {
		t.Errorf("invalid product: %d %s", rec.Code, rec.Body)
	}
	rec = send(t, e, key, "PUT", "/v1/admin/products/bad", `{"title":"T","variants":[{"price":"1"},{"price":"abc"}]}`)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"variants[1].price"`) {
		t.Errorf("invalid variant: %d %s", rec.Code, rec.Body)
	}
	// A SKU of another product is refused, naming it.
	rec = send(t, e, key, "PUT", "/v1/admin/products/thief", `{"title":"Thief","variants":[{"sku":"TEE-S","price":"1"}]}`)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `\"tee\"`) {
		t.Errorf("SKU theft: %d %s", rec.Code, rec.Body)
	}

	// PATCH with If-Match: the current tag works, a stale one is a 412.
	id := itoa(p.ID)
	etag := `"p` + id + "v" + itoa(p.Version) + `"`
	rec = send(t, e, key, "PATCH", "/v1/admin/products/"+id, `{"title":"Better Tee"}`, "If-Match", etag)
	if rec.Code != http.StatusOK {
		t.Fatalf("patch: %d %s", rec.Code, rec.Body)
	}
	q := decodeProduct(t, rec)
	if q.Title != "Better Tee" || q.Version != p.Version+1 || len(q.Variants) != 2 || q.Variants[0].ID != p.Variants[0].ID {
		t.Errorf("patched %+v", q)
	}
	if rec.Header().Get("ETag") == etag {
		t.Error("ETag did not change")
	}
	if rec := send(t, e, key, "PATCH", "/v1/admin/products/"+id, `{"title":"Lost update"}`, "If-Match", etag); rec.Code != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d %s", rec.Code, rec.Body)
	}

	// Inventory: set and adjust, each with a ledger row and a new version.
	rec = send(t, e, key, "PUT", "/v1/admin/inventory/TEE-M", `{"on_hand":10}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"on_hand":10`) {
		t.Fatalf("set stock: %d %s", rec.Code, rec.Body)
	}
	rec = send(t, e, key, "POST", "/v1/admin/inventory/TEE-M/adjust", `{"delta":-2,"reason":"damaged"}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"on_hand":8`) {
		t.Fatalf("adjust: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, key, "POST", "/v1/admin/inventory/TEE-M/adjust", `{"delta":-9,"reason":"oops"}`); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("negative stock: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, key, "PUT", "/v1/admin/inventory/NOPE", `{"on_hand":1}`); rec.Code != http.StatusNotFound {
		t.Errorf("unknown SKU: %d", rec.Code)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM stock_movements WHERE sku = 'TEE-M' AND actor = 'api key editor'"); got != 2 {
		t.Errorf("ledger rows = %d, want 2", got)
	}
	if got := count(t, d, "SELECT delta FROM stock_movements WHERE sku = 'TEE-M' AND reason = 'damaged'"); got != -2 {
		t.Errorf("adjust ledger delta = %d", got)
	}
	if got := uint64(count(t, d, "SELECT version FROM products WHERE id = ?", p.ID)); got != q.Version+2 {
		t.Errorf("version after two stock changes = %d, want %d", got, q.Version+2)
	}

	// DELETE archives: off the storefront listing, kept in the table.
	if rec := send(t, e, key, "DELETE", "/v1/admin/products/"+id, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products WHERE id = ? AND status = 'archived'", p.ID); got != 1 {
		t.Error("not archived")
	}
	if got := count(t, d, "SELECT COUNT(*) FROM product_listing WHERE product_id = ?", p.ID); got != 0 {
		t.Errorf("archived product still listed (%d rows)", got)
	}
	if rec := send(t, e, key, "DELETE", "/v1/admin/products/999999", ""); rec.Code != http.StatusNotFound {
		t.Errorf("delete unknown: %d", rec.Code)
	}
}

func TestAdminScopes(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	inv := adminKey(t, d, "stock-only", auth.ScopeInventoryWrite)
	for _, tc := range []struct {
		key, method, path string
		status            int
	}{
		{"", "POST", "/v1/admin/products", 401},
		{"shelf_bogus", "PUT", "/v1/admin/products/x", 401},
		{inv, "PUT", "/v1/admin/products/x", 403},
		{inv, "POST", "/v1/admin/categories", 403},
		{inv, "POST", "/v1/admin/imports?format=csv", 403},
	} {
		if rec := send(t, e, tc.key, tc.method, tc.path, `{}`); rec.Code != tc.status {
			t.Errorf("%s %s with %q: %d, want %d", tc.method, tc.path, tc.key, rec.Code, tc.status)
		}
	}
}

// A read-only key (the one that takes exports) reads any product by id or
// slug, drafts included, and writes none; a writer reads what it writes.
func TestAReadOnlyKeyReadsAdminProducts(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	writer := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	reader := adminKey(t, d, "backup", auth.ScopeCatalogRead)
	rec := send(t, e, writer, "PUT", "/v1/admin/products/draft-lamp", `{"title":"Lamp","status":"draft","variants":[{"sku":"LMP-1","price":"30.00"}]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	id := itoa(decodeProduct(t, rec).ID)
	for _, key := range []string{reader, writer} {
		for _, ref := range []string{"draft-lamp", id} {
			if got := send(t, e, key, "GET", "/v1/admin/products/"+ref, ""); got.Code != http.StatusOK || decodeProduct(t, got).Slug != "draft-lamp" {
				t.Errorf("GET %s: %d %s", ref, got.Code, got.Body)
			}
		}
	}
	for _, tc := range []struct{ method, body string }{{"PATCH", `{"title":"Dim lamp"}`}, {"PUT", `{"title":"Dim lamp","variants":[{"sku":"LMP-1","price":"30.00"}]}`}, {"DELETE", ""}} {
		if got := send(t, e, reader, tc.method, "/v1/admin/products/draft-lamp", tc.body); got.Code != http.StatusForbidden {
			t.Errorf("%s with a read-only key: %d, want 403", tc.method, got.Code)
		}
	}
	inv := adminKey(t, d, "stock-only", auth.ScopeInventoryWrite)
	if got := send(t, e, inv, "GET", "/v1/admin/products/draft-lamp", ""); got.Code != http.StatusForbidden {
		t.Errorf("GET with an inventory key: %d, want 403", got.Code)
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A script that reads the product from the storefront and PATCHes it with
// that ETag in If-Match must succeed while nobody else wrote, and get a 412
// once someone did. If-Match may list several tags.
func TestPatchIfMatchAcceptsTheStorefrontETag(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	rec := send(t, e, key, "POST", "/v1/admin/products", teeJSON)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	id := itoa(decodeProduct(t, rec).ID)
	get := send(t, e, "", "GET", "/v1/products/tee", "")
	etag := get.Header().Get("ETag")
	if get.Code != http.StatusOK || etag == "" {
		t.Fatalf("storefront GET: %d %q", get.Code, etag)
	}
	rec = send(t, e, key, "PATCH", "/v1/admin/products/"+id, `{"title":"Better Tee"}`, "If-Match", etag)
	if rec.Code != http.StatusOK {
		t.Fatalf("PATCH with the storefront ETag: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, key, "PATCH", "/v1/admin/products/"+id, `{"title":"Lost update"}`, "If-Match", etag); rec.Code != http.StatusPreconditionFailed {
		t.Errorf("PATCH with a stale storefront ETag: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, key, "PATCH", "/v1/admin/products/"+id, `{"title":"Lost update"}`, "If-Match", "W/"+rec.Header().Get("ETag")); rec.Code != http.StatusPreconditionFailed {
		t.Errorf("PATCH with a weak tag (If-Match compares strongly): %d %s", rec.Code, rec.Body)
	}
	list := `"p0v0", ` + rec.Header().Get("ETag")
	if rec := send(t, e, key, "PATCH", "/v1/admin/products/"+id, `{"title":"Best Tee"}`, "If-Match", list); rec.Code != http.StatusOK {
		t.Errorf("PATCH with a list holding the current tag: %d %s", rec.Code, rec.Body)
	}
}

// A PATCH that does not send stock must not write the stock it read before
// its transaction: an order or adjustment in between would be undone.
func TestPatchLeavesStockItDidNotSendAlone(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	body := `{"title":"Tee","variants":[{"sku":"RACE-1","price":"1.00","on_hand":1000}]}`
	rec := send(t, e, key, "PUT", "/v1/admin/products/race", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	id := itoa(decodeProduct(t, rec).ID)
	const rounds = 40
	var wg sync.WaitGroup
	for i := range rounds {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if rec := send(t, e, key, "POST", "/v1/admin/inventory/RACE-1/adjust", `{"delta":-1,"reason":"sold"}`); rec.Code != http.StatusOK {
				t.Errorf("adjust: %d %s", rec.Code, rec.Body)
			}
		}()
		go func() {
			defer wg.Done()
			b := `{"title":"Tee ` + strconv.Itoa(i) + `"}`
			if rec := send(t, e, key, "PATCH", "/v1/admin/products/"+id, b); rec.Code != http.StatusOK && rec.Code != http.StatusServiceUnavailable {
				t.Errorf("patch: %d %s", rec.Code, rec.Body)
			}
		}()
	}
	wg.Wait()
	if got := count(t, d, "SELECT on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = 'RACE-1'"); got != 1000-rounds {
		t.Errorf("on hand = %d after %d adjustments of -1 from 1000, want %d", got, rounds, 1000-rounds)
	}
	if got := count(t, d, "SELECT COALESCE(SUM(delta), 0) FROM stock_movements WHERE sku = 'RACE-1'"); got != 1000-rounds {
		t.Errorf("ledger sums to %d, want %d", got, 1000-rounds)
	}
}

// The Location of a created product answers a GET with the admin view and its
// ETag, also for a draft, which the storefront does not show.
func TestCreatedProductLocationCanBeRead(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	rec := send(t, e, key, "POST", "/v1/admin/products", `{"title":"Draft Tee","status":"draft","variants":[{"sku":"DT-1","price":"5.00"}]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	loc, etag := rec.Header().Get("Location"), rec.Header().Get("ETag")
	got := send(t, e, key, "GET", loc, "")
	if got.Code != http.StatusOK || got.Header().Get("ETag") != etag || got.Body.String() != rec.Body.String() {
		t.Fatalf("GET %s: %d ETag %q (want %q)\n%s\nwant\n%s", loc, got.Code, got.Header().Get("ETag"), etag, got.Body, rec.Body)
	}
	if rec := send(t, e, key, "PATCH", loc, `{"title":"Draft Tee 2"}`, "If-Match", got.Header().Get("ETag")); rec.Code != http.StatusOK {
		t.Errorf("PATCH with the ETag read: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, "", "GET", loc, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET without a key: %d", rec.Code)
	}
	if rec := send(t, e, key, "GET", "/v1/admin/products/999999", ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET unknown: %d", rec.Code)
	}
}

// Every 422 names a field, also the product-level "no valid variant".
func TestProductValidationErrorsNameAField(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	rec := send(t, e, key, "PUT", "/v1/admin/products/num", `{"title":"Num","variants":[{"sku":"N-1","price":19.99}]}`)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("JSON number price: %d %s", rec.Code, rec.Body)
	}
	p := decodeProblem(t, rec)
	errs, _ := p["errors"].([]any)
	if len(errs) == 0 {
		t.Fatalf("no errors[]: %s", rec.Body)
	}
	for _, fe := range errs {
		if f, _ := fe.(map[string]any)["field"].(string); f == "" {
			t.Errorf("an error names no field: %s", rec.Body)
		}
	}
	if !strings.Contains(rec.Body.String(), `"field":"variants[0].price"`) {
		t.Errorf("the price is not named: %s", rec.Body)
	}
}

// An adjustment past the largest stock level is refused as such, not as the
// negative number the addition wrapped around to.
func TestAdjustPastTheLargestStockIsRefused(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	if rec := send(t, e, key, "PUT", "/v1/admin/products/big", `{"title":"Big","variants":[{"sku":"BIG-1","price":"1.00","on_hand":5}]}`); rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	rec := send(t, e, key, "POST", "/v1/admin/inventory/BIG-1/adjust", `{"delta":9223372036854775807,"reason":"typo"}`)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"delta"`) || strings.Contains(rec.Body.String(), "-92233") {
		t.Errorf("overflowing adjust: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = 'BIG-1'"); got != 5 {
		t.Errorf("on hand = %d, want 5", got)
	}
}

// A POST without a title is told the title is missing, not that the slug
// cannot be derived from it.
func TestCreateWithoutTitleNamesTheTitle(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	for _, body := range []string{`{"variants":[{"sku":"NT-1","price":"1.00"}]}`, `{"title":"  ","variants":[{"sku":"NT-1","price":"1.00"}]}`} {
		rec := send(t, e, key, "POST", "/v1/admin/products", body)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"title"`) {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
}

// An adjustment sent with an Idempotency-Key is applied once however often
// it is retried: a retry, also one sent while the first runs, gets the
// first answer (Idempotent-Replayed) or the in-use 409, never a second
// delta; a refusal is the key's answer too; the same key with another
// adjustment is a 422; without a key, each request adjusts.
func TestAdjustWithAnIdempotencyKeyAppliesOnce(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "erp", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	if rec := send(t, e, key, "PUT", "/v1/admin/products/keyed", `{"title":"Keyed","variants":[{"sku":"KEY-1","price":"1.00","on_hand":100}]}`); rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	onHand := func() int {
		return count(t, d, "SELECT on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = 'KEY-1'")
	}
	adjust := func(idem, body string) *httptest.ResponseRecorder {
		return send(t, e, key, "POST", "/v1/admin/inventory/KEY-1/adjust", body, "Idempotency-Key", idem)
	}

	const retries = 12
	var wg sync.WaitGroup
	recs := make([]*httptest.ResponseRecorder, retries)
	for i := range recs {
		wg.Go(func() { recs[i] = adjust("sync-1", `{"delta":-3,"reason":"sold"}`) })
	}
	wg.Wait()
	var first string
	for _, rec := range recs {
		switch rec.Code {
		case http.StatusOK:
			if first == "" {
				first = rec.Body.String()
			} else if rec.Body.String() != first {
				t.Errorf("answers differ: %s and %s", first, rec.Body)
			}
		case http.StatusConflict:
			if !strings.Contains(rec.Body.String(), "idempotency-key-in-use") || rec.Header().Get("Retry-After") == "" {
				t.Errorf("409 that is not the key in use: %s", rec.Body)
			}
		default:
			t.Errorf("retry answered %d %s", rec.Code, rec.Body)
		}
	}
	if got := onHand(); got != 97 {
		t.Fatalf("on hand %d after %d sends of one -3 adjustment from 100, want 97", got, retries)
	}
	rec := adjust("sync-1", `{"delta":-3,"reason":"sold"}`)
	if rec.Code != http.StatusOK || rec.Header().Get("Idempotent-Replayed") != "true" || rec.Body.String() != first {
		t.Errorf("retry after the first answered: %d replayed=%q %s, want the first answer %s",
			rec.Code, rec.Header().Get("Idempotent-Replayed"), rec.Body, first)
	}
	if !strings.Contains(first, `"on_hand":97`) || !strings.Contains(first, `"delta":-3`) {
		t.Errorf("first answer %s", first)
	}
	if rec := adjust("sync-1", `{"delta":-4,"reason":"sold"}`); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "Idempotency-Key") {
		t.Errorf("the key with another delta: %d %s, want a 422 naming Idempotency-Key", rec.Code, rec.Body)
	}

	// A refusal is stored: after stock arrives, the retry still gets it.
	refused := adjust("sync-2", `{"delta":-500,"reason":"sold"}`)
	if refused.Code != http.StatusUnprocessableEntity {
		t.Fatalf("adjust past the stock: %d %s", refused.Code, refused.Body)
	}
	if rec := send(t, e, key, "PUT", "/v1/admin/inventory/KEY-1", `{"on_hand":1000}`); rec.Code != http.StatusOK {
		t.Fatalf("set: %d %s", rec.Code, rec.Body)
	}
	if rec := adjust("sync-2", `{"delta":-500,"reason":"sold"}`); rec.Code != http.StatusUnprocessableEntity || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry of a refused adjustment: %d replayed=%q %s", rec.Code, rec.Header().Get("Idempotent-Replayed"), rec.Body)
	}
	for range 2 {
		if rec := send(t, e, key, "POST", "/v1/admin/inventory/KEY-1/adjust", `{"delta":-1,"reason":"sold"}`); rec.Code != http.StatusOK {
			t.Fatalf("adjust without a key: %d %s", rec.Code, rec.Body)
		}
	}
	if got := onHand(); got != 998 {
		t.Errorf("on hand %d, want 998: 1000 less two unkeyed adjustments of 1", got)
	}
	if rec := adjust(strings.Repeat("k", 256), `{"delta":1,"reason":"found"}`); rec.Code != http.StatusBadRequest {
		t.Errorf("a 256-character key: %d %s", rec.Code, rec.Body)
	}
}

// A tag is one item of a list kept (and exported) comma-separated: a tag
// holding a comma is refused, naming tags, on every write path, instead of
// coming back split in two.
func TestTagsHoldingACommaAreRefused(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.BodyLimit = 1 << 20 })
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	body := `{"title":"Tagged","tags":["Summer, 2024"],"variants":[{"sku":"TAG-1","price":"1.00"}]}`
	rec := send(t, e, key, "PUT", "/v1/admin/products/tagged", body)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"tags"`) {
		t.Errorf("PUT with a comma in a tag: %d %s, want a 422 naming tags", rec.Code, rec.Body)
	}
	line := `{"handle":"tagged-nd","title":"Tagged","tags":["Summer, 2024"],"variants":[{"sku":"TAG-2","price":"1.00"}]}` + "\n"
	r := runImport(t, e, key, "format=ndjson", []byte(line))
	if r.Created != 0 || r.Failed != 1 || len(r.Errors) == 0 || r.Errors[0].Field != "tags" {
		t.Errorf("NDJSON import with a comma in a tag: %+v, want the product failed naming tags", r)
	}
	if rec := send(t, e, key, "PUT", "/v1/admin/products/tagged", `{"title":"Tagged","tags":["Summer 2024","sale"],"variants":[{"sku":"TAG-1","price":"1.00"}]}`); rec.Code != http.StatusCreated {
		t.Fatalf("PUT with plain tags: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products"); got != 1 {
		t.Errorf("%d products stored, want only the one with plain tags", got)
	}
}

// Categories an import names get a free slug whatever their names: two
// top-level names without a Latin letter (both slugify to "category"), and
// a top-level "Shirts" next to "Men > Shirts", are all created, each
// product in its own; a path deeper than catalog.MaxCategoryDepth is
// refused, naming category.
func TestImportedCategoriesAlwaysGetASlug(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.BodyLimit = 1 << 20 })
	key := adminKey(t, d, "sync", auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	paths := []string{"Обувь", "Одежда", "Men > Shirts", "Shirts", "Одежда > Обувь"}
	var file strings.Builder
	for i, p := range paths {
		fmt.Fprintf(&file, `{"handle":"p%d","title":"P%d","category":%q,"variants":[{"sku":"CAT-%d","price":"1.00"}]}`+"\n", i, i, p, i)
	}
	deep := strings.TrimSuffix(strings.Repeat("Level > ", catalog.MaxCategoryDepth+1), " > ")
	fmt.Fprintf(&file, `{"handle":"deep","title":"Deep","category":%q,"variants":[{"sku":"CAT-DEEP","price":"1.00"}]}`+"\n", deep)
	r := runImport(t, e, key, "format=ndjson", []byte(file.String()))
	if r.Created != len(paths) || r.Failed != 1 || len(r.Errors) != 1 || r.Errors[0].Field != "category" {
		t.Fatalf("import: %+v, want %d created and the deep one failed naming category", r, len(paths))
	}
	for i, p := range paths {
		var got adminProduct
		rec := send(t, e, key, "GET", fmt.Sprintf("/v1/admin/products/p%d", i), "")
		if rec.Code != http.StatusOK {
			t.Fatalf("p%d: %d %s", i, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Category != p {
			t.Errorf("p%d is in %q, want %q", i, got.Category, p)
		}
	}
	if n := count(t, d, "SELECT COUNT(DISTINCT slug) FROM categories"); n != 6 {
		t.Errorf("%d distinct category slugs, want 6 (Обувь, Одежда, Men, Men > Shirts, Shirts, Одежда > Обувь)", n)
	}
}

// A product has one currency: its listing row holds one price, the lowest,
// which filters and facets compare. Variants in two currencies are
// refused, naming currency, through the admin API and imports.
func TestAProductHasOneCurrency(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.BodyLimit = 1 << 20 })
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	variants := `[{"sku":"CUR-1","price":{"amount":"1000","currency":"JPY"}},{"sku":"CUR-2","price":{"amount":"5.00","currency":"USD"}}]`
	rec := send(t, e, key, "PUT", "/v1/admin/products/mixed", `{"title":"Mixed","variants":`+variants+`}`)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "currency") {
		t.Errorf("PUT with JPY and USD variants: %d %s, want a 422 naming currency", rec.Code, rec.Body)
	}
	nd := `[{"sku":"CUR-3","price":"1000","currency":"JPY"},{"sku":"CUR-4","price":"5.00","currency":"USD"}]`
	r := runImport(t, e, key, "format=ndjson", []byte(`{"handle":"mixed-nd","title":"Mixed","variants":`+nd+"}\n"))
	if r.Created != 0 || r.Failed != 1 || len(r.Errors) == 0 || r.Errors[0].Field != "currency" {
		t.Errorf("NDJSON import with JPY and USD variants: %+v, want the product failed naming currency", r)
	}
	one := `[{"sku":"CUR-1","price":{"amount":"1000","currency":"JPY"}},{"sku":"CUR-2","price":{"amount":"1500","currency":"JPY"}}]`
	if rec := send(t, e, key, "PUT", "/v1/admin/products/yen", `{"title":"Yen","variants":`+one+`}`); rec.Code != http.StatusCreated {
		t.Errorf("PUT with JPY variants only: %d %s", rec.Code, rec.Body)
	}
}

// A status sent empty or null is refused: taken as the default, a PATCH of
// a draft would publish it.
func TestPatchWithAnEmptyStatusKeepsADraft(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	rec := send(t, e, key, "POST", "/v1/admin/products", `{"slug":"secret","title":"Secret","status":"draft","variants":[{"sku":"SEC-1","price":"5.00"}]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	for _, body := range []string{`{"status":null}`, `{"status":""}`, `{"status":" "}`, `{"title":"Secret 2","status":null}`} {
		rec := send(t, e, key, "PATCH", "/v1/admin/products/secret", body)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"status"`) {
			t.Errorf("PATCH %s: %d %s, want a 422 naming status", body, rec.Code, rec.Body)
		}
	}
	if rec := send(t, e, "", "GET", "/v1/products/secret", ""); rec.Code != http.StatusNotFound {
		t.Errorf("the draft is on the storefront: %d", rec.Code)
	}
	if got := decodeProduct(t, send(t, e, key, "GET", "/v1/admin/products/secret", "")); got.Status != "draft" || got.Title != "Secret" {
		t.Errorf("after the refused patches: status %q title %q", got.Status, got.Title)
	}
	if rec := send(t, e, key, "PUT", "/v1/admin/products/other", `{"title":"Other","status":null,"variants":[{"sku":"OTH-1","price":"5.00"}]}`); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("PUT with status null: %d %s", rec.Code, rec.Body)
	}
}

// A variant's money members must agree on its currency; before, a
// compare_at_price in EUR turned a USD price into EUR.
func TestVariantMoneyInTwoCurrenciesIsRefused(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	for _, tc := range []struct{ variant, field string }{
		{`{"sku":"CUR-1","price":{"amount":"10.00","currency":"USD"},"compare_at_price":{"amount":"12.00","currency":"EUR"}}`, "variants[0].compare_at_price.currency"},
		{`{"sku":"CUR-1","currency":"USD","price":{"amount":"10.00","currency":"EUR"}}`, "variants[0].price.currency"},
	} {
		rec := send(t, e, key, "PUT", "/v1/admin/products/cur", `{"title":"Cur","variants":[`+tc.variant+`]}`)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"`+tc.field+`"`) {
			t.Errorf("%s: %d %s, want a 422 naming %s", tc.variant, rec.Code, rec.Body, tc.field)
		}
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products WHERE slug = 'cur'"); got != 0 {
		t.Errorf("a refused product was written")
	}
	rec := send(t, e, key, "PUT", "/v1/admin/products/cur", `{"title":"Cur","variants":[{"sku":"CUR-1","currency":"USD","price":{"amount":"10.00","currency":"USD"},"compare_at_price":"12.00"}]}`)
	if rec.Code != http.StatusCreated {
		t.Errorf("one currency named twice: %d %s", rec.Code, rec.Body)
	}
}

// Stock changes lock a product before its variant, as product writes do:
// run side by side on one product they wait for each other in turn, and
// no transaction dies in a deadlock and runs again.
func TestStockChangesAndProductWritesTakeLocksInOneOrder(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	body := func(price string) string {
		return `{"title":"Tee","variants":[{"sku":"LO-1","price":"` + price + `"},{"sku":"LO-2","price":"` + price + `"}]}`
	}
	if rec := send(t, e, key, "PUT", "/v1/admin/products/lock-order", body("1.00")); rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	before := d.Store.RetryStats().Retries.Load()
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(4)
		go func() {
			defer wg.Done()
			if rec := send(t, e, key, "POST", "/v1/admin/inventory/LO-1/adjust", `{"delta":1,"reason":"found"}`); rec.Code != http.StatusOK {
				t.Errorf("adjust: %d %s", rec.Code, rec.Body)
			}
		}()
		go func() {
			defer wg.Done()
			if rec := send(t, e, key, "PUT", "/v1/admin/inventory/LO-2", `{"on_hand":`+strconv.Itoa(i)+`}`); rec.Code != http.StatusOK {
				t.Errorf("set: %d %s", rec.Code, rec.Body)
			}
		}()
		go func() {
			defer wg.Done()
			if rec := send(t, e, key, "PATCH", "/v1/admin/products/lock-order", `{"title":"Tee `+strconv.Itoa(i)+`"}`); rec.Code != http.StatusOK {
				t.Errorf("patch: %d %s", rec.Code, rec.Body)
			}
		}()
		go func() {
			defer wg.Done()
			if rec := send(t, e, key, "PUT", "/v1/admin/products/lock-order", body(strconv.Itoa(i+2)+".00")); rec.Code != http.StatusOK {
				t.Errorf("put: %d %s", rec.Code, rec.Body)
			}
		}()
	}
	wg.Wait()
	if n := d.Store.RetryStats().Retries.Load() - before; n > 0 {
		t.Errorf("%d transactions were run again (deadlocks)", n)
	}
	if got := count(t, d, "SELECT on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = 'LO-1'"); got != 30 {
		t.Errorf("LO-1 on hand %d after 30 adjustments of +1 from 0", got)
	}
}

// A SKU that another product owns is refused naming the variant that sent it.
func TestASKUOfAnotherProductIsNamedByItsVariant(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	if rec := send(t, e, key, "PUT", "/v1/admin/products/first", `{"title":"First","variants":[{"sku":"OWNED","price":"5"}]}`); rec.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	rec := send(t, e, key, "PUT", "/v1/admin/products/second", `{"title":"Second","variants":[{"sku":"FREE","price":"5"},{"sku":"OWNED","price":"6"}]}`)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("second: %d %s", rec.Code, rec.Body)
	}
	p := decodeProblem(t, rec)
	errs, _ := p["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["field"] != "variants[1].sku" || !strings.Contains(rec.Body.String(), `\"first\"`) {
		t.Errorf("want one error on variants[1].sku naming the owner: %s", rec.Body)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products WHERE slug = 'second'"); got != 0 {
		t.Errorf("the refused product was written")
	}
}
