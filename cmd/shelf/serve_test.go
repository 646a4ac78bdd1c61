package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
)

func call(t *testing.T, method, u string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// Two `shelf serve` on one database, configured with nothing but the DSN,
// are one service: a listing cursor from one pages on the other, and an
// order's Idempotency-Key sent to the other replays the first answer.
func TestInstancesOnOneDatabaseAreOneService(t *testing.T) {
	d := dbtest.New(t)
	if _, err := orderstest.Seed(context.Background(), d.Store, orderstest.Simple("ONE", 5, 999, 10)...); err != nil {
		t.Fatal(err)
	}
	a, _ := startServe(t, map[string]string{"SHELF_MYSQL_DSN": d.DSN})
	b, _ := startServe(t, map[string]string{"SHELF_MYSQL_DSN": d.DSN, "SHELF_MYSQL_READ_DSN": d.DSN})

	res, body := call(t, "GET", a+"/v1/products?limit=2&sort=price", nil, "")
	var page struct {
		Items []struct {
			ID any `json:"id"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &page); err != nil || res.StatusCode != 200 || page.NextCursor == nil {
		t.Fatalf("first page: %d %s", res.StatusCode, body)
	}
	first := append(page.Items[:0:0], page.Items...)
	res, body = call(t, "GET", b+"/v1/products?limit=2&sort=price&cursor="+url.QueryEscape(*page.NextCursor), nil, "")
	if err := json.Unmarshal(body, &page); err != nil || res.StatusCode != 200 || len(page.Items) != 2 || page.Items[0].ID == first[0].ID || page.Items[0].ID == first[1].ID {
		t.Fatalf("second page from the other instance: %d %s", res.StatusCode, body)
	}

	order := `{"email":"x@example.com","lines":[{"sku":"ONE-0","quantity":1}],` +
		`"shipping_address":{"name":"X","line1":"1 Main St","city":"Springfield","country":"US"}}`
	key := map[string]string{"Idempotency-Key": "across-instances"}
	res, placed := call(t, "POST", a+"/v1/orders", key, order)
	if res.StatusCode != 201 {
		t.Fatalf("order: %d %s", res.StatusCode, placed)
	}
	res, again := call(t, "POST", b+"/v1/orders", key, order)
	if res.StatusCode != 201 || string(again) != string(placed) {
		t.Fatalf("the same key on the other instance: %d %s, want the first 201 replayed", res.StatusCode, again)
	}
	var n int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM orders").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d orders from one key over two instances (%v)", n, err)
	}

	// The instance with a read DSN reports each pool on its own.
	_, metrics := call(t, "GET", b+"/metrics", nil, "")
	for _, pool := range []string{`db_name="shelf"`, `db_name="shelf_read"`} {
		if !strings.Contains(string(metrics), pool) {
			t.Errorf("/metrics has no %s pool series", pool)
		}
	}
}
