//go:build cluster

package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An import through an instance on one node reaches a stream on an
// instance on another node whole: every event of every product, each once,
// in one unbroken run of ids, although the batches' events travel as
// compressed rows written with LOAD DATA and both instances' sequencers
// compete for the one sequence row through Galera's certification.
func TestImportOnOneNodeStreamsEveryEventThroughAnother(t *testing.T) {
	const products = 600 // one variant each: product.updated, price.changed, stock.changed
	dsns := clusterDB(t)
	key := apiKey(t, dsns[0])
	a := startShelf(t, "shelf-a", dsns[0], "")
	b := startShelf(t, "shelf-b", dsns[1], "")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.URL+"/v1/events?last_event_id=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&http.Client{}).Do(req) // no timeout: a stream is long, ctx bounds it
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/events on %s: %d", b.Name, res.StatusCode)
	}
	type got struct {
		id  uint64
		typ string
	}
	stream := make(chan got, 4*products)
	go func() {
		defer close(stream)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var e got
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				e.id, _ = strconv.ParseUint(strings.TrimPrefix(line, "id: "), 10, 64)
			case strings.HasPrefix(line, "event: "):
				e.typ = strings.TrimPrefix(line, "event: ")
			case line == "" && e.id != 0:
				stream <- e
				e = got{}
			}
		}
	}()

	var csv strings.Builder
	csv.WriteString("handle,title,sku,price,stock\n")
	for i := range products {
		fmt.Fprintf(&csv, "feed-%d,Feed %d,FEED-%d,%d.50,%d\n", i, i, i, 10+i%7, 1+i%5)
	}
	r := mustCall(t, http.MethodPost, a.URL+"/v1/admin/imports?format=csv", csv.String(),
		"Authorization", "Bearer "+key, "Content-Type", "text/csv")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), fmt.Sprintf(`"created":%d`, products)) {
		t.Fatalf("import on %s: %s", a.Name, r)
	}

	counts := map[string]int{}
	var last uint64
	for n := 0; n < 3*products; n++ {
		select {
		case e, ok := <-stream:
			if !ok {
				t.Fatalf("the stream on %s ended after %d events", b.Name, n)
			}
			if e.id != last+1 {
				t.Fatalf("event %d on %s has id %d after %d: a gap or a repeat", n, b.Name, e.id, last)
			}
			last = e.id
			counts[e.typ]++
		case <-ctx.Done():
			t.Fatalf("%d of %d events reached %s: %v", n, 3*products, b.Name, counts)
		}
	}
	for _, typ := range []string{"product.updated", "price.changed", "stock.changed"} {
		if counts[typ] != products {
			t.Errorf("%s: %d events on %s, want %d", typ, counts[typ], b.Name, products)
		}
	}
	// The batches' rows were stored compressed (a new database compresses
	// at once), so the run above crossed them.
	st := openStore(t, dsns[1])
	var compressed int
	if err := st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE data_z IS NOT NULL").Scan(&compressed); err != nil {
		t.Fatal(err)
	}
	if compressed == 0 {
		t.Error("no event row was stored compressed: the test crossed none")
	}
}
