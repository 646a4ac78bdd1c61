package handlers_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
)

// FuzzImportEndpoint sends arbitrary bodies in every format through
// POST /v1/admin/imports (dry run, so the database stays small): the answer
// is a report or a 4xx problem, never a 500 or a panic.
func FuzzImportEndpoint(f *testing.F) {
	f.Add(uint8(0), []byte("Handle,Title,Variant Price,Variant SKU\na,A,1.00,S\na,,2,S\n"))
	f.Add(uint8(0), []byte("Handle,Title,Variant Price,Option1 Name,Option1 Value,Variant Inventory Qty\nx,T,1,Size,S,-1\n"))
	f.Add(uint8(1), []byte("handle,title,sku,price,attributes,category\na,A,S,1,color=red|=x,A > > B\n"))
	f.Add(uint8(2), []byte(`{"handle":"a","title":"A","variants":[{"price":"1","options":{"Größe":"XL"}}]}`+"\n{\n"))
	e, d, _ := newServer(f, func(c *handlers.Config) {
		c.ImportBodyLimit = 1 << 20
		c.Logger = slog.New(slog.DiscardHandler)
	})
	key := adminKey(f, d, "fuzz", auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	formats := []string{"shopify", "csv", "ndjson"}
	f.Fuzz(func(t *testing.T, format uint8, body []byte) {
		rec := postImport(t, e.with(t), key, "format="+formats[int(format)%3]+"&dry_run=true", body)
		if rec.Code >= 500 || (rec.Code != http.StatusOK && rec.Code/100 != 4) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}
