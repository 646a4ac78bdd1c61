package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/webhooks"
)

type webhookJSON struct {
	ID           uint64
	URL          string
	Events       []string
	Status       string
	Secret       string
	FailingSince *time.Time `json:"failing_since"`
}

type deliveryPage struct {
	Items []struct {
		EventID        string `json:"event_id"`
		Event          string
		Attempt        int
		ResponseStatus *int `json:"response_status"`
		Error          *string
	}
	NextCursor *string `json:"next_cursor"`
}

func TestWebhookRoutesNeedTheWebhooksScope(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	other := adminKey(t, d, "catalog", auth.ScopeCatalogWrite, auth.ScopeOrdersRead)
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/admin/webhooks", `{"url":"https://example.com/h"}`},
		{"GET", "/v1/admin/webhooks", ""},
		{"GET", "/v1/admin/webhooks/1", ""},
		{"DELETE", "/v1/admin/webhooks/1", ""},
		{"GET", "/v1/admin/webhooks/1/deliveries", ""},
	} {
		if rec := send(t, e, "", r.method, r.path, r.body); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a key = %d, want 401", r.method, r.path, rec.Code)
		}
		if rec := send(t, e, "shelf_notakey", r.method, r.path, r.body); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with an unknown key = %d, want 401", r.method, r.path, rec.Code)
		}
		if rec := send(t, e, other, r.method, r.path, r.body); rec.Code != http.StatusForbidden {
			t.Errorf("%s %s without webhooks:write = %d, want 403", r.method, r.path, rec.Code)
		}
	}
	if n := count(t, d, "SELECT COUNT(*) FROM webhooks"); n != 0 {
		t.Errorf("%d webhooks registered by keys without the scope", n)
	}
}

func TestWebhookRegistrationRefusesPrivateTargetsAndUnknownEvents(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "hooks", auth.ScopeWebhooksWrite)
	for body, field := range map[string]string{
		`{"url":"https://127.0.0.1/hooks"}`:                   "url",
		`{"url":"https://localhost/hooks"}`:                   "url",
		`{"url":"https://169.254.169.254/latest/meta-data/"}`: "url",
		`{"url":"https://[::ffff:10.0.0.1]/"}`:                "url",
		`{"url":"http://example.com/hooks"}`:                  "url",
		`{}`:                                                  "url",
		`{"url":"https://1.1.1.1/h","events":["stock.changed","stock.chnged"]}`: "events[1]",
	} {
		rec := send(t, e, key, "POST", "/v1/admin/webhooks", body)
		if rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("POST %s = %d, want 422", body, rec.Code)
			continue
		}
		p := decodeProblem(t, rec)
		errs, _ := p["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("POST %s: errors %v, want one naming %s", body, p["errors"], field)
		}
	}
	if rec := send(t, e, key, "POST", "/v1/admin/webhooks", `{"url":"https://1.1.1.1/h","secret":"mine"}`); rec.Code != http.StatusBadRequest {
		t.Errorf("a client-chosen secret = %d, want 400 (the service makes secrets)", rec.Code)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM webhooks"); n != 0 {
		t.Errorf("%d refused webhooks were stored", n)
	}
}

func TestWebhookLifecycleAndDeliveryLogPaging(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.Webhooks = webhooks.Config{AllowPrivate: true} })
	key := adminKey(t, d, "hooks", auth.ScopeWebhooksWrite)
	rec := send(t, e, key, "POST", "/v1/admin/webhooks", `{"url":"http://127.0.0.1:9/erp","events":["stock.changed","order.created"],"description":"ERP"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create = %d %s", rec.Code, rec.Body)
	}
	var created webhookJSON
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || len(created.Secret) < 6+32 || created.Status != "active" ||
		strings.Join(created.Events, ",") != "order.created,stock.changed" {
		t.Fatalf("created = %s", rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != fmt.Sprintf("/v1/admin/webhooks/%d", created.ID) {
		t.Errorf("Location = %q", loc)
	}
	for _, path := range []string{"/v1/admin/webhooks", fmt.Sprintf("/v1/admin/webhooks/%d", created.ID)} {
		rec = send(t, e, key, "GET", path, "")
		if rec.Code != 200 || strings.Contains(rec.Body.String(), created.Secret) || strings.Contains(rec.Body.String(), `"secret"`) {
			t.Errorf("GET %s = %d %s: want 200 without the secret", path, rec.Code, rec.Body)
		}
	}
	other := send(t, e, key, "POST", "/v1/admin/webhooks", `{"url":"http://127.0.0.1:9/other"}`)
	var second webhookJSON
	_ = json.Unmarshal(other.Body.Bytes(), &second)
	if strings.Join(second.Events, ",") != "*" {
		t.Errorf("no events filter registered as %v, want [*]", second.Events)
	}

	// 25 attempts in the log; pages of 10, newest first, no repeats.
	for i := 1; i <= 25; i++ {
		if _, err := d.DB.Exec(`INSERT INTO webhook_deliveries (webhook_id, event_seq, event_type, attempt, response_status, error, duration_ms, at)
			VALUES (?, ?, 'stock.changed', 1, 500, 'answered 500', 3, ?)`, created.ID, i, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	base := fmt.Sprintf("/v1/admin/webhooks/%d/deliveries", created.ID)
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		path := base + "?limit=10"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		rec = send(t, e, key, "GET", path, "")
		var p deliveryPage
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
			t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
		for _, it := range p.Items {
			seen = append(seen, it.EventID)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
		if page > 3 {
			t.Fatal("paging does not end")
		}
	}
	if want := "25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1"; strings.Join(seen, ",") != want {
		t.Errorf("log pages gave %v, want newest first, each once", seen)
	}
	for path, code := range map[string]int{
		base + "?cursor=" + cursor[:len(cursor)-2] + "AA":                            400,
		fmt.Sprintf("/v1/admin/webhooks/%d/deliveries?cursor=%s", second.ID, cursor): 400, // another webhook's cursor
		base + "?limit=0":                   400,
		base + "?limit=101":                 400,
		base + "?limit=":                    400,
		base + "?cursor=":                   400,
		base + "?since=2026":                400,
		"/v1/admin/webhooks/999/deliveries": 404,
		"/v1/admin/webhooks/abc":            404,
		"/v1/admin/webhooks?limit=x":        400,
	} {
		if rec := send(t, e, key, "GET", path, ""); rec.Code != code {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, code)
		}
	}
	if rec := send(t, e, key, "DELETE", fmt.Sprintf("/v1/admin/webhooks/%d", created.ID), ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete = %d", rec.Code)
	}
	for method, path := range map[string]string{"GET": base, "DELETE": fmt.Sprintf("/v1/admin/webhooks/%d", created.ID)} {
		if rec := send(t, e, key, method, path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("%s %s after delete = %d, want 404", method, path, rec.Code)
		}
	}
	if n := count(t, d, "SELECT COUNT(*) FROM webhook_deliveries"); n != 0 {
		t.Errorf("%d log rows left after the webhook was removed", n)
	}
}
