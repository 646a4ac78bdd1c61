package orderstest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// PostOrder places a one-unit order of sku through POST /v1/orders at base,
// as a storefront does, under the Idempotency-Key key, and returns the
// response's status (its body is read and dropped, so the connection is
// reused).
func PostOrder(ctx context.Context, c *http.Client, base, key, email, sku string) (int, error) {
	body := fmt.Sprintf(`{"email":%q,"lines":[{"sku":%q,"quantity":1}],`+
		`"shipping_address":{"name":"B","line1":"1 Main St","city":"X","country":"US"}}`, email, sku)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/orders", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}
